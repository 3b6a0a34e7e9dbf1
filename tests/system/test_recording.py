"""Recordings on disk, with the roles as three processes: the egress killed
with SIGKILL mid-lecture and restarted leaves a whole recording that goes on,
and media sequence numbers keep rising; a lecture whose link has gone for the
grace time becomes a VOD."""

import json
import re
import signal
import subprocess
import urllib.request


from lrdemo import (Config, Demo, decode_errors, fetch_media, http_get, scaled, vlc_play,
                    wait_for, wait_master, wait_segments)


def start_roles(tmp_path, rec_dir, grace):
    conf = Config(tmp_path, {"lecture": "cs101", "egress": {
        "recordings_dir": str(rec_dir), "recording_grace": grace}})
    args = lambda role: [role, "--config", str(conf.path)]  # noqa: E731
    egress = Demo(conf, args=args("egress"), log_dir=tmp_path)
    transcode = Demo(conf, args=args("transcode"), log_dir=tmp_path)
    ingest = Demo(conf, args=args("ingest"), log_dir=tmp_path)
    egress.start()
    transcode.start_background()
    ingest.start_background()
    return conf, egress, transcode, ingest


def recordings(rec_dir):
    return sorted((rec_dir / "cs101").glob("*/recording.json"))


def check_recording_whole(rec):
    """Every segment each playlist of the recording names is on disk and
    decodes after its init section. Returns {rendition: [seq, ...]}."""
    out = {}
    for pl in sorted(rec.glob("*/index.m3u8")):
        text = pl.read_text()
        names = [l for l in text.splitlines() if l and not l.startswith("#")]
        assert names, f"{pl} lists nothing:\n{text}"
        init = (pl.parent / "init.mp4").read_bytes()
        body = init + b"".join((pl.parent / n).read_bytes() for n in names)
        whole = pl.parent.parent / f"check-{pl.parent.name}.mp4"
        whole.write_bytes(body)
        rc, err = decode_errors(whole)
        whole.unlink()
        assert rc == 0 and not err, f"{pl.parent.name}: {err}"
        out[pl.parent.name] = [int(n.split(".")[0]) for n in names]
    return out


def test_egress_killed_and_restarted_keeps_its_recording(tmp_path):
    rec_dir = tmp_path / "rec"
    # The grace time must outlast the restart, or the restarted egress would
    # rightly finish the recording as a lecture that ended while it was down.
    conf, egress, transcode, ingest = start_roles(tmp_path, rec_dir, grace=scaled(10))
    egress2 = None
    try:
        url = urllib.request.urljoin(egress.live("master.m3u8"),
                                     wait_master(egress, scaled(40))[0]["uri"])
        wait_segments(url, 4, scaled(40))
        egress.proc.send_signal(signal.SIGKILL)
        egress.proc.wait(timeout=10)
        [info] = recordings(rec_dir)
        rec = info.parent
        seqs_before = check_recording_whole(rec)
        top_before = max(max(s) for s in seqs_before.values())

        egress2 = Demo(conf, args=["egress", "--config", str(conf.path)], log_dir=tmp_path)
        egress2.start()
        # The transcoder reconnects by itself; numbering goes on upward.
        def newer():
            m = fetch_media(url.replace(egress.base, egress2.base))
            media = [s for s in m["segments"] if not s["gap"]] if m else []  # gaps: the restart
            return m if media and media[-1]["seq"] > top_before + 2 else None
        live = wait_for(newer, scaled(40), what="segments after the restart")
        assert live["sequence"] <= top_before, "the time-shift window lost the recorded past"
        assert any(s["discontinuity"] for s in live["segments"]), \
            "the restart's break is not marked in the live playlist:\n" + \
            http_get(url.replace(egress.base, egress2.base))[2].decode()

        assert recordings(rec_dir) == [info], "a second recording began instead of resuming"
        # The recorder writes from its own thread: every rendition's recording
        # goes on past the crash (a rendition behind the live playlist's by a
        # segment or two under the sanitizer build and the other CI lane)
        def continued():
            seqs = check_recording_whole(rec)
            return seqs if all(max(v) > top_before for v in seqs.values()) else None
        seqs_after = wait_for(continued, scaled(10), what="the recording to continue in every "
                              "rendition")
        for rend, seqs in seqs_after.items():
            assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), rend
            before = seqs_before.get(rend, [])
            assert [s for s in seqs if before and s <= max(before)] == before, \
                f"{rend}: recorded segments changed across the crash"
            assert max(seqs) > top_before, f"{rend}: the recording did not continue"
        text = (rec / "360p" / "index.m3u8").read_text()
        assert "#EXT-X-DISCONTINUITY" in text and "#EXT-X-ENDLIST" not in text
        assert json.loads(info.read_text())["finished"] is False

        # The lecture ends: the transcoder goes, and after the grace time the
        # recording is a VOD.
        ingest.assert_stops(signal.SIGTERM)
        transcode.assert_stops(signal.SIGTERM)
        wait_for(lambda: json.loads(info.read_text())["finished"] or None, scaled(30),
                 what="the recording to be finished")
        meta = json.loads(info.read_text())
        text = (rec / "360p" / "index.m3u8").read_text()
        assert "#EXT-X-PLAYLIST-TYPE:VOD" in text and text.rstrip().endswith("#EXT-X-ENDLIST")
        listed = sum(float(d) for d in re.findall(r"#EXTINF:([\d.]+),", text))
        assert abs(meta["duration_s"] - listed) < 2.5, (meta, listed)
        # The live playlists end too, and the egress serves the recording.
        status, _, body = http_get(f"{egress2.base}/vod/cs101/{meta['id']}/360p/index.m3u8")
        assert status == 200 and body.decode() == text
        egress2.assert_stops(signal.SIGTERM)
    finally:
        for p in (ingest, transcode, egress, egress2):
            if p:
                p.close()


