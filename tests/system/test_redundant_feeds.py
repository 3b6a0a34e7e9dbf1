"""Redundant feeds (egress/feeds.h): one transcoder sends the ladder to the
same egress over two border paths (transcode.link lists the egress twice,
through two impairment proxies). Either path going dark costs nothing a
player sees: the egress follows the other feed within a second, the
playlists get no discontinuity, every segment is there and decodes cleanly
(the feeds carry the same encode), and the dark path's feed rejoins by itself
when the path returns. The same holds for two transcoders fed by one ingest
(ingest.link lists both) when one of them dies."""

import signal
import subprocess
import threading
import time
import urllib.request

import pytest

import hls_check
from lrdemo import (Config, Demo, decode_errors, deep_merge, download, fetch_media,
                    free_udp_port, live_encoder, metric, metrics, scaled, seq, wait_for,
                    wait_master, wait_segments)
from test_impair import IMPAIR, Impair

pytestmark = pytest.mark.skipif(
    not IMPAIR, reason="LR_IMPAIR is not set (meson sets it; by hand: "
                       "LR_IMPAIR=build/tests/tools/impair)")

SEGMENT_S = 1.0


def feeds(demo):
    return metric(metrics(demo.base + "/metrics"), "lr_egress_feeds", lecture="cs101")


def switches(demo):
    return metric(metrics(demo.base + "/metrics"), "lr_egress_feed_switches_total",
                  lecture="cs101")


class PartClock:
    """Polls a media playlist every 50 ms and records when its newest part
    changed: the longest wait between two is how long the output stood still."""

    def __init__(self, url):
        self.url, self.changes, self.stop = url, [], threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        last = None
        while not self.stop.is_set():
            try:
                text = urllib.request.urlopen(self.url, timeout=2).read().decode()
            except OSError:
                text = ""
            newest = (text.count("#EXTINF"), text.count("#EXT-X-PART:"),
                      text.split("#EXT-X-MEDIA-SEQUENCE:")[-1][:12])
            if text and newest != last:
                self.changes.append(time.monotonic())
                last = newest
            time.sleep(0.05)

    def longest_still(self, since, until):
        times = [t for t in self.changes if since <= t <= until]
        return max((b - a for a, b in zip(times, times[1:])), default=None)

    def close(self):
        self.stop.set()
        self.thread.join()


def dark(proxy, seconds):
    """Cut the path for seconds; returns (start, end) in time.monotonic()."""
    proxy.proc.send_signal(signal.SIGUSR1)
    proxy.wait_line("blackout both on")
    start = time.monotonic()
    wait_for(lambda: time.monotonic() - start >= seconds or None, seconds + 5, interval=0.05,
             what=f"{seconds} s of blackout")  # the outage itself is what is tested
    proxy.proc.send_signal(signal.SIGUSR1)
    proxy.wait_line("blackout both off")
    return start, time.monotonic()


def assert_whole_and_clean(url, first, tmp_path, min_segments):
    """Every segment after first is there, none marks a break, each lasts
    SEGMENT_S, decodes without an error and holds all its frames."""
    text = urllib.request.urlopen(url, timeout=10).read().decode()
    m = fetch_media(url)
    after = [s for s in m["segments"] if s["seq"] > first]
    assert "#EXT-X-DISCONTINUITY" not in text, text
    assert [s["seq"] for s in after] == list(range(first + 1, first + 1 + len(after))), text
    assert len(after) >= min_segments, text
    assert all(abs(s["duration"] - SEGMENT_S) < 0.05 for s in after[:-1]), text
    for s in after:
        seg_url = urllib.request.urljoin(url, s["uri"])
        path = download(seg_url, tmp_path / f"seg{s['seq']}.mp4")
        rc, err = decode_errors(path)
        assert rc == 0 and not err, f"{seg_url}: {err}"
        frames = subprocess.run(
            ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
             "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", str(path)],
            capture_output=True, text=True, timeout=30).stdout.strip()
        assert abs(int(frames) - s["duration"] * 30) <= 1, (s, frames)


