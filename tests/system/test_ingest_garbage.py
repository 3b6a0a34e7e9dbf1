"""Bad input at the ingest port: random datagrams, an SRT publisher sending
bytes that are not TS, and one sending a TS stream with corrupted packets.
Each is logged, nothing crashes, and a lecture that is live goes on."""

import random
import signal
import socket
import subprocess

from lrdemo import (Config, Demo, ffmpeg_push, free_udp_port, lecture_urls, scaled, seq, tool,
                    wait_for)


def gst_send_file(port, streamid, path):
    """Sends a file's bytes as 1316-byte SRT messages, a message every 2 ms."""
    return subprocess.Popen(
        [tool("gst-launch-1.0"), "-q", "filesrc", f"location={path}", "blocksize=1316", "!",
         "identity", "sleep-time=2000", "!", "srtsink", f"uri=srt://127.0.0.1:{port}",
         f"streamid={streamid}", "latency=120"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def corrupted_ts(tmp_path, rng):
    clean = tmp_path / "clean.ts"
    subprocess.run([tool("ffmpeg"), "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc2=s=320x180:r=25:d=6", "-f", "lavfi", "-i", "sine=d=6",
                    "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-c:a", "aac",
                    "-f", "mpegts", str(clean)], check=True, timeout=60)
    data = bytearray(clean.read_bytes())
    for off in range(0, len(data) - 187, 188):
        r = rng.random()
        if r < 0.05:    # a damaged payload
            for i in range(off + 4, off + 188):
                data[i] = rng.getrandbits(8)
        elif r < 0.06:  # a damaged header (PID, flags, continuity)
            for i in range(off + 1, off + 4):
                data[i] = rng.getrandbits(8)
    bad = tmp_path / "corrupted.ts"
    bad.write_bytes(bytes(data))
    return bad


def test_garbage_at_the_ingest_disturbs_nothing(tmp_path):
    rng = random.Random(20261128)
    port = free_udp_port()
    conf = Config(tmp_path, {
        "lecture": "cs101",
        "ingest": {"listen": f"srt://127.0.0.1:{port}",
                   "lectures": [{"name": "cs101"}, {"name": "lab"}]},
    })
    relay = Demo(conf)
    procs = []
    try:
        relay.start()
        procs.append(ffmpeg_push(port, "#!::r=cs101,m=publish"))
        url = next(iter(lecture_urls(relay, "cs101").values()))
        wait_for(lambda: seq(url) >= 2, scaled(30), what="cs101 segments")
        before = seq(url)

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for _ in range(2000):
                s.sendto(rng.randbytes(rng.randint(1, 1500)), ("127.0.0.1", port))
        noise = tmp_path / "noise.bin"
        noise.write_bytes(rng.randbytes(400_000))
        procs.append(gst_send_file(port, "#!::r=lab,m=publish", noise))
        wait_for(lambda: "not MPEG-TS packets" in relay.stderr_text(), scaled(15),
                 what="the non-TS publisher to be logged")
        procs[-1].kill()
        procs.append(gst_send_file(port, "#!::r=lab,m=publish", corrupted_ts(tmp_path, rng)))
        wait_for(lambda: procs[-1].poll() is not None, scaled(30),
                 what="the corrupted stream to be sent")

        wait_for(lambda: seq(url) >= before + 3, scaled(30),
                 what="cs101 to keep flowing through all of it")
        assert relay.alive()
        assert procs[0].poll() is None, "the live lecturer was cut off"
        relay.assert_stops(signal.SIGINT)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        relay.close()
