"""Regions (docs/regions.md): three egress nodes fed by one transcoder, each
a Content Steering pathway. hls.js plays from node a's master; node a is
killed with SIGKILL mid-lecture: hls.js goes on from another pathway with no
fatal error, no discontinuity and a stall within bench/steer's goal; the
survivors' steering manifests list a last within two TTLs; when a returns,
it is listed in its place again."""

import signal
import time

from hlsjs import Player
from lrdemo import (Config, Demo, http_get, scaled, steering_priority, to_yaml, wait_for)

TTL = 2
STALL_GOAL_MS = 2000  # bench/steer's goal


def three_nodes(tmp_path, ids=("a", "b", "c")):
    """Configs and Demos of egress nodes ids (pathways of the same names,
    each the others' peer) fed by one transcoder and ingest: (nodes,
    transcode, ingest, confs)."""
    confs = {}
    for i in ids:
        (tmp_path / i).mkdir()
        confs[i] = Config(tmp_path / i, {"lecture": "cs101"})
    base = {i: f"http://{confs[i].data['egress']['http']}" for i in ids}
    for i in ids:
        confs[i].data["egress"]["steering"] = {
            "pathway": i, "ttl": TTL,
            "peers": [{"pathway": p, "url": base[p]} for p in ids if p != i]}
        confs[i].path.write_text(to_yaml(confs[i].data) + "\n")
    feed = confs[ids[0]]
    feed.data["transcode"]["link"] = [confs[i].data["transcode"]["link"] for i in ids]
    feed.path.write_text(to_yaml(feed.data) + "\n")
    args = lambda c, role: [role, "--config", str(c.path)]  # noqa: E731
    nodes = {i: Demo(confs[i], args=args(confs[i], "egress"), log_dir=tmp_path / i) for i in ids}
    transcode = Demo(feed, args=args(feed, "transcode"), log_dir=tmp_path)
    ingest = Demo(feed, args=args(feed, "ingest"), log_dir=tmp_path)
    return nodes, transcode, ingest, confs


def steered(node):
    status, _, body = http_get(node.live("master.m3u8"))
    return status == 200 and b"PATHWAY-ID" in body


def healthy(nodes):
    return (steering_priority(nodes["b"], "cs101") == ["b", "a", "c"] and
            steering_priority(nodes["c"], "cs101") == ["c", "a", "b"])


def test_hlsjs_moves_to_another_pathway_when_its_node_dies(tmp_path):
    nodes, transcode, ingest, confs = three_nodes(tmp_path)
    procs = [ingest, transcode, *nodes.values()]
    player = None
    try:
        for n in nodes.values():
            n.start()
        transcode.start_background()
        ingest.start_background()
        for n in nodes.values():
            wait_for(lambda: steered(n) or None, scaled(40), what="a master with pathways")
        wait_for(lambda: healthy(nodes) or None, scaled(20), what="every pathway healthy")

        a_host = nodes["a"].base.split("//", 1)[1]
        player = Player(nodes["a"].base, nodes["a"].live("master.m3u8"), seconds=30).start()
        # (hls.js in Chromium starting beside the other lane: up to a minute)
        began = player.wait_playing(scaled(60))
        wait_for(lambda: time.time() * 1000 - began >= 8000 or None, 12, interval=0.1,
                 what="8 s of playback from node a")  # playing from a is the premise
        killed = time.time() * 1000
        nodes["a"].proc.send_signal(signal.SIGKILL)
        nodes["a"].proc.wait(10)

        # the survivors put a last within two TTLs
        t_kill = time.monotonic()
        wait_for(lambda: steering_priority(nodes["b"], "cs101")[-1] == "a" and
                 steering_priority(nodes["c"], "cs101")[-1] == "a" or None,
                 2 * TTL, interval=0.1, what="node a last in b's and c's manifests")
        print(f"a listed last {time.monotonic() - t_kill:.1f} s after the kill")

        s = player.result()
        assert s["ok"] and not s["fatal"], s
        hosts = s["hosts"]
        assert hosts and hosts[0][1] == a_host, hosts
        moved = [t for t, h in hosts if t > killed and h != a_host]
        assert moved, f"hls.js never fetched media from another pathway: {hosts}"
        print(f"media from {[h for t, h in hosts if t > killed][0]} "
              f"{moved[0] - killed:.0f} ms after the kill")
        stalls = [ms for t, ms in s["holds"] if t + ms > killed]
        assert max(stalls, default=0) <= STALL_GOAL_MS, s["holds"]
        # no discontinuity: the pathways number and time the media alike
        assert s["ccs"] == [0], s["ccs"]
        assert not [h for h in s["holes"] if h[2] > 0], s["holes"]  # no jump
        assert s["watchdogRestarts"] == 0, s
        assert s["played"] >= 20, s

        # a comes back: listed in its place again
        nodes["a"] = Demo(confs["a"], args=["egress", "--config", str(confs["a"].path)],
                          log_dir=tmp_path / "a")
        procs.append(nodes["a"])
        nodes["a"].start()
        wait_for(lambda: healthy(nodes) or None, scaled(30), what="node a listed again")
    finally:
        if player:
            player.close()
        for p in procs:
            p.close()
