"""The RTMP(S) ingest's protocol core on its own, through tests/tools/rtmp_dump
(path in env LR_RTMP_DUMP; the module is skipped without it): real
publishers (ffmpeg, GStreamer's rtmp2sink) whose FLV output ffprobe must read
as H.264 + AAC of the right length; refusals with a reason in the log; RTMPS
with a certificate made here; hostile peers (absurd lengths, a zero chunk
size, 4 GiB AMF counts, silence, too many connections) dropped without the
process growing."""

import os
import shutil
import signal
import socket
import struct
import subprocess
import time

import pytest

from lrdemo import make_cert, wait_for

DUMP = os.environ.get("LR_RTMP_DUMP")
pytestmark = pytest.mark.skipif(not DUMP or not os.access(DUMP, os.X_OK),
                                reason="LR_RTMP_DUMP (path of tests/tools/rtmp_dump) not set")
SCALE = float(os.environ.get("LR_TIME_SCALE", "1"))


# ---------------------------------------------------------------- the tool

class Dump:
    def __init__(self, tmp, *args):
        self.out = tmp / "out"
        self.out.mkdir(exist_ok=True)
        self.log_path = tmp / "rtmp_dump.log"
        self.log_file = open(self.log_path, "w")
        self.proc = subprocess.Popen([DUMP, "--out", str(self.out), *args],
                                     stdout=subprocess.PIPE, stderr=self.log_file, text=True)
        self.ports = {}
        want = 1 + ("--tls-port" in args)
        while len(self.ports) < want:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("rtmp_dump exited: " + self.log())
            key, _, value = line.strip().partition("=")
            self.ports[key] = int(value)
        self.port = self.ports["port"]

    def log(self):
        return self.log_path.read_text()

    def wait_log(self, text, timeout=10):
        deadline = time.monotonic() + timeout * SCALE
        while time.monotonic() < deadline:
            if text in self.log():
                return True
            time.sleep(0.05)
        return False

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=15 * SCALE)
        self.log_file.close()
        return rc


@pytest.fixture
def dump(tmp_path):
    d = Dump(tmp_path)
    yield d
    assert d.stop() == 0, d.log()


def ffmpeg_publish(url, seconds=3, extra=(), timeout=60):
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
           "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
           "-f", "lavfi", "-i", "sine", "-t", str(seconds),
           "-c:v", "libx264", "-g", "25", "-c:a", "aac", *extra, "-f", "flv", url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout * SCALE)


def probe(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-count_frames",
                          "-show_entries", "stream=codec_type,codec_name,nb_read_frames"
                          ":format=duration,start_time", "-of", "default=nw=1", str(path)],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    streams, fmt, cur = [], {}, None
    for line in out.splitlines():
        key, _, value = line.partition("=")
        if key == "codec_name":
            cur = {"codec_name": value}
            streams.append(cur)
        elif key in ("codec_type", "nb_read_frames") and cur is not None:
            cur[key] = value
        else:
            fmt[key] = value
    return streams, fmt


def flv_files(d, lecture):
    return sorted(d.out.glob(f"{lecture}-*.flv"))


def check_h264_aac(path, seconds, start=0.0):
    streams, fmt = probe(path)
    codecs = sorted((s["codec_type"], s["codec_name"]) for s in streams)
    assert codecs == [("audio", "aac"), ("video", "h264")], codecs
    video = next(s for s in streams if s["codec_type"] == "video")
    assert abs(int(video["nb_read_frames"]) - 25 * seconds) <= 2, video
    assert abs(float(fmt["duration"]) - seconds) < 0.3, fmt
    assert abs(float(fmt["start_time"]) - start) < 0.5, fmt


# ---------------------------------------------------------- real publishers

def test_ffmpeg_publish_reads_back_as_h264_aac(dump):
    r = ffmpeg_publish(f"rtmp://127.0.0.1:{dump.port}/live/x?key=k")
    assert r.returncode == 0, r.stderr
    assert dump.wait_log("lecture=x wrote"), dump.log()
    assert "ended: End of file" in dump.log()
    assert "handshake (digest" in dump.log()  # FFmpeg signs its C1
    [flv] = flv_files(dump, "x")
    check_h264_aac(flv, 3)


