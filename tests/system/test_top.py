"""`lecture-relay top` against a running demo: the table on a real
terminal (tmux's), refreshed in place, with an unreachable role shown as an
error line while the rest goes on; q gives the terminal back; plain lines
when stdout is a pipe (--once); HTTPS with a certificate made here."""

import itertools
import os
import re
import shlex
import signal
import subprocess

import pytest

from lrdemo import (BINARY, Config, Demo, free_tcp_port, http_get, rung_urls, scaled, tls_egress,
                    tool, wait_for, wait_master)

PLAIN = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ lecture=(?P<lecture>\S+) source=(?P<source>\S+) "
                   r"url=(?P<url>\S+) in_kbps=(?P<in_kbps>\S+) rtt_ms=(?P<rtt_ms>\S+) "
                   r"loss_pct=(?P<loss_pct>\S+) rungs=(?P<rungs>\S+) shed=(?P<shed>\S+) "
                   r"viewers=(?P<viewers>\S+) segment_age_s=(?P<segment_age_s>\S+)$")
NUMBER_OR_DASH = re.compile(r"-|\d+(\.\d+)?")


@pytest.fixture(scope="module")
def relay(tmp_path_factory, request):
    """One demo whose egress serves HTTPS too (for the https:// check).
    At teardown: SIGINT, and it must exit with 0."""
    d = tmp_path_factory.mktemp("top")
    overrides, https_base = tls_egress(d)
    demo = Demo(Config(d, overrides))
    request.module._lr_demo = demo
    try:
        demo.start()
        demo.https_base = https_base
        demo.cert = d / "cert.pem"
        yield demo
        demo.assert_stops(signal.SIGINT)
    finally:
        demo.close()


def dead_url():
    """An http:// address nothing listens on."""
    return f"http://127.0.0.1:{free_tcp_port()}"


