"""Across the border (issue 7's acceptance list): the ladder crosses the
impairment proxy (tests/tools/impair, docs/border.md) between the
transcoder and the egress, and a student plays it with hls.js in Chromium.

- 200 ms RTT, 10 % random loss each way, 60 s: every segment there and whole
  (no packet given up by SRT, every frame in it, clean decode), hls.js plays
  with no stall;
- 20 % loss: every segment there, and hls.js plays without an error (a
  frame SRT could not recover in time is left out at the egress);
- bursts of loss (5 % on average, ~100 ms bursts): every segment there;
- a 5 s blackout: the link comes back, hls.js plays on, one discontinuity
  at most;
- two feeds over two paths, one path dies for good: nothing missing, no
  discontinuity, hls.js plays on without a stall;
- two transcoders fed by one ingest, each across its own path: killing
  either (one after the other, the first restarted between) misses nothing,
  marks no discontinuity, and hls.js plays on without a stall or error;
- the path narrows below the ladder's rate: the top rung is shed, hls.js
  follows its playlist's redirect down without an error and is back on the
  top rung after the path widens.

Browser suite only (build/): these run in real time, a minute each."""

import os
import re
import signal
import subprocess
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from hlsjs import watch
from lrdemo import (Config, Demo, decode_errors, deep_merge, download, fetch_media,
                    free_udp_port, metric, metrics, raised_priority, scaled, wait_for,
                    wait_master)
from test_impair import IMPAIR, Impair

pytestmark = pytest.mark.skipif(
    not IMPAIR, reason="LR_IMPAIR is not set (meson sets it; by hand: "
                       "LR_IMPAIR=build/tests/tools/impair)")

FPS = 30             # the sample lecture's
SEGMENT_S = 2.0


def border_demo(tmp_path, proxies_args, **egress):
    """lecture-relay run with its ladder link through one impairment proxy per
    entry of proxies_args (two: redundant feeds over two paths)."""
    egress_port = free_udp_port()
    proxies = [Impair(tmp_path, egress_port, *args) for args in proxies_args]
    conf = Config(tmp_path, {
        "lecture": "cs101",
        "link": {"latency_ms": "auto", "stats_interval_s": 10},
        "transcode": {
            "link": [f"srt://127.0.0.1:{p.port}" for p in proxies],
            "preset": "ultrafast",
            "rungs": [{"name": "360p", "width": 640, "height": 360, "bitrate_kbps": 800},
                      {"name": "240p", "width": 426, "height": 240, "bitrate_kbps": 400}],
        },
        # every segment of the test in the window, to check them all
        "egress": {"listen": f"srt://127.0.0.1:{egress_port}", "playlist_segments": 100,
                   "keep_segments": 100, **egress},
    })
    return Demo(conf), proxies


def link(demo, name):
    """The egress's end of the border link(s), summed."""
    m = metrics(demo.base + "/metrics")
    return sum(v for (n, labels), v in m.items()
               if n == name and ("role", "egress") in labels and ("lecture", "cs101") in labels)


def first_seq(demo):
    wait_master(demo, scaled(40))
    m = wait_for(lambda: (m := fetch_media(demo.live("360p/index.m3u8"))) and m["segments"] and m
                 or None, scaled(30), what="the first segment")
    return m["segments"][-1]["seq"]