def test_extended_timestamps_survive(dump):
    # past 0xFFFFFF ms every header carries a 32-bit extended timestamp
    r = ffmpeg_publish(f"rtmp://127.0.0.1:{dump.port}/live/y?key=k",
                       extra=["-output_ts_offset", "16780"])
    assert r.returncode == 0, r.stderr
    assert dump.wait_log("lecture=y wrote"), dump.log()
    [flv] = flv_files(dump, "y")
    check_h264_aac(flv, 3, start=16780)


def gst_missing():
    if not shutil.which("gst-launch-1.0"):
        return "no gst-launch-1.0"
    for e in ("videotestsrc", "openh264enc", "h264parse", "flvmux", "rtmp2sink",
              "audiotestsrc", "avenc_aac", "aacparse"):
        if subprocess.run(["gst-inspect-1.0", e], capture_output=True).returncode:
            return "no GStreamer element " + e
    return None


@pytest.mark.skipif(gst_missing() is not None, reason=str(gst_missing()))
def test_gstreamer_rtmp2sink_publish(dump):
    pipeline = (f"videotestsrc num-buffers=75 ! video/x-raw,width=320,height=240,framerate=25/1 "
                f"! openh264enc ! h264parse ! flvmux name=m streamable=true "
                f"! rtmp2sink location=rtmp://127.0.0.1:{dump.port}/live/y?key=k "
                f"audiotestsrc num-buffers=100 ! avenc_aac ! aacparse ! m.")
    r = subprocess.run(["gst-launch-1.0", "-q", *pipeline.split()], capture_output=True,
                       text=True, timeout=60 * SCALE)
    assert r.returncode == 0, r.stdout + r.stderr
    assert dump.wait_log("lecture=y wrote"), dump.log()
    [flv] = flv_files(dump, "y")
    streams, fmt = probe(flv)
    # GStreamer repeats @setDataFrame; it must stay metadata, not a data stream
    assert sorted(s["codec_name"] for s in streams) == ["aac", "h264"], streams
    video = next(s for s in streams if s["codec_type"] == "video")
    assert int(video["nb_read_frames"]) == 75
    assert abs(float(fmt["duration"]) - 3) < 0.3, fmt


def test_rtmps_publish(tmp_path):
    cert, key = make_cert(tmp_path)
    d = Dump(tmp_path, "--tls-port", "0", "--cert", str(cert), "--key", str(key))
    try:
        r = ffmpeg_publish(f"rtmps://127.0.0.1:{d.ports['tls_port']}/live/x?key=k")
        assert r.returncode == 0, r.stderr
        assert d.wait_log("lecture=x wrote"), d.log()
        [flv] = flv_files(d, "x")
        check_h264_aac(flv, 3)
        # plain RTMP against the TLS port is a failed TLS handshake, logged
        s = socket.create_connection(("127.0.0.1", d.ports["tls_port"]))
        s.sendall(b"\x03" + bytes(1536))
        s.settimeout(5 * SCALE)
        assert closed(s)
        assert d.wait_log("tls handshake"), d.log()
    finally:
        assert d.stop() == 0, d.log()


# ---------------------------------------------------------------- refusals

@pytest.mark.parametrize("path,reason", [
    ("live/x?key=bad", "refused: wrong key"),
    ("live/x", "refused: no key"),
    ("live/nosuch?key=k", "refused: unknown lecture"),
])
def test_refused_publish(dump, path, reason):
    r = ffmpeg_publish(f"rtmp://127.0.0.1:{dump.port}/{path}", seconds=1, timeout=30)
    assert r.returncode != 0
    assert dump.wait_log(reason), dump.log()
    lecture = path.split("/")[1].split("?")[0]
    # an unknown stream name is never logged (it may be someone's key)
    shown = lecture if lecture != "nosuch" else "?"
    assert f"rtmp: lecture={shown} peer=127.0.0.1:" in dump.log()
    assert "nosuch" not in dump.log()
    assert not flv_files(dump, lecture)


