"""Content Steering across egress nodes (egress.steering, egress/steering.h):
three `lecture-relay egress` processes, pathways a, b and c, fed by one
transcoder. Each node's master lists every variant once per pathway (its
own first, the peers' at their own URLs, which play); each node answers the
steering manifest; a client in a mapped address prefix gets its region
first; a node killed with SIGKILL goes last in the survivors' manifests
within two TTLs, and comes back when it returns."""

import http.server
import json
import re
import signal
import threading
import time
import urllib.request

from lrdemo import (Config, Demo, fetch_media, http_get, scaled, steering_manifest as manifest,
                    steering_priority as priority, to_yaml, wait_for)

TTL = 2


def test_three_nodes_steer_players_and_put_a_dead_one_last(tmp_path):
    ids = ["a", "b", "c"]
    confs = {}
    for i in ids:
        (tmp_path / i).mkdir()
        confs[i] = Config(tmp_path / i, {"lecture": "cs101"})
    base = {i: f"http://{confs[i].data['egress']['http']}" for i in ids}
    for i in ids:
        st = {"pathway": i, "ttl": TTL,
              "peers": [{"pathway": p, "url": base[p]} for p in ids if p != i]}
        if i == "a":
            st["prefixes"] = [{"prefix": "127.0.0.2/32", "pathways": ["c", "b"]}]
        confs[i].data["egress"]["steering"] = st
        confs[i].path.write_text(to_yaml(confs[i].data) + "\n")
    feed = confs["a"]
    feed.data["transcode"]["link"] = [confs[i].data["transcode"]["link"] for i in ids]
    feed.path.write_text(to_yaml(feed.data) + "\n")
    args = lambda c, role: [role, "--config", str(c.path)]  # noqa: E731
    nodes = {i: Demo(confs[i], args=args(confs[i], "egress"), log_dir=tmp_path / i) for i in ids}
    transcode = Demo(feed, args=args(feed, "transcode"), log_dir=tmp_path)
    ingest = Demo(feed, args=args(feed, "ingest"), log_dir=tmp_path)
    procs = [ingest, transcode, *nodes.values()]
    try:
        for n in nodes.values():
            n.start()
        transcode.start_background()
        ingest.start_background()

        def steered_master():
            status, _, body = http_get(nodes["a"].live("master.m3u8"))
            return body.decode() if status == 200 and "PATHWAY-ID" in body.decode() else None
        text = wait_for(steered_master, scaled(40), what="node a's master with pathways")
        # the player page lets hls.js (and Safari) reach the other pathways
        csp = {k.lower(): v for k, v in http_get(nodes["a"].url)[1].items()}[
            "content-security-policy"]
        for d in ("connect-src", "media-src"):
            allowed = re.search(rf"{d} ([^;]*)", csp).group(1).split()
            assert base["b"] in allowed and base["c"] in allowed, (d, csp)
        assert '#EXT-X-CONTENT-STEERING:SERVER-URI="/steer/cs101.json",PATHWAY-ID="a"' in text
        variants = re.findall(r'#EXT-X-STREAM-INF:[^\n]*PATHWAY-ID="(\w+)"[^\n]*\n(\S+)', text)
        per = {p: [u for q, u in variants if q == p] for p in ids}
        assert len(per["a"]) >= 2 and len(per["a"]) == len(per["b"]) == len(per["c"]), variants
        assert variants[0][0] == "a" and not per["a"][0].startswith("http")
        assert per["b"][0].startswith(base["b"] + "/live/cs101/"), per["b"]
        # every pathway's copy of a variant plays from its own node
        for p in ids:
            url = urllib.request.urljoin(nodes["a"].live("master.m3u8"), per[p][0])
            wait_for(lambda: len(fetch_media(url)["segments"]) >= 2 or None, scaled(40),
                     what=f"segments on pathway {p}")

        # every node reports the lecture fresh on /api/v1/node, what the
        # peers poll
        def fresh(n):
            status, _, body = http_get(f"{n.base}/api/v1/node")
            lec = json.loads(body)["lectures"].get("cs101") if status == 200 else None
            return lec and lec["age_ms"] < 2 * lec["target_duration_ms"]
        for i in ids:
            wait_for(lambda: fresh(nodes[i]) or None, scaled(20), what=f"node {i} live")
        node = json.loads(http_get(f"{nodes['a'].base}/api/v1/node")[2])
        assert node["pathway"] == "a" and node["capacity"] == 0, node

        # all three healthy: this node's pathway first, then the peers in
        # their configured order; a client of 127.0.0.2 gets c, then b.
        # (Every pathway unhealthy gives the same orders: what proves health
        # is the order after c dies, below.)
        # Health is sampled each poll (1 s here), so a host busy enough to
        # delay one answer past its 1 s deadline may flip an order for a
        # poll: the orders are waited for together, not read once.
        wait_for(lambda: priority(nodes["a"], "cs101", "127.0.0.2") == ["c", "b", "a"] and
                 priority(nodes["a"], "cs101") == ["a", "b", "c"] and
                 priority(nodes["b"], "cs101") == ["b", "a", "c"] or None,
                 scaled(20), what="a healthy ladder of orders on nodes a and b")
        m = manifest(nodes["a"], "cs101")
        assert m["VERSION"] == 1 and m["TTL"] == TTL and m["RELOAD-URI"] == "/steer/cs101.json"
        # a lecture not live anywhere: every pathway unhealthy, config order
        assert priority(nodes["b"], "nosuch") == ["b", "a", "c"]
        assert http_get(f"{nodes['a'].base}/steer/../x")[0] in (400, 404)
        assert http_get(f"{nodes['a'].base}/steer/cs101")[0] == 404

        # c dies: last in the survivors' manifests within two TTLs, even for
        # the client that prefers it (a and b are healthy: they come first)
        nodes["c"].kill()
        wait_for(lambda: priority(nodes["a"], "cs101", "127.0.0.2") == ["b", "a", "c"] and
                 priority(nodes["b"], "cs101", "127.0.0.2") == ["b", "a", "c"] or None,
                 2 * TTL, interval=0.1, what="c last in a's and b's manifests")
        wait_for(lambda: priority(nodes["a"], "cs101") == ["a", "b", "c"] or None, scaled(5),
                 what="a, b, c in a's manifest with c dead")

        # c returns (same ports): listed where it was once it has segments again
        (tmp_path / "c2").mkdir()
        nodes["c"] = Demo(confs["c"], args=args(confs["c"], "egress"), log_dir=tmp_path / "c2")
        procs.append(nodes["c"])
        nodes["c"].start()
        wait_for(lambda: priority(nodes["a"], "cs101", "127.0.0.2") == ["c", "b", "a"] or None,
                 scaled(40), what="c back first for 127.0.0.2 in a's manifest")
        for p in (ingest, transcode, nodes["a"], nodes["b"], nodes["c"]):
            p.assert_stops(signal.SIGTERM)
    finally:
        for p in procs:
            p.close()