def test_either_feed_going_dark_costs_nothing(tmp_path):
    egress_port = free_udp_port()
    paths = [Impair(tmp_path, egress_port, "--delay", 40, "--jitter", 2, "--seed", 1 + i)
             for i in range(2)]
    conf = Config(tmp_path, {
        "lecture": "cs101",
        "link": {"latency_ms": 300},
        "transcode": {
            "link": [f"srt://127.0.0.1:{p.port}" for p in paths],
            "preset": "ultrafast",
            "segment_duration": SEGMENT_S,
            "rungs": [{"name": "360p", "width": 640, "height": 360, "bitrate_kbps": 600},
                      {"name": "240p", "width": 426, "height": 240, "bitrate_kbps": 300}],
        },
        # the whole test in the window, so every segment can be checked
        "egress": {"listen": f"srt://127.0.0.1:{egress_port}",
                   "playlist_segments": 100, "keep_segments": 100},
    })
    demo = Demo(conf)
    clock = None
    try:
        demo.start()
        wait_for(lambda: feeds(demo) == 2, scaled(30), what="both feeds at the egress")
        url = demo.live("360p/index.m3u8")
        wait_for(lambda: (m := fetch_media(url)) and len(m["segments"]) >= 3 or None,
                 scaled(30), what="segments")
        clock = PartClock(url)
        watcher = hls_check.Watcher(demo.live("master.m3u8"))
        found = {}
        follow = threading.Thread(target=lambda: found.setdefault("v", watcher.run(scaled(26))))
        follow.start()
        first = fetch_media(url)["segments"][-1]["seq"]

        # Path 0 dark for 6 s: longer than the 4 s peer timeout, so its link
        # breaks and is dialled again. Whichever feed the egress followed,
        # the output must not stand still for a second.
        wait_for(lambda: len(clock.changes) >= 4 or None, scaled(5),
                 what="a baseline of normal part times")
        start, end = dark(paths[0], 6.0)
        wait_for(lambda: feeds(demo) == 2, scaled(10), what="feed 0 back after its path")
        rejoined = time.monotonic()
        # Now path 1: the egress must move to the rejoined feed 0.
        start1, end1 = dark(paths[1], 3.0)
        wait_for(lambda: switches(demo) >= 1, scaled(5), what="a switch between feeds")
        follow.join()
        assert not found["v"], "\n".join(found["v"][:20])

        still = clock.longest_still(start - 1, end1 + 1)
        print(f"feeds: longest still output {still:.2f} s, switches={switches(demo):.0f}, "
              f"feed 0 back {rejoined - end:.2f} s after its path")
        assert still is not None and still < 1.0, f"the output stood still {still} s"

        # Every segment is there, none marks a break, and they decode cleanly.
        assert_whole_and_clean(url, first, tmp_path, 12)
        demo.assert_stops()
    finally:
        if clock:
            clock.close()
        demo.close()
        for p in paths:
            p.close()


def test_a_second_link_with_another_ladder_is_refused(tmp_path):
    """Something else publishing under a live lecture's name (a 640x360
    picture where the lecture's ladder has other renditions) is refused with a
    clear line, and the lecture's own feed goes on undisturbed."""
    demo = Demo(Config(tmp_path, {"lecture": "cs101"}))
    intruder = None
    try:
        demo.start()
        master = wait_master(demo, scaled(40))
        url = urllib.request.urljoin(demo.live("master.m3u8"), master[-1]["uri"])
        wait_segments(url, 2, scaled(30))
        before = seq(url)
        intruder = live_encoder(["-f", "mpegts",
                                 f"srt://127.0.0.1:{demo.config.egress_port}"
                                 "?streamid=#!::r=cs101,m=publish"], seconds=20)
        wait_for(lambda: "not a ladder this lecture can take" in demo.stderr_text(), scaled(20),
                 what="the intruding link refused")
        assert feeds(demo) == 1
        wait_for(lambda: seq(url) >= before + 3, scaled(20), what="the lecture going on")
        text = urllib.request.urlopen(url, timeout=10).read().decode()
        assert "#EXT-X-DISCONTINUITY" not in text, text
        demo.assert_stops()
    finally:
        if intruder:
            intruder.kill()
            intruder.wait()
        demo.close()