def test_refusal_status_codes(dump):
    s = RawClient(dump.port)
    s.connect_and_publish("x?key=bad")
    assert b"NetStream.Publish.Unauthorized" in s.read_until(b"Unauthorized")
    assert closed(s.sock)
    s = RawClient(dump.port)
    s.connect_and_publish("nosuch?key=k")
    assert b"NetStream.Publish.BadName" in s.read_until(b"BadName")
    assert closed(s.sock)


def test_second_publisher_of_a_live_lecture_is_refused(dump):
    first = RawClient(dump.port)
    first.connect_and_publish("x?key=k")
    first.read_until(b"NetStream.Publish.Start")
    second = RawClient(dump.port)
    second.connect_and_publish("x?key=k")
    assert b"BadName" in second.read_until(b"BadName")
    assert dump.wait_log("refused: already live"), dump.log()
    first.sock.close()


# ---------------------------------------------------- hostile and idle peers

def amf_str(s):
    b = s.encode()
    return b"\x02" + struct.pack(">H", len(b)) + b


def amf_num(x):
    return b"\x00" + struct.pack(">d", x)


def amf_obj(props):
    body = b"".join(struct.pack(">H", len(k)) + k.encode() + v for k, v in props.items())
    return b"\x03" + body + b"\x00\x00\x09"


def chunk(csid, typ, stream_id, payload, ts=0, chunk_size=128, length=None):
    length = len(payload) if length is None else length
    out = bytes([csid]) + ts.to_bytes(3, "big") + length.to_bytes(3, "big") + bytes([typ])
    out += struct.pack("<I", stream_id) + payload[:chunk_size]
    for i in range(chunk_size, len(payload), chunk_size):
        out += bytes([0xC0 | csid]) + payload[i:i + chunk_size]
    return out


def closed(sock, timeout=5):
    """True once the server closes the connection (reading whatever came)."""
    sock.settimeout(timeout * SCALE)
    try:
        while sock.recv(65536):
            pass
        return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


