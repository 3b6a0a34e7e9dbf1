"""The egress's HTTP side over real sockets, with tests/tools/serve_fixture
(the HTTP server with a store fed from stdin) so the content is exactly what
each test publishes: routes, content types and cache headers, blocking
reload over HTTP, signed URLs, recordings with Range, HTTP/2 (h2 over TLS
with a certificate made here, h2c by prior knowledge, via curl), a list of
hostile requests, slowloris and the per-IP connection cap."""

import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from lrdemo import BINARY, LOGS, free_tcp_port, make_cert, note_secrets, to_yaml, wait_for

FIXTURE = Path(os.environ.get("LR_SERVE_FIXTURE",
                              BINARY.parent / "tests" / "tools" / "serve_fixture"))
SECRET = "0123456789abcdef-secret"
OLD_SECRET = "an-older-secret-still-ok"
M3U8 = "application/vnd.apple.mpegurl"
IMMUTABLE = "public, max-age=31536000, immutable"

pytestmark = pytest.mark.skipif(not FIXTURE.exists(), reason=f"{FIXTURE} not built")


class Server:
    """serve_fixture as a child: publish() feeds its store."""

    def __init__(self, tmp, egress=None, preexec_fn=None):
        self.tmp = tmp
        conf = {"log_level": "warn",
                "egress": {"http": f"127.0.0.1:{free_tcp_port()}",
                           "token_secrets": [SECRET, OLD_SECRET],
                           "recordings_dir": str(tmp / "rec"),
                           **(egress or {})}}
        (tmp / "rec").mkdir(exist_ok=True)
        self.conf = tmp / "fixture.yaml"
        self.conf.write_text(to_yaml(conf) + "\n")
        note_secrets(conf)
        # its log in a file, which the run's secrets check reads too (conftest)
        self.log = tmp / f"fixture-{len(LOGS)}.log"
        LOGS.append(self.log)
        with open(self.log, "wb") as err:
            self.p = subprocess.Popen([str(FIXTURE), str(self.conf)], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=err, text=True,
                                      preexec_fn=preexec_fn)
        line = self.p.stdout.readline()
        assert line.startswith("ports:"), (line, self.log.read_text(errors="replace"))
        self.port, self.tls_port = (int(x) for x in line.split()[1:])
        self.base = f"http://127.0.0.1:{self.port}"
        self.n = 0

    def cmd(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        assert self.p.stdout.readline().strip() == "ok", line

    def publish(self, key, data, ctype, max_age=1, immutable=0, ll=None):
        self.n += 1
        f = self.tmp / f"obj{self.n}"
        f.write_bytes(data if isinstance(data, bytes) else data.encode())
        extra = "" if ll is None else " " + " ".join(str(x) for x in ll)
        self.cmd(f"put {key} {f} {ctype} {max_age} {immutable}{extra}")

    def stop(self):
        if self.p.poll() is None:
            self.p.stdin.write("quit\n")
            self.p.stdin.flush()
            self.p.wait(timeout=10)
        assert self.p.returncode == 0, self.log.read_text(errors="replace")


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path)
    yield s
    s.stop()


