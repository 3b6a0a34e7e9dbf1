"""The egress's packaging, from the outside: CMAF segments and LL-HLS parts
as players fetch them, checked with ffmpeg/ffprobe and byte comparisons; the
playlists' rules are checked by hls_check over a 60 s run; GStreamer's
hlsdemux2 plays the lecture."""

import re
import shutil
import subprocess
import time
import urllib.request

import pytest

import hls_check
from lrdemo import (decode_errors, fetch_media, fetch_text, http_get, parse_attrs, parse_master,
                    scaled, vlc_play, wait_master, wait_segments, with_media)


def _master_lines(demo):
    return [l for l in fetch_text(demo.live("master.m3u8")).splitlines() if l.strip()]


@pytest.fixture(scope="module")
def ladder(demo):
    """{rendition: media playlist URL}, video and audio, once every video rung
    lists 3 segments."""
    videos = wait_master(demo, scaled(40))
    base = demo.live("master.m3u8")
    urls = {v["uri"].split("/")[0]: urllib.request.urljoin(base, v["uri"]) for v in videos}
    urls["audio"] = urllib.request.urljoin(base, "audio/index.m3u8")
    for url in urls.values():
        wait_segments(url, 3, scaled(40))
    return urls


def test_master_has_audio_group_and_audio_only_variant(demo, ladder):
    lines = _master_lines(demo)
    media = [parse_attrs(l.split(":", 1)[1]) for l in lines if l.startswith("#EXT-X-MEDIA:")]
    assert [m["TYPE"] for m in media] == ["AUDIO"], lines
    group = media[0]["GROUP-ID"]
    assert media[0]["URI"] == "audio/index.m3u8"
    variants = parse_master("\n".join(lines))
    video = [v for v in variants if "RESOLUTION" in v["attrs"]]
    audio_only = [v for v in variants if "RESOLUTION" not in v["attrs"]]
    assert len(video) >= 2 and len(audio_only) == 1, variants
    assert audio_only[0]["uri"] == "audio/index.m3u8"
    assert audio_only[0]["attrs"]["CODECS"] == "mp4a.40.2"
    for v in video:
        assert v["attrs"]["AUDIO"] == group, v
        codecs = v["attrs"]["CODECS"].split(",")
        assert re.fullmatch(r"avc1\.[0-9a-f]{6}", codecs[0]) and codecs[1] == "mp4a.40.2", v
        # BANDWIDTH is measured: the video's peak plus the audio's
        assert int(v["attrs"]["BANDWIDTH"]) > int(audio_only[0]["attrs"]["BANDWIDTH"])


def test_parts_concatenate_to_their_segment_and_everything_decodes(demo, ladder, tmp_path):
    checked = 0
    for name, url in ladder.items():
        text = fetch_text(url)
        init_uri = re.search(r'#EXT-X-MAP:URI="((?:\.\./[^/"]+/)?init\d*\.mp4)"', text)
        assert init_uri, text
        # Segments listed with their parts: the parts come before the EXTINF.
        parts, complete = [], []
        for line in text.splitlines():
            if line.startswith("#EXT-X-PART:"):
                parts.append(parse_attrs(line.split(":", 1)[1])["URI"])
            elif line and not line.startswith("#"):
                if parts:
                    complete.append((line, parts))
                parts = []
        assert complete, f"{name}: no segment listed with its parts:\n{text}"
        init = http_get(urllib.request.urljoin(url, init_uri.group(1)))[2]
        # Fetch first, decode after: parts leave the store a few segments on.
        fetched = [(seg, seg_parts, http_get(urllib.request.urljoin(url, seg))[2],
                    [http_get(urllib.request.urljoin(url, p))[2] for p in seg_parts])
                   for seg, seg_parts in complete]
        for seg, seg_parts, body, part_bodies in fetched:
            joined = b"".join(part_bodies)
            assert body and joined == body, f"{name}/{seg}: parts {seg_parts} differ from it"
            # A player can start at the segment's first (independent) part and
            # take the rest as they come: every prefix of the parts decodes.
            prefix = init
            for p, part_body in zip(seg_parts, part_bodies):
                prefix += part_body
                f = tmp_path / f"{name}-{p}.mp4"
                f.write_bytes(prefix)
                rc, err = decode_errors(f)
                assert rc == 0 and not err, f"{name}/{p}: {err}"
            checked += 1
        # Every listed segment, joined after the init section, decodes whole.
        media = fetch_media(url)
        whole = tmp_path / f"{name}-all.mp4"
        whole.write_bytes(init + b"".join(http_get(urllib.request.urljoin(url, s["uri"]))[2]
                                          for s in with_media(media["segments"])))
        rc, err = decode_errors(whole)
        assert rc == 0 and not err, f"{name}: {err}"
    assert checked >= len(ladder)