def assert_every_segment(demo, tmp_path, since, allow_damage=False, discontinuities=0):
    """Every segment after `since` of every video rendition is listed, lasts
    the segment duration, holds that many frames and decodes cleanly (unless
    allow_damage: then damaged ones are counted and returned)."""
    def check(rung, url, s):
        path = download(urllib.request.urljoin(url, s["uri"]), tmp_path / f"{rung}-{s['seq']}.mp4")
        rc, err = decode_errors(path)
        frames = subprocess.run(
            ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
             "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", str(path)],
            capture_output=True, text=True, timeout=30).stdout.strip()
        whole = rc == 0 and not err and abs(int(frames or 0) - s["duration"] * FPS) <= 1
        return None if whole else (rung, s["seq"], frames, err[:200])

    jobs = []
    for rung in ("360p", "240p"):
        url = demo.live(f"{rung}/index.m3u8")
        text = urllib.request.urlopen(url, timeout=10).read().decode()
        segs = [s for s in fetch_media(url)["segments"] if s["seq"] > since]
        assert segs, text
        seqs = [s["seq"] for s in segs]
        assert seqs == list(range(since + 1, since + 1 + len(segs))), f"missing segments:\n{text}"
        assert text.count("#EXT-X-DISCONTINUITY\n") <= discontinuities, text
        for s in segs[:-1]:
            if discontinuities == 0:
                assert abs(s["duration"] - SEGMENT_S) < 0.05, (rung, s, text)
            jobs.append((rung, url, s))
    # two decoders at once: the playing is over, only the relay runs beside them
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        damaged = [d for d in pool.map(lambda j: check(*j), jobs) if d]
    if not allow_damage:
        assert not damaged, damaged
    return damaged


def run_lossy(tmp_path, seconds, proxy_args, play):
    demo, proxies = border_demo(tmp_path, [proxy_args])
    try:
        demo.start()
        since = first_seq(demo)
        # a handshake the loss broke before any media is no break of the link
        setup_reconnects = link(demo, "lr_link_reconnects_total")
        if play:
            s = watch(demo.base, demo.live("master.m3u8"), seconds)
        else:
            start = time.monotonic()
            wait_for(lambda: time.monotonic() - start >= seconds or None, seconds + 5,
                     what=f"{seconds} s across the border")  # the duration is the test
            s = None
        stats = {k: link(demo, f"lr_link_{k}") for k in
                 ("packets_total", "packets_lost_total", "packets_retransmitted_total",
                  "packets_recv_dropped_total", "reconnects_total")}
        stats["reconnects_total"] -= setup_reconnects
        print(f"border {proxy_args}: {stats} (reconnects after the first segment; "
              f"{setup_reconnects:.0f} before it)")
        return demo, proxies, since, s, stats
    except BaseException:
        demo.close()
        for p in proxies:
            p.close()
        raise


def assert_not_shed(demo):
    """Random loss, however heavy, is no narrow path (transcode/shed.h): a
    rung shed for it would leave the player's level (404) and pace the lossy
    link below what its retransmissions need."""
    shed = [l for l in demo.stderr_text().splitlines() if "no longer sent" in l]
    assert not shed, shed


def finish(demo, proxies):
    demo.close()
    for p in proxies:
        p.close()


def test_10pct_loss_for_a_minute_loses_nothing(tmp_path):
    demo, proxies, since, s, stats = run_lossy(
        tmp_path, 60, ["--delay", 100, "--jitter", 5, "--loss", 10, "--seed", 11], play=True)
    try:
        assert_not_shed(demo)
        assert s["ok"] and s["played"] >= 50, s
        assert s["stalls"] == 0, f"BUFFER_STALLED_ERROR x{s['stalls']}: {s['errors']}"
        assert stats["packets_lost_total"] > 0, stats   # the proxy did its part
        # link.intensive_retransmit: a loss report the resend answers is
        # answered again (SRT's default resends about once per loss, 1.07)
        assert stats["packets_retransmitted_total"] >= 1.4 * stats["packets_lost_total"], stats
        assert stats["reconnects_total"] == 0, stats
        assert stats["packets_recv_dropped_total"] == 0, f"SRT gave packets up: {stats}"
        assert_every_segment(demo, tmp_path, since)
        demo.assert_stops()
    finally:
        finish(demo, proxies)


def damaged_frames(demo):
    """lr_egress_damaged_frames_total by fate (replaced, dropped, kept)."""
    m = metrics(demo.base + "/metrics")
    return {dict(labels)["fate"]: v for (n, labels), v in m.items()
            if n == "lr_egress_damaged_frames_total" and ("lecture", "cs101") in labels}


