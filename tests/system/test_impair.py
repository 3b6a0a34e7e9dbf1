"""The border impairment proxy (tests/tools/impair.c) under real traffic:
delay, jitter, loss, Gilbert-Elliott bursts, the rate cap, blackouts, and an
SRT transfer through it. Finds the binary from LR_IMPAIR (meson sets it)."""

import json
import os
import queue
import signal
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest

from lrdemo import free_udp_port, scaled, tool, wait_for

IMPAIR = os.environ.get("LR_IMPAIR")
pytestmark = pytest.mark.skipif(
    not IMPAIR, reason="LR_IMPAIR is not set (meson sets it; by hand: "
                       "LR_IMPAIR=build/tests/tools/impair)")

HEADER = struct.Struct("!Id")   # sequence number, send time (time.monotonic())


# --------------------------------------------------------------------------
# helpers: the proxy as a child process, UDP peers that timestamp everything

class Impair:
    """impair as a child process; stdout read by a thread, so its report
    lines never fill the pipe."""

    def __init__(self, tmp_path, to_port, *args):
        if not Path(IMPAIR).exists():
            pytest.fail(f"LR_IMPAIR={IMPAIR} does not exist: build first")
        self.stats_path = tmp_path / f"impair-{id(self):x}.json"
        self.stderr_path = tmp_path / f"impair-{id(self):x}.log"
        self._stderr = open(self.stderr_path, "wb")
        self.lines = queue.Queue()
        self.stdout = []
        self.proc = subprocess.Popen(
            [IMPAIR, "--listen", "127.0.0.1:0", "--to", f"127.0.0.1:{to_port}",
             "--stats-file", str(self.stats_path), *map(str, args)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._stderr)
        threading.Thread(target=self._read, daemon=True).start()
        line = self.wait_line("listening on ")
        self.port = int(line.rsplit(":", 1)[1])

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.stdout.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def wait_line(self, prefix, deadline=5.0):
        end = time.monotonic() + scaled(deadline)
        while time.monotonic() < end:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                continue
            if line is None:
                pytest.fail(f"impair exited ({self.proc.wait()}) before '{prefix}'\n{self.describe()}")
            if line.startswith(prefix):
                return line
        pytest.fail(f"no '{prefix}' line from impair within {deadline} s\n{self.describe()}")

    def stats(self):
        """The counters as of now: SIGUSR2 makes impair rewrite the file."""
        before = self.stats_path.stat().st_mtime_ns if self.stats_path.exists() else None
        self.proc.send_signal(signal.SIGUSR2)
        self.wait_line("report t=")
        self.wait_line("report t=")
        wait_for(lambda: self.stats_path.exists() and self.stats_path.stat().st_mtime_ns != before,
                 2, interval=0.01, what="the stats file")
        return json.loads(self.stats_path.read_text())

    def stop(self):
        """SIGTERM; impair must exit 0 with a final report; return the stats."""
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=5)
        assert rc == 0, self.describe()
        return json.loads(self.stats_path.read_text())

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._stderr.close()

    def describe(self):
        return ("--- impair stdout ---\n%s\n--- stderr ---\n%s"
                % ("\n".join(self.stdout[-20:]), self.stderr_path.read_text(errors="replace")))


class Peer:
    """A UDP socket on an ephemeral loopback port whose thread records
    (seq, send time, arrival time, size) of everything it receives, and
    echoes it back if asked to."""

    def __init__(self, echo=False):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.echo = echo
        self.got = []          # (seq, sent, arrived, size)
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop:
            try:
                data, addr = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            now = time.monotonic()
            seq, sent = HEADER.unpack_from(data)
            self.got.append((seq, sent, now, len(data)))
            if self.echo:
                self.sock.sendto(data, addr)

    def send(self, port, seq, size=200):
        payload = HEADER.pack(seq, time.monotonic())
        self.sock.sendto(payload + b"\0" * (size - len(payload)), ("127.0.0.1", port))

    def seqs(self):
        return [g[0] for g in self.got]

    def close(self):
        self._stop = True
        self._thread.join()
        self.sock.close()


