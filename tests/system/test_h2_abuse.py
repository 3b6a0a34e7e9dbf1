"""HTTP/2 abuse (issue 28): the known denial-of-service families, each
driven with python3-h2 (Debian's HTTP/2 library: its connection for what a
client may send, its hyperframe frames for what it would refuse to) against
the egress's HTTP server (tests/tools/serve_fixture), over h2c by prior
knowledge and over TLS (ALPN h2).

For each attack, for 1 s and at least 20 connections, one after the other:
- every attacking connection is refused with GOAWAY(ENHANCE_YOUR_CALM) or
  closed, the server naming the budget spent in
  lr_http2_refused_connections_total{reason};
- the server's CPU time per attacking connection stays under a bound;
- a viewer in another process, connected before the attack and fetching
  the live playlist over HTTP/1.1 all along (a few hundred requests), gets
  every answer, under 50 ms at p99 (under a second in the sanitizer build,
  which runs this file for memory safety).

The server and the viewer run at nice -10 (not in the sanitizer build)
where the test may raise a
priority (root, as in CI), the attacker at 0: the p99 is then the server's
own (its loop busy with the attack), not the scheduling of a 2-core host
where the other lane of scripts/test runs encoders beside this file.

The budgets (egress/http_internal.h, docs/http.md "HTTP/2 abuse") are read
from the header, so the bounds follow them."""

import json
import os
import re
import select
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lrdemo import free_tcp_port, make_cert, metric, metrics, scaled
from test_http_server import FIXTURE, Server, publish_lecture

h2 = pytest.importorskip("h2.connection", reason="python3-h2 is not installed")
import h2.config  # noqa: E402
import h2.events  # noqa: E402
import hpack  # noqa: E402
from hyperframe.frame import (ContinuationFrame, DataFrame, HeadersFrame,  # noqa: E402
                              PingFrame, PriorityFrame, SettingsFrame,
                              WindowUpdateFrame)

pytestmark = pytest.mark.skipif(not FIXTURE.exists(), reason=f"{FIXTURE} not built")

HEADER = Path(__file__).resolve().parents[2] / "egress" / "http_internal.h"
BUDGET = {k: int(v) for k, v in re.findall(r"#define (H2_\w+|MAX_HEADER_BYTES)\s+\(?(\d+)",
                                           HEADER.read_text())}
BUDGET["MAX_HEADER_BYTES"] = 16 * 1024  # (16 * 1024) in the header
ENHANCE_YOUR_CALM = 0xB
PLAYLIST = "/live/cs101/720p/index.m3u8"
ATTACK_S = 1.0
# CPU the server may spend on one attacking connection: accept, handshake
# (TLS), the frames up to the budget, GOAWAY
CPU_PER_CONN_S = scaled(0.05)
MIN_CONNS = 20


SANITIZED = scaled(1) > 1  # meson's LR_TIME_SCALE: 2 in the sanitizer build
# The viewer's p99: the 50 ms in build/. The sanitizer build runs
# this file for memory safety under attack, its loop several times slower
# beside the other lane (CI read 55 ms, then 245 ms): there the viewer must
# get every answer, none held back a second.
VIEWER_P99_MS = 1000 if SANITIZED else 50


def raise_priority():
    """preexec_fn: nice -10 if allowed (see the module's text); not for the
    sanitizer build, whose slow server at -10 would starve the other lane."""
    if SANITIZED:
        return
    try:
        os.nice(-10)
    except PermissionError:
        pass

VIEWER = r"""
import http.client, json, sys, time
port, path, seconds = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
lat, bad = [], []
c.request("GET", path)  # a viewer already watching: connected before the attack
c.getresponse().read()
print("ready", flush=True)
end = time.monotonic() + seconds
while time.monotonic() < end:
    t = time.monotonic()
    try:
        c.request("GET", path)
        r = c.getresponse()
        r.read()
        if r.status != 200:
            bad.append(r.status)
    except Exception as e:
        bad.append(repr(e))
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    lat.append((time.monotonic() - t) * 1000)
    time.sleep(0.002)  # a few hundred answers: a p99, not the one worst
print(json.dumps({"lat": lat, "bad": bad}))
"""


def p99(xs):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * 0.99))]


def rss_mib(pid):
    m = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(m.group(1)) / 1024


def cpu_s(pid):
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


