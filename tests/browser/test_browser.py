"""A student in headless Chromium: the player page (hls.js served by the
egress) plays the live lecture for at least 8 s without a fatal error."""

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from lrdemo import (REPO, free_tcp_port, lecture_urls, live_encoder, rung_urls, seq, tool,
                    wait_for, wait_master, wait_segments)

PLAY = Path(__file__).with_name("play.mjs")


def test_player_page_plays_in_chromium(start_demo):
    node = tool("node")
    chromium = os.environ.get("LR_CHROMIUM", "/usr/bin/chromium")
    if not os.access(chromium, os.X_OK):
        pytest.fail(f"{chromium} missing (scripts/setup installs it)")
    if not (REPO / "node_modules" / "playwright-core").is_dir():
        pytest.fail("node_modules/playwright-core missing: run scripts/setup (npm ci)")

    demo = start_demo()
    variants = wait_master(demo)
    top = max(variants, key=lambda v: int(v["attrs"].get("BANDWIDTH", "0")))
    wait_segments(rung_urls(demo, [top])[top["uri"].split("/")[0]], 2)

    r = subprocess.run([node, str(PLAY), demo.url, "8", "20"], cwd=str(REPO),
                       capture_output=True, text=True, timeout=90)
    print(r.stdout)
    print(r.stderr)
    lines = [l for l in r.stdout.splitlines() if l.startswith("{")]
    summary = json.loads(lines[-1]) if lines else {}
    assert r.returncode == 0, f"player failed: {summary.get('error') or r.stderr}\n{r.stdout}"
    assert summary.get("ok") is True and summary.get("played", 0) >= 8
    assert demo.alive(), demo.describe()
    demo.assert_stops(signal.SIGINT)


def test_an_rtmp_published_lecture_plays_in_chromium(start_demo):
    """The lecturer publishes over RTMP (as Zoom or OBS would); a student
    watches it on the player page."""
    node = tool("node")
    chromium = os.environ.get("LR_CHROMIUM", "/usr/bin/chromium")
    port = free_tcp_port()
    demo = start_demo({"lecture": "rtmp1", "ingest": {
        "rtmp_listen": f"127.0.0.1:{port}",
        "lectures": [{"name": "rtmp1", "publish_key": "k1", "sources": ["push"]}]}})
    pub = live_encoder(["-f", "flv", f"rtmp://127.0.0.1:{port}/live/rtmp1?key=k1"], 60)
    try:
        url = next(iter(lecture_urls(demo, "rtmp1").values()))
        wait_for(lambda: seq(url) >= 2, 40, what="segments of the RTMP lecture")
        r = subprocess.run([node, str(PLAY), f"{demo.base}/watch/rtmp1", "8", "20"],
                           cwd=str(REPO), env={**os.environ, "LR_CHROMIUM": chromium},
                           capture_output=True, text=True, timeout=90)
        print(r.stdout)
        lines = [l for l in r.stdout.splitlines() if l.startswith("{")]
        summary = json.loads(lines[-1]) if lines else {}
        assert r.returncode == 0, f"player failed: {summary.get('error') or r.stderr}"
        assert summary.get("ok") is True and summary.get("played", 0) >= 8
        demo.assert_stops(signal.SIGINT)
    finally:
        if pub.poll() is None:
            pub.kill()
            pub.wait()