def raw(port, data, timeout=5.0, host="127.0.0.1"):
    """Sends bytes, returns everything the server sends until it closes."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                out += b
        except (socket.timeout, ConnectionResetError):
            pass
    return out


def get(port, path, headers=None, method="GET"):
    """One HTTP/1.1 request; (status, headers dict lower-cased, body)."""
    h = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    out = raw(port, f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{h}\r\n"
              .encode())
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return status, hdrs, body


def status_of(port, request_bytes):
    """The status of the first response (None: closed without one)."""
    out = b""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        try:
            s.sendall(request_bytes)
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            while b"\r\n\r\n" not in out:
                b = s.recv(65536)
                if not b:
                    break
                out += b
        except ConnectionResetError:
            pass
    m = re.match(rb"HTTP/1\.[01] (\d{3})", out)
    return int(m.group(1)) if m else None


def publish_lecture(s, lec="cs101", ts=False):
    s.publish(f"{lec}/master.m3u8", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n720p/index.m3u8\n", M3U8)
    s.publish(f"{lec}/720p/index.m3u8", "#EXTM3U\n#EXT-X-TARGETDURATION:1\n", M3U8, 1, 0,
              ll=(9, 10, 1, 1, 0))
    s.publish(f"{lec}/720p/init.mp4", b"\0\0\0\x08ftyp", "video/mp4", 3600, 1)
    s.publish(f"{lec}/audio/init.mp4", b"\0\0\0\x08ftyp", "audio/mp4", 3600, 1)
    s.publish(f"{lec}/720p/9.m4s", b"S" * 5000, "video/iso.segment", 3600, 1)
    s.publish(f"{lec}/720p/10.1.m4s", b"P" * 500, "video/iso.segment", 3600, 1)
    if ts:
        s.publish(f"{lec}/720p/8.ts", b"\x47" * 188, "video/mp2t", 3600, 1)


def make_recording(root, lec="cs101", rid="20261128T134700Z", size=300000):
    d = root / lec / rid
    (d / "720p").mkdir(parents=True)
    (d / "master.m3u8").write_text("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n720p/index.m3u8\n")
    (d / "720p" / "index.m3u8").write_text(
        "#EXTM3U\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-TARGETDURATION:2\n"
        "#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:2.0,\n0.m4s\n#EXT-X-ENDLIST\n")
    (d / "720p" / "init.mp4").write_bytes(b"\0\0\0\x08ftyp")
    data = bytes((i * 7) & 0xFF for i in range(size))
    (d / "720p" / "0.m4s").write_bytes(data)
    (d / "recording.json").write_text(json.dumps({
        "lecture": lec, "id": rid, "started": "2026-11-28T13:47:00Z", "ended": None,
        "duration_s": 123.4, "finished": False, "bytes": size, "renditions": ["720p"]}))
    return data


# ---------------------------------------------------------------------------

def test_routes_types_and_cache_headers(server):
    """Routes and content types, and that each object goes out with the
    Cache-Control it was published with (the fixture's values here; the
    packager's own policy is test_demo.py's test_cache_control_per_object_type)."""
    s = server
    publish_lecture(s, ts=True)
    expect = {
        "/live/cs101/master.m3u8": (M3U8, "public, max-age=1"),
        "/live/cs101/720p/index.m3u8": (M3U8, "public, max-age=1"),
        "/live/cs101/720p/init.mp4": ("video/mp4", IMMUTABLE),
        "/live/cs101/audio/init.mp4": ("audio/mp4", IMMUTABLE),
        "/live/cs101/720p/9.m4s": ("video/iso.segment", IMMUTABLE),
        "/live/cs101/720p/10.1.m4s": ("video/iso.segment", IMMUTABLE),
        "/live/cs101/720p/8.ts": ("video/mp2t", IMMUTABLE),
        "/watch/cs101": ("text/html; charset=utf-8", "no-cache"),
        "/": ("text/html; charset=utf-8", "no-cache"),
        "/api/v1/lectures": ("application/json", "no-cache"),
        "/healthz": ("text/plain; charset=utf-8", "no-store"),
        "/metrics": ("text/plain; version=0.0.4; charset=utf-8", "no-store"),
    }
    for path, (ctype, cc) in expect.items():
        st, h, body = get(s.port, path)
        assert st == 200, path
        assert h["content-type"] == ctype, path
        assert h["cache-control"] == cc, path
        assert h["access-control-allow-origin"] == "*", path
        assert int(h["content-length"]) == len(body), path
    st, h, _ = get(s.port, "/live/cs101/720p/99.m4s")
    assert st == 404 and h["cache-control"] == "public, max-age=1"
    st, h, body = get(s.port, "/live/cs101/720p/9.m4s", method="HEAD")
    assert st == 200 and body == b"" and h["content-length"] == "5000"
    st, h, _ = get(s.port, "/live/cs101/master.m3u8", method="OPTIONS",
                   headers={"Origin": "https://portal.example", "Access-Control-Request-Method": "GET"})
    assert st == 204 and "GET" in h["access-control-allow-methods"]

    _, ph, page = get(s.port, "/watch/cs101")
    page = page.decode()
    assert "/assets/lr-player.js" in page and "/live/cs101/master.m3u8" in page
    # the page's CSP: own origin only, the inline script and style by a nonce
    # of this response (a second response has another)
    csp = ph["content-security-policy"]
    nonce = re.search(r"'nonce-([A-Za-z0-9+/=]{24})'", csp).group(1)
    assert page.count(f'nonce="{nonce}"') == 2 and "style=" not in page, page
    assert "default-src 'self'" in csp and "object-src 'none'" in csp and "unsafe" not in csp
    assert nonce not in get(s.port, "/watch/cs101")[1]["content-security-policy"]
    assert ph["x-content-type-options"] == "nosniff" and ph["referrer-policy"] == "no-referrer"
    st, h, js = get(s.port, "/assets/lr-player.js")
    assert st == 200 and h["content-type"] == "application/javascript", h
    assert b"lowLatencyMode: true" in js and b"maxLiveSyncPlaybackRate" in js, js
    # the master varies with the User-Agent (VLC 3 gets it without the audio-only variant)
    st, h, _ = get(s.port, "/live/cs101/master.m3u8")
    assert h.get("vary") == "User-Agent", h
    assert 'id="quality"' in page and 'id="latency"' in page

    api = json.loads(get(s.port, "/api/v1/lectures")[2])
    assert api["live"][0]["lecture"] == "cs101"
    assert api["live"][0]["renditions"] == ["720p", "audio"] or \
        set(api["live"][0]["renditions"]) == {"720p"}

    metrics = get(s.port, "/metrics")[2].decode()
    assert re.search(r'lr_http_responses_total\{code="404",class="4xx"\} [1-9]', metrics)
    assert "lr_http_parked_requests 0" in metrics
    assert re.search(r'lr_http_viewers\{lecture="cs101",rendition="720p"\} 1', metrics)


def test_cors_origin_list(tmp_path):
    s = Server(tmp_path, {"cors_origins": "https://a.example https://b.example"})
    try:
        s.publish("x/master.m3u8", "#EXTM3U\n", M3U8)
        st, h, _ = get(s.port, "/live/x/master.m3u8", {"Origin": "https://b.example"})
        assert h["access-control-allow-origin"] == "https://b.example"
        assert h["vary"] == "Origin"
        st, h, _ = get(s.port, "/live/x/master.m3u8", {"Origin": "https://evil.example"})
        assert st == 200 and "access-control-allow-origin" not in h
    finally:
        s.stop()


def test_blocking_reload_over_http(server):
    s = server
    publish_lecture(s)
    results = {}

    def waiter(name, path):
        results[name] = (get(s.port, path), time.monotonic())

    ths = [threading.Thread(target=waiter, args=(f"w{i}", "/live/cs101/720p/index.m3u8"
                                                 "?_HLS_msn=10&_HLS_part=2")) for i in range(20)]
    ths.append(threading.Thread(target=waiter, args=("hint", "/live/cs101/720p/10.2.m4s")))
    for t in ths:
        t.start()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        m = get(s.port, "/metrics")[2].decode()
        if "lr_http_parked_requests 21" in m:
            break
    assert "lr_http_parked_requests 21" in m
    assert not results
    s.publish("cs101/720p/10.2.m4s", b"N" * 100, "video/iso.segment", 3600, 1)
    t_pub = time.monotonic()
    s.publish("cs101/720p/index.m3u8", "#EXTM3U\n#new\n", M3U8, 1, 0, ll=(9, 10, 2, 1, 0))
    for t in ths:
        t.join(5)
    assert results["hint"][0][0] == 200 and results["hint"][0][2] == b"N" * 100
    for i in range(20):
        (st, h, body), t_done = results[f"w{i}"]
        assert st == 200 and b"#new" in body
        assert h["cache-control"] == "public, max-age=3"
        assert t_done - t_pub < 1.0
    # bad directives and too far ahead: 400, no waiting
    for q in ["_HLS_part=1", "_HLS_msn=x", "_HLS_msn=13", "_HLS_msn=11&_HLS_skip=maybe"]:
        assert get(s.port, f"/live/cs101/720p/index.m3u8?{q}")[0] == 400, q


def test_signed_urls(server):
    s = server
    publish_lecture(s)
    publish_lecture(s, "other")

    def sign(lecture, expires="1h", ip=None, conf=None):
        args = [str(BINARY), "sign-url", "--config", str(conf or s.conf), "--lecture", lecture,
                "--expires", expires, "--base", s.base]
        if ip:
            args += ["--ip", ip]
        out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
        urls = dict(ln.split(": ", 1) for ln in out.strip().splitlines())
        return urls["watch"], urls["master"]

    watch, master = sign("cs101")
    prefix = master[len(s.base):].rsplit("/live/", 1)[0]
    assert re.fullmatch(r"/t/[A-Za-z0-9_-]{40,}", prefix)
    assert get(s.port, master[len(s.base):])[0] == 200
    for p in ["/live/cs101/720p/index.m3u8", "/live/cs101/720p/9.m4s", "/watch/cs101"]:
        assert get(s.port, prefix + p)[0] == 200, p
    page = get(s.port, watch[len(s.base):])[2].decode()
    assert f"{prefix}/live/cs101/master.m3u8" in page

    forbidden = get(s.port, prefix + "/live/other/master.m3u8")
    assert forbidden[0] == 403
    # same answer whether or not the lecture exists
    assert get(s.port, prefix + "/live/nosuch/master.m3u8")[2] == forbidden[2]
    tampered = prefix[:-2] + ("AA" if prefix[-2:] != "AA" else "BB")
    assert get(s.port, tampered + "/live/cs101/master.m3u8")[0] == 403
    assert get(s.port, "/t/garbage/live/cs101/master.m3u8")[0] == 403
    assert get(s.port, prefix + "/metrics")[0] == 403  # tokens only open live/vod/watch
    # bound to another address
    _, m_ip = sign("cs101", ip="192.0.2.1")
    assert get(s.port, m_ip[len(s.base):])[0] == 403
    _, m_ok = sign("cs101", ip="127.0.0.1")
    assert get(s.port, m_ok[len(s.base):])[0] == 200
    # expired: a 1 s token, checked after it lapsed
    _, m_exp = sign("cs101", expires="1s")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and get(s.port, m_exp[len(s.base):])[0] == 200:
        time.sleep(0.2)
    assert get(s.port, m_exp[len(s.base):])[0] == 403
    # rotated: a token signed with the older secret (second in the list) is accepted
    old_conf = s.tmp / "old.yaml"
    old_conf.write_text(to_yaml({"egress": {"http": f"127.0.0.1:{s.port}",
                                            "token_secrets": [OLD_SECRET]}}) + "\n")
    _, m_old = sign("cs101", conf=old_conf)
    assert get(s.port, m_old[len(s.base):])[0] == 200
    unknown = s.tmp / "unknown.yaml"
    unknown.write_text(to_yaml({"egress": {"token_secrets": ["never-configured-secret"]}}) + "\n")
    _, m_unk = sign("cs101", conf=unknown)
    assert get(s.port, m_unk[len(s.base):])[0] == 403
    assert re.search(r'lr_http_responses_total\{code="403"', get(s.port, "/metrics")[2].decode())


def test_require_token(tmp_path):
    s = Server(tmp_path, {"require_token": True})
    try:
        publish_lecture(s)
        make_recording(tmp_path / "rec")
        for p in ["/live/cs101/master.m3u8", "/watch/cs101",
                  "/vod/cs101/20261128T134700Z/master.m3u8"]:
            assert get(s.port, p)[0] == 403, p
        assert get(s.port, "/healthz")[0] == 200
        out = subprocess.run([str(BINARY), "sign-url", "--config", str(s.conf), "--lecture",
                              "cs101", "--expires", "10m"], capture_output=True, text=True,
                             check=True).stdout
        tok = re.search(r"/t/([A-Za-z0-9_-]+)/", out).group(1)
        assert get(s.port, f"/t/{tok}/live/cs101/master.m3u8")[0] == 200
        st, h, body = get(s.port, f"/t/{tok}/vod/cs101/20261128T134700Z/master.m3u8")
        assert st == 200 and h["content-type"] == M3U8
        # (the page's list of recordings follows the disk within a second)
        wait_for(lambda: f"/t/{tok}/vod/cs101/20261128T134700Z/master.m3u8" in
                 get(s.port, f"/t/{tok}/watch/cs101")[2].decode(), 5, what="the signed link")
    finally:
        s.stop()


def test_recordings_follow_no_symlink(server):
    """A link planted in the recordings folder, to a folder or a file outside
    it, leads nowhere: every component is opened without following links."""
    s = server
    make_recording(s.tmp / "rec")
    outside = s.tmp / "outside"
    (outside / "720p").mkdir(parents=True)
    (outside / "720p" / "0.m4s").write_bytes(b"SECRET" * 100)
    (outside / "720p" / "index.m3u8").write_text("#EXTM3U\n")
    rec = s.tmp / "rec" / "cs101"
    # a whole recording folder that is a link, and a rendition folder
    (rec / "20261128T140000Z").symlink_to(outside)
    (rec / "20261128T134700Z" / "480p").symlink_to(outside / "720p")
    # and a file
    (rec / "20261128T134700Z" / "720p" / "1.m4s").symlink_to(outside / "720p" / "0.m4s")
    for path in ["/vod/cs101/20261128T140000Z/720p/0.m4s",
                 "/vod/cs101/20261128T140000Z/720p/index.m3u8",
                 "/vod/cs101/20261128T134700Z/480p/0.m4s",
                 "/vod/cs101/20261128T134700Z/480p/index.m3u8",
                 "/vod/cs101/20261128T134700Z/720p/1.m4s"]:
        st, _, body = get(s.port, path)
        assert st == 404 and b"SECRET" not in body, (path, st)
    # the real files next to them are served
    assert get(s.port, "/vod/cs101/20261128T134700Z/720p/0.m4s")[0] == 200


def test_recordings_and_range(server):
    s = server
    data = make_recording(s.tmp / "rec")
    base = "/vod/cs101/20261128T134700Z"
    st, h, body = get(s.port, f"{base}/master.m3u8")
    assert st == 200 and h["content-type"] == M3U8 and body.startswith(b"#EXTM3U")
    st, h, body = get(s.port, f"{base}/720p/index.m3u8")
    assert st == 200 and b"#EXT-X-ENDLIST" in body
    st, h, body = get(s.port, f"{base}/720p/init.mp4")
    assert st == 200 and h["content-type"] == "video/mp4" and h["cache-control"] == IMMUTABLE
    st, h, body = get(s.port, f"{base}/720p/0.m4s")
    assert st == 200 and body == data and h["content-type"] == "video/iso.segment"
    st, h, body = get(s.port, f"{base}/720p/0.m4s", {"Range": "bytes=1000-1999"})
    assert st == 206 and body == data[1000:2000]
    assert h["content-range"] == f"bytes 1000-1999/{len(data)}"
    st, h, body = get(s.port, f"{base}/720p/0.m4s", {"Range": "bytes=-100"})
    assert st == 206 and body == data[-100:]
    st, h, _ = get(s.port, f"{base}/720p/0.m4s", {"Range": f"bytes={len(data) + 10}-"})
    assert st == 416
    assert get(s.port, f"{base}/720p/1.m4s")[0] == 404
    assert get(s.port, "/vod/cs101/2026112T134700Z/master.m3u8")[0] == 404
    # the index behind the lists follows the disk within a refresh (1 s)
    wait_for(lambda: json.loads(get(s.port, "/api/v1/lectures")[2])["recorded"], 5,
             what="the recording in the index")
    api = json.loads(get(s.port, "/api/v1/lectures")[2])
    rec = api["recorded"][0]
    assert rec["lecture"] == "cs101"
    assert rec["recordings"][0]["id"] == "20261128T134700Z"
    assert rec["recordings"][0]["finished"] is False
    assert rec["recordings"][0]["duration_s"] == 123.4
    assert "20261128T134700Z" in get(s.port, "/")[2].decode()
    page = get(s.port, "/watch/cs101")[2].decode()
    assert "/vod/cs101/20261128T134700Z/master.m3u8" in page


def test_dvr_from_disk(server):
    s = server
    publish_lecture(s)
    d = s.tmp / "dvr"
    (d / "720p").mkdir(parents=True)
    (d / "720p" / "3.m4s").write_bytes(b"OLD" * 100)
    (d / "720p" / "index.m3u8").write_text("#EXTM3U\n")
    assert get(s.port, "/live/cs101/720p/3.m4s")[0] == 404
    s.cmd(f"disk cs101 {d}")
    st, h, body = get(s.port, "/live/cs101/720p/3.m4s")
    assert st == 200 and body == b"OLD" * 100 and h["cache-control"] == IMMUTABLE
    assert get(s.port, "/live/cs101/720p/4.m4s")[0] == 404
    # playlists never come from the DVR folder
    s.cmd("remove cs101/720p/index.m3u8")
    assert get(s.port, "/live/cs101/720p/index.m3u8")[0] == 404


HOSTILE = [
    # (request bytes, acceptable statuses; None = connection closed without a response)
    (b"GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", {400}),
    (b"GET /vod/../../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", {400}),
    (b"GET /vod/cs101/20261128T134700Z/../../../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", {400}),
    (b"GET /vod/%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", {400}),
    (b"GET /vod/%252e%252e/etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", {400}),
    (b"GET /vod/..%2fetc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", {400}),
    (b"GET /vod\\..\\..\\etc\\passwd HTTP/1.1\r\nHost: x\r\n\r\n", {400}),
    (b"GET /live/cs101/720p/..%5c..%5cetc HTTP/1.1\r\nHost: x\r\n\r\n", {400}),
    (b"GET /live/cs101/%00/9.m4s HTTP/1.1\r\nHost: x\r\n\r\n", {400}),
    (b"GET /vod/cs101/20261128T134700Z/.hidden HTTP/1.1\r\nHost: x\r\n\r\n", {404}),
    (b"GET //etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", {400}),
    (b"GET /vod/cs101/20261128T134700Z/720p/../../recording.json HTTP/1.1\r\nHost: x\r\n\r\n", {400}),
    (b"GET /live/cs101/720p/.%2e/.%2e/x HTTP/1.1\r\nHost: x\r\n\r\n", {400}),
    (b"GET /vod/cs101/20261128T134700Z/720p/0.m4s/ HTTP/1.1\r\nHost: x\r\n\r\n", {404}),
    (b"GET /vod/cs101/20261128T134700Z/720p/0.txt HTTP/1.1\r\nHost: x\r\n\r\n", {404}),
    (b"POST /live/cs101/master.m3u8 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", {405}),
    (b"PUT /live/cs101/master.m3u8 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", {405}),
    (b"DELETE /live/cs101/master.m3u8 HTTP/1.1\r\nHost: x\r\n\r\n", {405}),
    (b"TRACE / HTTP/1.1\r\nHost: x\r\n\r\n", {405}),
    (b"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n", {405}),
    (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", {414}),
    (b"GET /live/cs101/master.m3u8?" + b"q" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", {414}),
    (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 20000 + b"\r\n\r\n", {431}),
    (b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(120)) + b"\r\n",
     {400, 431, None}),
    (b"GET / HTTP/1.1\r\nHost: x\r\nX-Huge: " + b"h" * 600000 + b"\r\n\r\n", {400, 413, 431, None}),
    (b"GARBAGE\r\n\r\n", {400, None}),
    (b"GET\r\n\r\n", {400, None}),
    (b"GET / HTTP/9.9\r\nHost: x\r\n\r\n", {400, 505, None}),
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\0" * 64, {400, None}),
    (b"GET /live/cs101/720p/index.m3u8?_HLS_msn=-5 HTTP/1.1\r\nHost: x\r\n\r\n", {400}),
    (b"GET /live/cs101/720p/index.m3u8?_HLS_msn=1e3 HTTP/1.1\r\nHost: x\r\n\r\n", {400}),
    (b"GET /live/cs101/720p/index.m3u8?_HLS_part=0 HTTP/1.1\r\nHost: x\r\n\r\n", {400}),
    (b"GET /live/cs101/720p/index.m3u8?_HLS_msn=99999999999999999999999 HTTP/1.1\r\nHost: x\r\n\r\n", {400}),
    (b"GET /live/cs101/720p/index.m3u8?_HLS_msn=1000000 HTTP/1.1\r\nHost: x\r\n\r\n", {400}),
    (b"GET /t/AAAA/live/cs101/master.m3u8 HTTP/1.1\r\nHost: x\r\n\r\n", {403}),
    (b"GET /t//live/cs101/master.m3u8 HTTP/1.1\r\nHost: x\r\n\r\n", {400}),
    (b"GET /t/" + b"A" * 200 + b"/live/cs101/master.m3u8 HTTP/1.1\r\nHost: x\r\n\r\n", {403}),
    (b"GET /t/x/etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", {403}),
    (b"GET /watch/<script> HTTP/1.1\r\nHost: x\r\n\r\n", {400, 404}),
    (b"GET /watch/a\"b HTTP/1.1\r\nHost: x\r\n\r\n", {400, 404}),
]


def test_hostile_requests(server):
    s = server
    publish_lecture(s)
    make_recording(s.tmp / "rec")
    assert len(HOSTILE) >= 30
    for req, ok in HOSTILE:
        st = status_of(s.port, req)
        assert st in ok, (req[:80], st)
        # still up, still right
        assert get(s.port, "/healthz")[0] == 200
    assert get(s.port, "/live/cs101/720p/9.m4s")[2] == b"S" * 5000


def test_slowloris_cut_off_while_viewer_plays(server):
    s = server
    publish_lecture(s)
    slow = socket.create_connection(("127.0.0.1", s.port))
    slow.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
    t0 = time.monotonic()
    closed_at = None
    slow.settimeout(0.5)
    # the viewer keeps fetching while the slow client trickles a header
    # byte every half second; the server must cut the slow one within its
    # request timeout (10 s) plus margin
    while time.monotonic() - t0 < 16:
        assert get(s.port, "/live/cs101/720p/index.m3u8")[0] == 200
        try:
            slow.sendall(b"X")
            if slow.recv(100) == b"":
                closed_at = time.monotonic()
                break
        except socket.timeout:
            continue
        except (BrokenPipeError, ConnectionResetError):
            closed_at = time.monotonic()
            break
    slow.close()
    assert closed_at is not None and closed_at - t0 < 15


# Loopback is free of the per-address cap by default (a cache or proxy in
# front of the egress on the same machine); these tests take that away.
CAPPED_LOOPBACK = {"uncapped": ["192.0.2.0/24"]}


def refused_503(port, expect):
    """A new connection's answer: a 503 naming the cap, then the close."""
    extra = socket.create_connection(("127.0.0.1", port))
    extra.settimeout(5)
    extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = b""
    while chunk := extra.recv(4096):
        answer += chunk
    extra.close()
    assert answer.startswith(b"HTTP/1.1 503 ") and b"Retry-After: 10" in answer, answer
    assert expect in answer, answer


