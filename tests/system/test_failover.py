"""Failover at the ingest. A lecturer's push as the primary source, the
recorded lecture file as the backup: losing the push moves the lecture to the
backup within 1.5 s, the push coming back wins it back, the lecture plays on,
and the metrics say so. A university's RTMP stream as the primary: when it
returns the lecture goes back to it only if switch_back is on. A lecture left
with no source at all for seconds gets one EXT-X-DISCONTINUITY."""

import re
import signal
import subprocess
import time

import pytest

from lrdemo import (REPO, Config, Demo, fetch_media, ffmpeg_push, free_udp_port, lecture_urls,
                    metric, metrics, now_of_day, scaled, seq, source_reads, wait_for)
from test_pull import RtmpServer


def reads(relay):
    return source_reads(relay, "cs101")







def test_push_fails_over_to_backup_and_back(tmp_path):
    port = free_udp_port()
    conf = Config(tmp_path, {
        "lecture": "cs101",
        "ingest": {
            "listen": f"srt://127.0.0.1:{port}",
            "stall_ms": 1000,
            "lectures": [{"name": "cs101",
                          "sources": ["push", str(REPO / "samples" / "lecture.mp4")]}],
        },
    })
    relay = Demo(conf)
    pubs = []
    try:
        relay.start()
        pubs.append(ffmpeg_push(port, "#!::r=cs101,m=publish"))
        wait_for(lambda: any(src == 1 for _, src in reads(relay)), scaled(20),
                 what="the ingest to read the push")
        # The push (360p) and the backup (720p) make different ladders; 360p
        # is in both. (The master lists only the current link's renditions.)
        url = wait_for(lambda: lecture_urls(relay, "cs101").get("360p"), scaled(30),
                       what="the 360p rendition in the master")
        wait_for(lambda: seq(url) >= 2, scaled(30), what=f"segments from the push in {url}")

        pubs[0].kill()  # the lecturer's encoder dies without a goodbye
        killed_at = now_of_day()
        def backup():
            after = [t for t, src in reads(relay) if src == 2 and t >= killed_at - 0.05]
            return after[0] if after else None
        took = wait_for(backup, scaled(10), interval=0.05,
                        what="the ingest to fail over to the backup") - killed_at
        print(f"failover_ms={took * 1000:.0f}")
        assert took < 1.5, f"failover took {took:.3f} s"

        # The metrics agree soon after the log line. (Not at once: a CI run
        # under ASan read 0 for the backup right after the line, perhaps the
        # dead push's last buffered packets, handed over late by a starved
        # reader, winning the lecture back for another stall_ms; the reads
        # printed here tell next time.)
        print("reads since the kill:", [r for r in reads(relay) if r[0] >= killed_at - 0.05])
        def backup_active():
            m = metrics(f"{relay.base}/metrics")
            active = [metric(m, "lr_ingest_source_active", lecture="cs101", source=s)
                      for s in ("1", "2")]
            return m if active == [0, 1] else None
        m = wait_for(backup_active, scaled(5), what="the metrics to show the backup active")
        # The lecture moves on at the stall deadline; the push's own reader
        # gives up on its session at about the same moment.
        wait_for(lambda: metric(metrics(f"{relay.base}/metrics"), "lr_ingest_source_failures_total",
                                lecture="cs101", source="1") >= 1, scaled(5),
                 what="the lost push counted")
        assert metric(m, "lr_ingest_lecture_source_changes_total", lecture="cs101") >= 2
        # The backup's codecs differ from the push's: the link starts a new
        # session, so it may be down for a moment here.
        wait_for(lambda: metric(metrics(f"{relay.base}/metrics"), "lr_ingest_link_up",
                                lecture="cs101") == 1, scaled(5), what="the link back up")
        wait_for(lambda: metric(metrics(f"{relay.base}/metrics"), "lr_ingest_source_fps",
                                lecture="cs101", source="2") > 20, scaled(5),
                 what="the backup's frame rate in the metrics")

        before = seq(url)
        wait_for(lambda: seq(url) >= before + 2, scaled(30),
                 what="segments to keep coming from the backup")

        # The lecturer comes back: the push is the primary and wins again.
        pubs.append(ffmpeg_push(port, "#!::r=cs101,m=publish"))
        back_from = now_of_day()
        wait_for(lambda: any(src == 1 and t >= back_from - 0.05 for t, src in reads(relay)),
                 scaled(15), what="the push to win the lecture back")
        before = seq(url)
        wait_for(lambda: seq(url) >= before + 2, scaled(30),
                 what="segments after switching back")
        relay.assert_stops(signal.SIGINT)
    finally:
        for p in pubs:
            if p.poll() is None:
                p.kill()
                p.wait()
        relay.close()


