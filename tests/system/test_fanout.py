"""One transcoder feeding two egress nodes (transcode.link as a list): each
has its own queue and link, so an egress that stops answering (SIGSTOP: a
hung machine) costs the other one nothing, and it catches up by itself when
it comes back."""

import re
import signal
import threading
import time
import urllib.request

import hls_check
from lrdemo import (Config, Demo, fetch_media, scaled, to_yaml, wait_for, wait_master,
                    wait_segments)


def _lowest(egress):
    variants = wait_master(egress, scaled(40))
    return urllib.request.urljoin(egress.live("master.m3u8"), variants[-1]["uri"])


def test_a_hung_egress_does_not_stall_the_other(tmp_path):
    (tmp_path / "b").mkdir()
    conf_b = Config(tmp_path / "b", {"lecture": "cs101"})
    conf = Config(tmp_path, {"lecture": "cs101"})
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
        low_a, low_b = _lowest(egress_a), _lowest(egress_b)
        wait_segments(low_a, 2, scaled(40))
        wait_segments(low_b, 2, scaled(40))

        # B hangs for 8 s (longer than SRT's 4 s peer timeout) while a
        # checker follows every playlist of A.
        watcher = hls_check.Watcher(egress_a.live("master.m3u8"))
        found = {}
        follow = threading.Thread(target=lambda: found.setdefault("v", watcher.run(scaled(16))))
        follow.start()
        before = fetch_media(low_a)["segments"][-1]["seq"]
        egress_b.proc.send_signal(signal.SIGSTOP)
        hung = time.monotonic()
        wait_for(lambda: time.monotonic() - hung >= 8 or None, 12, interval=0.1,
                 what="8 s of a hung egress")  # the hang itself is what is tested
        egress_b.proc.send_signal(signal.SIGCONT)
        follow.join()
        assert not found["v"], "\n".join(found["v"][:20])

        # A went on as if nothing happened: every segment there, no break.
        text = urllib.request.urlopen(low_a, timeout=10).read().decode()
        m = fetch_media(low_a)
        after = [s for s in m["segments"] if s["seq"] > before]
        assert len(after) >= 6, f"egress A made {len(after)} segments in 16 s:\n{text}"
        assert "#EXT-X-DISCONTINUITY" not in text, text
        assert all(1.5 <= s["duration"] <= 2.5 for s in after[:-1]), text

        # B comes back by itself: new segments, and the transcoder says what B lost.
        last_b = fetch_media(low_b)["segments"][-1]["seq"]
        wait_for(lambda: fetch_media(low_b)["segments"][-1]["seq"] >= last_b + 2 or None,
                 scaled(30), what="egress B to get segments again")
        log = transcode.stderr_path.read_text()
        assert re.search(r"ladder link to srt://127\.0\.0\.1:\d+ broke|is not keeping up", log), \
            log[-3000:]
        for p in (ingest, transcode, egress_a, egress_b):
            p.assert_stops(signal.SIGTERM)
    finally:
        if egress_b.proc and egress_b.alive():
            egress_b.proc.send_signal(signal.SIGCONT)
        for p in procs:
            p.close()