def test_per_ip_connection_cap(tmp_path):
    s = Server(tmp_path, {"max_conns_per_ip": 4, **CAPPED_LOOPBACK})
    try:
        s.publish("x/master.m3u8", "#EXTM3U\n", M3U8)
        held = [socket.create_connection(("127.0.0.1", s.port)) for _ in range(4)]
        # the 5th gets a 503 and is closed at once
        refused_503(s.port, b"too many connections from here")
        for c in held:
            c.close()
        deadline = time.monotonic() + 5
        st = None
        while time.monotonic() < deadline:
            try:
                st = get(s.port, "/healthz")[0]
                if st == 200:
                    break
            except (ConnectionResetError, IndexError, ValueError):
                pass
        assert st == 200
    finally:
        s.stop()


def test_caps_on_by_default(tmp_path):
    """With no cap configured: 256 connections from one address, the 257th
    refused; loopback itself is free of that cap (a proxy in front)."""
    s = Server(tmp_path, CAPPED_LOOPBACK)
    held = []
    try:
        held = [socket.create_connection(("127.0.0.1", s.port)) for _ in range(256)]
        refused_503(s.port, b"too many connections from here")
    finally:
        for c in held:
            c.close()
        s.stop()
    s = Server(tmp_path)
    try:
        held = [socket.create_connection(("127.0.0.1", s.port)) for _ in range(300)]
        assert get(s.port, "/healthz")[0] == 200
    finally:
        for c in held:
            c.close()
        s.stop()


