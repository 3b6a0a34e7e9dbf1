"""`lecture-relay transcode-file` on a terminal (tmux's pane): one progress
line, redrawn in place, with the position, frames per second, the speed
against real time and the time left, ended by a newline; into a pipe, no
progress line and no escape sequences at all."""

import os
import re
import shlex
import subprocess

import pytest

from lrdemo import BINARY, scaled, tool, wait_for

SECONDS = 6
PROGRESS = re.compile(r"transcode-file: (\d\d:\d\d:\d\d\.\d) of (\d\d:\d\d:\d\d\.\d)  "
                      r"([\d.]+) frames/s  ([\d.]+)x real time  (\d\d:\d\d:\d\d) left")


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A short 640x360 lecture (one rung of the default ladder: quick)."""
    d = tmp_path_factory.mktemp("progress")
    src = d / "short.ts"
    subprocess.run([tool("ffmpeg"), "-nostdin", "-v", "error", "-y",
                    "-f", "lavfi", "-i", f"testsrc2=s=640x360:r=30:d={SECONDS}",
                    "-f", "lavfi", "-i", f"sine=d={SECONDS}", "-c:v", "libx264",
                    "-preset", "ultrafast", "-g", "60", "-pix_fmt", "yuv420p", "-c:a", "aac",
                    "-f", "mpegts", str(src)], check=True, timeout=60)
    conf = d / "tc.yaml"
    conf.write_text("log_level: info\n")
    return src, conf, d


def test_progress_on_a_terminal(source):
    src, conf, d = source
    out = d / "tty.ts"
    tmux_bin = tool("tmux")
    sock = f"lr-test-{os.getpid()}-progress"
    argv = [str(BINARY), "transcode-file", "--config", str(conf), str(src), str(out)]
    # the shell waits for a line, so that tmux records the pane's raw
    # output (pipe-pane) from the program's first byte
    raw = d / "pane.raw"
    command = f'read go; {shlex.join(argv)}; echo "exit status $?"; sleep 60'

    def tmux(*args):
        return subprocess.run([tmux_bin, "-L", sock, *args], capture_output=True, text=True,
                              timeout=10)
    try:
        r = tmux("-f", "/dev/null", "new-session", "-d", "-s", "tc", "-x", "160", "-y", "40",
                 command)
        assert r.returncode == 0, r.stderr
        r = tmux("pipe-pane", "-t", "tc", f"cat > {shlex.quote(str(raw))}")
        assert r.returncode == 0, r.stderr
        tmux("send-keys", "-t", "tc", "Enter")
        screen = wait_for(lambda: (lambda s: s if "exit status" in s else None)(
                              tmux("capture-pane", "-p", "-t", "tc").stdout),
                          scaled(60), interval=0.2, what="transcode-file to finish")
    finally:
        tmux("kill-server")
    assert "exit status 0" in screen, screen
    # one line, drawn over itself; the newline after it puts the summary below
    lines = [l for l in screen.splitlines() if "transcode-file: " in l]
    assert len(lines) == 1, screen
    m = PROGRESS.search(lines[0])
    assert m, lines[0]
    position, duration, fps, speed, left = m.groups()
    assert position == duration == f"00:00:0{SECONDS}.0", lines[0]
    assert float(fps) > 0 and float(speed) > 0, lines[0]
    assert left == "00:00:00", lines[0]
    after = screen.split(lines[0], 1)[1]
    assert "frames/s" in after, f"no summary below the progress line:\n{screen}"
    # in the raw output: several drawings, each over the last with a \r,
    # and one newline after the last
    text = raw.read_bytes().decode("utf-8", "replace")
    drawn = text.split("\rtranscode-file: ")
    assert len(drawn) >= 3, repr(text[-2000:])
    assert all("\n" not in part for part in drawn[1:-1]), repr(text[-2000:])
    assert "\n" in drawn[-1], repr(text[-2000:])


def test_no_progress_into_a_pipe(source):
    src, conf, d = source
    r = subprocess.run([str(BINARY), "transcode-file", "--config", str(conf), str(src),
                        str(d / "pipe.ts")], capture_output=True, text=True, timeout=120,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "\r" not in r.stderr and "\x1b" not in r.stderr, repr(r.stderr[-2000:])
    assert "real time" not in r.stderr, r.stderr[-2000:]
    assert "frames/s" in r.stderr, r.stderr[-2000:]  # the summary is still logged
