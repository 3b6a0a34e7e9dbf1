"""The link across a simulated border (tests/tools/impair between the
transcoder and the egress, docs/border.md): latency sized from the RTT
(`link.latency_ms: auto`), the per-link stats in /metrics and in the log,
SRT's retransmissions at 5 % loss, and a link that breaks in a 5 s blackout
coming back within 2 s of the path, with at most one EXT-X-DISCONTINUITY
(none for a blackout the latency absorbs).

One `lecture-relay run` and one proxy for the module, so the whole file stays
near a minute: the tests run in order and each leaves the link up."""

import re
import signal
import time

import pytest

from lrdemo import (Config, Demo, decode_errors, download, free_udp_port, http_get, scaled,
                    wait_for)
from test_impair import IMPAIR, Impair

pytestmark = pytest.mark.skipif(
    not IMPAIR, reason="LR_IMPAIR is not set (meson sets it; by hand: "
                       "LR_IMPAIR=build/tests/tools/impair)")

RTT_MS = 200          # the proxy's 100 ms each way
LOSS_PCT = 5
STATS_INTERVAL_S = 2
RTT_FACTOR = 5        # link.latency_rtt_factor's default (common/link_settings.h)
SAMPLE = re.compile(r'^(lr_link_[a-z_]+)\{([^}]*)\} (\S+)$')


def metrics(demo):
    """{(name, role, side, peer): value} of the lecture's lr_link_* samples at
    /metrics."""
    status, _, body = http_get(demo.base + "/metrics")
    assert status == 200
    out = {}
    for line in body.decode().splitlines():
        m = SAMPLE.match(line)
        if not m:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
        if labels.get("lecture") != demo.config.lecture:
            continue
        out[(m.group(1), labels["role"], labels["side"], labels["peer"])] = float(m.group(3))
    return out


PROXY_PEER = None  # "127.0.0.1:PORT" of the proxy, set by the fixture


def egress(m, name):
    """The egress's end of the border link (it receives)."""
    return m.get((name, "egress", "recv", "127.0.0.1"))


def caller(m, name):
    """The transcoder's end (it calls the egress through the proxy and sends;
    the ingest's link to the transcoder is another caller, on loopback)."""
    return m.get((name, "caller", "send", PROXY_PEER))


def discontinuities(demo):
    """Discontinuities of the lecture so far: the playlist's discontinuity
    sequence (those slid out of the window) plus the tags still in it."""
    status, _, body = http_get(demo.live("360p/index.m3u8"))
    if status != 200:
        return None
    text = body.decode()
    m = re.search(r"#EXT-X-DISCONTINUITY-SEQUENCE:(\d+)", text)
    return (int(m.group(1)) if m else 0) + len(re.findall(r"^#EXT-X-DISCONTINUITY$", text, re.M))


def media_sequence(demo):
    status, _, body = http_get(demo.live("360p/index.m3u8"))
    m = re.search(r"#EXT-X-MEDIA-SEQUENCE:(\d+)", body.decode()) if status == 200 else None
    segs = len(re.findall(r"^#EXTINF", body.decode(), re.M)) if status == 200 else 0
    return int(m.group(1)) + segs if m else None


@pytest.fixture(scope="module")
def border(tmp_path_factory):
    global PROXY_PEER
    tmp = tmp_path_factory.mktemp("link_tuning")
    egress_port = free_udp_port()
    proxy = Impair(tmp, egress_port, "--delay", RTT_MS // 2, "--jitter", 2,
                   "--up-loss", LOSS_PCT, "--down-loss", 1, "--seed", 7)
    PROXY_PEER = f"127.0.0.1:{proxy.port}"
    conf = Config(tmp, {
        "link": {"latency_ms": "auto", "stats_interval_s": STATS_INTERVAL_S},
        "transcode": {
            "link": f"srt://127.0.0.1:{proxy.port}",
            "preset": "ultrafast",
            "segment_duration": 1.0,
            "audio_only": False,
            "rungs": [{"name": "360p", "width": 640, "height": 360, "bitrate_kbps": 600}],
        },
        "egress": {"listen": f"srt://127.0.0.1:{egress_port}"},
    })
    demo = Demo(conf)
    try:
        demo.start()
        yield demo, proxy
        demo.assert_stops()
    finally:
        demo.close()
        proxy.close()


