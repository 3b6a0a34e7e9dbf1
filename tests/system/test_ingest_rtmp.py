"""RTMP push at the ingest, end to end. The ffmpeg CLI and GStreamer's
rtmp2sink publish two lectures to one port at once, as Zoom, OBS and hall
encoders do; both play at the egress. A wrong key, an unknown lecture and a
second publisher are refused while the live lectures keep their segments
coming. Zoom's "stream key only" shape finds its lecture by the key. RTMPS
works with a certificate made here. A lecturer's SRT push fails over to the
same lecturer's RTMP push (a list may mix them)."""

import re
import shutil
import signal
import socket
import subprocess
import time

import pytest

from lrdemo import (Config, Demo, TS_SEGMENTS, decode_errors, download, fetch_media, ffmpeg_push,
                    free_tcp_port, free_udp_port, lecture_urls, live_encoder, make_cert,
                    now_of_day, scaled, seq, source_reads, streams, tool, wait_for, with_media)


def ffmpeg_rtmp(url, seconds=120):
    return live_encoder(["-f", "flv", url], seconds)


def gst_rtmp(url):
    return subprocess.Popen(
        [tool("gst-launch-1.0"), "-q",
         "videotestsrc", "is-live=true", "pattern=ball", "!",
         "video/x-raw,width=640,height=360,framerate=30/1", "!", "videoconvert", "!",
         "openh264enc", "gop-size=30", "!", "h264parse", "!", "queue", "!",
         "flvmux", "name=m", "streamable=true", "!", "rtmp2sink", f"location={url}",
         "audiotestsrc", "is-live=true", "wave=sine", "!", "audioconvert", "!",
         "audioresample", "!", "avenc_aac", "!", "aacparse", "!", "queue", "!", "m."],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def stop(*procs):
    for p in procs:
        if p and p.poll() is None:
            p.kill()
            p.wait()


def newest_segment_decodes(url, dest):
    newest = with_media(fetch_media(url)["segments"])[-1]["uri"]
    segment = download(url.rsplit("/", 1)[0] + "/" + newest, dest)
    code, errors = decode_errors(segment)
    assert code == 0 and not errors, errors
    assert sorted(s["codec_name"] for s in streams(segment)) == ["aac", "h264"]


def refused(relay, url, reason, deadline):
    """A publish to url is turned away: ffmpeg gives up, the log says why."""
    p = ffmpeg_rtmp(url, seconds=5)
    try:
        p.wait(timeout=deadline)
    except subprocess.TimeoutExpired:
        stop(p)
        pytest.fail(f"{url}: the publish was not refused")
    assert p.returncode != 0, f"{url}: the publish was accepted"
    assert re.search(reason, relay.stderr_text()), f"no log line matching {reason!r}"


@pytest.fixture
def rtmp_relay(tmp_path):
    port = free_tcp_port()
    relay = Demo(Config(tmp_path, {
        **TS_SEGMENTS,
        "lecture": "cs201",
        "ingest": {"rtmp_listen": f"127.0.0.1:{port}", "lectures": [
            {"name": "cs201", "publish_key": "k201", "sources": ["push"]},
            {"name": "cs202", "publish_key": "k202", "sources": ["push-rtmp"]},
            {"name": "cs203", "publish_key": "zoomkey203", "sources": ["push"]},
        ]},
    }))
    relay.start()
    relay.rtmp_port = port
    yield relay
    relay.close()


@pytest.mark.skipif(not shutil.which("gst-launch-1.0"), reason="no GStreamer")
def test_ffmpeg_and_gstreamer_publish_and_intruders_are_refused(rtmp_relay, tmp_path):
    relay, port = rtmp_relay, rtmp_relay.rtmp_port
    base = f"rtmp://127.0.0.1:{port}/live"
    pubs = [ffmpeg_rtmp(f"{base}/cs201?key=k201"), gst_rtmp(f"{base}/cs202?key=k202")]
    try:
        urls = {lec: next(iter(lecture_urls(relay, lec).values())) for lec in ("cs201", "cs202")}
        for lec, url in urls.items():
            wait_for(lambda: seq(url) >= 2, scaled(40), what=f"segments of {lec}")
        before = {lec: seq(url) for lec, url in urls.items()}

        d = scaled(20)
        refused(relay, f"{base}/cs201?key=wrong", r"lecture=cs201 .*refused: wrong", d)
        refused(relay, f"{base}/cs201", r"lecture=cs201 .*refused: missing", d)
        refused(relay, f"{base}/nosuch?key=k201", r"lecture=\? .*refused: unknown", d)
        refused(relay, f"{base}/cs202?key=k202", r"lecture=cs202 .*refused: .*live publisher", d)

        # The live lectures never noticed: their sequence kept moving, and
        # their publishers are still connected.
        for lec, url in urls.items():
            wait_for(lambda: seq(url) >= before[lec] + 2, scaled(30),
                     what=f"{lec}'s segments after the intruders")
            newest_segment_decodes(url, tmp_path / f"{lec}.ts")
        assert all(p.poll() is None for p in pubs), "a live publisher was cut off"
        relay.assert_stops(signal.SIGINT)
    finally:
        stop(*pubs)


def test_zoom_style_stream_key_finds_its_lecture(rtmp_relay):
    relay, port = rtmp_relay, rtmp_relay.rtmp_port
    # Zoom: "Stream URL" rtmp://HOST:PORT/live, "Stream key" the publish key.
    pub = ffmpeg_rtmp(f"rtmp://127.0.0.1:{port}/live/zoomkey203")
    try:
        url = next(iter(lecture_urls(relay, "cs203").values()))
        wait_for(lambda: seq(url) >= 2, scaled(40), what="segments of cs203")
        assert "zoomkey203" not in relay.stderr_text(), "the key was written to the log"
    finally:
        stop(pub)


def idle_from(host, port):
    """A TCP connection from a loopback address of our choosing that never
    sends a byte (an idle socket before any publish)."""
    s = socket.socket()
    s.bind((host, 0))
    s.connect(("127.0.0.1", port))
    return s


def closed_by_peer(s, deadline=5.0):
    s.settimeout(deadline)
    try:
        return s.recv(1) == b""
    except (ConnectionResetError, socket.timeout):
        return False


def test_idle_sockets_cant_keep_a_lecturer_out(rtmp_relay):
    """Before any publish, one address may hold 4 connections (a 5th is
    closed at once), and 16 idle ones from four addresses don't keep the
    lecturer out: the oldest gives up its place and the publish plays."""
    relay, port = rtmp_relay, rtmp_relay.rtmp_port
    idle = []
    pub = None
    try:
        idle = [idle_from("127.0.0.2", port) for _ in range(4)]
        fifth = idle_from("127.0.0.2", port)
        assert closed_by_peer(fifth), "a 5th idle connection from one address was kept"
        fifth.close()
        assert re.search(r"peer=127\.0\.0\.2:\d+ refused: 4 connections from that address",
                         relay.stderr_text())
        idle += [idle_from(f"127.0.0.{n}", port) for n in (3, 4, 5) for _ in range(4)]
        # the 16 sit within their 5 s of silence; the lecturer comes now
        pub = ffmpeg_rtmp(f"rtmp://127.0.0.1:{port}/live/cs201?key=k201")
        url = next(iter(lecture_urls(relay, "cs201").values()))
        wait_for(lambda: seq(url) >= 2, scaled(40), what="segments of cs201")
        assert "dropped before its publish: the oldest of 16" in relay.stderr_text()
        assert closed_by_peer(idle[0], 0.5), "the oldest idle connection kept its place"
    finally:
        stop(pub)
        for s in idle:
            s.close()


def test_rtmps_publish(tmp_path):
    cert, key = make_cert(tmp_path)
    port = free_tcp_port()
    relay = Demo(Config(tmp_path, {
        **TS_SEGMENTS,
        "lecture": "cs204",
        "ingest": {"rtmps_listen": f"127.0.0.1:{port}", "rtmps_cert": str(cert),
                   "rtmps_key": str(key),
                   "lectures": [{"name": "cs204", "publish_key": "k204", "sources": ["push"]}]},
    }))
    pub = None
    try:
        relay.start()
        pub = ffmpeg_rtmp(f"rtmps://127.0.0.1:{port}/live/cs204?key=k204")
        url = next(iter(lecture_urls(relay, "cs204").values()))
        wait_for(lambda: seq(url) >= 2, scaled(40), what="segments over RTMPS")
        newest_segment_decodes(url, tmp_path / "cs204.ts")

        # a renewed certificate: SIGHUP, and new connections get it while the
        # lecture goes on over the old one
        def subject():
            out = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}"],
                                 input="", capture_output=True, text=True, timeout=10).stdout
            m = re.search(r"subject=.*CN ?= ?([\w.]+)", out)
            return m.group(1) if m else None
        assert subject() == "127.0.0.1"
        make_cert(tmp_path, "renewed")
        relay.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: subject() == "renewed", scaled(5), what="the renewed certificate")
        assert "rtmp: SIGHUP: reloaded the certificate" in relay.stderr_text()
        before = seq(url)
        wait_for(lambda: seq(url) >= before + 2, scaled(20), what="the lecture going on")
        relay.assert_stops(signal.SIGINT)
    finally:
        stop(pub)
        relay.close()


