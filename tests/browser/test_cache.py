"""An HTTP cache in front of the egress, as a university or CDN would put
one: Debian's nginx with proxy_cache (honouring the egress's Cache-Control,
cache lock on) between hls.js and `lecture-relay run`. The student plays
through it; what that student fetched is then a cache HIT for the next
viewer, without reaching the egress; and live playlists through the cache
are never staler than one part."""

import base64
import hashlib
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.request

import pytest

from lrdemo import (BINARY, free_tcp_port, http_get, metrics, scaled, tool, wait_for,
                    wait_master, wait_segments)
from hlsjs import watch


# Both configurations' start: one worker, files under the test's prefix, an
# access log of each request's cache status, a 1 GiB cache.
NGINX_HEAD = """daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  client_body_temp_path {prefix}/body; proxy_temp_path {prefix}/proxy;
  fastcgi_temp_path {prefix}/fcgi; uwsgi_temp_path {prefix}/uwsgi; scgi_temp_path {prefix}/scgi;
  log_format cache '$request_uri $status $upstream_cache_status';
  access_log {prefix}/access.log cache;
  proxy_cache_path {prefix}/cache levels=1:2 keys_zone=lr:10m max_size=1g inactive=10m
                   use_temp_path=off;
"""
NGINX_CONF = NGINX_HEAD + """  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://127.0.0.1:{upstream};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache lr;
      proxy_cache_key $uri$is_args$args;
      proxy_cache_lock on;
      proxy_cache_lock_timeout 10s;
      proxy_read_timeout 30s;
      add_header X-Cache-Status $upstream_cache_status always;
    }}
  }}
}}
"""


class Nginx:
    """nginx-light as a caching reverse proxy, a child process (conf: a
    template with {prefix}, {port} and {upstream}, and `extra` keys)."""

    def __init__(self, tmp, upstream_port, conf_template=NGINX_CONF, **extra):
        self.prefix = tmp / "nginx"
        self.prefix.mkdir()
        self.port = free_tcp_port()
        conf = self.prefix / "nginx.conf"
        # Run as root, nginx's worker would be nobody, who can't write the
        # cache under pytest's private tmp: keep it root then.
        conf.write_text(("user root;\n" if os.geteuid() == 0 else "") +
                        conf_template.format(prefix=self.prefix, port=self.port,
                                             upstream=upstream_port, **extra))
        self.p = subprocess.Popen([tool("nginx"), "-p", str(self.prefix), "-c", str(conf)],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE)
        self.base = f"http://127.0.0.1:{self.port}"
        wait_for(lambda: http_get(self.base + "/healthz")[0] in (200, 403) or
                 self.p.poll() is not None, 10, what="nginx to answer")
        assert self.p.poll() is None, self.p.stderr.read().decode()

    def log(self):
        """[(uri, status, cache status)] from the access log."""
        out = []
        for line in (self.prefix / "access.log").read_text().splitlines():
            uri, status, cache = line.split(" ")
            out.append((uri, int(status), cache))
        return out

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


@pytest.fixture
def nginx_in_front(start_demo, tmp_path):
    if not shutil.which("nginx"):
        pytest.skip("nginx not installed (Debian nginx-light)")
    demo = start_demo()
    variants = wait_master(demo)
    for v in variants:
        wait_segments(urllib.request.urljoin(demo.live("master.m3u8"), v["uri"]), 2)
    cache = Nginx(tmp_path, int(demo.base.rsplit(":", 1)[1]))
    yield demo, cache, variants
    cache.stop()




def responses_total(base, code=None):
    return sum(v for (n, labels), v in metrics(f"{base}/metrics").items()
               if n == "lr_http_responses_total" and (code is None or ("code", code) in labels))


def parts(text):
    """The part URIs a media playlist lists, oldest first."""
    return re.findall(r'#EXT-X-PART:.*URI="([^"]+)"', text)


