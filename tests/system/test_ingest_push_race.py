"""Lecturers who publish to one lecture at the same instant: exactly one is
taken (ingest/lecture.h, lr_lecture_claim_push). Apart from
test_ingest_push.py so that it runs in lane 2 (tests/system/meson.build's
part2_files), beside the sanitizer build, not in it: the admission it
checks runs in every push the sanitized files make."""

import subprocess

import pytest

from lrdemo import REPO, lecture_urls, scaled, seq, tool, wait_for
from test_ingest_push import KEY, PASS, push_relay  # noqa: F401


def copy_push(port, streamid, passphrase=None):
    """A publisher that costs no encoding: the sample lecture, looped, its
    packets copied into MPEG-TS over SRT at real time."""
    url = f"srt://127.0.0.1:{port}?streamid={streamid}&latency=120000"
    if passphrase:
        url += f"&passphrase={passphrase}&pbkeylen=16"
    return subprocess.Popen(
        [tool("ffmpeg"), "-nostdin", "-hide_banner", "-loglevel", "error", "-re",
         "-stream_loop", "-1", "-i", str(REPO / "samples" / "lecture.mp4"), "-c", "copy",
         "-f", "mpegts", url],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("lecture,n", [("math2", 20), ("cs101", 5)])
def test_publishers_at_the_same_instant_one_is_taken(push_relay, lecture, n):
    """n lecturers publish to one lecture at once (no takeover): exactly one
    is taken and plays, the others are refused. math2 has a publish key, so
    the first admitted holds the lecture from its handshake; cs101 has only
    a passphrase, so the choice is made at the hand-over."""
    relay, port, pubs = push_relay
    sid = f"#!::r={lecture},m=publish" + (f",s={KEY}" if lecture == "math2" else "")
    pubs += [copy_push(port, sid, PASS if lecture == "cs101" else None) for _ in range(n)]
    url = next(iter(lecture_urls(relay, lecture).values()))
    wait_for(lambda: seq(url) >= 2, scaled(40), what=f"segments of {lecture}")
    wait_for(lambda: sum(p.poll() is None for p in pubs) <= 1, scaled(20),
             what="all publishers but one refused")
    alive = [p for p in pubs if p.poll() is None]
    assert len(alive) == 1, f"{len(alive)} publishers still sending"
    before = seq(url)
    wait_for(lambda: seq(url) >= before + 2, scaled(20), what="the one taken goes on")
    # each of the others refused with a line: at its handshake, or at the
    # hand-over ("another publisher came first")
    refusals = [l for l in relay.stderr_text().splitlines()
                if f"lecture={lecture}" in l and (" rejected: " in l or " refused: " in l)]
    assert len(refusals) >= n - 1, "\n".join(refusals)