def test_server_wide_caps_on_connections_and_parked_requests(tmp_path):
    """egress.max_conns counts every address, loopback too; egress.max_parked
    answers a blocking request over it at once, 503 with Retry-After: 1."""
    s = Server(tmp_path, {"max_conns": 10, "max_parked": 3})
    held = []
    try:
        publish_lecture(s)
        held = [socket.create_connection(("127.0.0.1", s.port)) for _ in range(10)]
        refused_503(s.port, b"the server is at its limit")
        for c in held:
            c.close()
        held = []

        def gauge(name):
            try:
                text = get(s.port, "/metrics")[2].decode()
            except (ConnectionError, IndexError, ValueError):
                return None  # refused while the closes are still being read
            m = re.search(rf"^{name} (\d+)$", text, re.M)
            return int(m.group(1)) if m else None
        # the server has seen the closes (only the metrics request is open)
        wait_for(lambda: gauge("lr_http_connections") == 1, 5, what="the closes seen")
        # three requests parked on a part not yet made, the fourth refused
        waiting = [socket.create_connection(("127.0.0.1", s.port)) for _ in range(3)]
        held = waiting
        for c in waiting:
            c.sendall(b"GET /live/cs101/720p/index.m3u8?_HLS_msn=11 HTTP/1.1\r\nHost: x\r\n\r\n")
        wait_for(lambda: gauge("lr_http_parked_requests") == 3, 2, what="3 requests parked")
        t0 = time.monotonic()
        st, h, body = get(s.port, "/live/cs101/720p/index.m3u8?_HLS_msn=11")
        assert st == 503 and h.get("retry-after") == "1", (st, h, body)
        assert time.monotonic() - t0 < 1, "answered at once, not parked"
    finally:
        for c in held:
            c.close()
        s.stop()


