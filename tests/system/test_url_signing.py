"""Signatures in the query that a cache can check (egress.url_signing,
egress/url_sign.h), against a running demo with `require_token: true`:
- cdn_a (Alibaba Cloud / Tencent Cloud "type A"): the URLs `sign-url`
  prints open the page and the master; every URI of every playlist the
  egress answers carries a signature of its own path, checked here with
  Python's own MD5; ffmpeg plays the signed master through them with not
  one 403; forged, expired, other-path, other-lecture and unsigned requests
  get 403.
- nginx (secure_link's format): the same, and each signature is the one
  nginx's `secure_link_md5 "$secure_link_expires$uri KEY"` computes.
tests/browser/test_cache.py puts Debian's nginx in front, checking them."""

import base64
import hashlib
import re
import signal
import subprocess
import time
import urllib.parse

import pytest

from lrdemo import BINARY, http_get, metric, metrics, scaled, tool, wait_for

KEY = "0123456789abcdefKEY42"  # letters and digits: what the CDN consoles take


def sign_url(demo, lecture, *extra):
    """{"watch": url, "master": url} from `lecture-relay sign-url`."""
    r = subprocess.run([str(BINARY), "sign-url", "--config", str(demo.config.path), "--lecture",
                        lecture, "--expires", "2h", *extra],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    return dict(re.findall(r"^(watch|master): (\S+)$", r.stdout, re.M))


def cdn_a_valid(path, value, now):
    exp, rand, uid, md5 = value.split("-")
    want = hashlib.md5(f"{path}-{exp}-{rand}-{uid}-{KEY}".encode()).hexdigest()
    return int(exp) >= now and md5 == want


def nginx_md5(path, expires, key=KEY):
    d = hashlib.md5(f"{expires}{path} {key}".encode()).digest()
    return base64.urlsafe_b64encode(d).decode().rstrip("=")


def nginx_valid(path, q, now):
    return int(q["expires"][0]) >= now and q["md5"][0] == nginx_md5(path, q["expires"][0])


def signed_uris(text, base_url):
    """(absolute URL, path, query dict) of every URI a playlist names."""
    uris = [l for l in text.splitlines() if l and not l.startswith("#")]
    uris += re.findall(r'(?:[:,]|SERVER-)URI="([^"]+)"', text)
    out = []
    for u in uris:
        full = urllib.parse.urljoin(base_url, u)
        p = urllib.parse.urlsplit(full)
        out.append((full, p.path, urllib.parse.parse_qs(p.query)))
    return out


def count(demo, code):
    return metric(metrics(f"{demo.base}/metrics"), "lr_http_responses_total", code=code) or 0


def crawl(demo, master, valid):
    """Every playlist under the signed master, each URI checked with valid();
    returns the media URLs seen (segments, parts, init sections)."""
    media, seen = [], set()
    todo = [master]
    now = int(time.time())
    while todo:
        url = todo.pop()
        status, headers, body = http_get(url)
        assert status == 200, f"{url} -> {status}"
        cc = {k.lower(): v for k, v in headers.items()}.get("cache-control", "")
        assert "private" in cc, f"a signed playlist must stay the student's own: {cc!r}"
        for full, path, q in signed_uris(body.decode(), url):
            assert valid(path, q, now), f"{full}: not a signature of {path}"
            if path.endswith(".m3u8") and path not in seen:
                seen.add(path)
                todo.append(full)
            elif not path.endswith(".m3u8"):
                media.append(full)
    return media


@pytest.mark.parametrize("kind", ["cdn_a", "nginx"])
def test_signed_in_the_query_plays_and_everything_else_is_refused(start_demo, kind):
    demo = start_demo({"egress": {"require_token": True, "token_secrets": [KEY],
                                  "url_signing": kind}})
    lecture = demo.config.lecture
    urls = sign_url(demo, lecture, *(["--uid", "student7"] if kind == "cdn_a" else []))
    master = urls["master"]
    if kind == "cdn_a":
        assert "?auth_key=" in master and "-student7-" in master, master
        valid = lambda path, q, now: cdn_a_valid(path, q["auth_key"][0], now)  # noqa: E731
    else:
        assert "?md5=" in master and "&expires=" in master, master
        valid = nginx_valid

    def ready():
        status, _, body = http_get(master)
        if status != 200:
            return None
        for full, path, q in signed_uris(body.decode(), master):
            st, _, b = http_get(full)
            if st != 200 or b.decode().count("#EXTINF") < 2:
                return None
        return True
    wait_for(ready, scaled(40), what="two segments in every rung (signed in the query)")
    media = crawl(demo, master, valid)
    assert len(media) >= 6, media
    for url in media[:3] + media[-3:]:
        assert http_get(url)[0] == 200, url

    # the page: signed, and the master URL it plays is signed too
    status, _, page = http_get(urls["watch"])
    assert status == 200, urls["watch"]
    live = re.search(r"var live = '([^']+)'", page.decode()).group(1)
    path, query = live.split("?", 1)
    assert valid(path, urllib.parse.parse_qs(query), int(time.time())), live

    # ffmpeg, an independent client, plays the signed master: every request
    # it makes is signed by what the egress wrote into the playlists
    before = count(demo, "403")
    r = subprocess.run([tool("ffmpeg"), "-nostdin", "-hide_banner", "-loglevel", "error",
                        "-live_start_index", "-3", "-i", master, "-t", "4", "-f", "null", "-"],
                       capture_output=True, text=True, timeout=scaled(60))
    assert r.returncode == 0, r.stderr[-2000:]
    assert count(demo, "403") == before, "ffmpeg met a 403 following the signed playlists"

    # refused: forged, expired, signed for another path or lecture, unsigned
    seg = media[-1]
    p = urllib.parse.urlsplit(seg)
    q = urllib.parse.parse_qs(p.query)
    other_lecture = sign_url(demo, "other")["master"]
    plain = f"{demo.base}{p.path}"
    if kind == "cdn_a":
        exp, rand, uid, md5 = q["auth_key"][0].split("-")
        forged = f"{plain}?auth_key={exp}-{rand}-{uid}-{'0' * 32}"
        old = int(time.time()) - 10
        expired = (f"{plain}?auth_key={old}-{rand}-{uid}-" +
                   hashlib.md5(f"{p.path}-{old}-{rand}-{uid}-{KEY}".encode()).hexdigest())
    else:
        forged = f"{plain}?md5={'A' * 22}&expires={q['expires'][0]}"
        old = int(time.time()) - 10
        expired = f"{plain}?md5={nginx_md5(p.path, old)}&expires={old}"
    refused = [forged, expired, plain,
               f"{plain}?{urllib.parse.urlsplit(master).query}",        # the master's signature
               f"{plain}?{urllib.parse.urlsplit(other_lecture).query}"]  # another lecture's
    before = count(demo, "403")
    for url in refused:
        assert http_get(url)[0] == 403, url
    assert count(demo, "403") == before + len(refused)
    assert http_get(seg)[0] == 200, "the signed segment itself still opens"
    demo.assert_stops(signal.SIGINT)


def test_a_bad_signing_setup_is_refused_at_load(tmp_path):
    """cdn_a keys are what the CDN consoles take; a query kind needs a key."""
    from lrdemo import Config, Demo
    for egress, why in (({"url_signing": "cdn_a", "token_secrets": ["with-dashes-0123456789"]},
                         "letters and digits"),
                        ({"url_signing": "nginx"}, "needs token_secrets"),
                        ({"url_signing": "akamai"}, "path, cdn_a or nginx")):
        d = tmp_path / str(len(list(tmp_path.iterdir())))
        d.mkdir()
        conf = Config(d, {"egress": egress})
        r = subprocess.run([str(BINARY), "egress", "--config", str(conf.path)],
                           capture_output=True, text=True, timeout=10)
        assert r.returncode != 0 and why in r.stderr, (egress, r.stderr)
        assert "with-dashes-0123456789" not in r.stderr, "a secret was echoed"
