"""Signed URLs in a real player: an egress with `require_token: true` plays
in hls.js through the URL `lecture-relay sign-url` mints (live, then the
recording once the lecture is over) with not one 403 among the player's
requests nor in the server's own count, while the unsigned and tampered
forms of the same URLs are refused."""

import json
import re
import signal
import subprocess
import urllib.request

from lrdemo import (BINARY, Config, Demo, http_get, metric, metrics, parse_master,
                    parse_media, scaled, wait_for)
from hlsjs import watch

SECRET = "browser-test-secret-0123456789"




def sign(conf, lecture, expires="2h"):
    """(token, master URL) from `lecture-relay sign-url`."""
    r = subprocess.run([str(BINARY), "sign-url", "--config", str(conf.path), "--lecture", lecture,
                        "--expires", expires], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    m = re.search(r"^master: (http://\S+/t/([^/\s]+)/live/\S+)$", r.stdout, re.M)
    assert m, r.stdout
    return m.group(2), m.group(1)


def tamper(token):
    """The token with one character in the middle changed (all 6 bits of a
    middle base64url character count, so the bytes differ)."""
    i = len(token) // 2
    return token[:i] + ("B" if token[i] != "B" else "C") + token[i + 1:]


def wait_signed_live(master, count):
    """Waits until every rung of the signed master lists `count` segments."""
    def ready():
        status, _, body = http_get(master)
        if status != 200:
            return None
        variants = parse_master(body.decode())
        for v in variants:
            st, _, b = http_get(urllib.request.urljoin(master, v["uri"]))
            if st != 200 or len(parse_media(b.decode())["segments"]) < count:
                return None
        return variants or None
    return wait_for(ready, scaled(60), what=f"{count} segments in every rung (signed URLs)")


def count_403(base):
    return metric(metrics(f"{base}/metrics"), "lr_http_responses_total", code="403") or 0


def assert_refused(base, good_url, token, lecture):
    """The unsigned form, a tampered token and another lecture's token: 403."""
    unsigned = good_url.replace(f"/t/{token}", "")
    assert unsigned != good_url
    for url in (unsigned, good_url.replace(token, tamper(token))):
        status, _, _ = http_get(url)
        assert status == 403, f"{url} -> {status}"
    status, _, _ = http_get(good_url)
    assert status == 200, f"the signed {good_url} -> {status}"


def test_signed_live_plays_without_403(start_demo):
    demo = start_demo({"egress": {"require_token": True, "token_secrets": [SECRET]}})
    token, master = sign(demo.config, demo.config.lecture)
    assert master.startswith(demo.base + "/t/")
    wait_signed_live(master, 2)
    assert count_403(demo.base) == 0

    s = watch(demo.base, master, 16)
    assert s["ok"], s
    assert s["played"] >= 8, f"played only {s['played']:.1f} s: {s}"
    assert "403" not in s["statuses"], f"the player got 403s: {s['statuses']}"
    assert s["statuses"].get("200", 0) >= 10, s["statuses"]
    assert count_403(demo.base) == 0, "the server answered 403 while the signed URL played"

    assert_refused(demo.base, master, token, demo.config.lecture)
    _, other = sign(demo.config, "other")
    other_token = other.split("/t/")[1].split("/")[0]
    status, _, _ = http_get(master.replace(token, other_token))
    assert status == 403, "another lecture's token opened this one"
    # the refusals above are counted, so the zero during playback meant something
    assert count_403(demo.base) == 3
    demo.assert_stops(signal.SIGINT)


def test_signed_recording_plays_to_its_end(tmp_path):
    rec_dir = tmp_path / "rec"
    conf = Config(tmp_path, {"lecture": "cs101", "egress": {
        "require_token": True, "token_secrets": [SECRET],
        "recordings_dir": str(rec_dir), "recording_grace": 2}})
    args = lambda role: [role, "--config", str(conf.path)]  # noqa: E731
    egress = Demo(conf, args=args("egress"), log_dir=tmp_path)
    transcode = Demo(conf, args=args("transcode"), log_dir=tmp_path)
    ingest = Demo(conf, args=args("ingest"), log_dir=tmp_path)
    try:
        egress.start()
        transcode.start_background()
        ingest.start_background()
        token, master = sign(conf, "cs101")
        wait_signed_live(master, 5)  # about 10 s recorded
        ingest.assert_stops(signal.SIGTERM)
        transcode.assert_stops(signal.SIGTERM)
        infos = sorted((rec_dir / "cs101").glob("*/recording.json"))
        assert len(infos) == 1, infos
        wait_for(lambda: json.loads(infos[0].read_text())["finished"] or None, scaled(30),
                 what="the recording to be finished")
        meta = json.loads(infos[0].read_text())
        assert meta["duration_s"] >= 8, meta

        vod = f"{egress.base}/t/{token}/vod/cs101/{meta['id']}/master.m3u8"
        status, _, _ = http_get(vod)
        assert status == 200, f"{vod} -> {status}"
        before = count_403(egress.base)
        s = watch(egress.base, vod, meta["duration_s"] / 4 + 25, rate=4, low_latency=False)
        assert s["ok"], s
        assert s["ended"], f"the recording did not play to its end: {s}"
        assert s["played"] >= meta["duration_s"] - 2.5, (s["played"], meta)
        assert "403" not in s["statuses"], f"the player got 403s: {s['statuses']}"
        assert count_403(egress.base) == before == 0, "the server answered 403 during playback"

        assert_refused(egress.base, vod, token, "cs101")
        media = urllib.request.urljoin(vod, parse_master(http_get(vod)[2].decode())[0]["uri"])
        assert_refused(egress.base, media, token, "cs101")
        egress.assert_stops(signal.SIGTERM)
    finally:
        for p in (ingest, transcode, egress):
            p.close()