def _media_end_s(rec, rendition):
    """Where the rendition's last sample ends, by its timestamps (ffprobe)."""
    pl = rec / rendition / "index.m3u8"
    names = [l for l in pl.read_text().splitlines() if l and not l.startswith("#")]
    whole = rec / f"end-{rendition}.mp4"
    whole.write_bytes((rec / rendition / "init.mp4").read_bytes() +
                      (rec / rendition / names[-1]).read_bytes())
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=start_time,duration",
                          "-of", "csv=p=0", str(whole)],
                         capture_output=True, text=True, check=True).stdout
    whole.unlink()
    start, duration = out.split()[0].split(",")[:2]
    return float(start) + float(duration)


def _frames(rec, rendition):
    pl = rec / rendition / "index.m3u8"
    names = [l for l in pl.read_text().splitlines() if l and not l.startswith("#")]
    whole = rec / f"frames-{rendition}.mp4"
    whole.write_bytes((rec / rendition / "init.mp4").read_bytes() +
                      b"".join((rec / rendition / n).read_bytes() for n in names))
    out = subprocess.run(["ffprobe", "-v", "error", "-count_packets", "-show_entries",
                          "stream=nb_read_packets", "-of", "csv=p=0", str(whole)],
                         capture_output=True, text=True, check=True).stdout
    whole.unlink()
    return int(out.split()[0])


def test_the_end_of_a_lecture_reaches_the_recording(tmp_path):
    """The ingest stops mid-lecture: every frame the transcoder encoded, in
    every rung, crosses the link to the recording (a live SRT socket closes
    without lingering, and the burst of frames an encoder flushes at the end
    leaves paced: the sender waits until the receiver has delivered
    everything) and the audio ends with the video (the transcoder pads it
    with silence)."""
    rec_dir = tmp_path / "rec"
    _, egress, transcode, ingest = start_roles(tmp_path, rec_dir, 2)
    try:
        variants = wait_master(egress, scaled(40))
        wait_segments(urllib.request.urljoin(egress.live("master.m3u8"), variants[-1]["uri"]),
                      3, scaled(40))
        ingest.assert_stops(signal.SIGTERM)
        info = wait_for(lambda: next((p for p in recordings(rec_dir)
                                      if json.loads(p.read_text())["finished"]), None),
                        scaled(30), what="the finished recording")
        rec = info.parent
        check_recording_whole(rec)
        m = wait_for(lambda: re.search(rb"(\d+) frames in, (\d+) encoded",
                                       transcode.stderr_path.read_bytes()), scaled(10),
                     what="the transcoder's frame count")
        recorded = {pl.parent.name: _frames(rec, pl.parent.name)
                    for pl in rec.glob("*/index.m3u8") if pl.parent.name != "audio"}
        assert sum(recorded.values()) == int(m.group(2)), \
            f"the transcoder encoded {int(m.group(2))} frames, the recording has {recorded}"
        for name in recorded:
            video_end, audio_end = _media_end_s(rec, name), _media_end_s(rec, "audio")
            # never short by more than an AAC frame (a hole players stall at);
            # over by 0.1 s and a few frames at most (audio.c pads 0.1 s over)
            assert video_end - 0.025 <= audio_end <= video_end + 0.2, \
                f"{name}: audio ends at {audio_end:.3f} s, video at {video_end:.3f} s"
        # the audio's padded end stays in its last segment: segment N is the
        # same moment in every rendition, so all have as many
        counts = {pl.parent.name: pl.read_text().count("#EXTINF")
                  for pl in rec.glob("*/index.m3u8")}
        assert len(set(counts.values())) == 1, f"segments per rendition: {counts}"
        # VLC plays the recording with pictures and sound (test_packaging: live)
        s = vlc_play(f"{egress.base}/vod/cs101/{rec.name}/master.m3u8", scaled(6))
        assert s["decoded_video"] > 30 and s["audio_selected"] >= 0.8 and s["decoded_audio"] > 30, s
        for p in (transcode, egress):
            p.assert_stops(signal.SIGTERM)
    finally:
        for p in (ingest, transcode, egress):
            p.close()