class Attacker:
    """One HTTP/2 connection: h2's client state for the preface, SETTINGS
    and requests; raw frames where an attack needs what h2 won't send."""

    def __init__(self, port, tls_ctx=None):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        if tls_ctx:
            s = tls_ctx.wrap_socket(s, server_hostname="127.0.0.1")
            assert s.selected_alpn_protocol() == "h2"
        self.s = s
        self.h2 = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True,
                                                                         validate_inbound_headers=False))
        self.h2.initiate_connection()
        self.goaway = None
        self.inbuf = b""
        self.closed = False
        self.sent = 0
        self.flush()

    def request_headers(self, path=PLAYLIST):
        return [(":method", "GET"), (":scheme", "http"), (":authority", "x"), (":path", path)]

    def flush(self, raw=b""):
        """Sends what h2 has queued plus raw frames, then reads what came
        back without waiting. False once the server has closed."""
        data = self.h2.data_to_send() + raw
        if self.closed:
            return False
        try:
            self.s.sendall(data)
            self.sent += len(data)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.closed = True
        self.read(0)
        return not self.closed

    def read(self, timeout):
        """Reads what the server sent, looking for its GOAWAY in the frames
        (parsed here: h2's state gives up at the first frame for a stream
        it never opened, as the raw attacks' are)."""
        end = time.monotonic() + timeout
        while not self.closed:
            left = max(0.0, end - time.monotonic())
            pending = isinstance(self.s, ssl.SSLSocket) and self.s.pending()
            if not pending and not select.select([self.s], [], [], left)[0]:
                return
            try:
                b = self.s.recv(65536)
            except (ConnectionResetError, ssl.SSLError, OSError):
                self.closed = True
                return
            if not b:
                self.closed = True
                return
            self.inbuf += b
            while len(self.inbuf) >= 9:
                n = int.from_bytes(self.inbuf[:3], "big")
                if len(self.inbuf) < 9 + n:
                    break
                if self.inbuf[3] == 7 and n >= 8:  # GOAWAY: last stream, error code
                    self.goaway = int.from_bytes(self.inbuf[13:17], "big")
                self.inbuf = self.inbuf[9 + n:]
            if self.goaway is not None:
                self.read_rest()
                return

    def read_rest(self):
        try:
            self.s.settimeout(5)
            while self.s.recv(65536):
                pass
        except (ConnectionResetError, socket.timeout, ssl.SSLError, OSError):
            pass
        self.closed = True

    def close(self):
        self.s.close()


def next_id(a):
    return a.h2.get_next_available_stream_id()


# Each attack: a batch of frames (bytes) for connection a, sent again and
# again until the server closes the connection; the budget it spends.
def rapid_reset(a):
    out = b""
    for _ in range(16):
        sid = next_id(a)
        a.h2.send_headers(sid, a.request_headers(), end_stream=True)
        a.h2.reset_stream(sid, error_code=8)  # CANCEL
    return out


def continuation_flood(payload):
    """A header block that never ends (HEADERS without END_HEADERS, then
    CONTINUATION frames: empty ones, or 4 KiB each)."""
    def attack(a):
        # nothing of h2's own (a SETTINGS ACK) inside the block: libh2o
        # would stop at that, with PROTOCOL_ERROR
        a.h2.data_to_send()
        if not getattr(a, "block_open", False):
            a.block_open, a.block_sid = True, next_id(a)
            hf = HeadersFrame(a.block_sid, hpack.Encoder().encode(a.request_headers()))
            hf.flags.add("END_STREAM")
            return hf.serialize()
        return b"".join(ContinuationFrame(a.block_sid, payload).serialize() for _ in range(4))
    return attack


def ping_flood(a):
    return b"".join(PingFrame(0, opaque_data=b"%08d" % i).serialize() for i in range(64))


def settings_flood(a):
    return b"".join(SettingsFrame(0, settings={SettingsFrame.INITIAL_WINDOW_SIZE: 65535 + i})
                    .serialize() for i in range(64))