@pytest.mark.parametrize("switch_back", [True, False])
def test_recovered_url_primary_and_switch_back(tmp_path, switch_back):
    origin = RtmpServer(tmp_path)
    relay = Demo(Config(tmp_path, {
        "lecture": "cs102",
        "ingest": {"stall_ms": 1000, "lectures": [{
            "name": "cs102", "switch_back": switch_back,
            "sources": [origin.url, str(REPO / "samples" / "lecture.mp4")]}]},
    }))
    try:
        origin.start()
        relay.start()
        wait_for(lambda: any(s == 1 for _, s in source_reads(relay, "cs102")), scaled(20),
                 what="the primary")
        origin.kill()
        wait_for(lambda: source_reads(relay, "cs102")[-1][1] == 2, scaled(10),
                 what="the failover to the backup")
        back = now_of_day()
        origin.start()
        wait_for(lambda: "lecture=cs102 source 1 up" in relay.stderr_text(), scaled(10),
                 what="the primary to come back")
        if switch_back:
            took = wait_for(lambda: next((t for t, s in source_reads(relay, "cs102")
                                          if s == 1 and t >= back), None), scaled(10),
                            interval=0.05, what="the switch back") - back
            print(f"switch_back_ms={took * 1000:.0f} (from the server's restart)")
        else:
            # Held for longer than a switch back takes when it is on (above):
            # a bounded observation, not a wait for readiness.
            time.sleep(scaled(4))
            assert source_reads(relay, "cs102")[-1][1] == 2, "switched back although off"
            m = metrics(f"{relay.base}/metrics")
            assert metric(m, "lr_ingest_source_up", lecture="cs102", source="1") == 1
            assert metric(m, "lr_ingest_source_active", lecture="cs102", source="2") == 1
        relay.assert_stops(signal.SIGINT)
    finally:
        relay.close()
        origin.close()


def test_a_lecture_without_any_source_is_marked_as_a_break(tmp_path):
    origin = RtmpServer(tmp_path)
    relay = Demo(Config(tmp_path, {
        "lecture": "cs103",
        "ingest": {"lectures": [{"name": "cs103", "sources": [origin.url]}]},
    }))
    try:
        origin.start()
        relay.start()
        url = next(iter(lecture_urls(relay, "cs103").values()))
        wait_for(lambda: seq(url) >= 2, scaled(30), what="segments")
        origin.kill()
        # The outage itself: the university's server is down for 4 s.
        time.sleep(4)
        origin.start()
        wait_for(lambda: "was without a source" in relay.stderr_text(), scaled(10),
                 what="the ingest to mark the break")

        def marked():
            m = fetch_media(url)
            return m if m and any(s["discontinuity"] for s in m["segments"]) and \
                m["segments"][-1]["discontinuity"] is False else None
        m = wait_for(marked, scaled(30), what="EXT-X-DISCONTINUITY in the playlist")
        assert sum(s["discontinuity"] for s in m["segments"]) == 1
        for s in m["segments"]:
            assert s["duration"] <= m["target"] + 0.5, f"segment {s} spans the break"
        relay.assert_stops(signal.SIGINT)
    finally:
        relay.close()
        origin.close()


