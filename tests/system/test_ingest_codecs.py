"""Codecs at the ingest: whatever a lecturer's encoder sends is passed on
untouched for the transcoder (HEVC with MP3, MPEG-2 with MP2, H.264 with
Opus), and the lecture plays as H.264/AAC at the egress. A source without
audio is accepted and reported; so is one without video."""

import re
import signal

import pytest

from lrdemo import (Config, Demo, TS_SEGMENTS, decode_errors, download, fetch_media,
                    free_udp_port, lecture_urls, live_encoder, metric, metrics, scaled, seq,
                    streams, wait_for, with_media)

ENCODINGS = {
    "hevc-mp3": ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "keyint=30:log-level=error",
                 "-c:a", "libmp3lame"],
    "mpeg2-mp2": ["-c:v", "mpeg2video", "-g", "30", "-b:v", "2M", "-c:a", "mp2"],
    "h264-opus": ["-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-c:a", "libopus"],
    "video-only": ["-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-an"],
    "audio-only": ["-vn", "-c:a", "aac"],
}


def push(port, lecture, codecs, seconds=60):
    return live_encoder(
        ["-f", "mpegts", f"srt://127.0.0.1:{port}?streamid=#!::r={lecture},m=publish&latency=120000"],
        seconds, codecs=codecs)


@pytest.mark.parametrize("kind", list(ENCODINGS))
def test_any_codec_is_passed_on(tmp_path, kind):
    port = free_udp_port()
    lecture = "codec-" + kind
    relay = Demo(Config(tmp_path, {
        **TS_SEGMENTS,
        "lecture": lecture,
        # 3 s of silence before the push counts as lost, not 1: what this
        # file checks is codecs, and on a loaded 2-core CI host an encoder
        # paused for a second would end the session (CI read
        # lr_ingest_source_up 0 once for the audio-only push; bench/failover
        # and test_failover.py cover the stall itself)
        "ingest": {"listen": f"srt://127.0.0.1:{port}", "stall_ms": 3000,
                   "lectures": [{"name": lecture, "sources": ["push"]}]},
    }))
    pub = None
    try:
        relay.start()
        pub = push(port, lecture, ENCODINGS[kind])
        if kind == "audio-only":
            # No picture: nothing for the ladder yet, but the ingest takes it,
            # says so, and counts what it reads.
            wait_for(lambda: re.search(rf"lecture={lecture} source 1 .* has no video",
                                       relay.stderr_text()), scaled(20),
                     what="the ingest to report the missing video")
            wait_for(lambda: (metric(metrics(f"{relay.base}/metrics"),
                                     "lr_ingest_source_bytes_total", lecture=lecture) or 0)
                     > 20000, scaled(10), what="audio read from the push")
            assert metric(metrics(f"{relay.base}/metrics"), "lr_ingest_source_up",
                          lecture=lecture) == 1
        else:
            url = next(iter(lecture_urls(relay, lecture).values()))
            wait_for(lambda: seq(url) >= 2, scaled(40), what=f"segments from a {kind} push")
            newest = with_media(fetch_media(url)["segments"])[-1]["uri"]
            segment = download(url.rsplit("/", 1)[0] + "/" + newest, tmp_path / "seg.ts")
            code, errors = decode_errors(segment)
            assert code == 0 and not errors, f"{kind}: {errors}"
            codecs = sorted(s["codec_name"] for s in streams(segment))
            want = ["h264"] if kind == "video-only" else ["aac", "h264"]
            assert codecs == want, f"{kind}: the egress serves {codecs}"
            if kind == "video-only":
                assert re.search(rf"lecture={lecture} source 1 .* has no audio",
                                 relay.stderr_text()), "the missing audio is reported"
        assert pub.poll() is None, "the lecturer's encoder was cut off"
        relay.assert_stops(signal.SIGINT)
    finally:
        if pub and pub.poll() is None:
            pub.kill()
            pub.wait()
        relay.close()