def test_hls_js_through_nginx_cache_and_second_viewer_hits(nginx_in_front):
    demo, cache, _ = nginx_in_front
    s = watch(cache.base, f"{cache.base}/live/{demo.config.lecture}/master.m3u8", 20)
    assert s["ok"], s
    assert s["played"] >= 8, f"played only {s['played']:.1f} s through the cache: {s}"
    assert set(s["statuses"]) <= {"200"}, s["statuses"]

    fetched = {uri for uri, status, _ in cache.log() if status == 200}
    media = sorted(u for u in fetched if re.search(r"\.(m4s|ts)$", u))  # segments and parts
    assert len(media) >= 10, f"the player fetched little media through the cache: {media}"
    # The second viewer: the same media URLs, plain HTTP through the cache.
    # None of them may reach the egress (its response count moves only by
    # the /metrics request itself, measured first with nothing in between).
    # The first viewer's blocking reloads that nginx still holds upstream are
    # answered when their part appears (hls.js at the live edge, catching
    # up): wait until none is parked before counting.
    wait_for(lambda: sum(v for (n, _), v in metrics(f"{demo.base}/metrics").items()
                         if n == "lr_http_parked_requests") == 0 or None,
             scaled(10), what="the first viewer's parked requests to be answered")
    own = -responses_total(demo.base) + responses_total(demo.base)
    before = responses_total(demo.base)
    missed = []
    for uri in media:
        status, headers, body = http_get(cache.base + uri)
        assert status == 200 and body, f"{uri} -> {status}"
        if headers.get("X-Cache-Status") != "HIT":
            missed.append((uri, headers.get("X-Cache-Status"), headers.get("Cache-Control")))
    after = responses_total(demo.base)
    assert not missed, f"{len(missed)} of {len(media)} media URLs were not cache hits: {missed[:5]}"
    assert after - before <= own, \
        f"the egress answered {after - before - own} requests for cached media"
    demo.assert_stops(signal.SIGINT)