@pytest.fixture
def peers():
    made = []

    def make(echo=False):
        made.append(Peer(echo))
        return made[-1]
    yield make
    for p in made:
        p.close()


@pytest.fixture
def impair(tmp_path):
    made = []

    def start(to_port, *args):
        made.append(Impair(tmp_path, to_port, *args))
        return made[-1]
    yield start
    for p in made:
        p.close()


def paced_send(peer, port, count, interval, size=200, first=0):
    """count datagrams, interval seconds apart (kept on an absolute schedule)."""
    start = time.monotonic()
    for i in range(count):
        delay = start + i * interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        peer.send(port, first + i, size)


def blast(peer, port, count, size=200, batch=50, pause=0.005):
    """count datagrams in small bursts, gently enough that no socket buffer
    on the way overflows (so every loss is the proxy's doing)."""
    for i in range(0, count, batch):
        for s in range(i, min(i + batch, count)):
            peer.send(port, s, size)
        time.sleep(pause)


def drain(proxy, receiver, sent, direction="up"):
    """Wait until the proxy took every datagram and holds none, stop it, and
    wait until the receiver has everything it passed. Returns its stats."""
    wait_for(lambda: (lambda s: s[direction]["in"] >= sent and s[direction]["queued"] == 0)(proxy.stats()),
             scaled(10), interval=0.05, what="the proxy to pass everything on")
    st = proxy.stop()
    wait_for(lambda: len(receiver.got) >= st[direction]["passed"], scaled(5), interval=0.02,
             what="the receiver to read everything passed")
    return st