def test_20pct_loss_plays_in_hls_js_without_a_missing_segment(tmp_path):
    """SRT still gives up a packet now and then at 20 % loss; the frame it
    belonged to is left out at the egress (a gap a decoder bridges), or if
    it is a keyframe, replaced by the last whole one, never passed on
    damaged (which Chrome takes as a decode error): hls.js plays through
    without an error, and no segment is missing."""
    demo, proxies, since, s, stats = run_lossy(
        tmp_path, 40, ["--delay", 100, "--jitter", 5, "--loss", 20, "--seed", 12], play=True)
    try:
        assert_not_shed(demo)
        fates = damaged_frames(demo)
        print(f"20 % loss: {stats['packets_recv_dropped_total']:.0f} packets given up, "
              f"damaged frames: {fates}, hls.js errors: {s['errors']}")
        assert stats["packets_lost_total"] > 0.1 * stats["packets_total"], stats
        assert s["ok"] and not s["fatal"] and s["played"] >= 30, s
        # the media element's own error (Chrome's PIPELINE_ERROR_DECODE), or hls.js's
        assert not [e for e in s["errors"] if e.startswith("video/") or
                    "DECODE" in e.split(" (")[0].upper()], s["errors"]
        assert s["stalls"] == 0, f"BUFFER_STALLED_ERROR x{s['stalls']}: {s['errors']}"
        assert s["watchdogRestarts"] == 0, s
        # every PES the demuxer found damaged (libavformat logs each) was
        # dealt with: an audio PES holds several frames
        corrupt = demo.stderr_path.read_text(errors="replace").count("Packet corrupt (")
        assert sum(fates.values()) >= corrupt, (corrupt, fates)
        assert_every_segment(demo, tmp_path, since, allow_damage=True)
        demo.assert_stops()
    finally:
        finish(demo, proxies)


def test_bursty_loss_loses_no_segment(tmp_path):
    """What SRT can't recover in time costs frames (printed), never a
    segment."""
    demo, proxies, since, _, stats = run_lossy(
        tmp_path, 30, ["--delay", 100, "--jitter", 5, "--loss", 5, "--ge-burst-ms", 100,
                       "--seed", 13], play=False)
    try:
        assert_not_shed(demo)
        damaged = assert_every_segment(demo, tmp_path, since, allow_damage=True)
        print(f"bursty loss: {stats['packets_recv_dropped_total']:.0f} packets given up, "
              f"damaged segments: {damaged}, damaged frames: {damaged_frames(demo)}")
        demo.assert_stops()
    finally:
        finish(demo, proxies)


def after(seconds, fn):
    t = threading.Timer(seconds, fn)
    t.daemon = True
    t.start()
    return t


def test_hls_js_plays_on_after_a_5s_blackout(tmp_path):
    demo, proxies = border_demo(tmp_path, [["--delay", 100, "--jitter", 5, "--seed", 14]])
    proxy = proxies[0]
    try:
        demo.start()
        first_seq(demo)
        toggle = lambda: proxy.proc.send_signal(signal.SIGUSR1)  # noqa: E731
        timers = [after(10, toggle), after(15, toggle)]
        s = watch(demo.base, demo.live("master.m3u8"), 36)
        for t in timers:
            t.join()
        assert s["ok"] and not s["fatal"], s
        # 10 s before the blackout, ~14 s after it counting recovery: hls.js
        # must have played on well past the outage.
        assert s["played"] >= 22, s
        text = urllib.request.urlopen(demo.live("360p/index.m3u8"), timeout=10).read().decode()
        assert text.count("#EXT-X-DISCONTINUITY\n") <= 1, text
        demo.assert_stops()
    finally:
        finish(demo, proxies)


