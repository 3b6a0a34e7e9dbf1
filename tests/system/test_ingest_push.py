"""Lecturers push over SRT to one ingest port: two lectures at once from two
independent encoders (the ffmpeg CLI and GStreamer), each admitted by its own
passphrase or publish key; wrong passphrases, unknown lectures and duplicate
publishers are refused at the handshake while the live lectures flow on."""

import signal
import subprocess
import urllib.request

import pytest

from lrdemo import (Config, Demo, decode_errors, download, fetch_media, ffmpeg_push,
                    free_udp_port, gst_push, lecture_urls, scaled, seq, wait_for, wait_segments,
                    with_media)

PASS = "lecture-pass-0123"
KEY = "k3y-for-math2"






def refused(proc, deadline=15):
    """The publisher gave up (exit != 0) because the ingest refused it."""
    try:
        proc.wait(timeout=deadline)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return False
    return proc.returncode != 0


@pytest.fixture
def push_relay(tmp_path):
    port = free_udp_port()
    conf = Config(tmp_path, {
        "lecture": "cs101",
        "ingest": {
            "listen": f"srt://127.0.0.1:{port}",
            "lectures": [
                {"name": "cs101", "passphrase": PASS, "sources": ["push"]},
                {"name": "math2", "publish_key": KEY, "sources": ["push"]},
            ],
        },
    })
    relay = Demo(conf)
    relay.start()
    pubs = []
    yield relay, port, pubs
    for p in pubs:
        if p.poll() is None:
            p.kill()
            p.wait()
    try:
        relay.assert_stops(signal.SIGINT)
    finally:
        relay.close()






def test_two_lecturers_push_and_intruders_are_refused(push_relay, tmp_path):
    relay, port, pubs = push_relay
    pubs.append(ffmpeg_push(port, "#!::r=cs101,m=publish", PASS))
    pubs.append(gst_push(port, f"#!::r=math2,m=publish,s={KEY}"))

    urls = {lec: lecture_urls(relay, lec) for lec in ("cs101", "math2")}
    for lec, rungs in urls.items():
        for name, url in rungs.items():
            m = wait_segments(url, 2, scaled(40))
            seg = with_media(m["segments"])[-1]
            path = download(urllib.request.urljoin(url, seg["uri"]),
                            tmp_path / f"{lec}-{name}-{seg['seq']}.ts")
            rc, err = decode_errors(path)
            assert rc == 0 and not err, f"{lec}/{name} segment does not decode: {err}"

    cs101 = next(iter(urls["cs101"].values()))
    before = seq(cs101)

    # Each intruder is refused at the handshake.
    intruders = {
        "wrong passphrase": ffmpeg_push(port, "#!::r=cs101,m=publish", "not-the-passphrase", 5),
        "unknown lecture": ffmpeg_push(port, "#!::r=nope,m=publish", None, 5),
        "duplicate publisher": ffmpeg_push(port, "#!::r=cs101,m=publish", PASS, 5),
        "wrong publish key": ffmpeg_push(port, "#!::r=math2,m=publish,s=guess", None, 5),
    }
    for what, p in intruders.items():
        pubs.append(p)
        assert refused(p), f"{what}: the publisher was not refused"
    log = relay.stderr_text()
    assert "unknown lecture" in log
    assert "already has a live publisher" in log
    assert "wrong publish key" in log

    # ...and the live lectures went on without a gap.
    wait_for(lambda: seq(cs101) >= before + 2, scaled(20),
             what="cs101 segments to keep coming after the intruders")
    assert all(p.poll() is None for p in pubs[:2]), "a legitimate publisher was cut off"
    m = fetch_media(cs101)
    assert not any(s["discontinuity"] for s in m["segments"]), "cs101 saw a discontinuity"