def top_once(*args, timeout=20):
    return subprocess.run([str(BINARY), "top", "--once", *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def plain_lines(stdout, lecture="demo"):
    return [m.groupdict() for m in map(PLAIN.match, stdout.splitlines())
            if m and m["lecture"] == lecture]


def test_once_into_a_pipe(relay):
    """One refresh, one plain line for the lecture, no escape sequences."""
    def active():
        r = top_once(relay.base)
        assert r.returncode == 0, r.stdout + r.stderr
        lines = plain_lines(r.stdout)
        # the ingest's bitrate is 0 until its first measure
        return (r, lines) if lines and lines[0]["source"] == "1" and \
            lines[0]["in_kbps"] not in ("-", "0") else None
    r, lines = wait_for(active, scaled(20), interval=0.5,
                        what="top --once to show source 1 and its bitrate")
    assert "\x1b" not in r.stdout and "\r" not in r.stdout, repr(r.stdout)
    assert len(r.stdout.splitlines()) == 1, r.stdout
    line = lines[0]
    assert line["url"].endswith("lecture.mp4"), line
    assert float(line["in_kbps"]) > 0, line
    assert float(line["rtt_ms"]) >= 0, line
    assert float(line["loss_pct"]) == 0, line  # loopback
    # the families another part of the tree adds may not be there yet: "-"
    for key in ("rungs", "shed", "segment_age_s"):
        assert NUMBER_OR_DASH.fullmatch(line[key]), line


def test_viewers_are_counted(relay):
    """A student fetching a media playlist is a viewer of that rendition."""
    urls = rung_urls(relay, wait_master(relay))
    url = sorted(urls.values())[0]

    def counted():
        status, _, _ = http_get(url)
        assert status == 200, url
        # the path may be given, with or without the /metrics
        lines = plain_lines(top_once(relay.base + "/metrics").stdout)
        return lines and lines[0]["viewers"] not in ("-", "0")
    wait_for(counted, scaled(15), interval=0.5, what="top to count a viewer")


def test_once_with_a_role_down(relay):
    """An unreachable role is an error line, the others are shown; --once
    then exits 1. (A bare HOST:PORT is an http:// URL.)"""
    dead = dead_url()
    r = top_once(dead, relay.base.removeprefix("http://"))
    assert r.returncode == 1, r.stdout + r.stderr
    errors = [l for l in r.stdout.splitlines() if " error url=" in l]
    assert len(errors) == 1 and dead in errors[0] and "refused" in errors[0], r.stdout
    assert len(plain_lines(r.stdout)) == 1, r.stdout


def test_https(relay):
    """https:// checks the certificate: refused without --cacert, taken with it."""
    r = top_once(relay.https_base)
    assert r.returncode == 1 and "certificate" in r.stdout, r.stdout + r.stderr
    r = top_once("--cacert", str(relay.cert), relay.https_base)
    assert r.returncode == 0, r.stdout + r.stderr
    assert len(plain_lines(r.stdout)) == 1, r.stdout


def test_bad_command_lines():
    for args in (["top"], ["top", "--interval", "0", "x:1"], ["top", "ftp://h/x"],
                 ["top", "--token", "two words", "http://127.0.0.1:1"]):
        r = subprocess.run([str(BINARY), *args], capture_output=True, text=True, timeout=10)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert r.stderr.startswith("lecture-relay: top"), (args, r.stderr)


_SERVERS = itertools.count()


class Tmux:
    """A tmux server of its own (its own socket, no user config) running
    argv in a 160x40 pane. When it exits, the shell around it writes "exit
    status N" on the terminal as the program left it (tmux's own
    pane_dead_status is empty here for some programs), and the pane stays."""

    def __init__(self, argv):
        self.tmux = tool("tmux")
        # a name never used before: a server just killed under a reused name
        # may still be going away, and a new session then meets it ("server
        # exited unexpectedly", CI on 28e60c2)
        self.socket = f"lr-test-{os.getpid()}-{next(_SERVERS)}"
        command = f'{shlex.join(argv)}; echo "exit status $?"; sleep 60'
        r = self.run("-f", "/dev/null", "new-session", "-d", "-s", "top", "-x", "160", "-y", "40",
                     command)
        assert r.returncode == 0, r.stderr

    def run(self, *args):
        return subprocess.run([self.tmux, "-L", self.socket, *args], capture_output=True,
                              text=True, timeout=10)

    def capture(self):
        return self.run("capture-pane", "-p", "-t", "top").stdout

    def pane(self, fmt):
        return self.run("display-message", "-p", "-t", "top", fmt).stdout.strip()

    def kill(self):
        self.run("kill-server")


def lecture_block(screen):
    """The lecture's row and its links' rows, as on the screen."""
    lines = screen.splitlines()
    start = next((i for i, l in enumerate(lines) if l.startswith("demo ")), None)
    if start is None:
        return None
    block = [lines[start]]
    block += [l for l in lines[start + 1:] if l.startswith("  link: ")]
    return block


def test_table_in_tmux(relay):
    """On a terminal: the lecture's row, the dead role's error line, numbers
    that change from one refresh to the next, and q gives the screen back."""
    dead = dead_url()
    tmux = Tmux([str(BINARY), "top", "--interval", "0.5", relay.base, dead])
    try:
        first = wait_for(lambda: lecture_block(tmux.capture()), scaled(15), interval=0.2,
                         what="the lecture's row in the pane")
        screen = tmux.capture()
        assert "LECTURE" in screen and "SOURCE" in screen, screen
        assert re.search(rf"^  {re.escape(dead)}  error: .*refused", screen, re.M), screen
        row = first[0].split()
        assert row[1] == "1" and row[2].endswith("lecture.mp4"), first
        assert any(l.startswith("  link: ") for l in first), first

        def changed():
            block = lecture_block(tmux.capture())
            return block if block and block != first else None
        wait_for(changed, scaled(10), interval=0.3, what="the lecture's numbers to change")
        # still one table, redrawn in place: the heading appears once
        assert tmux.capture().count("LECTURE") == 1
        assert "exit status" not in tmux.capture(), "top exited"

        tmux.run("send-keys", "-t", "top", "q")
        screen = wait_for(lambda: (lambda s: s if "exit status" in s else None)(tmux.capture()),
                          scaled(5), interval=0.1, what="top to quit on q")
        assert "exit status 0" in screen, screen
        # the alternate screen is gone: the terminal shows what it had before
        assert "LECTURE" not in screen, screen
    finally:
        tmux.kill()


def test_ctrl_c_in_tmux(relay):
    """Ctrl-C quits as q does, with the terminal given back."""
    tmux = Tmux([str(BINARY), "top", "--interval", "0.5", relay.base])
    try:
        wait_for(lambda: lecture_block(tmux.capture()), scaled(15), interval=0.2,
                 what="the lecture's row in the pane")
        tmux.run("send-keys", "-t", "top", "C-c")
        screen = wait_for(lambda: (lambda s: s if "exit status" in s else None)(tmux.capture()),
                          scaled(5), interval=0.1, what="top to quit on Ctrl-C")
        assert "exit status 0" in screen and "LECTURE" not in screen, screen
    finally:
        tmux.kill()