def test_killing_either_of_two_transcoders_costs_nothing(tmp_path):
    """One ingest feeding two transcoders (ingest.link lists both), each
    calling the same egress: the egress merges their ladders. Killing one
    transcoder (SIGKILL, mid-lecture) stalls nothing and loses nothing; a
    restarted one rejoins as the standby, and then killing the other costs
    nothing either. The two encodes differ between keyframes, so a switch
    mid-GOP may shift pictures slightly until the next keyframe, but the
    stream stays one decodable whole (no error, no discontinuity)."""
    t_ports = [free_udp_port(), free_udp_port()]
    base = Config(tmp_path, {
        "lecture": "cs101",
        "ingest": {"link": [f"srt://127.0.0.1:{p}" for p in t_ports]},
        "transcode": {
            "preset": "ultrafast",
            "segment_duration": SEGMENT_S,
            "rungs": [{"name": "360p", "width": 640, "height": 360, "bitrate_kbps": 600},
                      {"name": "240p", "width": 426, "height": 240, "bitrate_kbps": 300}],
        },
        "egress": {"playlist_segments": 100,
                   "keep_segments": 100},
    })
    tconfs = [Config(tmp_path, deep_merge(base.data, {"transcode": {
        "listen": f"srt://127.0.0.1:{p}"}}), name=f"transcode{i}.yaml")
        for i, p in enumerate(t_ports)]

    def transcoder(i):
        return Demo(tconfs[i], args=["transcode", "--config", str(tconfs[i].path)],
                    log_dir=tmp_path).start_background()

    egress = Demo(base, args=["egress", "--config", str(base.path)], log_dir=tmp_path)
    ingest = Demo(base, args=["ingest", "--config", str(base.path)], log_dir=tmp_path)
    procs, clock = [egress, ingest], None
    try:
        egress.start()
        trans = [transcoder(0), transcoder(1)]
        procs += trans
        ingest.start_background()
        wait_for(lambda: feeds(egress) == 2, scaled(40), what="both transcoders at the egress")
        url = egress.live("360p/index.m3u8")
        wait_for(lambda: (m := fetch_media(url)) and len(m["segments"]) >= 3 or None,
                 scaled(30), what="segments")
        clock = PartClock(url)
        watcher = hls_check.Watcher(egress.live("master.m3u8"))
        found = {}
        follow = threading.Thread(target=lambda: found.setdefault("v", watcher.run(scaled(30))))
        follow.start()
        first = fetch_media(url)["segments"][-1]["seq"]
        wait_for(lambda: len(clock.changes) >= 4 or None, scaled(5),
                 what="a baseline of normal part times")

        # Transcoder 0 dies; it comes back (a fresh encoder, mid-lecture) and
        # rejoins; then transcoder 1 dies. Whichever the egress followed, the
        # output must not stand still for a second.
        start = time.monotonic()
        trans[0].kill()
        wait_for(lambda: feeds(egress) == 1, scaled(10), what="the dead transcoder's feed gone")
        wait_for(lambda: fetch_media(url)["segments"][-1]["seq"] >= first + 6 or None,
                 scaled(15), what="segments from the other transcoder alone")
        trans[0] = transcoder(0)
        procs.append(trans[0])
        wait_for(lambda: feeds(egress) == 2, scaled(20), what="the restarted transcoder back")
        rejoined = fetch_media(url)["segments"][-1]["seq"]
        wait_for(lambda: fetch_media(url)["segments"][-1]["seq"] >= rejoined + 3 or None,
                 scaled(15), what="segments with both feeds again")
        trans[1].kill()
        wait_for(lambda: feeds(egress) == 1, scaled(10), what="the second dead feed gone")
        wait_for(lambda: fetch_media(url)["segments"][-1]["seq"] >= rejoined + 8 or None,
                 scaled(15), what="segments from the restarted transcoder alone")
        end = time.monotonic()
        follow.join()
        assert not found["v"], "\n".join(found["v"][:20])

        still = clock.longest_still(start - 1, end)
        print(f"transcoders: longest still output {still:.2f} s, "
              f"switches={switches(egress):.0f}")
        assert still is not None and still < 1.0, f"the output stood still {still} s"
        assert switches(egress) >= 1
        assert_whole_and_clean(url, first, tmp_path, 14)
        # The ingest redialled the restarted transcoder by itself.
        log = ingest.stderr_text()
        assert log.count(f"link up to srt://127.0.0.1:{t_ports[0]}") >= 2, log[-3000:]
        for p in (ingest, trans[0], egress):
            p.assert_stops(signal.SIGTERM)
    finally:
        if clock:
            clock.close()
        for p in procs:
            p.close()
