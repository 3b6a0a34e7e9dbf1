"""Pull: the ingest relays a university's own HLS stream (here made live by
ffmpeg and served by a plain HTTP server). When the server dies and comes
back, the lecture resumes within 3 s of its return."""

import signal
import subprocess
import sys

import re

from lrdemo import (Config, Demo, free_tcp_port, lecture_urls, now_of_day, scaled, seq,
                    source_reads, tool, wait_for)

LOST = re.compile(r"lecture=hls1 source 1 .* lost")


def http_server(port, directory):
    return subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1",
                             str(port), "--directory", str(directory)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def reads(relay):
    return [t for t, src in source_reads(relay, "hls1") if src == 1]


def test_hls_pull_resumes_after_the_server_returns(tmp_path):
    hls = tmp_path / "hls"
    hls.mkdir()
    encoder = subprocess.Popen(
        [tool("ffmpeg"), "-nostdin", "-loglevel", "error", "-re",
         "-f", "lavfi", "-i", "testsrc2=s=640x360:r=25:d=90",
         "-f", "lavfi", "-i", "sine=sample_rate=48000:d=90",
         "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-c:a", "aac",
         "-f", "hls", "-hls_time", "1", "-hls_list_size", "8", "-hls_flags", "delete_segments",
         str(hls / "index.m3u8")], stdin=subprocess.DEVNULL)
    port = free_tcp_port()
    server = http_server(port, hls)
    conf = Config(tmp_path, {
        "lecture": "hls1",
        "ingest": {"lectures": [{"name": "hls1",
                                 "sources": [f"http://127.0.0.1:{port}/index.m3u8"]}]},
    })
    relay = Demo(conf)
    try:
        wait_for(lambda: (hls / "index.m3u8").exists() and
                 (hls / "index.m3u8").read_text().count("#EXTINF") >= 3, scaled(20),
                 what="the university's HLS stream to exist")
        relay.start()
        url = next(iter(lecture_urls(relay, "hls1").values()))
        wait_for(lambda: seq(url) >= 2, scaled(30), what="segments pulled from HLS")

        server.kill()
        server.wait()
        wait_for(lambda: LOST.search(relay.stderr_text()), scaled(15),
                 what="the ingest to notice the source is gone")
        server = http_server(port, hls)
        back = now_of_day()
        took = wait_for(lambda: next((t for t in reads(relay) if t >= back - 0.05), None),
                        scaled(10), interval=0.05, what="the pull to resume") - back
        print(f"resume_ms={took * 1000:.0f}")
        assert took < 3.0, f"resumed {took:.3f} s after the server returned"
        before = seq(url)
        wait_for(lambda: seq(url) >= before + 2, scaled(30),
                 what="segments after the source returned")
        relay.assert_stops(signal.SIGINT)
    finally:
        relay.close()
        for p in (server, encoder):
            if p.poll() is None:
                p.kill()
                p.wait()
