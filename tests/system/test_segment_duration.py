"""The egress learns the segment duration from what it receives (issue 22):
the transcoder's transcode.segment_duration, or the source's GOP in
passthrough, with nothing to set at the egress. Every media playlist, from
the first one a player can fetch, says the target duration of the segments
it will list (EXT-X-TARGETDURATION must not change: RFC 8216bis 6.2.1)."""

import re
import subprocess
import urllib.error

import pytest

from lrdemo import http_get, parse_media, scaled, tool, wait_for


def watch_from_the_start(demo, rung, segments):
    """Every distinct text of rung's playlist from its first, until it lists
    `segments` whole segments."""
    url = demo.live(f"{rung}/index.m3u8")
    texts = []

    def enough():
        try:
            status, _, body = http_get(url)
        except (urllib.error.URLError, OSError):
            return None
        if status != 200:
            return None
        text = body.decode()
        if not texts or texts[-1] != text:
            texts.append(text)
        return len(parse_media(text)["segments"]) >= segments or None
    wait_for(enough, scaled(40 + 4 * segments), interval=0.05,
             what=f"{segments} segments of {rung}")
    return texts


def targets(texts):
    return {int(re.search(r"#EXT-X-TARGETDURATION:(\d+)", t).group(1)) for t in texts}


@pytest.mark.parametrize("seconds", [1, 4])
def test_the_egress_takes_the_transcoders_segment_duration(start_demo, seconds):
    demo = start_demo({"transcode": {"segment_duration": seconds}})
    texts = watch_from_the_start(demo, "360p", 5)
    assert targets(texts) == {seconds}, [t[:200] for t in texts]
    segs = parse_media(texts[-1])["segments"]
    # The first segments of a link may be short (it starts anywhere in an
    # interval, and the transcoder forces a keyframe as the link comes up);
    # none is longer, and then they keep the rhythm.
    assert all(s["duration"] < seconds + 0.05 for s in segs), segs
    assert all(abs(s["duration"] - seconds) < 0.05 for s in segs[-3:]), segs
    server_control = next(l for l in texts[-1].splitlines()
                          if l.startswith("#EXT-X-SERVER-CONTROL:"))
    assert re.search(rf"[:,]HOLD-BACK={3 * seconds:.3f}(,|$)", server_control), server_control
    assert f"segments of {seconds:.3f} s (the sender's keyframe interval): target duration " \
           f"{seconds} s" in demo.stderr_text()
    # the audio rendition is cut where the video is, and says the same
    audio = watch_from_the_start(demo, "audio", 4)
    assert targets(audio) == {seconds}, [t[:200] for t in audio]


def test_passthrough_takes_the_sources_gop(start_demo, tmp_path):
    """A 720p source with a keyframe every 3 s through passthrough: the
    segments are the source's GOPs, and every playlist says 3."""
    src = tmp_path / "gop3.ts"
    subprocess.run([tool("ffmpeg"), "-nostdin", "-hide_banner", "-loglevel", "error",
                    "-f", "lavfi", "-i", "testsrc2=s=1280x720:r=30:d=30", "-f", "lavfi",
                    "-i", "sine=d=30", "-c:v", "libx264", "-preset", "ultrafast",
                    "-pix_fmt", "yuv420p", "-g", "90", "-keyint_min", "90", "-sc_threshold", "0",
                    "-c:a", "aac", "-f", "mpegts", str(src)], check=True, timeout=120)
    demo = start_demo({"ingest": {"source": str(src)},
                       "transcode": {"passthrough": True, "segment_duration": 2}})
    texts = watch_from_the_start(demo, "720p", 4)
    assert targets(texts) == {3}, [t[:200] for t in texts]
    segs = parse_media(texts[-1])["segments"]
    assert all(s["duration"] < 3.05 for s in segs), segs
    assert all(abs(s["duration"] - 3.0) < 0.05 for s in segs[-2:]), segs
