"""The recordings' disk, a real small file system (a tmpfs in a mount
namespace of the egress's own, root only):
- it does not fill up with old recordings: with less than
  egress.recordings_min_free_pct free, the egress removes finished
  recordings, the oldest first, until there is;
- when something else fills it anyway, live playback goes on untouched,
  the recording pauses with one log line and a metric, and goes on by itself
  once there is room again, with one discontinuity for the hole."""

import datetime
import json
import os
import re
import subprocess
import tempfile
import urllib.request

import pytest

from lrdemo import (BINARY, Config, Demo, fetch_media, http_get, metric, metrics, scaled,
                    tool, wait_for, wait_master, wait_segments)

# three lectures of the last three days (inside the 30-day retention), oldest first
DAYS = [datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) -
        datetime.timedelta(days=3 - i) for i in range(3)]
IDS = [d.strftime("%Y%m%dT%H%M%SZ") for d in DAYS]


def finished_recording(root, rid, ended, size=6 << 20):
    d = root / "cs101" / rid
    (d / "720p").mkdir(parents=True)
    (d / "master.m3u8").write_text("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n720p/index.m3u8\n")
    (d / "720p" / "index.m3u8").write_text(
        "#EXTM3U\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-TARGETDURATION:2\n"
        "#EXTINF:2.0,\n0.ts\n#EXT-X-ENDLIST\n")
    (d / "720p" / "0.ts").write_bytes(os.urandom(size))
    (d / "recording.json").write_text(json.dumps({
        "lecture": "cs101", "id": rid, "started": ended, "ended": ended,
        "duration_s": 7200.0, "finished": True, "bytes": size, "renditions": ["720p"]}))


def demo_on_tmpfs(tmp_path, mnt, size_mb, before=""):
    """The whole demo recording cs101 into mnt, a tmpfs of size_mb in a mount
    namespace of its own; before: shell run there first (a filler, say)."""
    cfg = Config(tmp_path, {"lecture": "cs101", "egress": {"recordings_dir": mnt}})
    script = (f"mount -t tmpfs -o size={size_mb}m none {mnt} && {before}"
              f"exec {BINARY} run --config {cfg.path}")
    return Demo(cfg, binary="/usr/bin/unshare", args=["--mount", "sh", "-c", script])


def in_ns(demo, *cmd):
    """cmd run in demo's mount namespace (its tmpfs)."""
    return subprocess.run([tool("nsenter"), "-t", str(demo.proc.pid), "-m", *cmd],
                          capture_output=True, text=True, timeout=60)


def rec_metric(demo, name):
    return metric(metrics(f"{demo.base}/metrics"), name, lecture="cs101")