def test_a_failover_on_one_clock_leaves_no_break(tmp_path):
    """The push and a backup on the same clock (the recorded lecture as
    MPEG-TS, started with the push: ffmpeg's timestamps begin alike): the
    ingest goes on at the backup's first keyframe after the last packet
    sent, leaving a hole of up to a GOP (2 s here). Every rendition of the
    egress goes on with every number, no gap and no discontinuity. (A hole
    over 1 s was a break at the egress: a discontinuity, and bench/soak
    once lost the audio's segment of that slot on both nodes.)"""
    port = free_udp_port()
    backup = tmp_path / "backup.ts"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i",
                    str(REPO / "samples" / "lecture.mp4"), "-c", "copy", "-f", "mpegts",
                    str(backup)], check=True, timeout=60)
    conf = Config(tmp_path, {
        "lecture": "cs101",
        "ingest": {"listen": f"srt://127.0.0.1:{port}", "stall_ms": 1000,
                   "lectures": [{"name": "cs101", "sources": ["push", str(backup)]}]},
    })
    relay = Demo(conf)
    pub = None
    try:
        relay.start()
        wait_for(lambda: "lecture=cs101 source 2 up" in relay.stderr_text(), scaled(10),
                 what="the backup read")
        # (not readiness: the push starts 1.5 s behind the backup, so that the
        # backup holds the keyframe after the push's last packet when it
        # takes over, as a backup read all along does)
        time.sleep(1.5)
        pub = subprocess.Popen(
            ["ffmpeg", "-nostdin", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i",
             str(REPO / "samples" / "lecture.mp4"), "-c", "copy",
             "-progress", "pipe:1", "-stats_period", "0.05", "-f", "mpegts",
             f"srt://127.0.0.1:{port}?streamid=#!::r=cs101,m=publish&latency=120000"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True)
        wait_for(lambda: any(src == 1 for _, src in reads(relay)), scaled(20),
                 what="the ingest to read the push")
        urls = wait_for(lambda: (lambda u: u if {"720p", "audio"} <= set(u) else None)(
            lecture_urls(relay, "cs101")), scaled(30), what="the renditions in the master")
        wait_for(lambda: seq(urls["720p"]) >= 2, scaled(30), what="segments from the push")
        since = {r: fetch_media(u)["segments"][-1]["seq"] for r, u in urls.items()}

        # The encoder dies without a goodbye 0.1 to 0.4 s past one of its
        # keyframes (the sample's come every 2 s, from 0): the hole is then
        # 1.6 to 1.9 s, over the 1 s that was a break before.
        for line in pub.stdout:
            if line.startswith("out_time_us=") and line.strip() != "out_time_us=N/A" and \
                    int(line.split("=")[1]) >= 6e6 and \
                    100000 <= int(line.split("=")[1]) % 2000000 <= 400000:
                break
        pub.kill()
        wait_for(lambda: "the new source is on the same clock" in relay.stderr_text(),
                 scaled(10), what="the failover to the backup, on the same clock")
        hole = re.search(r"same clock: no splice, a hole of ([\d.]+) s", relay.stderr_text())
        print(f"the hole the failover left: {hole.group(1)} s")
        after = {r: seq(u) for r, u in urls.items()}
        wait_for(lambda: all(seq(u) >= after[r] + 3 for r, u in urls.items()), scaled(30),
                 what="three segments from the backup in every rendition")

        for r, u in urls.items():
            segs = [s for s in fetch_media(u)["segments"] if s["seq"] > since[r]]
            nums = [s["seq"] for s in segs]
            assert nums == list(range(since[r] + 1, since[r] + 1 + len(nums))), (r, nums)
            assert not [s["seq"] for s in segs if s["gap"] or s["discontinuity"]], (r, segs)
        assert "breaks off" not in relay.stderr_text(), relay.describe()
        relay.assert_stops(signal.SIGINT)
    finally:
        if pub and pub.poll() is None:
            pub.kill()
            pub.wait()
        relay.close()
