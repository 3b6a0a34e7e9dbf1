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
        # A fixed latency: "auto" first probes the RTT with a handshake our
        # listeners refuse, but srt-live-transmit accepts it as its one
        # caller and, on a busy host, stayed taken by it for 20 s (CI).
        "link": {"latency_ms": 120},
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


def test_looped_file_is_seamless(tmp_path):
    """A looped file (the demo's sample lecture) runs on without a hole at
    the seam: the next pass starts where the last one's presentation ended,
    not one B-frame delay or one AAC priming frame later. Per stream, no
    step between presented frames exceeds one frame."""
    link_port = free_udp_port()
    clip = tmp_path / "clip.mp4"  # 2 s, B-frames, AAC with its priming frame
    subprocess.run([tool("ffmpeg"), "-nostdin", "-v", "error",
                    "-f", "lavfi", "-i", "testsrc2=s=320x180:r=30:d=2",
                    "-f", "lavfi", "-i", "sine=f=440:sample_rate=48000:d=2",
                    "-c:v", "libx264", "-preset", "ultrafast", "-bf", "2", "-g", "30",
                    "-pix_fmt", "yuv420p", "-c:a", "aac", str(clip)], check=True, timeout=60)
    capture = tmp_path / "link.ts"
    receiver = subprocess.Popen(
        [tool("srt-live-transmit"), "-q", "-a:yes",
         f"srt://127.0.0.1:{link_port}?mode=listener", "file://con"],
        stdin=subprocess.DEVNULL, stdout=open(capture, "wb"), stderr=subprocess.DEVNULL)
    conf = Config(tmp_path, {"lecture": "cs101", "log_level": "debug",
                             "link": {"latency_ms": 120},  # no RTT probe: see above
                             "ingest": {"link": f"srt://127.0.0.1:{link_port}",
                                        "source": str(clip)}})
    ingest = Demo(conf, args=["ingest", "--config", str(conf.path)])
    try:
        ingest.start_background()
        wait_for(lambda: ingest.stderr_text().count("loop 2 starts") or None, scaled(20),
                 what="two loops of the clip")
        ingest.assert_stops(signal.SIGINT)
    finally:
        ingest.close()
        receiver.kill()
        receiver.wait()
    r = subprocess.run([tool("ffprobe"), "-v", "error", "-show_entries",
                        "packet=stream_index,pts,duration:stream=index,codec_type",
                        "-of", "json", str(capture)],
                       capture_output=True, text=True, timeout=60)
    info = json.loads(r.stdout)
    kinds = {s["index"]: s["codec_type"] for s in info["streams"]}
    pts = {}
    for p in info.get("packets", []):
        if "pts" in p:
            pts.setdefault(kinds[p["stream_index"]], []).append(int(p["pts"]))
    frame = {"video": 3000, "audio": 1920}  # 1/30 s; 1024 samples at 48 kHz
    for kind, ts in pts.items():
        ts.sort()
        assert (ts[-1] - ts[0]) / 90000 > 3.5, f"{kind}: only {(ts[-1] - ts[0]) / 90000:.1f} s"
        ts = ts[:-8]  # the stop cuts the last GOP short: B-frames before its end are missing
        worst = max(b - a for a, b in zip(ts, ts[1:]))
        assert worst <= frame[kind] + 2, f"{kind}: a {worst / 90:.1f} ms hole in the link"
