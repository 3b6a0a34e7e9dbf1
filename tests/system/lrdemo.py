"""Shared helpers for the system and browser tests of lecture-relay.

Standard library only (plus pytest for the fixtures), so that Debian's
/usr/bin/python3 with python3-pytest runs it as is.

What is here:
  free_udp_port(), free_tcp_port()     ports nobody listens on right now
  write_config(dir, ...)               a YAML config on free loopback ports
  Demo                                 `lecture-relay run` as a child process
  http_get(), master/media playlist parsing, segment download
  ffprobe helpers (first video packet of a segment, full decode check)
  fixtures: lr_config, start_demo (factory), demo (module-scoped),
            no_secret_in_any_log (the run: no configured secret in any log)
"""

import contextlib
import datetime
import json
import os
import queue
import re
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BINARY = Path(os.environ.get("LR_BINARY", REPO / "build" / "lecture-relay"))

# Deadlines for things that depend on machine speed (segments appearing,
# sequence advancing) are multiplied by this; the sanitizer build sets it > 1.
# The contract's own numbers (watch line within 20 s, stop within 2 s) are not,
# but for the leak checker's scan of the heap at exit, which the sanitizer
# build adds to every stop: 6 s more there. A CI run, beside the other lane,
# had a five-lecture relay done 0.17 s after SIGINT and exited past 2 s;
# another had test_source_end's seven-lecture relay log its last line 0.22 s
# after SIGINT and not exit in 4 s. With nothing else running that relay
# exits 0.95 s after SIGINT, 0.47 s with detect_leaks=0 (2026-12-07).
TIME_SCALE = float(os.environ.get("LR_TIME_SCALE", "1"))
WATCH_DEADLINE = 20.0
STOP_DEADLINE = 2.0 if TIME_SCALE == 1 else 8.0
LECTURE = "demo"


def scaled(seconds):
    return seconds * TIME_SCALE


# --------------------------------------------------------------------------
# ports and configuration

_handed_out = set()


def _port_range():
    """LR_PORT_RANGE=LOW-HIGH: hand out ports from there only (scripts/test
    gives the suites it runs side by side disjoint ranges below the kernel's
    ephemeral ones, so neither can take a port the other has picked but not
    yet bound). Unset: whatever the kernel picks."""
    spec = os.environ.get("LR_PORT_RANGE")
    if not spec:
        return None
    low, high = map(int, spec.split("-"))
    return low, high


_next_in_range = None


def _candidate(kind):
    global _next_in_range
    r = _port_range()
    if r is None:
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]
    if _next_in_range is None:
        _next_in_range = r[0] + os.getpid() % (r[1] - r[0] + 1)
    port = _next_in_range
    _next_in_range = r[0] if port >= r[1] else port + 1
    try:
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind(("127.0.0.1", port))
    except OSError:
        return None
    return port


def _free_port(kind):
    for _ in range(1000):
        port = _candidate(kind)
        if port is None:
            continue
        # SRT is UDP and HTTP is TCP; make sure a port is free on both, and
        # never hand the same port out twice in one test session.
        other = socket.SOCK_STREAM if kind == socket.SOCK_DGRAM else socket.SOCK_DGRAM
        try:
            with socket.socket(socket.AF_INET, other) as s:
                s.bind(("127.0.0.1", port))
        except OSError:
            continue
        if port not in _handed_out:
            _handed_out.add(port)
            return port
    raise RuntimeError("no free port found" + (f" in LR_PORT_RANGE={os.environ['LR_PORT_RANGE']}"
                                               if _port_range() else ""))