def wait_link_up(demo, deadline):
    """Both ends of the border link up. Not asserted: that it came up on the
    first try (at 5 % loss a handshake packet may be lost, and the caller
    dials again; the blackout tests count reconnects from where they start)."""
    def up():
        m = metrics(demo)
        return (egress(m, "lr_link_up") == 1 and caller(m, "lr_link_up") == 1 and m)
    return wait_for(up, deadline, interval=0.05, what="the border link up")


def handshake(demo):
    """(RTT, latency) the caller's handshake across the proxy measured and
    chose, from its log line. The RTT is the path's 200 ms plus what a busy
    host adds (CI read 231 ms beside the other lane), within the bounds the
    RTT metrics are held to; the latency is RTT_FACTOR times it."""
    line = re.search(r"link srt://%s \(\S+\): RTT (\d+) ms \(handshake\), latency auto: (\d+) ms"
                     % re.escape(PROXY_PEER), demo.stderr_text())
    assert line, demo.describe()
    rtt, latency = int(line.group(1)), int(line.group(2))
    assert 180 <= rtt <= 260 and latency == RTT_FACTOR * rtt, line.group(0)
    return rtt, latency


def test_auto_latency_from_the_rtt(border):
    demo, _ = border
    m = wait_link_up(demo, scaled(20))
    # 5 x 200 ms, as the handshake measured it; both ends settled on it
    _, latency = handshake(demo)
    assert egress(m, "lr_link_latency_ms") == latency, m
    assert caller(m, "lr_link_latency_ms") == latency, m


def test_rtt_and_retransmissions_in_the_metrics(border):
    demo, proxy = border

    def settled():
        m = metrics(demo)
        return (caller(m, "lr_link_packets_retransmitted_total") or 0) >= 20 and \
            (egress(m, "lr_link_packets_lost_total") or 0) >= 20 and m
    m = wait_for(settled, scaled(30), interval=0.5, what="retransmissions at 5 % loss")
    for end in (egress, caller):
        assert 180 <= end(m, "lr_link_rtt_ms") <= 260, m
    assert caller(m, "lr_link_send_rate_mbps") > 0.1, m
    assert egress(m, "lr_link_recv_rate_mbps") > 0.1, m
    # the proxy really dropped packets; the egress saw them missing and got them again
    assert proxy.stats()["up"]["dropped_loss"] > 0
    assert egress(m, "lr_link_packets_retransmitted_total") > 0, m
    assert egress(m, "lr_link_recv_buffer_ms") >= 0, m
    # the same numbers in the log, one line per end every stats_interval_s
    pat = re.compile(r"lecture=%s link stats: role=egress side=recv peer=\S+ rtt=(\d+)ms "
                     r"latency=(\d+)ms send=\S+ recv=(\S+)Mb/s lost=(\d+) retrans=(\d+) "
                     r"drop_send=\d+ drop_recv=\d+ rcvbuf=\d+ms reconnects=\d+" % demo.config.lecture)
    lines = wait_for(lambda: pat.findall(demo.stderr_text()), scaled(3 * STATS_INTERVAL_S),
                     what="a link stats line")
    rtt, latency = int(lines[-1][0]), int(lines[-1][1])
    assert 180 <= rtt <= 260 and latency == handshake(demo)[1], lines[-1]
    # the caller's end logs its own line on its own clock: a little later, at times
    wait_for(lambda: f"link stats: role=caller side=send peer={PROXY_PEER} " in
             demo.stderr_text() or None, scaled(2 * STATS_INTERVAL_S),
             what="the caller's link stats line")


def blackout(proxy, seconds):
    """Cut both directions for seconds; returns the monotonic time it ended,
    taken from the proxy's own lines."""
    proxy.proc.send_signal(signal.SIGUSR1)
    proxy.wait_line("blackout both on")
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(0.01)
    proxy.proc.send_signal(signal.SIGUSR1)
    proxy.wait_line("blackout both off")
    return time.monotonic()


