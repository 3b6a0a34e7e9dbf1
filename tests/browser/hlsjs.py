"""The browser tests' student: runs hlsjs.mjs (hls.js in headless Chromium)
on one URL and returns its JSON summary."""

import json
import os
import select
import subprocess
import time
from pathlib import Path

import pytest

from lrdemo import REPO, tool

HLSJS = Path(__file__).with_name("hlsjs.mjs")
START_DEADLINE = 120  # s: a Player that has not begun playing by then gives up


def watch(origin, src, seconds, actions=(), rate=1, low_latency=True):
    """Plays src for `seconds` (see hlsjs.mjs for actions); returns the summary,
    asserting the driver produced one."""
    chromium = os.environ.get("LR_CHROMIUM", "/usr/bin/chromium")
    if not os.access(chromium, os.X_OK):
        pytest.fail(f"{chromium} missing (scripts/setup installs it)")
    opts = {"origin": origin, "src": src, "seconds": seconds, "actions": list(actions),
            "rate": rate, "lowLatency": low_latency}
    r = subprocess.run([tool("node"), str(HLSJS), json.dumps(opts)], cwd=str(REPO),
                       capture_output=True, text=True, timeout=seconds + 60)
    lines = [l for l in r.stdout.splitlines() if l.startswith("{")]
    assert lines, f"no summary from hlsjs.mjs:\n{r.stdout}\n{r.stderr}"
    summary = json.loads(lines[-1])
    print({k: v for k, v in summary.items() if k != "latencies"})
    return summary


class Player:
    """hlsjs.mjs in the background, for a test that acts while it plays:
    start(), wait_playing() (the epoch ms playback began), then result().
    It watches for `seconds` from when playback began, so that what a test
    does after wait_playing() is watched alike however slowly the player
    started (up to START_DEADLINE s); watch() counts from Chromium's start."""

    def __init__(self, origin, src, seconds, actions=(), low_latency=True):
        self.seconds = seconds
        self.opts = {"origin": origin, "src": src, "seconds": seconds,
                     "afterPlaying": True, "startDeadline": START_DEADLINE,
                     "actions": list(actions), "lowLatency": low_latency}
        self.proc = None

    def start(self):
        chromium = os.environ.get("LR_CHROMIUM", "/usr/bin/chromium")
        if not os.access(chromium, os.X_OK):
            pytest.fail(f"{chromium} missing (scripts/setup installs it)")
        self.proc = subprocess.Popen([tool("node"), str(HLSJS), json.dumps(self.opts)],
                                     cwd=str(REPO), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        return self

    def wait_playing(self, deadline):
        """Epoch ms at which playback began; fails after deadline seconds."""
        end = time.monotonic() + deadline
        waiting = None  # the driver's last "waiting {state}" line: why nothing plays
        while time.monotonic() < end:
            ready, _, _ = select.select([self.proc.stdout], [], [], max(0, end - time.monotonic()))
            if not ready:
                break
            line = self.proc.stdout.readline()
            if not line:
                break
            if line.startswith("playing "):
                return int(line.split()[1])
            if line.startswith("waiting "):
                waiting = line[len("waiting "):].strip()
        self.close()
        pytest.fail(f"hls.js did not start playing within {deadline:.0f} s; "
                    f"the player's last state: {waiting}")

    def result(self):
        out, err = self.proc.communicate(timeout=START_DEADLINE + self.seconds + 60)
        lines = [l for l in out.splitlines() if l.startswith("{")]
        assert lines, f"no summary from hlsjs.mjs:\n{out}\n{err}"
        summary = json.loads(lines[-1])
        print({k: v for k, v in summary.items() if k != "latencies"})
        return summary

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