def tcp_listening(port, proto="tcp"):
    """True once something listens on TCP port or already serves a client
    on it (or, proto="udp", has bound the UDP port); read from /proc, so a
    server that serves a single client, like ffmpeg -listen 1, is not used up
    (and one that already took its client still counts)."""
    for table in (f"/proc/net/{proto}", f"/proc/net/{proto}6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            local, state = row.split()[1], row.split()[3]
            if state in (("0A", "01") if proto == "tcp" else ("07", "01")) and \
                    int(local.rsplit(":", 1)[1], 16) == port:
                return True
    return False


def free_udp_port():
    return _free_port(socket.SOCK_DGRAM)


def free_tcp_port():
    return _free_port(socket.SOCK_STREAM)


def make_cert(directory, cn="127.0.0.1"):
    """A self-signed certificate for 127.0.0.1 made at test time: returns
    (cert.pem, key.pem) in directory."""
    d = Path(directory)
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", f"/CN={cn}", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def tls_egress(directory):
    """Config overrides for an egress that also serves HTTPS (HTTP/2 by ALPN)
    with a certificate made here, and that listener's base URL."""
    cert, key = make_cert(directory)
    port = free_tcp_port()
    return ({"egress": {"tls_listen": f"127.0.0.1:{port}", "tls_cert": str(cert),
                        "tls_key": str(key)}}, f"https://127.0.0.1:{port}")


def _yaml_scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    return json.dumps(str(v))  # a JSON string is a valid double-quoted YAML scalar


def to_yaml(value, indent=0):
    """Block-style YAML for nested dicts/lists of scalars (enough for configs)."""
    pad = "  " * indent
    lines = []
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, (dict, list)) and v:
                lines.append(f"{pad}{k}:")
                lines.append(to_yaml(v, indent + 1))
            elif isinstance(v, (dict, list)):
                lines.append(f"{pad}{k}: {'{}' if isinstance(v, dict) else '[]'}")
            else:
                lines.append(f"{pad}{k}: {_yaml_scalar(v)}")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                sub = to_yaml(item, indent + 1).splitlines()
                lines.append(f"{pad}- {sub[0].strip()}")
                lines.extend(sub[1:])
            else:
                lines.append(f"{pad}- {_yaml_scalar(item)}")
    else:
        lines.append(pad + _yaml_scalar(value))
    return "\n".join(lines)


# The egress's MPEG-TS segments (audio muxed into each rendition) for tests
# about what reaches the egress from a lecturer: one file has it all, and the
# per-egress TS setting stays tested. Merge it into a Config's overrides.
TS_SEGMENTS = {"egress": {"segment_format": "ts"}}


