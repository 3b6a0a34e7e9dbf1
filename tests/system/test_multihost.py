"""The border with real hosts: network namespaces made by the test. The
"university" (ingest and transcode) feeds two "mainland" egress hosts over
its own links, each through the impairment proxy (200 ms RTT, 5 % loss up,
1 % down); the student is the test itself, on the bridge that joins them.
Both egress hosts must serve every segment, with conforming playlists, no
discontinuity, and media that decodes. Needs root (CI has it); skipped with
the reason where namespaces cannot be made."""

import os
import queue
import re
import subprocess
import threading
import time

import pytest

import hls_check
from lrdemo import (BINARY, Config, Demo, METRICS_AUTH, METRICS_TOKEN, decode_errors,
                    fetch_media, http_get, scaled, to_yaml, wait_for, wait_master, wait_segments,
                    with_media)

IMPAIR = os.environ.get("LR_IMPAIR")
IP = "/usr/sbin/ip"
NET = "10.77.{}.{}"


def _ip(*args, ns=None, check=True):
    cmd = [IP, *(["-n", ns] if ns else []), *args]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if check and r.returncode:
        raise RuntimeError(f"{' '.join(cmd)}: {r.stderr.strip()}")
    return r


class Hosts:
    """Namespaces on one bridge in the root namespace (the student's host)."""

    def __init__(self, names):
        tag = f"{os.getpid() % 10000}"
        self.subnet = os.getpid() % 200 + 20
        self.bridge = f"lrbr{tag}"
        self.ns, self.addr = {}, {}
        self.student = NET.format(self.subnet, 254)
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("addr", "add", f"{self.student}/24", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        for i, name in enumerate(names, 1):
            ns, veth = f"lr{tag}{name}", f"lrv{tag}{i}"
            _ip("netns", "add", ns)
            self.ns[name] = ns
            _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
            _ip("link", "set", veth, "master", self.bridge, "up")
            self.addr[name] = NET.format(self.subnet, i)
            _ip("addr", "add", f"{self.addr[name]}/24", "dev", "eth0", ns=ns)
            _ip("link", "set", "eth0", "up", ns=ns)
            _ip("link", "set", "lo", "up", ns=ns)

    def run(self, name, *cmd):
        return [IP, "netns", "exec", self.ns[name], *map(str, cmd)]

    def close(self):
        for ns in self.ns.values():
            _ip("netns", "del", ns, check=False)
        _ip("link", "del", self.bridge, check=False)


class Proxy:
    """The impairment proxy inside a host: listens on its loopback, relays to
    `to` across the bridge."""

    def __init__(self, hosts, name, to, log_dir, *args):
        self.lines = queue.Queue()
        self.log = open(log_dir / f"impair-{to.replace(':', '-')}.log", "wb")
        self.proc = subprocess.Popen(
            hosts.run(name, IMPAIR, "--listen", "127.0.0.1:0", "--to", to, *args),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.log, text=True)
        threading.Thread(target=lambda: [self.lines.put(l) for l in self.proc.stdout],
                         daemon=True).start()

        def listening():
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                return None
            m = re.match(r"listening on 127\.0\.0\.1:(\d+)", line)
            return int(m.group(1)) if m else None
        self.port = wait_for(listening, scaled(5), interval=0, what="the proxy's port")

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.log.close()


@pytest.fixture
def hosts():
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root (CI runs as root)")
    if not IMPAIR:
        pytest.skip("LR_IMPAIR is not set (meson sets it; by hand: LR_IMPAIR=build/tests/tools/impair)")
    try:
        h = Hosts(["uni", "egA", "egB"])
    except (RuntimeError, FileNotFoundError) as e:
        pytest.skip(f"cannot make network namespaces here: {e}")
    try:
        yield h
    finally:
        h.close()


def _write(conf, data):
    conf.data = data
    conf.path.write_text(to_yaml(data) + "\n")
    return conf


def test_university_feeds_two_mainland_egress_hosts_across_the_border(hosts, tmp_path):
    dirs = {n: tmp_path / n for n in ("uni", "egA", "egB")}
    for d in dirs.values():
        d.mkdir()
    egress = {}
    for name in ("egA", "egB"):
        conf = Config(dirs[name], {"lecture": "cs101"})
        _write(conf, {"lecture": "cs101", "link": {"latency_ms": "auto"}, "egress": {
            "listen": f"srt://{hosts.addr[name]}:9001", "http": f"{hosts.addr[name]}:8080",
            "metrics_token": METRICS_TOKEN}})
        egress[name] = Demo(conf, binary=IP, log_dir=dirs[name],
                            args=hosts.run(name, BINARY, "egress", "--config", conf.path)[1:])
    proxies = [Proxy(hosts, "uni", f"{hosts.addr[n]}:9001", dirs["uni"], "--delay", 100,
                     "--jitter", 5, "--up-loss", 5, "--down-loss", 1, "--seed", i)
               for i, n in enumerate(("egA", "egB"), 1)]
    uni = Config(dirs["uni"], {"lecture": "cs101"})
    _write(uni, {"lecture": "cs101", "link": {"latency_ms": "auto"},
                 "ingest": {"link": "srt://127.0.0.1:9000"},
                 "transcode": {"listen": "srt://127.0.0.1:9000",
                               "link": [f"srt://127.0.0.1:{p.port}" for p in proxies]}})
    roles = [Demo(uni, binary=IP, log_dir=dirs["uni"],
                  args=hosts.run("uni", BINARY, role, "--config", uni.path)[1:])
             for role in ("transcode", "ingest")]
    procs = [*roles, *egress.values()]
    try:
        for e in egress.values():
            e.start()
            assert hosts.addr["egA"] in e.base or hosts.addr["egB"] in e.base, e.base
        for r in roles:
            r.start_background()
        lows = {}
        for name, e in egress.items():
            variants = wait_master(e, scaled(60))
            lows[name] = e.live(variants[-1]["uri"])
            wait_segments(lows[name], 2, scaled(60))

        # the student follows both hosts' playlists at once for 20 s
        found = {}
        watchers = [threading.Thread(target=lambda n=n, e=e: found.setdefault(
            n, hls_check.Watcher(e.live("master.m3u8")).run(scaled(20))))
            for n, e in egress.items()]
        for t in watchers:
            t.start()
        for t in watchers:
            t.join()
        for name, violations in found.items():
            assert not violations, f"{name}:\n" + "\n".join(violations[:20])

        for name, e in egress.items():
            m = fetch_media(lows[name])
            seqs = [s["seq"] for s in m["segments"]]
            assert len(seqs) >= 10 and seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs
            text = http_get(lows[name])[2].decode()
            assert "#EXT-X-DISCONTINUITY" not in text, f"{name}:\n{text}"
            # the border is really in the path: the egress measures its RTT
            # /metrics is the operator's: 404 from another address without the
            # bearer token, or with a wrong one
            assert http_get(e.base + "/metrics")[0] == 404
            assert http_get(e.base + "/metrics", headers={
                "Authorization": "Bearer " + METRICS_TOKEN[:-1] + "x"})[0] == 404
            metrics = http_get(e.base + "/metrics", headers=METRICS_AUTH)[2].decode()
            rtt = [float(v) for v in re.findall(
                r'^lr_link_rtt_ms\{[^}]*role="egress"[^}]*\} (\S+)$', metrics, re.M)]
            assert rtt and max(rtt) >= 150, f"{name}: link RTT {rtt} (the proxy adds 200 ms)"
            print(f"{name}: segments {seqs[0]}..{seqs[-1]} whole, link RTT {max(rtt):.0f} ms")
            # the newest segments decode
            body = b"".join(http_get(re.sub(r"index\.m3u8$", uri, lows[name]))[2] for uri in (
                "init.mp4", *[s["uri"] for s in with_media(m["segments"])[-3:]]))
            whole = tmp_path / f"{name}.mp4"
            whole.write_bytes(body)
            rc, err = decode_errors(whole)
            assert rc == 0 and not err, f"{name}: {err}"
        for p in procs:
            p.assert_stops()
    finally:
        for p in procs:
            p.close()
        for p in proxies:
            p.close()