def test_a_filling_disk_loses_its_oldest_finished_recordings(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("a tmpfs in a mount namespace needs root (CI runs as root)")
    tool("unshare")
    seed = tmp_path / "seed"
    for day, rid in zip(DAYS, IDS):
        finished_recording(seed, rid, day.strftime("%Y-%m-%dT%H:%M:%SZ"))
    with tempfile.TemporaryDirectory(prefix="lr-recspace-", dir="/tmp") as mnt:
        cfg = Config(tmp_path, {"egress": {"recordings_dir": mnt,
                                           "recordings_min_free_pct": 30}})
        # 18 MiB of 24: 25 % free, under 30: one removal (the oldest) is enough
        script = (f"mount -t tmpfs -o size=24m none {mnt} && cp -a {seed}/. {mnt}/ && "
                  f"exec {BINARY} egress --config {cfg.path}")
        eg = Demo(cfg, binary="/usr/bin/unshare", args=["--mount", "sh", "-c", script])
        try:
            eg.start_background()
            wait_for(lambda: "recorder: removed recording" in eg.stderr_text() or
                     not eg.alive(), scaled(30), what="a removal")
            api = f"http://127.0.0.1:{cfg.http_port}/api/v1/lectures"

            def recorded():
                st, _, body = http_get(api)
                if st != 200:
                    return None
                lecs = json.loads(body)["recorded"]
                return sorted(r["id"] for l in lecs for r in l["recordings"])
            # the list follows the disk within a refresh of its index (1 s)
            wait_for(lambda: recorded() == IDS[1:], scaled(10),
                     what="the lecture list without the oldest recording")
            removed = re.findall(r"removed recording \S+/(\w+) \(\d+ bytes\): (.*)",
                                 eg.stderr_text())
            assert removed == [(IDS[0], "its disk had less than 30 % free")], eg.describe()
            eg.assert_stops()
        finally:
            eg.close()


def test_a_full_disk_pauses_the_recording_and_live_goes_on(tmp_path):
    """The whole demo in one process, its recordings on a 64 MiB tmpfs that a
    filler file fills to the last byte mid-lecture and later leaves again."""
    if os.geteuid() != 0:
        pytest.skip("a tmpfs in a mount namespace needs root (CI runs as root)")
    tool("unshare"), tool("nsenter")
    with tempfile.TemporaryDirectory(prefix="lr-recfull-", dir="/tmp") as mnt:
        demo = demo_on_tmpfs(tmp_path, mnt, 64)
        filler = f"{mnt}/filler"
        try:
            demo.start()
            url = urllib.request.urljoin(demo.live("master.m3u8"),
                                         wait_master(demo, scaled(40))[0]["uri"])
            wait_segments(url, 3, scaled(40))
            wait_for(lambda: (rec_metric(demo, "lr_recording_bytes") or 0) > 0, scaled(20),
                     what="the recording's first bytes")
            assert rec_metric(demo, "lr_recording_failing") == 0

            # every byte taken (dd stops at ENOSPC)
            in_ns(demo, "dd", "if=/dev/zero", f"of={filler}", "bs=1M")
            df = in_ns(demo, "df", "-B1", "--output=avail", mnt).stdout.split()
            assert df[-1] == "0", df
            wait_for(lambda: rec_metric(demo, "lr_recording_failing") == 1, scaled(20),
                     what="lr_recording_failing 1")
            full_from = fetch_media(url)["segments"][-1]["seq"]
            # live goes on while the disk is full: four more segments
            wait_for(lambda: fetch_media(url)["segments"][-1]["seq"] >= full_from + 4, scaled(30),
                     what="live segments while the disk is full")
            lost = rec_metric(demo, "lr_recording_lost_segments")
            assert lost and lost > 0, lost

            in_ns(demo, "rm", filler)
            wait_for(lambda: rec_metric(demo, "lr_recording_failing") == 0, scaled(20),
                     what="the recording to write again")
            resumed_at = fetch_media(url)["segments"][-1]["seq"]
            wait_for(lambda: fetch_media(url)["segments"][-1]["seq"] >= resumed_at + 2, scaled(30),
                     what="live segments after the disk has room again")

            err = demo.stderr_text()
            failed = re.findall(r"lecture=cs101 recording=\S+: writing \S+ failed: (.*?);", err)
            assert len(failed) == 1 and "No space left on device" in failed[0], demo.describe()
            again = re.findall(r"lecture=cs101 recording=\S+: writing again; (\d+) segment", err)
            assert len(again) == 1 and int(again[0]) > 0, demo.describe()
            assert "removed recording" not in err, "the live recording was taken for an old one"

            # one recording, each rendition's index with exactly one break: the hole
            [rec] = in_ns(demo, "sh", "-c", f"ls -d {mnt}/cs101/*/").stdout.split()
            for rend in ("360p", "720p"):
                text = in_ns(demo, "cat", f"{rec}{rend}/index.m3u8").stdout
                assert text.count("#EXT-X-DISCONTINUITY\n") == 1, f"{rend}:\n{text}"
                names = [l for l in text.splitlines() if l and not l.startswith("#")]
                assert all(in_ns(demo, "test", "-s", f"{rec}{rend}/{n}").returncode == 0
                           for n in names), f"{rend}: a listed segment is missing or empty"
            demo.assert_stops()
        finally:
            demo.close()


def test_a_recording_that_cannot_start_starts_once_there_is_room(tmp_path):
    """The recordings' tmpfs is full before the lecture begins: the lecture
    goes live without a recording, says so once and in lr_recording_failing,
    and the recording starts by itself once a file makes room."""
    if os.geteuid() != 0:
        pytest.skip("a tmpfs in a mount namespace needs root (CI runs as root)")
    tool("unshare"), tool("nsenter")
    with tempfile.TemporaryDirectory(prefix="lr-recfull-", dir="/tmp") as mnt:
        fill = f"(dd if=/dev/zero of={mnt}/filler bs=1M 2>/dev/null; true) && "
        demo = demo_on_tmpfs(tmp_path, mnt, 8, before=fill)
        try:
            demo.start()
            url = urllib.request.urljoin(demo.live("master.m3u8"),
                                         wait_master(demo, scaled(40))[0]["uri"])
            wait_segments(url, 2, scaled(40))
            wait_for(lambda: rec_metric(demo, "lr_recording_failing") == 1, scaled(20),
                     what="lr_recording_failing 1 without a recording")
            assert rec_metric(demo, "lr_recording_active") == 0
            assert in_ns(demo, "rm", f"{mnt}/filler").returncode == 0
            # tried again every 10 s
            wait_for(lambda: rec_metric(demo, "lr_recording_active") == 1, scaled(25),
                     what="the recording to start")
            wait_for(lambda: (rec_metric(demo, "lr_recording_bytes") or 0) > 0, scaled(20),
                     what="the recording's first bytes")
            assert rec_metric(demo, "lr_recording_failing") == 0
            err = demo.stderr_text()
            assert err.count("cannot record under") == 1, demo.describe()
            assert err.count("the recording started after all") == 1, demo.describe()
            demo.assert_stops()
        finally:
            demo.close()
