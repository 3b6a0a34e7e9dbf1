"""The operator's status page (/status, common/status.h) in headless Chromium,
during a lecture that fails over from the lecturer's push to its backup and
then sheds its top rung on a narrowed border path: every chart has drawn
points, the values move between two readings two seconds apart, the
failover and the shed are on the time line. Screenshots (desktop and a
phone's screen) are kept in $LR_ARTIFACTS (meson: the build folder's
tests/browser/artifacts). From another host, the page and its data answer
only with the admin token."""

import json
import os
import pathlib
import signal
import subprocess

import pytest

from lrdemo import (METRICS_TOKEN, REPO, Config, Demo, ffmpeg_push, free_tcp_port,
                    free_udp_port, http_get, metric, metrics, parse_master, scaled, seq,
                    wait_for, wait_master)

HERE = pathlib.Path(__file__).resolve().parent
IMPAIR = os.environ.get("LR_IMPAIR")
CAP_KBPS = 700   # above the lower rung with the audio, below the whole ladder (test_shedding)

# Charts the page must draw for this lecture (a lecture section's titles),
# and for the node.
LECTURE_CHARTS = {
    "Bitrate in (kb/s)", "Frames/s in", "Source on the link", "Timestamps repaired",
    "RTT (ms)", "Loss (%)",
    "Retransmissions/s", "Latency in force (ms)", "Sending (Mb/s)", "Reconnects",
    "Frames/s per rung", "Speed (x real time)", "Queue (frames)", "Rungs shed",
    "Newest segment age (s)", "Newest part age (s)", "Links feeding it",
    "Frames that came damaged", "Recording (MB)",
}
NODE_CHARTS = {"Sent (MB/s)", "Parked requests", "Connections", "Responses/s",
               "Recordings disk used (%)"}


def artifacts(tmp_path):
    d = pathlib.Path(os.environ.get("LR_ARTIFACTS") or tmp_path / "artifacts")
    d.mkdir(parents=True, exist_ok=True)
    return d


def open_page(url, shots, phone=False, apart=2):
    r = subprocess.run(["node", str(HERE / "status_page.mjs"),
                        json.dumps({"url": url, "shots": str(shots), "phone": phone,
                                    "apart": apart, "wait": scaled(30)})],
                       capture_output=True, text=True, timeout=scaled(120), cwd=REPO)
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert not out["error"] and not out["pageErrors"], out
    return out


def variants(demo):
    status, _, body = http_get(demo.live("master.m3u8"))
    return {v["uri"].split("/")[0] for v in parse_master(body.decode())} if status == 200 else set()


def shed(demo):
    return metric(metrics(demo.base + "/metrics"), "lr_transcode_rungs_shed", lecture="cs101")


def active_source(demo):
    m = metrics(demo.base + "/metrics")
    for src in ("1", "2"):
        if metric(m, "lr_ingest_source_active", lecture="cs101", source=src) == 1:
            return src
    return None