@pytest.mark.skipif(not shutil.which("curl"), reason="curl missing")
def test_per_ip_connection_cap_over_tls_answers_503(tmp_path):
    """Over TLS, a connection past the cap can't be answered before the
    handshake: it is accepted as refused and every request on it gets the
    same 503 (HTTP/1.1 and HTTP/2); once the held ones close, the next is
    served."""
    import ssl
    make_cert(tmp_path)
    s = Server(tmp_path, {"max_conns_per_ip": 2, **CAPPED_LOOPBACK,
                          "tls_listen": f"127.0.0.1:{free_tcp_port()}",
                          "tls_cert": str(tmp_path / "cert.pem"),
                          "tls_key": str(tmp_path / "key.pem")})
    ctx = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
    held = []
    try:
        for _ in range(2):
            c = ctx.wrap_socket(socket.create_connection(("127.0.0.1", s.tls_port)),
                                server_hostname="127.0.0.1")
            held.append(c)
        url = f"https://127.0.0.1:{s.tls_port}/healthz"
        for proto in ("--http1.1", "--http2"):
            r = _curl("--cacert", str(tmp_path / "cert.pem"), proto, "-D", "-", "-o", "/dev/null",
                      "-w", "%{http_version} %{http_code}", url)
            assert r.stdout.endswith(" 503"), (proto, r.stdout, r.stderr)
            assert re.search(r"(?im)^retry-after: 10\r?$", r.stdout), r.stdout
        # the refused ones never took a place: the plain port is at the cap too
        assert get(s.port, "/healthz")[0] != 200
    finally:
        for c in held:
            c.close()
    try:
        deadline, st = time.monotonic() + 5, None
        while time.monotonic() < deadline and st != "200":
            st = _curl("--cacert", str(tmp_path / "cert.pem"), "-o", "/dev/null", "-w",
                       "%{http_code}", f"https://127.0.0.1:{s.tls_port}/healthz").stdout
        assert st == "200"
    finally:
        s.stop()


