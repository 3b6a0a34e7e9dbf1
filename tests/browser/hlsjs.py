"""The browser tests' student: runs hlsjs.mjs (hls.js in headless Chromium)
on one URL and returns its JSON summary."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from lrdemo import REPO, tool

HLSJS = Path(__file__).with_name("hlsjs.mjs")


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
