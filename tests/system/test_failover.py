"""Failover at the ingest: a lecturer's push as the primary source, the
recorded lecture file as the backup. Losing the push moves the lecture to the
backup within 1.5 s; the push coming back wins it back; the lecture plays on."""

import signal

from lrdemo import (REPO, Config, Demo, ffmpeg_push, free_udp_port, lecture_urls, now_of_day,
                    scaled, seq, source_reads, wait_for)


def reads(relay):
    return source_reads(relay, "cs101")







def test_push_fails_over_to_backup_and_back(tmp_path):
    port = free_udp_port()
    conf = Config(tmp_path, {
        "lecture": "cs101",
        "ingest": {
            "listen": f"srt://127.0.0.1:{port}",
            "stall_ms": 1000,
            "lectures": [{"name": "cs101",
                          "sources": ["push", str(REPO / "samples" / "lecture.mp4")]}],
        },
    })
    relay = Demo(conf)
    pubs = []
    try:
        relay.start()
        pubs.append(ffmpeg_push(port, "#!::r=cs101,m=publish"))
        wait_for(lambda: any(src == 1 for _, src in reads(relay)), scaled(20),
                 what="the ingest to read the push")
        url = next(iter(lecture_urls(relay, "cs101").values()))
        wait_for(lambda: seq(url) >= 2, scaled(30), what="segments from the push")

        pubs[0].kill()  # the lecturer's encoder dies without a goodbye
        killed_at = now_of_day()
        def backup():
            after = [t for t, src in reads(relay) if src == 2 and t >= killed_at - 0.05]
            return after[0] if after else None
        took = wait_for(backup, scaled(10), interval=0.05,
                        what="the ingest to fail over to the backup") - killed_at
        print(f"failover_ms={took * 1000:.0f}")
        assert took < 1.5, f"failover took {took:.3f} s"

        before = seq(url)
        wait_for(lambda: seq(url) >= before + 2, scaled(30),
                 what="segments to keep coming from the backup")

        # The lecturer comes back: the push is the primary and wins again.
        pubs.append(ffmpeg_push(port, "#!::r=cs101,m=publish"))
        back_from = now_of_day()
        wait_for(lambda: any(src == 1 and t >= back_from - 0.05 for t, src in reads(relay)),
                 scaled(15), what="the push to win the lecture back")
        before = seq(url)
        wait_for(lambda: seq(url) >= before + 2, scaled(30),
                 what="segments after switching back")
        relay.assert_stops(signal.SIGINT)
    finally:
        for p in pubs:
            if p.poll() is None:
                p.kill()
                p.wait()
        relay.close()