def _curl(*args):
    return subprocess.run(["curl", "-sS", *args], capture_output=True, text=True, timeout=30)


@pytest.mark.skipif(not shutil.which("curl"), reason="curl missing")
def test_h2c_prior_knowledge(server):
    s = server
    publish_lecture(s)
    r = _curl("--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_version} %{http_code}",
              f"{s.base}/live/cs101/720p/9.m4s")
    assert r.stdout == "2 200", r.stderr
    r = _curl("--http1.1", "-o", "/dev/null", "-w", "%{http_version} %{http_code}",
              f"{s.base}/live/cs101/720p/9.m4s")
    assert r.stdout == "1.1 200"


@pytest.mark.skipif(not shutil.which("curl"), reason="curl missing")
def test_tls_only_1_2_and_forward_secret_aead(tmp_path):
    """openssl s_client, willing to speak anything (security level 0): the
    server takes TLS 1.3 and TLS 1.2 with ECDHE and AES-GCM or ChaCha20, and
    refuses TLS 1.1, static-RSA key exchange and CBC suites."""
    make_cert(tmp_path, "policy")
    s = Server(tmp_path, {"tls_listen": f"127.0.0.1:{free_tcp_port()}",
                          "tls_cert": str(tmp_path / "cert.pem"),
                          "tls_key": str(tmp_path / "key.pem")})

    def handshake(*args):
        r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{s.tls_port}", *args],
                           input="", capture_output=True, text=True, timeout=10)
        m = re.search(r"Cipher is (\S+)", r.stdout)
        return m.group(1) if m and m.group(1) != "(NONE)" else None
    try:
        assert handshake("-tls1_3") == "TLS_AES_256_GCM_SHA384"
        for suite in ("ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-CHACHA20-POLY1305"):
            assert handshake("-tls1_2", "-cipher", suite) == suite
        for refused in (["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"],
                        ["-tls1_2", "-cipher", "AES128-GCM-SHA256:@SECLEVEL=0"],
                        ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA:@SECLEVEL=0"],
                        ["-tls1_2", "-cipher", "DHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0"]):
            assert handshake(*refused) is None, refused
    finally:
        s.stop()