def priority_shuffle(a):
    """CVE-2019-9513: the priority tree of three open requests reshuffled
    by PRIORITY frames, again and again. (PRIORITY frames for idle streams
    libh2o stops itself, past http2.max_streams_for_priority.)"""
    if not hasattr(a, "open_sids"):
        a.open_sids = []
        for _ in range(3):
            a.open_sids.append(next_id(a))
            a.h2.send_headers(a.open_sids[-1], a.request_headers(), end_stream=False)
    frames = []
    for i in range(64):
        sid, dep = a.open_sids[i % 3], a.open_sids[(i + 1 + i // 3) % 3]
        if dep == sid:
            dep = a.open_sids[(i + 1) % 3]
        f = PriorityFrame(sid)
        f.depends_on, f.stream_weight, f.exclusive = dep, i % 255, bool(i % 2)
        frames.append(f.serialize())
    return b"".join(frames)


def empty_frames(a):
    """CVE-2019-9518: empty DATA frames without END_STREAM on an open
    stream."""
    if not getattr(a, "open_sid", None):
        a.open_sid = next_id(a)
        a.h2.send_headers(a.open_sid, a.request_headers(), end_stream=False)
    return b"".join(DataFrame(a.open_sid, b"").serialize() for _ in range(64))


def data_dribble(a):
    """CVE-2019-9511: a 1-byte window, opened a byte at a time, for a
    5000-byte segment."""
    if not getattr(a, "dribbling", False):
        a.dribbling = True
        out = SettingsFrame(0, settings={SettingsFrame.INITIAL_WINDOW_SIZE: 1}).serialize()
        sids = []
        for _ in range(10):
            sid = next_id(a)
            a.h2.send_headers(sid, a.request_headers("/live/cs101/720p/9.m4s"), end_stream=True)
            sids.append(sid)
        a.sids = sids
        return out
    return b"".join(WindowUpdateFrame(sid, window_increment=1).serialize()
                    for sid in a.sids for _ in range(6))


def made_you_reset(a):
    """CVE-2025-8671: requests the server itself must reset (DATA after
    END_STREAM): each is answered, then reset, never counted as the
    client's RST_STREAM."""
    if not hasattr(a, "enc"):  # raw HEADERS: h2 would stop at 100 open streams
        a.enc, a.sid = hpack.Encoder(), 1
    out = []
    for _ in range(16):
        hf = HeadersFrame(a.sid, a.enc.encode(a.request_headers()))
        hf.flags.add("END_HEADERS")
        hf.flags.add("END_STREAM")
        out += [hf.serialize(), DataFrame(a.sid, b"x").serialize()]
        a.sid += 2
    return b"".join(out)


def hpack_block(a, refs, end_stream):
    """A request whose header block holds `refs` 1-byte references to a
    4000-byte entry of the dynamic table (HPACK state amplification,
    CVE-2026-54340): each a whole field for the server to decode."""
    first = not hasattr(a, "sid")
    if first:
        a.sid = 1
    block = (b"\x82\x86\x84\x01\x01x"  # GET, http, /, :authority x (static table)
             + (hpack.Encoder().encode([("x-big", "a" * 4000)], huffman=False) if first else b"")
             + b"\xbe" * refs)             # 0x80 | 62: the newest dynamic entry
    hf = HeadersFrame(a.sid, block)
    hf.flags.add("END_HEADERS")
    if end_stream:
        hf.flags.add("END_STREAM")
    a.sid += 2
    return hf.serialize()


def unfinished_requests(a):
    """Requests that never end (no END_STREAM), each with as many
    references as a block may hold: the server keeps their decoded fields."""
    return hpack_block(a, 90, end_stream=False)


def hpack_bomb(a):
    """Whole requests, each a block of 12,000 references."""
    return b"".join(hpack_block(a, 12000, end_stream=True) for _ in range(4))


ATTACKS = {
    # name: (batch builder, reason the server gives)
    "rapid_reset": (rapid_reset, "rapid_reset"),
    "continuation_flood_empty": (continuation_flood(b""), "header_block"),
    "continuation_flood_4k": (continuation_flood(b"a" * 4096), "header_block"),
    "ping_flood": (ping_flood, "control_frames"),
    "settings_flood": (settings_flood, "control_frames"),
    "priority_shuffle": (priority_shuffle, "control_frames"),
    "empty_frames": (empty_frames, "control_frames"),
    "data_dribble": (data_dribble, "control_frames"),
    "made_you_reset": (made_you_reset, "control_frames"),
    "unfinished_requests": (unfinished_requests, "unfinished_requests"),
    "hpack_bomb": (hpack_bomb, "header_block"),
}


@pytest.fixture(scope="module", params=["h2c", "h2-tls"])
def target(request, tmp_path_factory):
    """One server for every attack on a transport: each test counts its own
    refusals from the metrics."""
    tls = request.param == "h2-tls"
    tmp_path = tmp_path_factory.mktemp(request.param)
    egress = {"max_conns_per_ip": 0}
    if tls:
        make_cert(tmp_path)
        egress.update({"tls_listen": f"127.0.0.1:{free_tcp_port()}",
                       "tls_cert": str(tmp_path / "cert.pem"), "tls_key": str(tmp_path / "key.pem")})
    s = Server(tmp_path, egress, preexec_fn=raise_priority)
    publish_lecture(s)
    ctx = None
    if tls:
        ctx = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
        ctx.set_alpn_protocols(["h2"])
    yield s, (s.tls_port if tls else s.port), ctx
    s.stop()


def refused(s, reason):
    return metric(metrics(s.base + "/metrics"), "lr_http2_refused_connections_total",
                  reason=reason) or 0


def run_attack(s, port, ctx, build):
    """Connection after connection for ATTACK_S; returns each one's
    (closed, goaway code, seconds from first frame to close)."""
    results = []
    end = time.monotonic() + ATTACK_S
    while time.monotonic() < end or len(results) < MIN_CONNS:
        a = Attacker(port, ctx)
        t0 = time.monotonic()
        # a bound far past every budget: a connection still open here was
        # never stopped
        for _ in range(2000):
            if not a.flush(build(a)):
                break
        if not a.closed:
            a.read(scaled(1.0))
        results.append((a.closed, a.goaway, time.monotonic() - t0, a.sent))
        a.close()
    return results


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_http2_attack_is_refused_and_viewers_go_on(target, attack):
    s, port, ctx = target
    build, reason = ATTACKS[attack]
    before = refused(s, reason)
    viewer = subprocess.Popen([sys.executable, "-c", VIEWER, str(s.port), PLAYLIST,
                               str(ATTACK_S + 0.3)], stdout=subprocess.PIPE, text=True,
                              preexec_fn=raise_priority)
    assert viewer.stdout.readline().strip() == "ready"
    cpu0, rss0 = cpu_s(s.p.pid), rss_mib(s.p.pid)
    results = run_attack(s, port, ctx, build)
    cpu, rss = cpu_s(s.p.pid) - cpu0, rss_mib(s.p.pid) - rss0
    out, _ = viewer.communicate(timeout=30)
    v = json.loads(out)
    n = len(results)
    print(f"{attack}: {n} connections, each closed after "
          f"{max(r[2] for r in results) * 1000:.0f} ms at most, {max(r[3] for r in results)} "
          f"bytes sent at most; GOAWAY codes {sorted({r[1] for r in results}, key=str)}; "
          f"server CPU {cpu * 1000:.0f} ms ({cpu / n * 1000:.2f} ms a connection); "
          f"viewer p99 {p99(v['lat']):.1f} ms over {len(v['lat'])} requests; "
          f"RSS {rss:+.1f} MiB")
    assert all(r[0] for r in results), "a connection was never closed"
    assert all(r[1] in (None, ENHANCE_YOUR_CALM) for r in results), results
    assert any(r[1] == ENHANCE_YOUR_CALM for r in results), "no GOAWAY(ENHANCE_YOUR_CALM) read"
    assert refused(s, reason) - before == n, (reason, n)
    assert cpu / n < CPU_PER_CONN_S, f"{cpu / n * 1000:.1f} ms of CPU a connection"
    # (ASan's quarantine holds freed memory back: no bound on RSS there)
    if not SANITIZED:
        assert rss < 64, f"the server grew by {rss:.0f} MiB"
    assert not v["bad"], v["bad"]
    assert len(v["lat"]) >= 30 and p99(v["lat"]) < VIEWER_P99_MS, (len(v["lat"]), p99(v["lat"]))


def test_a_player_like_client_is_never_refused(target):
    """What a player does over one connection for a while: a few hundred
    requests, some cancelled (a level switch), pings, window updates
    as data is read: never near a budget."""
    s, port, ctx = target
    reasons = ("rapid_reset", "header_block", "control_frames", "unfinished_requests")
    before = sum(refused(s, r) for r in reasons)
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    if ctx:
        sock = ctx.wrap_socket(sock, server_hostname="127.0.0.1")
    c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    c.initiate_connection()
    sock.sendall(c.data_to_send())
    answered, goaway = 0, None
    headers = [(":method", "GET"), (":scheme", "http"), (":authority", "x")]
    for i in range(300):
        sid = c.get_next_available_stream_id()
        path = "/live/cs101/720p/9.m4s" if i % 3 else PLAYLIST
        c.send_headers(sid, headers + [(":path", path)], end_stream=True)
        cancelled = i % 10 == 5
        if cancelled:
            c.reset_stream(sid, error_code=8)
        elif i % 50 == 0:
            c.ping(b"%08d" % i)
        sock.sendall(c.data_to_send())
        deadline, done = time.monotonic() + 5, cancelled
        while not done and goaway is None and time.monotonic() < deadline:
            b = sock.recv(65536)
            assert b, f"closed by the server at request {i}"
            for ev in c.receive_data(b):
                if isinstance(ev, h2.events.DataReceived):
                    c.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id == sid:
                    done = True
                    answered += 1
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    goaway = ev.error_code
            sock.sendall(c.data_to_send())
        assert goaway is None and done, (i, goaway)
    sock.close()
    assert answered == 270
    assert sum(refused(s, r) for r in reasons) == before