class RawClient:
    """Just enough of an RTMP publisher to misbehave on purpose."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.settimeout(5 * SCALE)
        self.got = b""
        self.sock.sendall(b"\x03" + bytes(8) + os.urandom(1528))  # C0, plain C1
        s0s1s2 = self.recv_exact(1 + 2 * 1536)
        assert s0s1s2[0] == 3
        self.sock.sendall(s0s1s2[1:1537])  # C2 echoes S1

    def recv_exact(self, n):
        b = b""
        while len(b) < n:
            part = self.sock.recv(n - len(b))
            assert part, "server closed during the handshake"
            b += part
        return b

    def read_until(self, needle):
        while needle not in self.got:
            part = self.sock.recv(65536)
            if not part:
                break
            self.got += part
        return self.got

    def command(self, name, txid, *args, stream_id=0, csid=3):
        self.sock.sendall(chunk(csid, 20, stream_id, amf_str(name) + amf_num(txid) + b"".join(args)))

    def connect_and_publish(self, name):
        self.command("connect", 1, amf_obj({"app": amf_str("live"),
                                            "tcUrl": amf_str("rtmp://127.0.0.1/live")}))
        self.command("createStream", 2, b"\x05")
        self.command("publish", 3, b"\x05", amf_str(name), amf_str("live"), stream_id=1, csid=4)


HOSTILE = {
    # 16 MiB - 1, the most a 24-bit length field can say: over our 8 MiB limit
    "absurd length": (chunk(3, 20, 0, b"x" * 100, length=0xFFFFFF), "exceeds the limit"),
    "zero chunk size": (chunk(2, 1, 0, struct.pack(">I", 0)), "peer set chunk size 0"),
    "chunk size 2^32-1": (chunk(2, 1, 0, struct.pack(">I", 0xFFFFFFFF)), "the top bit must be 0"),
    "4 GiB strict array": (chunk(3, 20, 0, amf_str("connect") + amf_num(1) + b"\x0a\xff\xff\xff\xff\x05"),
                           "not AMF0"),
    "4 GiB long string": (chunk(3, 20, 0, amf_str("connect") + amf_num(1) + b"\x0c\xff\xff\xff\xffab"),
                          "not AMF0"),
    "type 3 first": (bytes([0xC7]) + b"x" * 10, "starts with a type 3 header"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_chunks_dropped(dump, name):
    data, why = HOSTILE[name]
    c = RawClient(dump.port)
    c.sock.sendall(data)
    assert closed(c.sock), name
    assert dump.wait_log(why), dump.log()
    assert "dropped" in dump.log()


def test_hostile_peers_do_not_grow_the_process(dump):
    def round_of_hostiles():
        for data, _ in HOSTILE.values():
            c = RawClient(dump.port)
            c.sock.sendall(data)
            assert closed(c.sock)

    for _ in range(3):  # warm up thread stacks, allocator arenas, OpenSSL
        round_of_hostiles()
    before = dump.rss_kib()
    for _ in range(20):
        round_of_hostiles()
    grown = dump.rss_kib() - before
    assert grown < 8 * 1024, f"RSS grew by {grown} KiB over {20 * len(HOSTILE)} hostile peers"


def test_unfinished_messages_are_bounded(dump):
    # 4 MiB chunks of 8 MiB messages on ever more chunk streams: the peer may
    # make us hold 16 MiB, no more
    before = dump.rss_kib()
    c = RawClient(dump.port)
    c.sock.sendall(chunk(2, 1, 0, struct.pack(">I", 4 << 20)))
    part = bytes(4 << 20)
    try:
        for i in range(8):
            c.sock.sendall(bytes([3 + i]) + bytes(3) + (8 << 20).to_bytes(3, "big") + b"\x09"
                           + struct.pack("<I", 1) + part)
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert closed(c.sock)
    assert dump.wait_log("unfinished messages would hold more than 16777216 bytes"), dump.log()
    assert dump.rss_kib() - before < 48 * 1024


def test_silent_peers_dropped(tmp_path):
    d = Dump(tmp_path, "--idle-ms", "1000")
    try:
        # after the handshake, nothing
        c = RawClient(d.port)
        t0 = time.monotonic()
        assert closed(c.sock, timeout=5)
        assert time.monotonic() - t0 < 3 * SCALE
        assert d.wait_log("dropped: nothing received for 1000 ms before its publish"), d.log()
        # published, then nothing: the FLV reader gives up
        c = RawClient(d.port)
        c.connect_and_publish("x?key=k")
        c.read_until(b"NetStream.Publish.Start")
        assert closed(c.sock, timeout=5)
        assert d.wait_log("lecture=x peer=127.0.0.1"), d.log()
        assert d.wait_log("dropped: nothing received for 1000 ms"), d.log()
        assert d.wait_log("ended: Connection timed out"), d.log()
    finally:
        assert d.stop() == 0, d.log()


def test_connection_count_bounded(tmp_path):
    d = Dump(tmp_path, "--max-conns", "2")
    try:
        held = [RawClient(d.port) for _ in range(2)]
        extra = socket.create_connection(("127.0.0.1", d.port))
        assert closed(extra)
        assert d.wait_log("refused: 2 connections already"), d.log()
        for c in held:
            c.sock.close()
        # the slots come back, once the server has seen the two closes
        def a_slot():
            try:
                return RawClient(d.port)
            except (AssertionError, OSError):  # refused: closed in the handshake
                return None
        c = wait_for(a_slot, 5 * SCALE, interval=0.05, what="a connection slot back")
        c.connect_and_publish("x?key=k")
        assert b"NetStream.Publish.Start" in c.read_until(b"NetStream.Publish.Start")
        c.sock.close()
    finally:
        assert d.stop() == 0, d.log()