def test_tls_h2_alpn_and_sighup_reload(tmp_path):
    make_cert(tmp_path, "first")
    s = Server(tmp_path, {"tls_listen": f"127.0.0.1:{free_tcp_port()}",
                          "tls_cert": str(tmp_path / "cert.pem"),
                          "tls_key": str(tmp_path / "key.pem"), "http_threads": 2})
    try:
        publish_lecture(s)
        url = f"https://127.0.0.1:{s.tls_port}/live/cs101/720p/9.m4s"
        r = _curl("--cacert", str(tmp_path / "cert.pem"), "--http2", "-o", "/dev/null",
                  "-w", "%{http_version} %{http_code}", url)
        assert r.stdout == "2 200", r.stderr
        r = _curl("--cacert", str(tmp_path / "cert.pem"), "--http1.1", "-o", "/dev/null",
                  "-w", "%{http_version} %{http_code}", url)
        assert r.stdout == "1.1 200", r.stderr

        def subject():
            out = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{s.tls_port}"],
                                 input="", capture_output=True, text=True, timeout=10).stdout
            return re.search(r"subject=.*CN ?= ?(\w+)", out).group(1)
        assert subject() == "first"
        make_cert(tmp_path, "second")
        os.kill(s.p.pid, 1)  # SIGHUP
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and subject() != "second":
            time.sleep(0.1)
        assert subject() == "second"
        assert s.p.poll() is None
    finally:
        s.stop()