def deep_merge(base, extra):
    out = dict(base)
    for k, v in (extra or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


# Secrets in logs: every secret of every config a test writes, and every
# log file of the program, for conftest's check at the end of the run (no
# secret may appear in any log line: docs/deploy.md, common/redact.h).
SECRET_KEYS = {"passphrase", "publish_key", "token_secrets", "metrics_token"}
# Every test config's egress.metrics_token: /metrics from another address
# than loopback (test_multihost's namespaces) needs it.
METRICS_TOKEN = "metrics-token-of-the-tests-0123"
METRICS_AUTH = {"Authorization": f"Bearer {METRICS_TOKEN}"}
SECRETS = set()
LOGS = []


def _secrets_of(value, key=None):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _secrets_of(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from _secrets_of(v, key)
    elif isinstance(value, str) and key in SECRET_KEYS and len(value) >= 4:
        yield value


def note_secrets(data):
    """Registers the secrets of a config's data (a dict as written to YAML)."""
    SECRETS.update(_secrets_of(data))


def secret_leaks():
    """[(log file, line number, secret)] for every configured secret found in
    any log of the run."""
    leaks = []
    for path in LOGS:
        try:
            text = Path(path).read_text(errors="replace")
        except OSError:
            continue
        for n, line in enumerate(text.splitlines(), 1):
            leaks += [(str(path), n, s) for s in SECRETS if s in line]
    return leaks


@pytest.fixture(scope="session", autouse=True)
def no_secret_in_any_log():
    """After the whole run (conftest makes it every suite's): no passphrase,
    publish key or token secret of any config the tests wrote appears in any
    line the program logged."""
    yield
    leaks = secret_leaks()
    assert not leaks, "secrets in the logs:\n" + "\n".join(
        f"{path}:{n}: {secret[:2]}… ({len(secret)} characters)" for path, n, secret in leaks[:20])


class Config:
    """A config file on fresh loopback ports. .path, .ports, .data"""

    def __init__(self, directory, overrides=None, name="lecture-relay.yaml"):
        self.transcode_port = free_udp_port()  # ingest.link -> transcode.listen
        self.egress_port = free_udp_port()     # transcode.link -> egress.listen
        self.http_port = free_tcp_port()
        self.lecture = (overrides or {}).get("lecture", LECTURE)
        data = {
            "log_level": "info",
            "lecture": self.lecture,
            "ingest": {"link": f"srt://127.0.0.1:{self.transcode_port}"},
            "transcode": {
                "listen": f"srt://127.0.0.1:{self.transcode_port}",
                "link": f"srt://127.0.0.1:{self.egress_port}",
            },
            "egress": {
                "listen": f"srt://127.0.0.1:{self.egress_port}",
                "http": f"127.0.0.1:{self.http_port}",
                "metrics_token": METRICS_TOKEN,
            },
        }
        if os.environ.get("LR_SOURCE"):  # another sample than the built-in default
            data["ingest"]["source"] = os.environ["LR_SOURCE"]
        self.data = deep_merge(data, overrides)
        note_secrets(self.data)
        self.path = Path(directory) / name
        self.path.write_text("# written by tests/system/lrdemo.py\n" + to_yaml(self.data) + "\n")
        self.path.chmod(0o640)  # it may hold secrets (the program warns about 644)


# --------------------------------------------------------------------------
# the program as a child process

CREATED = []  # every Demo made during the current test (attach_stderr)


class Demo:
    """`lecture-relay run --config FILE`, with stdout read by a thread and
    stderr collected in a file (shown when a test fails)."""

    def __init__(self, config, binary=BINARY, args=None, log_dir=None):
        self.config = config
        self.binary = Path(binary)
        self.args = args if args is not None else ["run", "--config", str(config.path)]
        log_dir = Path(log_dir or config.path.parent)
        self.stderr_path = log_dir / f"stderr-{id(self):x}.log"
        self.proc = None
        self.url = None       # the watch URL printed by the program
        self.base = None      # http://HOST:PORT
        self.stdout_lines = []
        self._lines = queue.Queue()
        CREATED.append(self)
        LOGS.append(self.stderr_path)

    # -- start / stop
    def start(self, deadline=WATCH_DEADLINE):
        if not self.binary.exists():
            pytest.fail(f"{self.binary} does not exist: build first (scripts/setup) or set LR_BINARY")
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            [str(self.binary), *self.args],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._stderr,
            cwd=str(REPO))
        threading.Thread(target=self._read_stdout, daemon=True).start()
        end = time.monotonic() + deadline
        while True:
            left = end - time.monotonic()
            if left <= 0:
                self.kill()
                pytest.fail(f"no 'watch:' line on stdout within {deadline:.0f} s\n{self.describe()}")
            try:
                line = self._lines.get(timeout=min(left, 0.2))
            except queue.Empty:
                if self.proc.poll() is not None and self._lines.empty():
                    pytest.fail(f"lecture-relay exited with {self.proc.returncode} before printing "
                                f"'watch:'\n{self.describe()}")
                continue
            if line is None:
                continue
            m = re.match(r"^watch: (http://([^/\s]+)/watch/(\S+))\s*$", line)
            if m:
                self.url, self.base = m.group(1), "http://" + m.group(2)
                assert m.group(3) == self.config.lecture, line
                return self

    def start_background(self):
        """Start a role that prints no watch line (ingest, transcode)."""
        if not self.binary.exists():
            pytest.fail(f"{self.binary} does not exist: build first (scripts/setup) or set LR_BINARY")
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            [str(self.binary), *self.args],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._stderr,
            cwd=str(REPO))
        threading.Thread(target=self._read_stdout, daemon=True).start()
        return self

    def _read_stdout(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.stdout_lines.append(line)
            self._lines.put(line)
        self._lines.put(None)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGINT, deadline=STOP_DEADLINE):
        """Send sig; return the exit code, or None if it did not exit in time
        (then it is killed)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            t0 = time.monotonic()
            try:
                self.proc.wait(timeout=deadline)
                print(f"lecture-relay exited {time.monotonic() - t0:.2f} s after "
                      f"{signal.Signals(sig).name}")
            except subprocess.TimeoutExpired:
                self.threads_at_timeout = self.threads()
                self.kill()
                return None
        return self.proc.returncode

    def threads(self):
        """Each thread still running: its name, state, and what it waits in
        (kernel wait channel, system call number), for a stop that hangs."""
        out = []
        for task in sorted(Path(f"/proc/{self.proc.pid}/task").glob("*")):
            try:
                comm = (task / "comm").read_text().strip()
                state = (task / "stat").read_text().rsplit(")", 1)[1].split()[0]
                wchan = (task / "wchan").read_text().strip()
                call = (task / "syscall").read_text().split()[0]
            except OSError:
                continue
            out.append(f"{task.name} {comm} {state} wchan={wchan} syscall={call}")
        return out

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def close(self):
        self.kill()
        if getattr(self, "_stderr", None):
            self._stderr.close()

    # -- diagnostics
    def stderr_text(self):
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def describe(self, tail=80):
        err = self.stderr_text().splitlines()[-tail:]
        rc = self.proc.poll() if self.proc else None
        return ("--- lecture-relay (exit %s) stdout ---\n%s\n--- stderr (last %d lines) ---\n%s"
                % (rc, "\n".join(self.stdout_lines[-20:]), tail, "\n".join(err)))

    def assert_stops(self, sig=signal.SIGINT, deadline=STOP_DEADLINE):
        name = signal.Signals(sig).name
        rc = self.stop(sig, deadline)
        assert rc is not None, (f"did not exit within {deadline} s of {name}; threads then:\n"
                                + "\n".join(getattr(self, "threads_at_timeout", [])) + "\n"
                                + self.describe())
        assert rc == 0, f"exit code {rc} after {name}\n{self.describe()}"

    # -- HTTP
    def live(self, path=""):
        return f"{self.base}/live/{self.config.lecture}/{path}"


# --------------------------------------------------------------------------
# HTTP and playlists

def http_get(url, timeout=5.0, headers=None):
    """(status, headers, body); status is None if it could not connect."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}),
                                    timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers or {}), e.read()
    except (urllib.error.URLError, OSError):
        return None, {}, b""


