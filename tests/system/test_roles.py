"""Each role alone: egress, transcode and ingest as three processes that talk
only over real SRT links, as they would on three machines."""

import signal

from lrdemo import (Config, Demo, download, fetch_media, first_video_frame, rung_urls, scaled,
                    wait_for, wait_master, wait_segments, with_media)


def test_three_processes_relay_a_lecture(tmp_path):
    conf = Config(tmp_path, {"lecture": "cs101"})
    # The same file serves every role: each reads only its own section.
    egress = Demo(conf, args=["egress", "--config", str(conf.path)], log_dir=tmp_path)
    transcode = Demo(conf, args=["transcode", "--config", str(conf.path)], log_dir=tmp_path)
    ingest = Demo(conf, args=["ingest", "--config", str(conf.path)], log_dir=tmp_path)
    procs = [ingest, transcode, egress]
    try:
        egress.start()  # prints the watch line once HTTP is up
        transcode.start_background()
        ingest.start_background()

        variants = wait_master(egress, scaled(40))
        names = sorted(v["uri"].split("/")[0] for v in variants)
        # the default ladder from the 720p sample: 1080p is left out (no upscaling)
        assert names == ["360p", "480p", "720p"], variants
        urls = rung_urls(egress, variants)
        first = wait_segments(urls["720p"], 2, scaled(40))
        wait_for(lambda: (fetch_media(urls["720p"]) or first)["segments"][-1]["seq"]
                 > first["segments"][-1]["seq"], scaled(20), what="a newer segment")

        seg = with_media(fetch_media(urls["360p"])["segments"])[-1]
        path = download(urls["360p"].rsplit("/", 1)[0] + "/" + seg["uri"], tmp_path / "s.ts")
        assert int(first_video_frame(path)["key_frame"]) == 1

        for p in procs:  # upstream first, as an operator would
            p.assert_stops(signal.SIGTERM)
    finally:
        for p in procs:
            p.close()


def test_role_help_says_how(tmp_path):
    import subprocess
    from lrdemo import BINARY
    top = subprocess.run([str(BINARY), "--help"], capture_output=True, text=True, timeout=10)
    assert top.returncode == 0
    for role in ("run", "ingest", "transcode", "egress"):
        assert role in top.stdout
        r = subprocess.run([str(BINARY), role, "--help"], capture_output=True, text=True,
                           timeout=10)
        assert r.returncode == 0, r.stderr
        assert f"lecture-relay {role}" in r.stdout and "--config" in r.stdout
    bad = subprocess.run([str(BINARY), "frobnicate"], capture_output=True, text=True, timeout=10)
    assert bad.returncode == 2 and "unknown command" in bad.stderr