def test_blocking_reload_answers_when_the_part_appears(demo, ladder):
    url = ladder["360p"]
    text = fetch_text(url)
    hint = re.search(r'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="(\d+)\.(\d+)\.m4s"', text)
    assert hint, text
    msn, part = int(hint.group(1)), int(hint.group(2))
    t0 = time.monotonic()
    status, _, body = http_get(f"{url}?_HLS_msn={msn}&_HLS_part={part}", timeout=10)
    waited = time.monotonic() - t0
    assert status == 200
    assert f'URI="{msn}.{part}.m4s"' in body.decode(), "answered before the part existed"
    # answered when the part was published: within a part's time, not a timeout
    assert waited < scaled(2.0), f"blocking reload took {waited:.2f} s"


def test_playlists_conform_over_60_s(demo, ladder):
    violations = hls_check.Watcher(demo.live("master.m3u8")).run(60)
    assert not violations, "\n".join(violations[:40])


def test_program_date_time_is_the_ingest_wall_clock(demo, ladder):
    text = fetch_text(ladder["720p"])
    dates = re.findall(r"#EXT-X-PROGRAM-DATE-TIME:(\S+)", text)
    assert dates, text
    import datetime
    last = datetime.datetime.fromisoformat(dates[-1].replace("Z", "+00:00")).timestamp()
    # the newest complete segment began a few seconds ago, not hours
    behind = time.time() - last
    assert 0 < behind < scaled(15), f"newest segment dated {behind:.1f} s ago"


@pytest.mark.skipif(not shutil.which("gst-launch-1.0"), reason="GStreamer not installed")
def test_gstreamer_hlsdemux2_plays_10_s(demo, ladder):
    """playbin3 picks GStreamer's hlsdemux2 for HLS; the video sink reports
    every buffer it plays (silent=false), so we see 10 s of pictures go by."""
    cmd = ["gst-launch-1.0", "-v", "playbin3", f"uri={demo.live('master.m3u8')}",
           "video-sink=fakesink sync=true silent=false", "audio-sink=fakesink sync=true"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = p.communicate(timeout=scaled(14))
    except subprocess.TimeoutExpired:
        p.terminate()
        out, _ = p.communicate(timeout=10)
    assert "GstHLSDemux2" in out, f"hlsdemux2 was not used:\n{out[-3000:]}"
    pts = [int(h) * 3600 + int(m) * 60 + float(s) for h, m, s in
           re.findall(r"chain\s+\*+.*?pts: (\d+):(\d+):(\d+\.\d+)", out)]
    assert pts and max(pts) - min(pts) >= 8, \
        f"hlsdemux2 played {max(pts) - min(pts) if pts else 0:.1f} s:\n{out[-3000:]}"
    assert "ERROR" not in out, out[-3000:]


def test_vlc_plays_video_with_sound(demo, ladder):
    """VLC 3 takes the variant naming the audio rendition's URI for that
    rendition and starts on the lowest variant: given the audio-only variant
    it plays sound without pictures, or pictures without sound. The egress
    leaves that variant out for libVLC's User-Agent."""
    s = vlc_play(demo.live("master.m3u8"), scaled(10))
    print(s)
    assert s["size"][0] > 0 and s["decoded_video"] > 50, f"VLC showed no pictures: {s}"
    assert s["audio_selected"] >= 0.8 and s["decoded_audio"] > 50, f"VLC played no sound: {s}"
    assert s["time_ms"] >= 4000, f"VLC played {s['time_ms']} ms: {s}"
