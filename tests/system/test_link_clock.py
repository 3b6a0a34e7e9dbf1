"""The link's clock across failovers, checked on a capture of the link itself:
the ingest alone, its link received by srt-live-transmit (a peer nobody here
wrote) into a file, a push that dies, a backup that takes over, the push that
returns. ffprobe then reads every packet: per stream, dts only moves forward.
The push and the backup carry the same recording as MPEG-TS (so the same
codec parameters, each on its own clock): the link stays one session, and
the capture is one stream whose clock must run on across every switch."""

import json
import signal
import subprocess

from lrdemo import (REPO, Config, Demo, free_udp_port, scaled, source_reads,
                    tool, wait_for)


def reads(ingest):
    return source_reads(ingest, "cs101")


def push_recording(port, ts):
    return subprocess.Popen(
        [tool("ffmpeg"), "-nostdin", "-hide_banner", "-loglevel", "error", "-re",
         "-stream_loop", "-1", "-i", str(ts), "-c", "copy", "-f", "mpegts",
         f"srt://127.0.0.1:{port}?streamid=#!::r=cs101,m=publish&latency=120000"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_link_timestamps_never_go_backwards(tmp_path):
    link_port, push_port = free_udp_port(), free_udp_port()
    recording = tmp_path / "lecture.ts"
    subprocess.run([tool("ffmpeg"), "-nostdin", "-v", "error", "-i",
                    str(REPO / "samples" / "lecture.mp4"), "-c", "copy", "-f", "mpegts",
                    str(recording)], check=True, timeout=60)
    capture = tmp_path / "link.ts"
    receiver = subprocess.Popen(
        [tool("srt-live-transmit"), "-q", "-a:yes",
         f"srt://127.0.0.1:{link_port}?mode=listener", "file://con"],
        stdin=subprocess.DEVNULL, stdout=open(capture, "wb"), stderr=subprocess.DEVNULL)
    conf = Config(tmp_path, {
        "lecture": "cs101",
        "ingest": {
            "link": f"srt://127.0.0.1:{link_port}",
            "listen": f"srt://127.0.0.1:{push_port}",
            "lectures": [{"name": "cs101",
                          "sources": ["push", str(recording)]}],
        },
    })
    ingest = Demo(conf, args=["ingest", "--config", str(conf.path)])
    pubs = []
    try:
        ingest.start_background()
        pubs.append(push_recording(push_port, recording))
        wait_for(lambda: [s for _, s in reads(ingest)][-1:] == [1], scaled(20),
                 what="the ingest to read the push")
        wait_for(lambda: capture.stat().st_size > 200_000, scaled(20), what="link bytes")
        pubs[0].kill()
        wait_for(lambda: [s for _, s in reads(ingest)][-1:] == [2], scaled(10),
                 what="failover to the backup")
        size = capture.stat().st_size
        wait_for(lambda: capture.stat().st_size > size + 300_000, scaled(20),
                 what="the backup on the link")
        pubs.append(push_recording(push_port, recording))
        wait_for(lambda: [s for _, s in reads(ingest)][-1:] == [1], scaled(15),
                 what="the push to win back")
        size = capture.stat().st_size
        wait_for(lambda: capture.stat().st_size > size + 200_000, scaled(20),
                 what="the push on the link again")
        ingest.assert_stops(signal.SIGINT)
    finally:
        for p in pubs:
            if p.poll() is None:
                p.kill()
                p.wait()
        ingest.close()
        receiver.kill()
        receiver.wait()

    r = subprocess.run([tool("ffprobe"), "-v", "error", "-show_entries",
                        "packet=stream_index,dts,pts", "-of", "json", str(capture)],
                       capture_output=True, text=True, timeout=60)
    packets = json.loads(r.stdout).get("packets", [])
    assert len(packets) > 300, f"only {len(packets)} packets captured"
    last = {}
    for p in packets:
        if "dts" not in p:
            continue
        s, dts = p["stream_index"], int(p["dts"])
        assert s not in last or dts >= last[s], f"stream {s}: dts {dts} after {last[s]}"
        last[s] = dts
    assert "new link session" not in ingest.stderr_text(), "the link was restarted"
    # one continuous clock across the switches, no jump
    span = (max(last.values()) - min(int(p["dts"]) for p in packets if "dts" in p)) / 90000
    assert span < 120, f"the link's clock spans {span:.0f} s: it jumped"
