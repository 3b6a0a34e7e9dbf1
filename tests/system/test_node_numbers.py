"""Two egress nodes fed by one transcoder publish a lecture alike: the same
segment and part numbers, durations, dates and media timestamps, so that a
player can move from one to the other mid-lecture (a Content Steering
pathway switch, docs/regions.md) without a discontinuity. Also after one of
them is killed with SIGKILL and started again: the numbers it gives on are
the other's, and the slots it missed are listed as EXT-X-GAP."""

import signal
import time
import urllib.parse

import hls_check
from lrdemo import (Config, Demo, cmaf_first_presentation, http_get, parse_master, scaled,
                    to_yaml, video_variants, wait_for, wait_master)

SAMPLE_EVERY = 1.5  # s: shorter than a segment, so every one is seen listed


def _renditions(node):
    """{name: media playlist URL} of every rendition in node's master."""
    wait_master(node, scaled(40))
    master = node.live("master.m3u8")
    text = http_get(master)[2].decode()
    uris = [v["uri"] for v in video_variants(parse_master(text))]
    uris += [line.split('URI="', 1)[1].split('"', 1)[0]
             for line in text.splitlines() if line.startswith("#EXT-X-MEDIA:TYPE=AUDIO")]
    return {u.split("/")[0]: urllib.parse.urljoin(master, u) for u in uris}


def _sample(node, urls, seen, gaps):
    """Adds what node's playlists list now to seen[name][seq] (segments with
    media) and gaps[name] (EXT-X-GAP numbers)."""
    for name, url in urls.items():
        status, _, body = http_get(url)
        if status != 200:
            continue
        errors = []
        pl = hls_check.parse_media(body.decode(), errors)
        assert not errors, errors
        for s in pl.segments:
            if s.gap:
                gaps.setdefault(name, set()).add(s.seq)
                continue
            entry = seen.setdefault(name, {}).setdefault(s.seq, {})
            entry.update(duration=s.duration, pdt=s.pdt, uri=urllib.parse.urljoin(url, s.uri))
            if s.parts:
                entry["parts"] = [p.duration for p in s.parts]


def _sample_for(seconds, nodes):
    end = time.monotonic() + seconds
    while time.monotonic() < end:  # sampling for a span of the lecture is what is tested
        for node, urls, seen, gaps in nodes:
            if node.alive():
                _sample(node, urls, seen, gaps)
        time.sleep(SAMPLE_EVERY)


def _compare(seen_a, seen_b, after=None):
    """The numbers both nodes list (above after), checked alike; returns them.
    A node's first segment of a link is left out: it begins with what the
    link first brings (the audio up to an AAC frame later on one node)."""
    firsts = {min(seen_a), min(seen_b)}
    if after is not None:
        firsts |= {min(q for q in seen_b if q > after)}
    common = sorted((set(seen_a) & set(seen_b)) - firsts)
    if after is not None:
        common = [q for q in common if q > after]
    for q in common:
        a, b = seen_a[q], seen_b[q]
        assert abs(a["duration"] - b["duration"]) < 0.0015, (q, a, b)
        assert a["pdt"] is not None and b["pdt"] is not None, (q, a, b)
        assert abs(a["pdt"] - b["pdt"]) < 0.0015, (q, a, b)
        if "parts" in a and "parts" in b:
            assert a["parts"] == b["parts"], (q, a, b)
    return common


def _first_presentation(url, init_url):
    init = http_get(init_url)[2]
    status, _, seg = http_get(url)
    assert status == 200, (url, status)
    return cmaf_first_presentation(init, seg)


