"""The demo end to end: `lecture-relay run` with the sample lecture, checked
from the outside with HTTP, ffprobe and ffmpeg (peers nobody here wrote)."""

import re
import signal
import urllib.request

import pytest

from lrdemo import (decode_errors, download, fetch_master, fetch_media, first_video_frame,
                    first_video_packet, http_get, rung_urls, scaled, streams, wait_for,
                    wait_master, wait_segments, with_media)


@pytest.fixture(scope="module")
def rungs(demo):
    """{rung name: media playlist URL}, once the master playlist is up."""
    return rung_urls(demo, wait_master(demo))


@pytest.fixture(scope="module")
def with_segments(demo, rungs):
    """Wait until every rung lists at least 3 segments; {rung: playlist}."""
    return {name: wait_segments(url, 3) for name, url in rungs.items()}


def test_healthz(demo):
    status, _, _ = wait_for(lambda: (lambda r: r if r[0] == 200 else None)(http_get(demo.base + "/healthz")),
                            scaled(10), what="/healthz 200")
    assert status == 200


def test_master_playlist_lists_every_rung(demo, rungs):
    variants = fetch_master(demo)
    assert len(variants) >= 2, f"expected a ladder, got {variants}"
    names = set()
    for v in variants:
        a, uri = v["attrs"], v["uri"]
        assert uri and re.fullmatch(r"[^/:?#]+/index\.m3u8", uri), f"URI not '<rung>/index.m3u8': {uri}"
        names.add(uri.split("/")[0])
        assert int(a.get("BANDWIDTH", "0")) > 0, f"BANDWIDTH missing in {a}"
        assert re.fullmatch(r"\d+x\d+", a.get("RESOLUTION", "")), f"RESOLUTION missing in {a}"
        codecs = [c.strip() for c in a.get("CODECS", "").split(",")]
        assert any(c.startswith("avc1.") for c in codecs), f"no avc1.* in CODECS {codecs}"
        assert "mp4a.40.2" in codecs, f"no mp4a.40.2 in CODECS {codecs}"
    assert len(names) == len(variants), "two variants share a rung"
    # the contract's default ladder
    assert {"720p", "360p"} <= names, names


def test_newest_segment_advances(demo, rungs):
    """New segments keep coming (the time-shift window keeps the old ones,
    so EXT-X-MEDIA-SEQUENCE stays put for now: see test_packaging.py)."""
    first = {}
    for name, url in rungs.items():
        first[name] = wait_segments(url, 1)["segments"][-1]["seq"]
    for name, url in rungs.items():
        def advanced(url=url, name=name):
            m = fetch_media(url)
            return m if m and m["segments"][-1]["seq"] > first[name] + 1 else None
        m = wait_for(advanced, scaled(25), interval=0.5,
                     what=f"the newest segment of {name} to pass {first[name] + 1}")
        assert m["segments"], name
        for s in m["segments"]:
            assert re.fullmatch(r"\d+\.m4s", s["uri"]), f"segment URI not '<seq>.m4s': {s['uri']}"
            assert s["duration"] and s["duration"] > 0, s
        if m["target"] is not None:
            assert all(round(s["duration"]) <= m["target"] for s in m["segments"]), \
                f"a segment is longer than EXT-X-TARGETDURATION in {name}"


def _last(playlists, n):
    """[(rung, segment)] for the last n segments of each rung."""
    return [(name, s) for name, m in playlists.items() for s in with_media(m["segments"])[-n:]]