def median(values):
    v = sorted(values)
    return v[len(v) // 2]


def runs_of(missing):
    """Lengths of the runs of consecutive sequence numbers in missing."""
    runs, prev = [], None
    for s in sorted(missing):
        if prev is not None and s == prev + 1:
            runs[-1] += 1
        else:
            runs.append(1)
        prev = s
    return runs


# --------------------------------------------------------------------------
# command line

def test_help_and_bad_arguments():
    out = subprocess.run([IMPAIR, "--help"], capture_output=True, text=True, timeout=5)
    assert out.returncode == 0
    for opt in ("--listen", "--to", "--seed", "--delay", "--jitter", "--loss", "--ge-burst-ms",
                "--rate-kbps", "--queue-ms", "--blackout", "--report-interval", "--stats-file",
                "SIGUSR1"):
        assert opt in out.stdout, opt
    for args, words in [
            ([], "--listen and --to are required"),
            (["--listen", "127.0.0.1:0", "--to", "127.0.0.1:9", "--loss", "110"], "out of range"),
            (["--listen", "127.0.0.1:0", "--to", "127.0.0.1:9", "--up-delay", "soon"], "not a duration"),
            (["--listen", "127.0.0.1:0", "--to", "127.0.0.1:9", "--blackout", "10s"], "START+LEN"),
            (["--listen", "127.0.0.1:0", "--to", "127.0.0.1:9", "--sideways-loss", "1"], "unknown option"),
            (["--listen", "127.0.0.1:0", "--to", "127.0.0.1:0"], "port must be 1..65535"),
            (["--listen", "127.0.0.1:0", "--to", "127.0.0.1:9", "--queue-ms", "100"], "needs --rate-kbps")]:
        out = subprocess.run([IMPAIR, *args], capture_output=True, text=True, timeout=5)
        assert out.returncode == 2, (args, out.stderr)
        assert words in out.stderr, (args, out.stderr)


# --------------------------------------------------------------------------
# 1. delay and jitter, measured with an echo pair

def test_delay_each_way_and_two_clients(impair, peers):
    echo = peers(echo=True)
    proxy = impair(echo.port, "--up-delay", 40, "--down-delay", 20)
    a, b = peers(), peers()
    for i in range(100):
        a.send(proxy.port, i)
        b.send(proxy.port, 1000 + i)
        time.sleep(0.003)
    wait_for(lambda: len(a.got) == 100 and len(b.got) == 100, scaled(5), interval=0.02,
             what="100 echoes to each client")
    up = [arrived - sent for _, sent, arrived, _ in echo.got]
    rtt_a = [arrived - sent for _, sent, arrived, _ in a.got]
    assert min(up) >= 0.0395 and 0.040 <= median(up) <= 0.045, (min(up), median(up))
    assert min(rtt_a) >= 0.0595 and 0.060 <= median(rtt_a) <= 0.066, (min(rtt_a), median(rtt_a))
    # each client got its own echoes, none of the other's
    assert sorted(a.seqs()) == list(range(100))
    assert sorted(b.seqs()) == list(range(1000, 1100))
    st = proxy.stop()
    assert st["clients"] == 2
    assert st["up"]["delayed"] == 200 and st["down"]["delayed"] == 200


def test_jitter_spreads_the_delay_fifo_or_reordered(impair, peers):
    rx = peers()
    tx = peers()
    fifo = impair(rx.port, "--delay", 30, "--jitter", 10)
    paced_send(tx, fifo.port, 300, 0.002)
    st = drain(fifo, rx, 300)
    delays = sorted(arrived - sent for _, sent, arrived, _ in rx.got)
    p5, p95 = delays[len(delays) // 20], delays[-len(delays) // 20]
    # delay +- jitter is 20..40 ms (FIFO holds push the middle up); the
    # receiver's own timestamps run late on a busy machine, never early
    assert delays[0] >= 0.0195, delays[0]
    assert 0.028 <= median(delays) <= 0.040, median(delays)
    assert p95 - p5 > 0.008, (p5, p95)
    assert rx.seqs() == list(range(300)), "without --reorder the order must hold"
    assert st["up"]["reordered"] == 0

    rx2 = peers()
    mixed = impair(rx2.port, "--delay", 30, "--jitter", 10, "--jitter-dist", "normal", "--reorder")
    paced_send(tx, mixed.port, 300, 0.002)
    st = drain(mixed, rx2, 300)
    got = rx2.seqs()
    assert sorted(got) == list(range(300))
    overtaken = sum(1 for x, y in zip(got, got[1:]) if y < x)
    assert overtaken > 20 and st["up"]["reordered"] > 20, (overtaken, st["up"])


# --------------------------------------------------------------------------
# 2., 3. random loss: statistics, exact counters, repeatability

def test_random_loss_matches_stats(impair, peers):
    rx, tx = peers(), peers()
    proxy = impair(rx.port, "--loss", 10, "--seed", 11)
    blast(tx, proxy.port, 5000)
    st = drain(proxy, rx, 5000)["up"]
    received = len(rx.got)
    lost = 5000 - received
    # binomial(5000, 0.1): mean 500, sd 21; +-5 sd
    assert 394 <= lost <= 606, lost
    assert st["in"] == 5000
    assert st["passed"] == received and st["dropped_loss"] == lost
    assert st["bytes_passed"] == sum(g[3] for g in rx.got)
    assert len(set(rx.seqs())) == received, "duplicates"


def dropped_with_seed(impair, peers, seed, count=2000):
    rx, tx = peers(), peers()
    proxy = impair(rx.port, "--loss", 10, "--seed", seed)
    blast(tx, proxy.port, count)
    st = drain(proxy, rx, count)
    assert st["up"]["in"] == count
    return set(range(count)) - set(rx.seqs())


def test_same_seed_same_drops(impair, peers):
    first = dropped_with_seed(impair, peers, 7)
    again = dropped_with_seed(impair, peers, 7)
    other = dropped_with_seed(impair, peers, 8)
    assert first == again
    assert first != other
    assert len(first ^ other) > 100


# --------------------------------------------------------------------------
# 4. Gilbert-Elliott bursts

def test_bursts_in_packets(impair, peers):
    rx, tx = peers(), peers()
    proxy = impair(rx.port, "--loss", 10, "--ge-burst-pkts", 8, "--seed", 5)
    blast(tx, proxy.port, 5000)
    drain(proxy, rx, 5000)
    missing = set(range(5000)) - set(rx.seqs())
    runs = runs_of(missing)
    assert 200 <= len(missing) <= 800, len(missing)
    assert 4 <= sum(runs) / len(runs) <= 16, (len(runs), sum(runs) / len(runs))

    # the same average loss without bursts: runs barely longer than 1
    rx2 = peers()
    plain = impair(rx2.port, "--loss", 10, "--seed", 5)
    blast(tx, plain.port, 5000)
    drain(plain, rx2, 5000)
    plain_runs = runs_of(set(range(5000)) - set(rx2.seqs()))
    assert sum(plain_runs) / len(plain_runs) < 1.5


def test_bursts_in_time(impair, peers):
    rx, tx = peers(), peers()
    proxy = impair(rx.port, "--loss", 10, "--ge-burst-ms", 40, "--seed", 3)
    paced_send(tx, proxy.port, 2000, 0.002)      # 4 s, a datagram every 2 ms
    drain(proxy, rx, 2000)
    runs = runs_of(set(range(2000)) - set(rx.seqs()))
    assert runs, "no loss at all"
    # a 40 ms burst covers ~20 datagrams
    assert sum(runs) / len(runs) >= 5, runs


# --------------------------------------------------------------------------
# 5. the rate cap and its queue

def test_rate_cap_and_queue_drops(impair, peers):
    rx, tx = peers(), peers()
    proxy = impair(rx.port, "--rate-kbps", 4000, "--queue-ms", 100)
    # 8 Mbit/s offered for 3 s: 1316-byte datagrams, 8 every 10.5 ms
    start = time.monotonic()
    for burst in range(285):
        delay = start + burst * 0.0105 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        for i in range(8):
            tx.send(proxy.port, burst * 8 + i, 1316)
    st = drain(proxy, rx, 285 * 8)["up"]
    got = rx.got[50:]       # skip the start, when the queue fills
    kbps = sum(g[3] for g in got[1:]) * 8 / (got[-1][2] - got[0][2]) / 1000
    assert 3600 <= kbps <= 4400, kbps
    assert st["dropped_queue"] > 500 and st["passed"] == len(rx.got), st


# --------------------------------------------------------------------------
# 6. blackouts: on demand (SIGUSR1) and scheduled

class Stream:
    """A datagram every 2 ms from a thread, until stopped."""

    def __init__(self, peer, port):
        self.peer, self.port, self.sent = peer, port, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        start = time.monotonic()
        while not self._stop.is_set():
            self.peer.send(self.port, self.sent)
            self.sent += 1
            delay = start + self.sent * 0.002 - time.monotonic()
            if delay > 0:
                time.sleep(delay)

    def stop(self):
        self._stop.set()
        self._thread.join()


def test_blackout_on_demand(impair, peers):
    rx, tx = peers(), peers()
    proxy = impair(rx.port, "--delay", 10)
    stream = Stream(tx, proxy.port)
    try:
        wait_for(lambda: len(rx.got) >= 50, scaled(5), interval=0.02, what="traffic before")
        proxy.proc.send_signal(signal.SIGUSR1)
        proxy.wait_line("blackout both on")
        t_on = time.monotonic()
        sent_at_on = stream.sent
        wait_for(lambda: stream.sent >= sent_at_on + 250, scaled(5), interval=0.02,
                 what="half a second of traffic into the blackout")
        t_off_asked = time.monotonic()
        proxy.proc.send_signal(signal.SIGUSR1)
        proxy.wait_line("blackout both off")
        received_at_off = len(rx.got)
        wait_for(lambda: len(rx.got) >= received_at_off + 50, scaled(5), interval=0.02,
                 what="traffic to resume after the blackout")
    finally:
        stream.stop()
    # nothing sent between the blackout's start and its end went through,
    # nothing arrived during it (a margin for what was already on its way)
    during = [g for g in rx.got if t_on <= g[1] <= t_off_asked - 0.05]
    assert not during, during[:5]
    arrived = [g for g in rx.got if t_on + 0.05 <= g[2] <= t_off_asked]
    assert not arrived, arrived[:5]
    st = proxy.stop()["up"]
    assert st["dropped_blackout"] >= 200, st


def test_scheduled_blackout(impair, peers):
    rx, tx = peers(), peers()
    proxy = impair(rx.port, "--blackout", "1s+1s")
    stream = Stream(tx, proxy.port)
    try:
        proxy.wait_line("blackout up on (scheduled)")
        proxy.wait_line("blackout up off (scheduled)")
        received = len(rx.got)
        wait_for(lambda: len(rx.got) >= received + 50, scaled(5), interval=0.02,
                 what="traffic to resume after the scheduled blackout")
    finally:
        stream.stop()
    arrivals = [g[2] for g in rx.got]
    gap = max(b - a for a, b in zip(arrivals, arrivals[1:]))
    assert 0.95 <= gap <= 1.1, gap
    assert proxy.stop()["up"]["dropped_blackout"] >= 450


# --------------------------------------------------------------------------
# 7. SRT recovers what the border loses

def udp_port_bound(port):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def video_packet_hashes(ffprobe, path):
    out = subprocess.run(
        [ffprobe, "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=data_hash",
         "-show_data_hash", "MD5", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, timeout=30)
    return [line.strip(",") for line in out.stdout.split() if "MD5:" in line]


def test_srt_transfer_through_the_border(impair, tmp_path):
    """150 frames cross a 200 ms RTT border with 10% loss each way, intact.
    SRT discards what is still in the receiver's latency buffer when the
    caller hangs up, so the caller streams 2 s more than the 150 frames
    counted; the first 150 must arrive byte for byte."""
    ffmpeg, ffprobe = tool("ffmpeg"), tool("ffprobe")
    sent = tmp_path / "sent.ts"
    out = tmp_path / "out.ts"
    subprocess.run(
        [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", "testsrc2=s=320x240:r=30", "-frames:v", str(150 + 60),
         "-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-pix_fmt", "yuv420p",
         "-f", "mpegts", str(sent)],
        check=True, timeout=60)
    latency_us = 1_000_000     # 5 RTTs: room for several retransmissions
    # No too-late drop: a slow (sanitizer) build must not turn a late
    # retransmission into a damaged frame; what is checked is recovery.
    listen_port = free_udp_port()
    receiver = subprocess.Popen(
        [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
         "-i", f"srt://127.0.0.1:{listen_port}?mode=listener&latency={latency_us}&tlpktdrop=0",
         "-c", "copy", "-f", "mpegts", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    sender = None
    try:
        wait_for(lambda: udp_port_bound(listen_port), scaled(5), interval=0.05,
                 what="the SRT listener to bind")
        proxy = impair(listen_port, "--delay", 100, "--loss", 10, "--seed", 2)
        sender = subprocess.Popen(
            [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-re", "-i", str(sent),
             "-c", "copy", "-f", "mpegts",
             f"srt://127.0.0.1:{proxy.port}?mode=caller&latency={latency_us}&tlpktdrop=0"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert sender.wait(timeout=scaled(30)) == 0, sender.stderr.read().decode()
        # the listener ends with an I/O error once the caller has gone: fine
        receiver.wait(timeout=scaled(20))
    finally:
        for p in (sender, receiver):
            if p and p.poll() is None:
                p.kill()
                p.wait()
    st = proxy.stop()
    assert st["up"]["dropped_loss"] > 20 and st["down"]["dropped_loss"] > 0, st
    want = video_packet_hashes(ffprobe, sent)[:150]
    got = video_packet_hashes(ffprobe, out)[:150]
    assert len(want) == 150
    assert len(got) == 150, f"{len(got)} of 150 frames arrived"
    assert got == want, "frames damaged on the way"