def test_hls_js_follows_a_shed_down_and_back_up(tmp_path):
    """The path narrows below the ladder's rate for 20 s: the top rung is
    shed and its playlist redirects to the lower rung's, so hls.js on the
    top rung (which never reloads the master) moves down without a playlist
    error, plays on, and is on the top rung again once it comes back. (Once
    the path widens, the rung comes back after 10 calm seconds and is listed
    again after 3 segments. The watch leaves 40 s for it, twice what a quiet
    host takes.)

    The student chose the top rung in the quality menu as playback began:
    the moves down and back up are then the redirect's and the rung's
    return, not hls.js's bandwidth estimate. Left to its ABR, hls.js moved
    down on its own and, in one CI run in three, had not climbed back in
    the 30 s after the rung's return (at the live edge, LL-HLS parts come
    at the pace they are made, and the estimate with them).

    The relay and the proxy run at nice -10 where allowed
    (lrdemo.raised_priority), so that the other lane's encoders on the same
    2 cores can't hold the ladder behind real time. (Chromium sets its own
    processes' priorities; the player keeps what the host gives it.) CI
    runs failed here for a product bug: the audio followed the top rung's
    cuts, so the shed held its parts back for seconds and then made one
    8 s segment, and hls.js stalled on it for up to 30 s."""
    with raised_priority():
        demo, proxies = border_demo(tmp_path, [["--delay", 100, "--jitter", 2, "--seed", 21,
                                                "--up-rate-kbps", 700, "--up-queue-ms", 300]])
    proxy = proxies[0]
    try:
        proxy.proc.send_signal(signal.SIGHUP)  # the cap starts lifted
        proxy.wait_line("rate cap off")
        with raised_priority():
            demo.start()
        first_seq(demo)
        toggle = lambda: proxy.proc.send_signal(signal.SIGHUP)  # noqa: E731
        timers = [after(10, toggle), after(30, toggle)]
        print("watch starts", time.strftime("%H:%M:%S"))
        s = watch(demo.base, demo.live("master.m3u8"), 80,
                  actions=[{"at": 0, "do": "level", "level": "top"}])
        for t in timers:
            t.join()
        log = demo.stderr_text()
        print("the rung's moves:", re.findall(r"\S+ \S+ +lecture=cs101 (?:the path|rendition=360p)"
                                              r"[^\n]*", log))
        print("latency every 4 s:", [round(x / 1000, 1) for x in s["latencies"][::16]])
        print("holds and jumps:", s["holes"], "renditions:", s["renditions"])
        assert "rung 360p no longer sent" in log and "rung 360p sent on it again" in log, \
            demo.describe()
        assert s["ok"] and not s["fatal"], s
        assert not [e for e in s["errors"] if "levelLoadError" in e], s["errors"]
        # down once the path narrowed (10 s in), and back up
        assert [t for t, d in s["renditions"] if d == "240p" and t >= 10], s["renditions"]
        assert s["renditions"][-1][1] == "360p", s["renditions"]
        # The redirect carried it down: the top rung's playlist was asked
        # for while shed and answered with a redirect. And the player ends
        # on the top rung it was told to play. (A request to the top rung
        # that waits for a part while the path is narrowing, before the
        # shed, can time out: hls.js then moves down a level on its own and
        # back once the top rung's playlist answers; CI met [1, 0, 1].)
        lv = s["levels"]
        assert s["redirects"].get("360p", 0) > 0, (s["redirects"], s["statuses"])
        assert lv and lv[-1] == 1, (lv, s["errors"], s["renditions"])
        assert s["played"] >= 60, {k: s.get(k) for k in ("played", "holes", "renditions", "stalls",
                                                         "errors", "levels", "watchdogRestarts",
                                                         "holds", "slow", "currentTime")}
        demo.assert_stops()
    finally:
        finish(demo, proxies)


def test_one_of_two_feeds_dies_and_hls_js_plays_on(tmp_path):
    demo, proxies = border_demo(tmp_path, [["--delay", 100, "--jitter", 5, "--seed", 15 + i]
                                           for i in range(2)])
    try:
        demo.start()
        wait_for(lambda: metric(metrics(demo.base + "/metrics"), "lr_egress_feeds",
                                lecture="cs101") == 2, scaled(30), what="both feeds")
        since = first_seq(demo)
        # Path 0's proxy dies for good 10 s in: its feed is never heard again.
        killer = after(10, proxies[0].proc.kill)
        s = watch(demo.base, demo.live("master.m3u8"), 30)
        killer.join()
        assert s["ok"] and s["played"] >= 24, s
        assert s["stalls"] == 0, f"BUFFER_STALLED_ERROR x{s['stalls']}: {s['errors']}"
        wait_for(lambda: metric(metrics(demo.base + "/metrics"), "lr_egress_feeds",
                                lecture="cs101") == 1, scaled(10), what="the dead feed gone")
        assert_every_segment(demo, tmp_path, since)
        demo.assert_stops()
    finally:
        finish(demo, proxies)


