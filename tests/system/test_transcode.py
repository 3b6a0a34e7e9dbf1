"""The transcoder's ladder, checked with ffprobe: keyframes aligned across
every rung over more than 30 s of the egress's output; no rung above the
source; sources that change size mid-stream or have a variable frame rate;
CEA-608 captions carried into every rung. The source-shaped checks run the
same pipeline offline (`lecture-relay transcode-file`), which is fast."""

import json
import re
import subprocess
import urllib.request

import pytest


from lrdemo import (BINARY, REPO, cmaf_first_presentation, decode_errors, http_get, rung_urls,
                    scaled, size_changing_source, tool, wait_for, wait_master, wait_segments)

SEGMENT = 2.0
REPO_SAMPLE = REPO / "samples" / "lecture.mp4"


def ffmpeg(*args):
    r = subprocess.run([tool("ffmpeg"), "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
                        *map(str, args)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"ffmpeg {args}: {r.stderr}"


def ffprobe_json(*args):
    r = subprocess.run([tool("ffprobe"), "-v", "error", "-of", "json", *map(str, args)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"ffprobe {args}: {r.stderr}"
    return json.loads(r.stdout)


def transcode_file(tmp_path, src, config=""):
    conf = tmp_path / "tc.yaml"
    conf.write_text("log_level: info\n" + config)
    out = tmp_path / "ladder.ts"
    r = subprocess.run([str(BINARY), "transcode-file", "--config", str(conf), str(src), str(out)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"transcode-file failed:\n{r.stderr[-3000:]}"
    return out, r.stderr


def programs(ts):
    """{service_name: [stream dicts]} of a ladder TS."""
    info = ffprobe_json("-show_programs", "-count_frames", "-show_entries",
                        "program=program_id:program_tags=service_name:stream=index,codec_type,"
                        "width,height,closed_captions,nb_read_frames", ts)
    return {p["tags"]["service_name"]: p["streams"] for p in info["programs"]}


def video_packets(path, select="v:0"):
    """[(pts_time, is_key)] of a file's video packets."""
    info = ffprobe_json("-select_streams", select, "-show_entries", "packet=pts_time,flags",
                        path)
    return [(float(p["pts_time"]), "K" in p["flags"]) for p in info["packets"]]


def program_packets(ts, program_id):
    info = ffprobe_json("-show_entries", "packet=stream_index,pts_time,flags", ts)
    streams = ffprobe_json("-show_programs", "-show_entries", "program=program_id:stream=index,"
                           "codec_type", ts)
    vid = next(s["index"] for p in streams["programs"] if p["program_id"] == program_id
               for s in p["streams"] if s["codec_type"] == "video")
    return [(float(p["pts_time"]), "K" in p["flags"]) for p in info["packets"]
            if p["stream_index"] == vid]


def check_aligned_ladder(ts, names):
    """Every rung: the same IDR timestamps, one per segment slot, and its
    frames continuous (no hole longer than a segment)."""
    progs = ffprobe_json("-show_programs", "-show_entries",
                         "program=program_id:program_tags=service_name", ts)["programs"]
    ids = {p["tags"]["service_name"]: p["program_id"] for p in progs}
    keys = {}
    for name in names:
        pkts = sorted(program_packets(ts, ids[name]))
        assert len(pkts) > 30, f"{name}: only {len(pkts)} video packets"
        gaps = [b[0] - a[0] for a, b in zip(pkts, pkts[1:])]
        assert max(gaps) < SEGMENT, f"{name}: a hole of {max(gaps):.2f} s in the video"
        keys[name] = [round(t, 3) for t, k in pkts if k]
    first = keys[names[0]]
    for name in names[1:]:
        assert keys[name] == first, f"IDRs differ: {names[0]} {first} vs {name} {keys[name]}"
    steps = [b - a for a, b in zip(first, first[1:])]
    assert steps and all(s <= SEGMENT + 0.05 for s in steps), f"IDR spacing {steps}"
    return first


# ---------------------------------------------------------------------------
# through the egress

def test_idrs_identical_across_rungs_for_30s(start_demo, tmp_path):
    demo = start_demo({"egress": {"playlist_segments": 20, "keep_segments": 30}})
    urls = rung_urls(demo, wait_master(demo))
    assert sorted(urls) == ["360p", "480p", "720p"], urls  # 720p sample: no 1080p
    lists = {name: wait_segments(url, 17, scaled(60)) for name, url in urls.items()}
    common = set.intersection(*({s["seq"] for s in m["segments"]} for m in lists.values()))
    # Segment 0 starts with the lecture's first frame, an IDR wherever it
    # falls (a frame before a slot's start makes it one frame long): the
    # schedule holds from the first slot on.
    seqs = sorted(common - {0})[-16:]
    assert len(seqs) >= 16, f"only {len(seqs)} segments in every rung"
    keys = {}
    for name, m in lists.items():
        parts = [http_get(urllib.request.urljoin(urls[name], m["map"]))[2]] if m.get("map") else []
        for seq in seqs:
            seg = next(s for s in m["segments"] if s["seq"] == seq)
            status, _, body = http_get(urllib.request.urljoin(urls[name], seg["uri"]), timeout=10)
            assert status == 200, f"{name} segment {seq}: {status}"
            parts.append(body)
        path = tmp_path / f"{name}.seg"  # CMAF (init + segments) or MPEG-TS
        path.write_bytes(b"".join(parts))
        pkts = video_packets(path)
        assert pkts[-1][0] - pkts[0][0] >= 30, f"{name}: only {pkts[-1][0] - pkts[0][0]:.1f} s"
        keys[name] = [round(t, 3) for t, k in pkts if k]
    first = next(iter(keys.values()))
    assert len(first) >= 15, first
    for name, k in keys.items():
        assert k == first, f"IDR timestamps differ between rungs: {keys}"
    # one IDR per segment slot of the lecture's clock, none skipped or doubled
    slots = [int(t // SEGMENT) for t in first]
    assert slots == list(range(slots[0], slots[0] + len(slots))), first


def test_passthrough_through_the_egress(start_demo, tmp_path):
    """transcode.passthrough on the demo (the 720p H.264 sample, 2 s GOPs):
    the egress's 720p rung decodes to the sample's own pictures, the rungs
    below are encodes, and segments of one number start on the same IDR at
    the same presentation time, to the tick, as a player reads the CMAF
    boxes (decode time plus the first sample's composition offset)."""
    demo = start_demo({"transcode": {"passthrough": True}})
    urls = rung_urls(demo, wait_master(demo))
    assert sorted(urls) == ["360p", "480p", "720p"], urls
    assert "rung 720p is the source itself (passthrough)" in demo.stderr_text()
    lists = {name: wait_segments(url, 4, scaled(60)) for name, url in urls.items()}
    common = set.intersection(*({s["seq"] for s in m["segments"]} for m in lists.values()))
    seqs = sorted(common - {0})[-3:]
    assert len(seqs) == 3, lists
    starts, paths = {}, {}
    for name, m in lists.items():
        assert m.get("map"), f"{name}: no EXT-X-MAP (CMAF expected)"
        init = http_get(urllib.request.urljoin(urls[name], m["map"]))[2]
        parts, starts[name] = [init], []
        for seq in seqs:
            seg = next(s for s in m["segments"] if s["seq"] == seq)
            status, _, body = http_get(urllib.request.urljoin(urls[name], seg["uri"]), timeout=10)
            assert status == 200, f"{name} segment {seq}: {status}"
            parts.append(body)
            starts[name].append(cmaf_first_presentation(init, body))
        paths[name] = tmp_path / f"{name}.seg"
        paths[name].write_bytes(b"".join(parts))
        keys = [k for _, k in video_packets(paths[name])]
        assert sum(keys) == 3 and keys[0], f"{name}: IDRs {keys}"  # each segment opens on one
    assert starts["720p"] == starts["480p"] == starts["360p"], starts
    source = set(frame_hashes(REPO_SAMPLE, "0:v:0"))
    top = frame_hashes(paths["720p"], "0:v:0")
    assert len(top) >= 170 and all(h in source for h in top), \
        f"{sum(h not in source for h in top)} of {len(top)} 720p pictures are not the sample's"
    low = frame_hashes(paths["480p"], "0:v:0")
    assert not any(h in source for h in low)


# ---------------------------------------------------------------------------
# offline: the same pipeline from a file

def test_360p_source_gets_one_rung_and_audio_only(tmp_path):
    src = tmp_path / "small.ts"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=640x360:r=30:d=6", "-f", "lavfi", "-i", "sine=d=6",
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
           "-f", "mpegts", src)
    out, _ = transcode_file(tmp_path, src)
    progs = programs(out)
    assert sorted(progs) == ["360p", "audio"], progs
    video = [s for s in progs["360p"] if s["codec_type"] == "video"]
    assert [(s["width"], s["height"]) for s in video] == [(640, 360)]
    assert [s["codec_type"] for s in progs["audio"]] == ["audio"]
    rc, err = decode_errors(out)
    assert rc == 0 and not err, err


def test_resolution_change_mid_stream(tmp_path):
    src = size_changing_source(tmp_path, [("1280x720", 4), ("640x360", 4), ("960x540", 4)])
    out, log = transcode_file(tmp_path, src)
    assert re.search(r"changed size 1280x720 -> 640x360", log), log[-2000:]
    names = ["720p", "480p", "360p"]
    assert sorted(programs(out)) == sorted(names + ["audio"])
    keys = check_aligned_ladder(out, names)
    assert keys[-1] - keys[0] >= 10, keys
    rc, err = decode_errors(out)
    assert rc == 0 and not err, err


def test_variable_frame_rate(tmp_path):
    src = tmp_path / "vfr.ts"
    # drop frames irregularly and keep the timestamps: intervals of 33-100 ms
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=1280x720:r=30:d=12", "-f", "lavfi", "-i",
           "sine=d=12", "-vf", "select='not(eq(mod(n\\,7)\\,3))*not(eq(mod(n\\,11)\\,5))'",
           "-fps_mode", "vfr", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
           "-c:a", "aac", "-f", "mpegts", src)
    out, _ = transcode_file(tmp_path, src, "transcode:\n  audio_only: false\n")
    keys = check_aligned_ladder(out, ["720p", "480p", "360p"])
    assert keys[-1] - keys[0] >= 9, keys
    rc, err = decode_errors(out)
    assert rc == 0 and not err, err


def test_frame_rate_cap_keeps_keyframes_aligned(tmp_path):
    src = tmp_path / "src.ts"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=1280x720:r=30:d=8", "-c:v", "libx264", "-preset",
           "ultrafast", "-pix_fmt", "yuv420p", "-f", "mpegts", src)
    out, _ = transcode_file(tmp_path, src, "transcode:\n  rungs:\n"
                            "    - { name: hi, width: 1280, height: 720, bitrate_kbps: 2000 }\n"
                            "    - { name: lo, width: 640, height: 360, bitrate_kbps: 500,"
                            " fps: 15, profile: baseline }\n")
    progs = programs(out)
    n = {name: next(s["nb_read_frames"] for s in st if s["codec_type"] == "video")
         for name, st in progs.items()}
    assert int(n["hi"]) == 240 and 118 <= int(n["lo"]) <= 125, n
    check_aligned_ladder(out, ["hi", "lo"])


def _annexb_with_captions(raw, out):
    """Inserts an ATSC A/53 CEA-608 caption SEI (cc_data 'HI') after every
    access unit delimiter of an H.264 Annex B stream."""
    payload = bytes([0xB5, 0x00, 0x31]) + b"GA94" + bytes([0x03, 0x41, 0xFF, 0xFC, 0xC8, 0x49,
                                                            0xFF])
    sei = bytes([0, 0, 0, 1, 0x06, 0x04, len(payload)]) + payload + b"\x80"
    data = raw.read_bytes()
    starts = [m.start() for m in re.finditer(b"\x00\x00\x01", data)]
    res = bytearray(data[:starts[0]])
    for k, p in enumerate(starts):
        res += data[p:starts[k + 1] if k + 1 < len(starts) else len(data)]
        if data[p + 3] & 0x1F == 9:
            res += sei[1:] if res.endswith(b"\x00") else sei
    out.write_bytes(bytes(res))


def _captioned_source(tmp_path, size):
    """A 6 s MPEG-TS lecture whose H.264 carries CEA-608 captions in SEI."""
    raw, cc = tmp_path / "raw.h264", tmp_path / "cc.h264"
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=s={size}:r=30:d=6", "-c:v", "libx264", "-preset",
           "ultrafast", "-x264-params", "aud=1", "-pix_fmt", "yuv420p", "-f", "h264", raw)
    _annexb_with_captions(raw, cc)
    src = tmp_path / "cc.ts"
    ffmpeg("-framerate", "30", "-f", "h264", "-i", cc, "-f", "lavfi", "-i", "sine=d=6",
           "-c:v", "copy", "-c:a", "aac", "-shortest", "-f", "mpegts", src)
    return src


def test_captions_survive_into_every_rung(tmp_path):
    src = _captioned_source(tmp_path, "1280x720")
    assert programs(src) and any(s.get("closed_captions") for p in programs(src).values()
                                 for s in p), "the source itself has no captions"
    out, _ = transcode_file(tmp_path, src)
    progs = programs(out)
    rungs = [n for n in progs if n != "audio"]
    assert sorted(rungs) == ["360p", "480p", "720p"], progs
    for name in rungs:
        video = [s for s in progs[name] if s["codec_type"] == "video"]
        assert video and video[0].get("closed_captions") == 1, f"{name} lost its captions: {video}"


def test_captions_are_announced_in_the_master(start_demo, tmp_path):
    """A captioned lecture through every role: the egress finds the captions
    in the rungs' SEI and says so in the master playlist."""
    src = _captioned_source(tmp_path, "640x360")
    demo = start_demo({"ingest": {"source": str(src)}})
    def captioned():
        status, _, body = http_get(demo.live("master.m3u8"))
        text = body.decode() if status == 200 else ""
        return text if "TYPE=CLOSED-CAPTIONS" in text else None
    text = wait_for(captioned, scaled(40), what="CLOSED-CAPTIONS in the master")
    assert 'INSTREAM-ID="CC1"' in text, text
    video = [l for l in text.splitlines() if l.startswith("#EXT-X-STREAM-INF") and "RESOLUTION" in l]
    assert video and all('CLOSED-CAPTIONS="cc"' in l for l in video), text


# ---------------------------------------------------------------------------
# passthrough: the source itself as the top rung

def frame_hashes(path, select):
    """MD5 of every decoded picture of one video stream (ffmpeg framemd5)."""
    r = subprocess.run([tool("ffmpeg"), "-nostdin", "-hide_banner", "-loglevel", "error",
                        "-i", str(path), "-map", select, "-f", "framemd5", "-"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return [line.rsplit(",", 1)[1].strip() for line in r.stdout.splitlines()
            if line and not line.startswith("#")]


def passthrough_source(tmp_path, gop_s, seconds=10):
    src = tmp_path / "src.ts"
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=s=1280x720:r=30:d={seconds}", "-f", "lavfi", "-i",
           f"sine=d={seconds}", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt",
           "yuv420p", "-g", int(gop_s * 30), "-keyint_min", int(gop_s * 30), "-sc_threshold", 0,
           "-c:a", "aac", "-f", "mpegts", src)
    return src


PASSTHROUGH = "transcode:\n  passthrough: true\n  audio_only: false\n"


def test_passthrough_top_rung_is_the_source_and_keyframes_follow_it(tmp_path):
    """A 720p H.264 source with 2 s GOPs: the 720p rung is the source's own
    pictures (every decoded frame identical), the rungs below are encoded,
    and every rung's IDRs fall on the source's."""
    src = passthrough_source(tmp_path, 2.0)
    out, log = transcode_file(tmp_path, src, PASSTHROUGH)
    assert "rung 720p is the source itself (passthrough)" in log, log[-2000:]
    names = ["720p", "480p", "360p"]
    assert sorted(programs(out)) == sorted(names)
    keys = check_aligned_ladder(out, names)
    assert keys == [round(t, 3) for t, k in video_packets(src) if k], keys
    ids = {p["tags"]["service_name"]: p["program_id"] for p in ffprobe_json(
        "-show_programs", "-show_entries", "program=program_id:program_tags=service_name",
        out)["programs"]}
    source = frame_hashes(src, "0:v:0")
    top = frame_hashes(out, f"0:p:{ids['720p']}:v")
    assert top == source, f"{sum(a != b for a, b in zip(top, source))} of {len(source)} differ"
    # the rungs below are real encodes: a 480p picture differs from a scaled source
    assert len(frame_hashes(out, f"0:p:{ids['480p']}:v")) == len(source)
    rc, err = decode_errors(out)
    assert rc == 0 and not err, err


def test_passthrough_follows_a_long_gop_and_says_so(tmp_path):
    """A source keyframe every 4 s (segment_duration 2 s): the rungs follow
    the source's IDRs (aligned, not on the 2 s schedule) and the log says
    what to change."""
    src = passthrough_source(tmp_path, 4.0, seconds=12)
    out, log = transcode_file(tmp_path, src, PASSTHROUGH)
    assert re.search(r"the source's keyframes are 4\.0 s apart", log), log[-2000:]
    progs = ffprobe_json("-show_programs", "-show_entries",
                         "program=program_id:program_tags=service_name", out)["programs"]
    ids = {p["tags"]["service_name"]: p["program_id"] for p in progs}
    keys = {n: [round(t, 3) for t, k in sorted(program_packets(out, ids[n])) if k]
            for n in ("720p", "480p", "360p")}
    assert keys["720p"] == keys["480p"] == keys["360p"], keys
    assert [round(b - a, 1) for a, b in zip(keys["720p"], keys["720p"][1:])] == [4.0, 4.0], keys


@pytest.mark.parametrize("bframes", [0, 2])
def test_passthrough_source_that_changes_size_is_encoded_from_then_on(tmp_path, bframes):
    """Passed through, a source that goes from 720p to 540p mid-stream can't
    stay the top rung (the egress and the players have its first size): from
    the IDR where the size changes, the 720p rung is encoded at 1280x720,
    and the log says so. Before it the rung is the source's own pictures;
    every rung keeps its size and every frame, the keyframes stay the
    source's, and it all decodes. Without B-frames in the source, the
    encoder's first DTS (its B-frame delay before the IDR's PTS) is below
    the last one passed through, and is raised above it: no muxer takes a
    DTS that goes back."""
    src = size_changing_source(tmp_path, [("1280x720", 4), ("960x540", 4)],
                               ["-preset", "ultrafast", "-g", 60, "-keyint_min", 60,
                                "-sc_threshold", 0, "-bf", bframes])
    out, log = transcode_file(tmp_path, src, PASSTHROUGH)
    assert re.search(r"changed size 1280x720 -> 960x540: rung 720p can't be the source passed "
                     r"through any more, so from this keyframe on it is encoded at 1280x720",
                     log), log[-2000:]
    assert "rung 720p encoded from here (720p=1280x720" in log, log[-2000:]
    names = ["720p", "480p", "360p"]
    keys = check_aligned_ladder(out, names)
    assert keys == [round(t, 3) for t, k in video_packets(src) if k], keys
    ids = {p["tags"]["service_name"]: p["program_id"] for p in ffprobe_json(
        "-show_programs", "-show_entries", "program=program_id:program_tags=service_name",
        out)["programs"]}
    counts = {}
    for name, size in (("720p", "1280x720"), ("480p", "854x480")):
        frames = ffprobe_json("-select_streams", f"p:{ids[name]}:v", "-show_entries",
                              "frame=width,height", out)["frames"]
        assert {f"{f['width']}x{f['height']}" for f in frames} == {size}, name
        counts[name] = len(frames)
    source = frame_hashes(src, "0:v:0")
    assert counts["720p"] == counts["480p"] >= len(source), (counts, len(source))
    top = frame_hashes(out, f"0:p:{ids['720p']}:v")
    assert top[:120] == source[:120], \
        f"{sum(a != b for a, b in zip(top, source[:120]))} of the first 120 differ"
    rc, err = decode_errors(out)
    assert rc == 0 and not err, err


def test_passthrough_refused_for_a_source_it_cannot_be(tmp_path):
    """HEVC can't be the H.264 top rung: every rung is encoded, with a line
    saying why."""
    src = tmp_path / "hevc.ts"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=1280x720:r=30:d=4", "-c:v", "libx265", "-preset",
           "ultrafast", "-pix_fmt", "yuv420p", "-f", "mpegts", src)
    out, log = transcode_file(tmp_path, src, PASSTHROUGH)
    assert "passthrough not used: the source is not H.264" in log, log[-2000:]
    check_aligned_ladder(out, ["720p", "480p", "360p"])