def test_srt_push_fails_over_to_rtmp_push(tmp_path):
    srt_port, rtmp_port = free_udp_port(), free_tcp_port()
    relay = Demo(Config(tmp_path, {
        **TS_SEGMENTS,
        "lecture": "cs205",
        "ingest": {"listen": f"srt://127.0.0.1:{srt_port}", "rtmp_listen": f"127.0.0.1:{rtmp_port}",
                   "lectures": [{"name": "cs205", "sources": ["push-srt", "push-rtmp"]}]},
    }))
    pubs = []
    try:
        relay.start()
        pubs.append(ffmpeg_push(srt_port, "#!::r=cs205,m=publish"))
        pubs.append(ffmpeg_rtmp(f"rtmp://127.0.0.1:{rtmp_port}/live/cs205"))
        wait_for(lambda: "lecture=cs205 source 2 up" in relay.stderr_text(), scaled(20),
                 what="the RTMP push as the standby")
        wait_for(lambda: (source_reads(relay, "cs205") or [(0, 0)])[-1][1] == 1, scaled(20),
                 what="the SRT push on the link")
        url = next(iter(lecture_urls(relay, "cs205").values()))
        wait_for(lambda: seq(url) >= 2, scaled(40), what="segments")
        pubs[0].kill()
        killed = now_of_day()
        took = wait_for(lambda: next((t for t, s in source_reads(relay, "cs205")
                                      if s == 2 and t >= killed - 0.05), None),
                        scaled(10), interval=0.05, what="the RTMP push to take over") - killed
        print(f"srt_to_rtmp_failover_ms={took * 1000:.0f}")
        assert took < 1.5
        before = seq(url)
        wait_for(lambda: seq(url) >= before + 2, scaled(30), what="segments from the RTMP push")
        relay.assert_stops(signal.SIGINT)
    finally:
        stop(*pubs)
        relay.close()