@pytest.mark.skipif(not IMPAIR, reason="LR_IMPAIR is not set (meson sets it)")
def test_status_page_draws_a_failover_and_a_shed(tmp_path):
    from test_impair import Impair  # tests/system, on the path (conftest.py)

    push_port, egress_port = free_udp_port(), free_udp_port()
    proxy = Impair(tmp_path, egress_port, "--delay", 100, "--jitter", 2, "--seed", 21,
                   "--up-rate-kbps", CAP_KBPS, "--up-queue-ms", 300)
    conf = Config(tmp_path, {
        "lecture": "cs101",
        "link": {"latency_ms": "auto"},
        "ingest": {"listen": f"srt://127.0.0.1:{push_port}", "stall_ms": 1000,
                   "lectures": [{"name": "cs101",
                                 "sources": ["push", str(REPO / "samples" / "lecture.mp4")]}]},
        "transcode": {
            "link": f"srt://127.0.0.1:{proxy.port}",
            "preset": "ultrafast",
            "rungs": [{"name": "360p", "width": 640, "height": 360, "bitrate_kbps": 800},
                      {"name": "240p", "width": 426, "height": 240, "bitrate_kbps": 400}],
        },
        "egress": {"listen": f"srt://127.0.0.1:{egress_port}",
                   "recordings_dir": str(tmp_path / "rec")},
    })
    demo = Demo(conf)
    push = None
    out = artifacts(tmp_path)
    try:
        proxy.proc.send_signal(signal.SIGHUP)   # the cap starts lifted
        proxy.wait_line("rate cap off")
        demo.start()
        push = ffmpeg_push(push_port, "#!::r=cs101,m=publish")
        wait_for(lambda: active_source(demo) == "1" or None, scaled(30),
                 what="the lecturer's push on the link")
        wait_master(demo, scaled(40))
        wait_for(lambda: variants(demo) >= {"360p", "240p"} or None, scaled(30),
                 what="both rungs in the master")

        # the lecturer's address and encoder (ffmpeg names itself as the
        # MPEG-TS service provider)
        info = [(k, v) for k, v in metrics(demo.base + "/metrics").items()
                if k[0] == "lr_ingest_source_info"]
        assert any(dict(labels).get("encoder") == "FFmpeg" and
                   dict(labels).get("session", "").startswith("push from 127.0.0.1:")
                   for (_, labels), _ in info), info
        push.kill()   # the lecturer's encoder dies: the backup takes over
        wait_for(lambda: active_source(demo) == "2" or None, scaled(15),
                 what="the failover to the backup")
        # the backup's codecs differ: a new link, whose path the transcoder
        # learns for a few seconds before it can judge it narrow (shed.h)
        low = demo.live("240p/index.m3u8")
        at = seq(low)
        wait_for(lambda: seq(low) >= at + 3 or None, scaled(30),
                 what="three segments over the new link")
        proxy.proc.send_signal(signal.SIGHUP)   # the border path narrows
        proxy.wait_line("rate cap on")
        wait_for(lambda: shed(demo) or None, scaled(40), what="the transcoder to shed a rung")
        wait_for(lambda: "360p" not in variants(demo) or None, scaled(30),
                 what="the top rung out of the master")

        page = open_page(demo.base + "/status", out / "status-desktop")
        phone = open_page(demo.base + "/status", out / "status-phone", phone=True, apart=1)
    finally:
        if push:
            push.kill()
        demo.close()
        proxy.close()

    first, second = page["readings"]
    drawn = {(c["lecture"], c["title"]) for c in second}
    missing = {("cs101", t) for t in LECTURE_CHARTS} | {(None, t) for t in NODE_CHARTS}
    assert not missing - drawn, f"charts not drawn: {sorted(missing - drawn, key=str)}"
    for c in second:
        assert c["points"] >= 2, f"chart without points: {c}"
    before = {(c["lecture"], c["title"]): c for c in first}
    grew = [k for k, c in before.items()
            if k in drawn and next(x for x in second if (x["lecture"], x["title"]) == k)["points"]
            > c["points"]]
    assert len(grew) == len(before), f"charts that took no new point: {set(before) - set(grew)}"
    moved = [k for k, c in before.items()
             if next((x for x in second if (x["lecture"], x["title"]) == k), c)["last"] != c["last"]]
    assert len(moved) >= 5, f"values barely moved between the readings: {moved}"
    kinds = [k for k, _ in page["events"]]
    texts = " | ".join(t for _, t in page["events"])
    assert "now reading source 2" in texts, page["events"]
    assert "shed" in kinds and "rung 360p shed on the path" in texts, page["events"]
    for name in ("status-desktop-1.png", "status-desktop-2.png", "status-phone-1.png"):
        assert (out / name).stat().st_size > 10000, name
    # a phone's screen: the charts fold into one column, nothing wider
    assert phone["scrollWidth"] <= phone["innerWidth"], phone
    print(f"status page: {len(second)} charts; events: {page['events']}; screenshots in {out}")


def test_status_page_wants_the_token_from_another_host(tmp_path):
    """The egress's /status and /api/v1/status and the metrics server's, asked
    from a network namespace (another host) without the token: 404; with it
    (bearer, or ?admin_token= as a browser opens the page): 200. The
    scripts and styles hold nothing of the node's and are public."""
    from test_multihost import Hosts  # tests/system

    if os.geteuid() != 0:
        pytest.skip("network namespaces need root (CI runs as root)")
    try:
        hosts = Hosts(["op"])
    except (RuntimeError, FileNotFoundError) as e:
        pytest.skip(f"cannot make network namespaces here: {e}")
    http_port, metrics_port = free_tcp_port(), free_tcp_port()
    demo = Demo(Config(tmp_path, {"metrics": f"0.0.0.0:{metrics_port}",
                                  "egress": {"http": f"0.0.0.0:{http_port}"}}))
    try:
        demo.start()

        def status(port, path, bearer=False):
            cmd = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5",
                   f"http://{hosts.student}:{port}{path}"]
            if bearer:
                cmd[1:1] = ["-H", f"Authorization: Bearer {METRICS_TOKEN}"]
            return subprocess.run(hosts.run("op", *cmd), capture_output=True, text=True,
                                  timeout=20).stdout
        for port in (http_port, metrics_port):
            assert status(port, "/status") == "404"
            assert status(port, "/api/v1/status") == "404"
            assert status(port, "/status?admin_token=wrong-token-of-the-same-length-x") == "404"
            assert status(port, f"/status?admin_token={METRICS_TOKEN}") == "200"
            assert status(port, "/api/v1/status", bearer=True) == "200"
            assert status(port, "/assets/status.js") == "200"
        # and on this machine, as /metrics, without one
        code, _, body = http_get(f"http://127.0.0.1:{metrics_port}/api/v1/status")
        assert code == 200 and json.loads(body)["roles"] == "ingest, transcode, egress"
    finally:
        demo.close()
        hosts.close()