def test_live_playlist_through_cache_at_most_one_part_stale(nginx_in_front):
    demo, cache, variants = nginx_in_front
    rel = f"/live/{demo.config.lecture}/{variants[0]['uri']}"
    got = {}

    def fetch(name, base):
        got[name] = http_get(base + rel)

    lags, headers = [], None
    end = time.monotonic() + scaled(10)
    while time.monotonic() < end:
        threads = [threading.Thread(target=fetch, args=(n, b))
                   for n, b in (("cache", cache.base), ("egress", demo.base))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        (cs, ch, cb), (es, eh, eb) = got["cache"], got["egress"]
        assert cs == 200 and es == 200, (cs, es)
        headers = {k.lower(): v for k, v in eh.items()}.get("cache-control")
        ch = {k.lower(): v for k, v in ch.items()}
        via, direct = parts(cb.decode()), parts(eb.decode())
        assert via and direct, "no EXT-X-PART in the live playlist"
        # how many parts the egress lists after the newest one the cache gave
        # (the two fetches race a publication: the cache's answer may be the
        # newer one, 0 behind)
        if via[-1] in direct:
            lag = len(direct) - 1 - direct.index(via[-1])
        else:
            lag = 0 if direct[-1] in via else len(direct)
        lags.append((lag, ch.get("x-cache-status")))
        time.sleep(0.13)  # not a multiple of the part duration: sample every phase
    print(f"egress Cache-Control {headers!r}; parts behind, cache status: {lags}")
    assert len(lags) >= 20
    worst = max(lag for lag, _ in lags)
    # HTTP's max-age counts whole seconds (nginx's clock too) while a part is
    # 1/3 s, so the plain live playlist goes out as no-cache; what a cache
    # keeps are the blocking-reload answers, which never go stale: the same
    # URL asked twice is a HIT.
    text = http_get(demo.base + rel)[2].decode()
    listed = re.findall(r'#EXT-X-PART:[^\n]*URI="(\d+)\.(\d+)\.m4s"', text)
    assert listed, text
    msn, part = listed[-1]  # exists already: answered at once, and cacheable
    blocking = f"{rel}?_HLS_msn={msn}&_HLS_part={part}"
    first = http_get(cache.base + blocking)
    second = http_get(cache.base + blocking)
    assert first[0] == second[0] == 200 and first[2] == second[2]
    status = {k.lower(): v for k, v in second[1].items()}.get("x-cache-status")
    assert status == "HIT", f"a blocking-reload answer was not cached: {status} {second[1]}"
    assert worst <= 1, (
        f"a live playlist through the cache was {worst} parts behind the egress "
        f"(egress sends Cache-Control: {headers!r} for the live media playlist)")
    demo.assert_stops(signal.SIGINT)


# The cache checks the students' signatures itself (egress.url_signing:
# nginx, stock secure_link) and keeps one copy of each media object for all
# of them: the signature is left out of the cache key. Playlists carry each
# student's own signatures (the egress answers them "private") and pass
# through. docs/http.md shows the same configuration.
SIGNED_NGINX_CONF = NGINX_HEAD + """  map $uri $lr_student_own {{ ~\\.m3u8$ 1; ~^/watch/ 1; default 0; }}
  server {{
    listen 127.0.0.1:{port};
    location ~ ^/(live|vod|watch)/ {{
      secure_link $arg_md5,$arg_expires;
      secure_link_md5 "$secure_link_expires$uri {key}";
      if ($secure_link = "") {{ return 403; }}
      if ($secure_link = "0") {{ return 403; }}
      proxy_pass http://127.0.0.1:{upstream};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache lr;
      proxy_cache_key $uri;
      proxy_no_cache $lr_student_own;
      proxy_cache_bypass $lr_student_own;
      proxy_cache_lock on;
      proxy_cache_lock_timeout 10s;
      proxy_read_timeout 30s;
      add_header X-Cache-Status $upstream_cache_status always;
    }}
    location / {{
      proxy_pass http://127.0.0.1:{upstream};
    }}
  }}
}}
"""
KEY = "0123456789abcdefKEY42"


def nginx_signature(path, expires, key=KEY):
    d = hashlib.md5(f"{expires}{path} {key}".encode()).digest()
    return f"md5={base64.urlsafe_b64encode(d).decode().rstrip('=')}&expires={expires}"


def signed_master(demo, base, expires, lecture=None):
    r = subprocess.run([str(BINARY), "sign-url", "--config", str(demo.config.path), "--lecture",
                        lecture or demo.config.lecture, "--expires", expires, "--base", base],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    return re.search(r"^master: (\S+)$", r.stdout, re.M).group(1)


def test_students_with_their_own_signatures_share_one_cached_copy(start_demo, tmp_path):
    if not shutil.which("nginx"):
        pytest.skip("nginx not installed (Debian nginx-light)")
    demo = start_demo({"egress": {"require_token": True, "token_secrets": [KEY],
                                  "url_signing": "nginx"}})
    cache = Nginx(tmp_path, int(demo.base.rsplit(":", 1)[1]), SIGNED_NGINX_CONF, key=KEY)
    try:
        a, b = signed_master(demo, cache.base, "2h"), signed_master(demo, cache.base, "3h")
        assert a.split("?")[1] != b.split("?")[1]

        def ready():  # two segments in every rung, through the cache
            status, _, body = http_get(a)
            if status != 200:
                return None
            uris = [l for l in body.decode().splitlines() if l and not l.startswith("#")]
            return all(http_get(urllib.request.urljoin(a, u))[2].count(b"#EXTINF") >= 2
                       for u in uris) or None
        wait_for(ready, scaled(40), what="the lecture through the signing cache")

        # two students at once, each with a signature of their own, playing
        # whole segments as a player behind a CDN does (at the live edge of
        # LL-HLS a student asking for a part another one is already fetching
        # waits on nginx's cache lock, which nginx polls every 500 ms, longer
        # than a part: docs/http.md)
        got = {}
        first = threading.Thread(target=lambda: got.setdefault(
            "a", watch(cache.base, a, 14, low_latency=False)))
        first.start()
        time.sleep(2)  # the second student comes a little later, as students do
        got["b"] = watch(cache.base, b, 10, low_latency=False)
        first.join()
        for who, s in got.items():
            assert s["ok"], (who, s)
            assert s["played"] >= 5, f"student {who} played only {s['played']:.1f} s: {s}"
            assert "403" not in s["statuses"], (who, s["statuses"])

        # each whole segment came from the egress once, whoever asked first:
        # per path, at most one request was not answered from the cache
        # (parts go upstream unlocked, see the configuration; init sections
        # are kept 1 s, as the egress says: they change with the ladder)
        per_path = {}
        for uri, status, cached in cache.log():
            path = uri.split("?")[0]
            if status == 200 and re.search(r"/[0-9]+\.(m4s|ts)$", path):
                per_path.setdefault(path, []).append((uri.split("?")[1], cached))
        shared = {p: r for p, r in per_path.items() if len({q for q, _ in r}) == 2}
        assert len(shared) >= 5, f"the two students shared little: {sorted(per_path)[:10]}"
        fetched_twice = [p for p, r in shared.items()
                         if sum(c not in ("HIT", "UPDATING", "STALE") for _, c in r) > 1]
        assert not fetched_twice, f"fetched from the egress more than once: {fetched_twice[:5]}"

        # refused by nginx itself: the egress never sees these
        path = sorted(shared)[-1]
        old = int(time.time()) - 10
        exp_b = b.split("expires=")[1]
        other = signed_master(demo, cache.base, "2h", "other").split("?")[1]
        refused = [f"{cache.base}{path}?md5={'A' * 22}&expires={exp_b}",   # forged
                   f"{cache.base}{path}?{nginx_signature(path, old)}",     # expired
                   f"{cache.base}{path}",                                 # unsigned
                   f"{cache.base}{path}?{other}"]                         # another lecture's
        # (counted by the egress's 403s, which each of these would get there:
        # a cache entry nginx refreshes meanwhile is a 200, and not theirs)
        before = responses_total(demo.base, "403")
        for url in refused:
            assert http_get(url)[0] == 403, url
        assert responses_total(demo.base, "403") == before, "a refused request reached the egress"
        # and the right signature for it opens it, from the cache
        status, headers, _ = http_get(f"{cache.base}{path}?{nginx_signature(path, exp_b)}")
        assert status == 200 and headers.get("X-Cache-Status") == "HIT", (status, headers)
    finally:
        cache.stop()
    demo.assert_stops(signal.SIGINT)
