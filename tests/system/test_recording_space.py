"""The recordings' disk does not fill up: with less than
egress.recordings_min_free_pct free, the egress removes finished
recordings, the oldest first, until there is. A real small file system (a
tmpfs of 24 MiB in a mount namespace of the egress's own, root only) with
three finished recordings of 6 MiB on it."""

import datetime
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest

from lrdemo import (BINARY, Config, Demo, http_get, scaled, to_yaml, tool, wait_for)

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
