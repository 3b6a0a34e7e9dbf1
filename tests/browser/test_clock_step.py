"""The egress's wall clock steps by 30 s mid-lecture, back and then forward
again (an NTP step, an operator's `date -s`), while hls.js plays and a
poller reads the playlists. The egress runs under libfaketime (Debian's
faketime), which moves CLOCK_REALTIME, gettimeofday and time() of that one
process by the offset a file holds, and leaves its monotonic clock alone, as
a real step does; the ingest and the transcoder keep the true time.

Program date-times stay what they were: a segment's date never changes,
dates rise with sequence numbers, media sequence numbers never go back, and
hls.js plays on with no fatal error, no discontinuity and no watchdog
restart."""

import datetime
import email.utils
import glob
import os
import re
import threading
import time

import pytest

from hlsjs import Player
from lrdemo import (BINARY, Config, Demo, http_get, parse_media, scaled, wait_for, wait_master)

STEP_S = 30


def libfaketime():
    found = glob.glob("/usr/lib/*/faketime/libfaketime.so.1")
    if not found:
        pytest.fail("libfaketime missing: scripts/setup installs Debian's faketime")
    return found[0]


def egress_clock_offset(egress):
    """The egress's clock minus ours, s, from its Date header (1 s steps)."""
    _, headers, _ = http_get(f"{egress.base}/api/v1/lectures")
    date = {k.lower(): v for k, v in headers.items()}.get("date")
    assert date, f"no Date header: {headers}"
    theirs = email.utils.parsedate_to_datetime(date).timestamp()
    return theirs - time.time()


class PlaylistWatch:
    """Reads a media playlist every 0.3 s in a thread and keeps what each
    read said: {seq: PDT} and the media sequence numbers, in order."""

    def __init__(self, url):
        self.url, self.dates, self.sequences, self.problems = url, {}, [], []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.wait(0.3):
            status, _, body = http_get(self.url)
            if status != 200:
                self.problems.append(f"GET {self.url} -> {status}")
                continue
            text = body.decode()
            self.sequences.append(parse_media(text)["sequence"])
            seq, pdt = None, None
            for line in text.splitlines():
                if line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
                    seq = int(line.split(":", 1)[1])
                elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
                    pdt = datetime.datetime.fromisoformat(
                        line.split(":", 1)[1].replace("Z", "+00:00")).timestamp()
                elif line and not line.startswith("#"):
                    if pdt is not None:
                        old = self.dates.setdefault(seq, pdt)
                        if abs(old - pdt) > 0.002:
                            self.problems.append(f"segment {seq}: dated {old} then {pdt}")
                    seq, pdt = seq + 1, None


def test_a_wall_clock_step_on_the_egress_changes_no_date(tmp_path):
    offset_file = tmp_path / "faketime-offset"
    offset_file.write_text("+0\n")
    conf = Config(tmp_path, {"lecture": "cs101"})
    args = lambda role: [role, "--config", str(conf.path)]  # noqa: E731
    egress = Demo(conf, binary="/usr/bin/env", log_dir=tmp_path, args=[
        f"LD_PRELOAD={libfaketime()}", f"FAKETIME_TIMESTAMP_FILE={offset_file}",
        "FAKETIME_CACHE_DURATION=1", "FAKETIME_DONT_FAKE_MONOTONIC=1",
        # systemd's watchdog, as the unit sets it: the role checks that its
        # threads run every second (no NOTIFY_SOCKET: nothing to ping)
        "WATCHDOG_USEC=2000000",
        # (the sanitizer build: libfaketime comes first in the library list)
        "ASAN_OPTIONS=" + ":".join(filter(None, [os.environ.get("ASAN_OPTIONS", ""),
                                                  "verify_asan_link_order=0"])),
        str(BINARY), *args("egress")])
    transcode = Demo(conf, args=args("transcode"), log_dir=tmp_path)
    ingest = Demo(conf, args=args("ingest"), log_dir=tmp_path)
    player, watch = None, None
    try:
        egress.start()
        transcode.start_background()
        ingest.start_background()
        variants = wait_master(egress, scaled(40))
        rung = next(v["uri"] for v in variants if "720p" in v["uri"])
        watch = PlaylistWatch(egress.live(rung))
        watch.thread.start()
        assert abs(egress_clock_offset(egress)) < 2

        # Stepped back for 12 s: past the 10 s an HTTP loop may go without
        # its beat before the watchdog gives up on it (WATCHDOG_USEC below).
        # libh2o 2.2 kept its timers by gettimeofday; the beat's timer then
        # stopped for the 30 s of the step and "watchdog: http loop 0 has not
        # run" asked systemd for a restart (egress/http_clock.h).
        player = Player(egress.base, egress.live("master.m3u8"), seconds=26).start()
        began = player.wait_playing(scaled(60))
        wait_for(lambda: time.time() * 1000 - began >= 4000 or None, 10, interval=0.1,
                 what="4 s of playback")
        offset_file.write_text(f"-{STEP_S}\n")
        wait_for(lambda: egress_clock_offset(egress) < -STEP_S + 2 or None, 5,
                 what="the egress's clock 30 s back")
        stepped_back = time.time() * 1000
        time.sleep(12)  # (not readiness: how long the clock stays stepped back)
        offset_file.write_text("+0\n")
        wait_for(lambda: abs(egress_clock_offset(egress)) < 2 or None, 5,
                 what="the egress's clock forward again")

        s = player.result()
        watch.stop.set()
        watch.thread.join(5)
        assert s["ok"] and not s["fatal"], s
        assert s["ccs"] == [0], f"a discontinuity: {s['ccs']}"
        assert s["watchdogRestarts"] == 0, s
        assert s["played"] >= 20, s
        holds = [ms for t, ms in s["holds"] if t >= stepped_back - 1000]
        assert max(holds, default=0) < 2000, s["holds"]

        assert not watch.problems, watch.problems
        seqs = sorted(watch.dates)
        assert len(seqs) >= 10, watch.dates
        assert watch.sequences == sorted(watch.sequences), "the media sequence number went back"
        for a, b in zip(seqs, seqs[1:]):
            assert watch.dates[b] > watch.dates[a], \
                f"segment {b} dated {watch.dates[b]}, before segment {a}'s {watch.dates[a]}"
        # the dates stayed on true time, not on the stepped clock
        newest = watch.dates[seqs[-1]]
        assert abs(time.time() - newest) < 10, (newest, time.time())
        # (the watchdog's complaint is an error line)
        assert not re.search(r"(?m)^\S+ error ", egress.stderr_text()), egress.describe()
        egress.assert_stops()
    finally:
        if watch:
            watch.stop.set()
        if player:
            player.close()
        for p in (ingest, transcode, egress):
            p.close()