class StandInPeer:
    """A stand-in for a peer's /api/v1/node (the JSON egress/http_steer.c
    serves): cs101 there is 2.5 s old with 2 s segments, fresh by that
    peer's measure (two target durations). Once closed, it refuses."""

    def __init__(self):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                body = json.dumps({"pathway": "s", "viewers": 0, "capacity": 0,
                                   "lectures": {"cs101": {"age_ms": 2500,
                                                          "target_duration_ms": 2000}}})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        if self.server.socket.fileno() >= 0:
            self.server.shutdown()
            self.server.server_close()


def test_a_node_without_the_lecture_judges_a_peer_by_its_own_segments(tmp_path):
    """Node a doesn't carry cs101 (unhealthy for it, its own target
    duration unknown); its one peer s says cs101 there is 2.5 s old with 2 s
    segments: healthy, so the order is s, a (a node that judged by a 1 s
    guess put every peer of a non-LL lecture last now and then). When s
    refuses connections, it goes last within a poll."""
    peer = StandInPeer()
    conf = Config(tmp_path, {"lecture": "cs101"})
    conf.data["egress"]["steering"] = {"pathway": "a", "ttl": TTL,
                                       "peers": [{"pathway": "s", "url": peer.url}]}
    conf.path.write_text(to_yaml(conf.data) + "\n")
    node = Demo(conf, args=["egress", "--config", str(conf.path)])
    try:
        node.start()
        wait_for(lambda: priority(node, "cs101") == ["s", "a"] or None, scaled(10),
                 what="the stand-in peer first")
        seen = []
        for _ in range(10):  # and so it stays, poll after poll
            seen.append(priority(node, "cs101"))
            time.sleep(0.1)
        assert all(p == ["s", "a"] for p in seen), seen
        peer.close()
        wait_for(lambda: priority(node, "cs101") == ["a", "s"] or None, scaled(3),
                 interval=0.05, what="the refusing peer last")
        assert "does not answer: its pathway goes last" in node.stderr_text()
        node.assert_stops(signal.SIGTERM)
    finally:
        peer.close()
        node.close()