def test_short_blackout_costs_nothing(border):
    """300 ms dark, well inside the 800 ms latency: SRT retransmits it all,
    the link stays, the playlist gets no discontinuity."""
    demo, proxy = border
    wait_for(lambda: (media_sequence(demo) or 0) >= 3, scaled(20), what="segments")
    disc = discontinuities(demo)
    before = metrics(demo)
    drops = egress(before, "lr_link_packets_recv_dropped_total")
    reconnects = egress(before, "lr_link_reconnects_total")
    blackout(proxy, 0.3)
    seq = media_sequence(demo)
    wait_for(lambda: media_sequence(demo) >= seq + 3, scaled(15), what="3 more segments")
    m = metrics(demo)
    assert egress(m, "lr_link_reconnects_total") == reconnects, m
    assert egress(m, "lr_link_up") == 1, m
    # What it cost is measured, not asserted: the sender catches up a 300 ms
    # backlog at overhead_pct (25 %) above the input rate, so some of it and
    # some second tries at 5 % loss come too late (docs/border.md: ~40
    # packets here at 25 %, ~2 at 100 %). Frames damaged, the clock intact.
    print("short blackout: %d packets dropped as too late"
          % (egress(m, "lr_link_packets_recv_dropped_total") - drops))
    assert discontinuities(demo) == disc, http_get(demo.live("360p/index.m3u8"))[2].decode()


def test_blackout_reconnects_within_2s(border, tmp_path):
    """5 s dark: the link breaks (peer idle timeout 4 s), the transcoder
    redials with backoff, the link is back within 2 s of the path, and the
    live playlist marks the lost media with one discontinuity."""
    demo, proxy = border
    wait_for(lambda: (media_sequence(demo) or 0) >= 3, scaled(20), what="segments")
    disc = discontinuities(demo)
    before = metrics(demo)
    pkts = egress(before, "lr_link_packets_total")
    # what the earlier tests saw (a handshake the loss broke is none)
    reconnects = egress(before, "lr_link_reconnects_total")
    path_back = blackout(proxy, 5.0)

    def flowing():
        # a new link (one more reconnect), or the same one if SRT kept it: SRT calls
        # a peer dead only after peer_idle_timeout_ms AND 16 of its growing
        # expiry periods (~6-7 s at 200 ms RTT), so a 5 s outage usually, not
        # always, breaks it (docs/border.md). Either way media flows again.
        m = metrics(demo)
        return (egress(m, "lr_link_up") == 1 and caller(m, "lr_link_up") == 1 and
                (egress(m, "lr_link_reconnects_total") == reconnects + 1 or
                 egress(m, "lr_link_packets_total") > pkts + 50) and m)
    m = wait_for(flowing, 2.0, interval=0.05, what="media on the border link again")
    took = time.monotonic() - path_back
    print(f"5 s blackout: media back {took:.2f} s after the path, "
          f"reconnects={egress(m, 'lr_link_reconnects_total') - reconnects:.0f}")
    assert took <= 2.0, f"link back {took:.2f} s after the path"
    assert egress(m, "lr_link_reconnects_total") <= reconnects + 1, m
    seq = media_sequence(demo)
    wait_for(lambda: media_sequence(demo) >= seq + 3, scaled(15), what="segments after the break")
    after = discontinuities(demo)
    print(f"5 s blackout: {after - disc} discontinuity")
    assert disc <= after <= disc + 1, http_get(demo.live("360p/index.m3u8"))[2].decode()
    if egress(m, "lr_link_reconnects_total") == reconnects + 1:
        wait_for(lambda: re.search(r"role=egress side=recv .*reconnects=%d" % (reconnects + 1),
                                   demo.stderr_text()),
                 scaled(3 * STATS_INTERVAL_S), what="the reconnect in the stats line")
        assert_last_segment_before_the_break_decodes(demo, tmp_path)


def assert_last_segment_before_the_break_decodes(demo, tmp_path):
    """The broken link's last frame was cut off mid-PES by the blackout: the
    egress must not pass it on as whole (a decode error in Chrome ends
    hls.js's playback), so the segment that ends at the discontinuity
    decodes cleanly."""
    url = demo.live("360p/index.m3u8")
    text = http_get(url)[2].decode()
    lines = text.splitlines()
    assert "#EXT-X-DISCONTINUITY" in lines, text
    cut = lines.index("#EXT-X-DISCONTINUITY")
    # the slots the break left empty are gaps, which have no media
    uris = [ln for i, ln in enumerate(lines[:cut]) if ln and not ln.startswith("#")
            and "#EXT-X-GAP" not in lines[i - 2:i]]
    uri = uris[-1]
    path = download(url.rsplit("/", 1)[0] + "/" + uri, tmp_path / "before-break.mp4")
    rc, err = decode_errors(path)
    assert rc == 0 and not err, f"{uri}: {err}"