def test_two_nodes_number_alike_also_after_one_restarts(tmp_path):
    (tmp_path / "b").mkdir()
    overrides = {"lecture": "cs101", "egress": {"recordings_dir": str(tmp_path / "rec-a")}}
    conf = Config(tmp_path, overrides)
    conf_b = Config(tmp_path / "b", {"lecture": "cs101",
                                     "egress": {"recordings_dir": str(tmp_path / "rec-b")}})
    conf.data["transcode"]["link"] = [conf.data["transcode"]["link"],
                                      conf_b.data["transcode"]["link"]]
    conf.path.write_text(to_yaml(conf.data) + "\n")
    args = lambda c, role: [role, "--config", str(c.path)]  # noqa: E731
    egress_a = Demo(conf, args=args(conf, "egress"), log_dir=tmp_path)
    egress_b = Demo(conf_b, args=args(conf_b, "egress"), log_dir=tmp_path)
    transcode = Demo(conf, args=args(conf, "transcode"), log_dir=tmp_path)
    ingest = Demo(conf, args=args(conf, "ingest"), log_dir=tmp_path)
    procs = [ingest, transcode, egress_a, egress_b]
    try:
        egress_a.start()
        egress_b.start()
        transcode.start_background()
        ingest.start_background()
        urls_a, urls_b = _renditions(egress_a), _renditions(egress_b)
        assert set(urls_a) == set(urls_b) and len(urls_a) >= 3, (urls_a, urls_b)
        seen_a, seen_b, gaps_a, gaps_b = {}, {}, {}, {}

        # 1. 20 s with both up.
        _sample_for(20, [(egress_a, urls_a, seen_a, gaps_a), (egress_b, urls_b, seen_b, gaps_b)])
        for name in urls_a:
            common = _compare(seen_a[name], seen_b[name])
            assert len(common) >= 7, (name, sorted(seen_a[name]), sorted(seen_b[name]))
        # numbers are slots of the wall clock, not counted from 0
        assert min(seen_a[next(iter(urls_a))]) > 10 ** 6

        # 2. B is killed, stays down 6 s, and starts again (as systemd would).
        # (each rendition's own: the audio's newest segment can be a number
        # ahead of a rung's, and its first after the restart must be left out)
        last = {name: max(seen_b[name]) for name in urls_b}
        last_b = min(last.values())
        egress_b.proc.send_signal(signal.SIGKILL)
        egress_b.proc.wait(10)
        down = time.monotonic()
        _sample_for(6, [(egress_a, urls_a, seen_a, gaps_a)])
        egress_b = Demo(conf_b, args=args(conf_b, "egress"), log_dir=tmp_path)
        procs.append(egress_b)
        egress_b.start()
        low = urls_b[sorted(urls_b)[-1]]
        wait_for(lambda: _newest(low) > last_b + 3 or None, scaled(30),
                 what="egress B to list segments again after its restart")
        print(f"B back {time.monotonic() - down:.1f} s after the kill")

        # 3. 20 s more: B's numbers are A's again.
        _sample_for(20, [(egress_a, urls_a, seen_a, gaps_a), (egress_b, urls_b, seen_b, gaps_b)])
        for name in urls_a:
            # compared from the restarted link's first segment on, which is
            # after the slots B lists as missed (its restored window can hold
            # a segment or two it wrote before the kill but never listed)
            top_gap = max(gaps_b.get(name, set()) | {last[name]})
            after = _compare(seen_a[name], seen_b[name], after=top_gap)
            assert len(after) >= 7, (name, sorted(seen_b[name]))
            # what B lost while it was down is listed as gaps, between the
            # window its recording gave back and what came after
            lost = set(range(last[name] + 1, min(after)))
            assert gaps_b.get(name, set()) & lost, (name, sorted(gaps_b.get(name, ())),
                                                    last[name], min(after))
            assert not set(seen_b[name]) & gaps_b.get(name, set())

        # 4. The media inside: each segment's first timestamp is the same on
        # both nodes, before and after the restart.
        for name in urls_a:
            both = sorted(set(seen_a[name]) & set(seen_b[name]))
            for q in (both[1], both[-2]):
                init_a = urllib.parse.urljoin(urls_a[name], "init.mp4")
                init_b = urllib.parse.urljoin(urls_b[name], "init.mp4")
                ta = _first_presentation(seen_a[name][q]["uri"], init_a)
                tb = _first_presentation(seen_b[name][q]["uri"], init_b)
                assert ta == tb, (name, q, ta, tb)
        for p in (ingest, transcode, egress_a, egress_b):
            p.assert_stops(signal.SIGTERM)
    finally:
        for p in procs:
            p.close()


def _newest(url):
    status, _, body = http_get(url)
    if status != 200:
        return -1
    pl = hls_check.parse_media(body.decode(), [])
    return pl.segments[-1].seq if pl.segments else -1