def test_either_of_two_transcoders_dies_and_hls_js_plays_on(tmp_path):
    """The layout of issue 7's "kill one feed's transcoder": one ingest, two
    transcoders (ingest.link lists both), each calling the egress across its
    own 200 ms path. Transcoder 0 is killed 8 s into playback and started
    again 6 s later; transcoder 1 is killed at 24 s. Whichever one the
    egress followed, hls.js plays on: no stall, no decode error, nothing
    missing, no discontinuity."""
    egress_port, t_ports = free_udp_port(), [free_udp_port(), free_udp_port()]
    proxies = [Impair(tmp_path, egress_port, "--delay", 100, "--jitter", 5, "--seed", 20 + i)
               for i in range(2)]
    base = Config(tmp_path, {
        "lecture": "cs101",
        "link": {"latency_ms": "auto"},
        "ingest": {"link": [f"srt://127.0.0.1:{p}" for p in t_ports]},
        "transcode": {
            "preset": "ultrafast",
            "rungs": [{"name": "360p", "width": 640, "height": 360, "bitrate_kbps": 800},
                      {"name": "240p", "width": 426, "height": 240, "bitrate_kbps": 400}],
        },
        "egress": {"listen": f"srt://127.0.0.1:{egress_port}", "playlist_segments": 100,
                   "keep_segments": 100},
    })
    tconfs = [Config(tmp_path, deep_merge(base.data, {"transcode": {
        "listen": f"srt://127.0.0.1:{t_ports[i]}", "link": f"srt://127.0.0.1:{proxies[i].port}"}}),
        name=f"transcode{i}.yaml") for i in range(2)]

    def transcoder(i):
        return Demo(tconfs[i], args=["transcode", "--config", str(tconfs[i].path)],
                    log_dir=tmp_path).start_background()

    def restart_0():
        trans[0] = transcoder(0)
        procs.append(trans[0])

    egress = Demo(base, args=["egress", "--config", str(base.path)], log_dir=tmp_path)
    ingest = Demo(base, args=["ingest", "--config", str(base.path)], log_dir=tmp_path)
    procs = [egress, ingest]
    try:
        egress.start()
        trans = [transcoder(0), transcoder(1)]
        procs += trans
        ingest.start_background()
        feeds = lambda: metric(metrics(egress.base + "/metrics"), "lr_egress_feeds",  # noqa: E731
                               lecture="cs101")
        wait_for(lambda: feeds() == 2, scaled(40), what="both transcoders at the egress")
        since = first_seq(egress)
        timers = [after(8, lambda: trans[0].kill()), after(14, restart_0),
                  after(24, lambda: trans[1].kill())]
        s = watch(egress.base, egress.live("master.m3u8"), 36)
        for t in timers:
            t.join()
        switched = metric(metrics(egress.base + "/metrics"), "lr_egress_feed_switches_total",
                          lecture="cs101")
        print(f"two transcoders: played {s['played']:.1f} s, switches={switched:.0f}, "
              f"hls.js errors: {s['errors']}")
        # what a stall here would come from: each link's latency (the
        # standby's lag at a switch) and when the egress switched
        for p in procs[2:]:
            print(*[ln for ln in p.stderr_text().splitlines() if "latency auto" in ln], sep="\n")
        print(*[ln for ln in egress.stderr_text().splitlines() if "following feed" in ln], sep="\n")
        assert s["ok"] and not s["fatal"] and s["played"] >= 30, s
        assert not [e for e in s["errors"] if e.startswith("video/") or
                    "DECODE" in e.split(" (")[0].upper()], s["errors"]
        assert s["stalls"] == 0, f"BUFFER_STALLED_ERROR x{s['stalls']}: {s['errors']}"
        assert switched >= 1
        wait_for(lambda: feeds() == 1, scaled(10), what="the second dead transcoder's feed gone")
        assert_every_segment(egress, tmp_path, since)
        for p in (ingest, trans[0], egress):
            p.assert_stops(signal.SIGTERM)
    finally:
        for p in procs:
            p.close()
        for p in proxies:
            p.close()
