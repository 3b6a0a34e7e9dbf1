"""Students in headless Chromium with hls.js in low-latency mode: live play
with forced rung switches, seeking back in the time-shift window, and the
recording played from start to end once the lecture is over."""

import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from lrdemo import (REPO, Config, Demo, fetch_media, http_get, scaled, tool, wait_for,
                    wait_master, wait_segments)

HLSJS = Path(__file__).with_name("hlsjs.mjs")


def watch(origin, src, seconds, actions=(), rate=1, low_latency=True):
    """Runs hlsjs.mjs; returns its summary (asserting it produced one)."""
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


def test_low_latency_play_and_rung_switches_do_not_stall(start_demo):
    demo = start_demo()
    variants = wait_master(demo)
    assert len(variants) >= 2
    for v in variants:
        wait_segments(urllib.request.urljoin(demo.live("master.m3u8"), v["uri"]), 2)
    # hls.js orders levels by bandwidth: 0 is the lowest rung.
    last = len(variants) - 1
    s = watch(demo.base, demo.live("master.m3u8"), 24,
              [{"at": 8, "do": "level", "level": 0}, {"at": 14, "do": "level", "level": last},
               {"at": 19, "do": "level", "level": 0}])
    assert s["ok"], s
    assert s["stalls"] == 0, f"BUFFER_STALLED_ERROR x{s['stalls']}: {s['errors']}"
    assert not [e for e in s["errors"] if "DECODE" in e.upper() or "FATAL" in e], s["errors"]
    assert s["played"] >= scaled(12) / scaled(1) * 1.0 or s["played"] >= 12, s
    assert 0 in s["levels"] and last in s["levels"], f"switches not seen: {s['levels']}"
    lat = sorted(s["latencies"])
    assert lat, "hls.js never reported a playing date (EXT-X-PROGRAM-DATE-TIME)"
    print(f"latency median {lat[len(lat) // 2]} ms")
    demo.assert_stops(signal.SIGINT)