@contextlib.contextmanager
def raised_priority(niceness=-10):
    """Processes started inside run at `niceness` where the test may raise a
    priority (root, as in CI): a test whose subject is real-time behaviour
    (a player following the link) then measures the product, not the other
    lane of scripts/test sharing the 2 cores. Elsewhere, nothing changes."""
    before = os.getpriority(os.PRIO_PROCESS, 0)
    try:
        os.setpriority(os.PRIO_PROCESS, 0, niceness)
    except PermissionError:
        pass
    try:
        yield
    finally:
        try:
            os.setpriority(os.PRIO_PROCESS, 0, before)
        except PermissionError:
            pass  # only a raise can be refused, and that one was


def steering_manifest(node, lecture, source="127.0.0.1"):
    """The steering manifest as node answers it to a client at source."""
    host, port = node.base.rsplit("//", 1)[1].rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=5, source_address=(source, 0))
    try:
        s.sendall(f"GET /steer/{lecture}.json?_HLS_pathway=a&_HLS_throughput=5000000 "
                  f"HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    return json.loads(body)


def steering_priority(node, lecture, source="127.0.0.1"):
    return steering_manifest(node, lecture, source)["PATHWAY-PRIORITY"]


def wait_for(predicate, deadline, interval=0.25, what="condition"):
    """Poll predicate() until it returns something truthy; return that."""
    end = time.monotonic() + deadline
    last = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() >= end:
            pytest.fail(f"timed out after {deadline:.0f} s waiting for {what}")
        time.sleep(interval)


_ATTR = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')


def parse_attrs(text):
    return {k: v[1:-1] if v.startswith('"') else v for k, v in _ATTR.findall(text)}


def parse_master(text):
    """[{'attrs': {...}, 'uri': str}] for each EXT-X-STREAM-INF."""
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    assert lines and lines[0] == "#EXTM3U", f"not a playlist: {text[:200]!r}"
    variants = []
    for i, line in enumerate(lines):
        if line.startswith("#EXT-X-STREAM-INF:"):
            uri = next((l for l in lines[i + 1:] if not l.startswith("#")), None)
            variants.append({"attrs": parse_attrs(line.split(":", 1)[1]), "uri": uri})
    return variants


def parse_media(text):
    """{'sequence': int, 'target': float|None,
    'segments': [{'seq','uri','duration','discontinuity','gap'}]} (gap: EXT-X-GAP, no media)"""
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    assert lines and lines[0] == "#EXTM3U", f"not a playlist: {text[:200]!r}"
    out = {"sequence": 0, "target": None, "segments": [], "endlist": False}
    duration, disc, gap = None, False, False
    for line in lines:
        if line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            out["sequence"] = int(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-TARGETDURATION:"):
            out["target"] = float(line.split(":", 1)[1])
        elif line.startswith("#EXTINF:"):
            duration = float(line.split(":", 1)[1].split(",")[0])
        elif line == "#EXT-X-DISCONTINUITY":
            disc = True
        elif line == "#EXT-X-GAP":
            gap = True
        elif line == "#EXT-X-ENDLIST":
            out["endlist"] = True
        elif line.startswith("#EXT-X-MAP:"):
            out["map"] = parse_attrs(line.split(":", 1)[1]).get("URI")
        elif not line.startswith("#"):
            out["segments"].append({"seq": out["sequence"] + len(out["segments"]),
                                    "uri": line, "duration": duration, "discontinuity": disc,
                                    "gap": gap})
            duration, disc, gap = None, False, False
    return out


def with_media(segments):
    """The segments of parse_media's list that have media (not EXT-X-GAP:
    a slot that node has no segment for, docs/regions.md)."""
    return [s for s in segments if not s["gap"]]


def fetch_text(url):
    status, _, body = http_get(url)
    assert status == 200, f"GET {url} -> {status}"
    return body.decode("utf-8")


def video_variants(variants):
    """The variants with a picture (the audio-only variant left out)."""
    return [v for v in variants if "RESOLUTION" in v["attrs"]]


def fetch_master(demo):
    """The master playlist's video variants."""
    return video_variants(parse_master(fetch_text(demo.live("master.m3u8"))))


def wait_master(demo, deadline=None):
    """The master playlist's video variants, once it lists at least one."""
    def get():
        status, _, body = http_get(demo.live("master.m3u8"))
        if status != 200:
            return None
        v = video_variants(parse_master(body.decode("utf-8")))
        return v or None
    return wait_for(get, deadline or scaled(30), what="master playlist with variants")


def rung_urls(demo, variants):
    """{rung name: absolute media playlist URL}; name = first path part of the URI."""
    return {v["uri"].split("/")[0]: urllib.request.urljoin(demo.live("master.m3u8"), v["uri"])
            for v in variants}


def fetch_media(url):
    status, _, body = http_get(url)
    if status != 200:
        return None
    return parse_media(body.decode("utf-8"))


def wait_segments(url, count, deadline=None):
    """The media playlist once it lists at least count segments."""
    def get():
        m = fetch_media(url)
        return m if m and len(m["segments"]) >= count else None
    return wait_for(get, deadline or scaled(40), what=f"{count} segments in {url}")


def init_section_url(url):
    """The EXT-X-MAP URI of the playlist (index.m3u8) beside a segment URL."""
    playlist = urllib.request.urljoin(url, "index.m3u8")
    m = fetch_media(playlist)
    assert m and m.get("map"), f"{playlist}: no EXT-X-MAP"
    return urllib.request.urljoin(playlist, m["map"])


def download(url, dest):
    """Saves url's body to dest. An fMP4 segment or part (.m4s) gets its
    rendition's init section (its playlist's EXT-X-MAP) in front, so the file
    decodes on its own as a TS segment does."""
    status, _, body = http_get(url, timeout=10)
    assert status == 200, f"GET {url} -> {status}"
    assert body, f"GET {url}: empty body"
    if url.split("?", 1)[0].endswith(".m4s"):
        init_url = init_section_url(url)
        status, _, init = http_get(init_url, timeout=10)
        assert status == 200, f"GET {init_url} -> {status}"
        body = init + body
    Path(dest).write_bytes(body)
    return Path(dest)


# --------------------------------------------------------------------------
# ffprobe / ffmpeg

def _first_video(path, what, entries):
    """ffprobe's first video packet or decoded frame (what: packet|frame)."""
    r = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", f"-show_{what}s",
         "-read_intervals", "%+#1", "-show_entries", f"{what}={entries}",
         "-of", "json", str(path)],
        capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, f"ffprobe {path}: {r.stderr}"
    found = json.loads(r.stdout).get(f"{what}s", [])
    assert found, f"ffprobe {path}: no video {what}"
    return found[0]


def first_video_packet(path):
    """The first video packet of a file, as ffprobe reports it (pts, pts_time, flags)."""
    return _first_video(path, "packet", "pts,pts_time,dts,flags")


def first_video_frame(path):
    """The first decoded video frame (key_frame, pict_type, pts)."""
    return _first_video(path, "frame", "key_frame,pict_type,pts,pts_time")


def streams(path):
    r = subprocess.run(["ffprobe", "-v", "error", "-show_entries",
                        "stream=codec_type,codec_name,width,height", "-of", "json", str(path)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, f"ffprobe {path}: {r.stderr}"
    return json.loads(r.stdout).get("streams", [])


def _mp4_boxes(b, path, off=0, end=None):
    """(body start, end) of every box at path (a list of box types) in b."""
    end = len(b) if end is None else end
    while off + 8 <= end:
        size, typ = struct.unpack(">I4s", b[off:off + 8])
        body = off + 8
        if size == 1:
            size, body = struct.unpack(">Q", b[off + 8:off + 16])[0], off + 16
        if size < 8 or off + size > end:
            return
        if typ.decode("latin-1") == path[0]:
            if len(path) == 1:
                yield body, off + size
            else:
                yield from _mp4_boxes(b, path[1:], body, off + size)
        off += size


def cmaf_first_presentation(init, segment):
    """(ticks, timescale) of a CMAF segment's first sample as a player sees
    it: the fragment's decode time (tfdt) plus the sample's composition
    offset (signed in trun version 1), with no edit list applied. ffprobe
    reads it otherwise: it shifts every PTS of a track with negative offsets
    by the largest of them, so two renditions whose encoders delay B-frames
    differently read up to a frame apart."""
    body, _ = next(_mp4_boxes(init, ["moov", "trak", "mdia", "mdhd"]))
    v = init[body]
    timescale = struct.unpack(">I", init[body + 12:body + 16] if v == 0
                              else init[body + 20:body + 24])[0]
    body, _ = next(_mp4_boxes(segment, ["moof", "traf", "tfdt"]))
    v = segment[body]
    tfdt = struct.unpack(">Q" if v == 1 else ">I",
                         segment[body + 4:body + (12 if v == 1 else 8)])[0]
    body, _ = next(_mp4_boxes(segment, ["moof", "traf", "trun"]))
    v, flags = segment[body], int.from_bytes(segment[body + 1:body + 4], "big")
    p = body + 8 + (4 if flags & 1 else 0) + (4 if flags & 4 else 0)
    p += 4 * sum(1 for f in (0x100, 0x200, 0x400) if flags & f)
    cto = struct.unpack(">i" if v else ">I", segment[p:p + 4])[0] if flags & 0x800 else 0
    return tfdt + cto, timescale


def size_changing_source(tmp_path, parts, x264_args=("-preset", "ultrafast")):
    """A TS of testsrc2 (with a sine) at each (size, seconds) of parts in
    turn, one clock throughout: the parts are joined by ffmpeg's concat
    demuxer, which carries the timestamps on (a part with B-frames starts
    its pictures after its first DTS, and parts simply shifted by their
    length would overlap)."""
    ffmpeg, lines = tool("ffmpeg"), []
    for i, (size, secs) in enumerate(parts):
        p = tmp_path / f"part{i}.ts"
        subprocess.run([ffmpeg, "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                        f"testsrc2=s={size}:r=30:d={secs}", "-f", "lavfi", "-i", f"sine=d={secs}",
                        "-c:v", "libx264", "-pix_fmt", "yuv420p", *map(str, x264_args),
                        "-c:a", "aac", "-f", "mpegts", str(p)], check=True, timeout=120)
        lines.append(f"file '{p}'\n")
    listing = tmp_path / "parts.txt"
    listing.write_text("".join(lines))
    src = tmp_path / "changes.ts"
    subprocess.run([ffmpeg, "-nostdin", "-v", "error", "-y", "-f", "concat", "-safe", "0",
                    "-i", str(listing), "-c", "copy", "-f", "mpegts", str(src)],
                   check=True, timeout=60)
    return src


def decode_errors(path):
    """Decode every stream of a file; return (returncode, stderr). The null
    output keeps the file's own time base: at ffmpeg's guessed frame rate, a
    source with jittery timestamps (GStreamer under load) rounds two frames
    onto one tick and ffmpeg reports that as a muxing error."""
    r = subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-v", "error",
                        "-i", str(path), "-map", "0", "-enc_time_base", "-1",
                        "-f", "null", "-"],
                       capture_output=True, text=True, timeout=60)
    return r.returncode, r.stderr.strip()


# --------------------------------------------------------------------------
# lecturers and the ingest's log (push, failover and pull tests)

def live_encoder(output, seconds=120, rate=30,
                 codecs=("-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-c:a", "aac")):
    """A lecturer's encoder: ffmpeg sending a live 640x360 test picture and a
    tone, paced at real time, to output (its format and URL args)."""
    return subprocess.Popen(
        [tool("ffmpeg"), "-nostdin", "-hide_banner", "-loglevel", "error", "-re",
         "-f", "lavfi", "-i", f"testsrc2=s=640x360:r={rate}:d={seconds}",
         "-f", "lavfi", "-i", f"sine=f=440:sample_rate=48000:d={seconds}",
         "-pix_fmt", "yuv420p", *codecs, *output],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def ffmpeg_push(port, streamid, passphrase=None, seconds=120):
    url = f"srt://127.0.0.1:{port}?streamid={streamid}&latency=120000"
    if passphrase:
        url += f"&passphrase={passphrase}&pbkeylen=16"
    return live_encoder(["-f", "mpegts", url], seconds)


def vlc_play(url, seconds):
    """libVLC (tests/tools/vlc_play.py) plays url for `seconds`: the summary."""
    r = subprocess.run(["/usr/bin/python3", str(REPO / "tests" / "tools" / "vlc_play.py"), url,
                        str(seconds)], capture_output=True, text=True, timeout=seconds + 30)
    lines = [l for l in r.stdout.splitlines() if l.startswith("{")]
    assert lines, f"vlc_play.py said nothing:\n{r.stdout}\n{r.stderr[-2000:]}"
    return json.loads(lines[-1])


def gst_push(port, streamid):
    return subprocess.Popen(
        [tool("gst-launch-1.0"), "-q",
         "videotestsrc", "is-live=true", "pattern=ball", "!",
         "video/x-raw,width=640,height=360,framerate=30/1", "!", "videoconvert", "!",
         "openh264enc", "gop-size=30", "!", "h264parse", "!", "queue", "!",
         "mpegtsmux", "name=m", "alignment=7", "!",
         "srtsink", f"uri=srt://127.0.0.1:{port}", f"streamid={streamid}", "latency=120",
         "audiotestsrc", "is-live=true", "wave=sine", "!", "audioconvert", "!",
         "audioresample", "!", "avenc_aac", "!", "aacparse", "!", "queue", "!", "m."],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def assert_publishing(pub):
    """Fail with the publisher's own words if it has exited (a GStreamer
    srtsink gives up 3 s after a connect nobody answers)."""
    if pub.poll() is not None:
        err = pub.stderr.read().decode(errors="replace") if pub.stderr else ""
        pytest.fail(f"the publisher exited ({pub.returncode}): {err[-2000:]}")


def lecture_urls(relay, lecture, publishers=()):
    master = f"{relay.base}/live/{lecture}/master.m3u8"
    def get():
        for pub in publishers:
            assert_publishing(pub)
        status, _, body = http_get(master)
        return parse_master(body.decode()) if status == 200 else None
    variants = wait_for(get, scaled(40), what=f"master playlist of {lecture}")
    return {v["uri"].split("/")[0]: urllib.request.urljoin(master, v["uri"]) for v in variants}


def seq(url):
    m = fetch_media(url)
    return m["sequence"] + len(m["segments"]) if m else -1


_READING = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d\d\d) .*lecture=(\S+) now reading source (\d)")


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def metrics(url):
    """Prometheus text at url -> {(name, ((label, value), ...)): float}; asserts
    the format: every sample's family was declared by # TYPE before it."""
    status, headers, body = http_get(url, headers=METRICS_AUTH)
    assert status == 200, f"GET {url} -> {status}"
    typed, out = set(), {}
    for line in body.decode("utf-8").splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
        elif line and not line.startswith("#"):
            m = _SAMPLE.match(line)
            assert m, f"not a sample line: {line!r}"
            assert m.group(1) in typed, f"{m.group(1)} has no # TYPE before it"
            labels = tuple(sorted(_LABEL.findall(m.group(2) or "")))
            out[(m.group(1), labels)] = float(m.group(3))
    return out


def metric(samples, name, **labels):
    """The one sample of name whose labels include labels (None if absent)."""
    want = set(labels.items())
    found = [v for (n, ls), v in samples.items() if n == name and want <= set(ls)]
    assert len(found) <= 1, f"{name}{labels} matches {len(found)} samples"
    return found[0] if found else None


def source_reads(demo, lecture):
    """[(UTC seconds of the day, source number)] of the ingest's
    'now reading source N' lines for lecture, oldest first."""
    out = []
    for line in demo.stderr_text().splitlines():
        m = _READING.match(line)
        if m and m.group(5) == lecture:
            h, mi, s, ms = (int(g) for g in m.groups()[:4])
            out.append((h * 3600 + mi * 60 + s + ms / 1000, int(m.group(6))))
    return out


def now_of_day():
    """UTC seconds of the day, the clock of the program's log lines."""
    t = datetime.datetime.now(datetime.timezone.utc)
    return t.hour * 3600 + t.minute * 60 + t.second + t.microsecond / 1e6


# --------------------------------------------------------------------------
# fixtures (imported into tests/system/conftest.py and tests/browser/conftest.py)

@pytest.fixture
def lr_config(tmp_path):
    """A fresh config file on free ports for this test."""
    return Config(tmp_path)


@pytest.fixture
def start_demo(tmp_path, request):
    """Factory: start_demo(overrides=None) -> a running Demo (watch line seen).
    Every demo it started is killed at teardown if still running; stopping it
    cleanly (and checking the exit) is the test's business."""
    started = []

    def start(overrides=None, args=None):
        d = tmp_path / f"demo{len(started)}"
        d.mkdir()
        demo = Demo(Config(d, overrides), args=args)
        started.append(demo)
        request.node._lr_demos = started
        return demo.start()

    yield start
    for demo in started:
        demo.close()


@pytest.fixture(scope="module")
def demo(tmp_path_factory, request):
    """One demo shared by the tests of a module (they only observe it).
    At teardown: SIGINT, and it must exit with 0 within 2 s."""
    d = tmp_path_factory.mktemp("demo")
    demo = Demo(Config(d))
    request.module._lr_demo = demo
    try:
        demo.start()
        yield demo
        demo.assert_stops(signal.SIGINT)
    finally:
        demo.close()


def attach_stderr(item, report):
    """pytest_runtest_makereport helper: on failure, add the output of the
    demos the test used, including those it made and closed itself (their
    log files stay), so a failure in CI carries the program's own account."""
    if report.when == "teardown":
        CREATED.clear()
    if report.when not in ("call", "setup") or not report.failed:
        return
    demos = list(getattr(item, "_lr_demos", None) or [])
    mod_demo = getattr(getattr(item, "module", None), "_lr_demo", None)
    if mod_demo is not None:
        demos.append(mod_demo)
    demos += [d for d in CREATED if d not in demos]
    for i, demo in enumerate(demos):
        if demo.proc is not None or demo.stderr_path.exists():
            report.sections.append((f"lecture-relay #{i}", demo.describe()))


def tool(name):
    path = shutil.which(name)
    if not path:
        pytest.skip(f"{name} not installed (scripts/setup installs it)")
    return path