def test_last_segments_decode_cleanly(demo, rungs, with_segments, tmp_path):
    playlists = {name: wait_segments(url, 3) for name, url in rungs.items()}
    for name, seg in _last(playlists, 3):
        url = urllib.request.urljoin(rungs[name], seg["uri"])
        path = download(url, tmp_path / f"{name}-{seg['seq']}.ts")
        kinds = {s["codec_type"]: s["codec_name"] for s in streams(path)}
        # CMAF: a video rendition carries video; the audio is a rendition of its own
        assert kinds == {"video": "h264"}, f"{url}: streams {kinds}"
        rc, err = decode_errors(path)
        assert rc == 0 and not err, f"ffmpeg could not decode {url} cleanly (rc {rc}):\n{err}"
    audio = urllib.request.urljoin(demo.live("master.m3u8"), "audio/index.m3u8")
    for seg in wait_segments(audio, 3)["segments"][-3:]:
        path = download(urllib.request.urljoin(audio, seg["uri"]), tmp_path / f"a-{seg['seq']}.mp4")
        kinds = {s["codec_type"]: s["codec_name"] for s in streams(path)}
        assert kinds == {"audio": "aac"}, f"audio/{seg['uri']}: streams {kinds}"
        rc, err = decode_errors(path)
        assert rc == 0 and not err, f"ffmpeg could not decode audio/{seg['uri']}:\n{err}"


def test_segments_start_with_aligned_keyframes(demo, rungs, with_segments, tmp_path):
    playlists = {name: wait_segments(url, 3) for name, url in rungs.items()}
    # sequence numbers present in every rung right now
    common = set.intersection(*({s["seq"] for s in m["segments"]} for m in playlists.values()))
    assert common, f"no media sequence number in every rung: " \
                   f"{ {n: [s['seq'] for s in m['segments']] for n, m in playlists.items()} }"
    checked = 0
    for seq in sorted(common)[-3:]:
        pts = {}
        for name, m in playlists.items():
            seg = next(s for s in m["segments"] if s["seq"] == seq)
            url = urllib.request.urljoin(rungs[name], seg["uri"])
            status, _, body = http_get(url, timeout=10)
            if status == 404:  # slid out of the window since the playlist was read
                break
            assert status == 200, f"GET {url} -> {status}"
            path = download(url, tmp_path / f"{name}-{seq}.mp4")  # with its init section
            pkt = first_video_packet(path)
            assert "K" in pkt.get("flags", ""), f"{url}: first video packet is not a keyframe: {pkt}"
            frame = first_video_frame(path)
            assert int(frame.get("key_frame", 0)) == 1 and frame.get("pict_type") == "I", \
                f"{url}: first video frame is not a key I frame: {frame}"
            pts[name] = (int(pkt["pts"]), pkt["pts_time"])
        else:
            assert len({p[0] for p in pts.values()}) == 1, \
                f"segment {seq}: first video frame differs between rungs: {pts}"
            checked += 1
    assert checked >= 1, "no segment could be compared across rungs"


def test_cache_control_per_object_type(demo, rungs, with_segments):
    """The packager's policy, as a cache in front reads it (docs/http.md):
    segments and parts never change under their name; a live media
    playlist changes every part; the master and the init sections only when
    the source does (a new size or codec republishes init.mp4 under the same
    name), so a second at most."""
    immutable = "public, max-age=31536000, immutable"

    def cache_control(headers):
        return {k.lower(): v for k, v in headers.items()}.get("cache-control")
    status, headers, _ = http_get(demo.live("master.m3u8"))
    assert status == 200 and cache_control(headers) == "public, max-age=1", headers
    for name, url in rungs.items():
        status, headers, body = http_get(url)
        assert status == 200 and cache_control(headers) == "no-cache", (name, headers)
        text = body.decode()
        init = re.search(r'#EXT-X-MAP:URI="([^"]+)"', text)
        segment = [ln for ln in text.splitlines() if ln and not ln.startswith("#")][-1]
        part = re.findall(r'#EXT-X-PART:.*URI="([^"]+)"', text)
        objects = {segment: immutable}
        if init:
            objects[init.group(1)] = "public, max-age=1"
        if part:
            objects[part[-1]] = immutable
        for uri, cc in objects.items():
            status, headers, _ = http_get(urllib.request.urljoin(url, uri))
            assert status == 200 and cache_control(headers) == cc, (name, uri, headers)


def test_sigterm_stops_within_2s(start_demo):
    d = start_demo()
    d.assert_stops(signal.SIGTERM)
