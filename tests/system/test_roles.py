"""Each role alone: egress, transcode and ingest as three processes that talk
only over real SRT links, as they would on three machines."""

import json
import signal

from lrdemo import (Config, Demo, deep_merge, download, fetch_media, first_video_frame,
                    free_tcp_port, http_get, rung_urls, scaled, to_yaml, wait_for, wait_master,
                    wait_segments, with_media)


def with_keys(conf, name, extra):
    """The same file as conf, with the top-level keys extra, as name."""
    path = conf.path.parent / name
    path.write_text(to_yaml(deep_merge(conf.data, extra)) + "\n")
    path.chmod(0o640)
    return path


def upstream_status(egress):
    """From the egress's /api/v1/status: the origins of the series it has with
    values, by metric name, and the texts of its events."""
    code, _, body = http_get(egress.base + "/api/v1/status")
    assert code == 200, code
    d = json.loads(body)
    seen = {}
    for s in d["series"]:
        if "origin" in s["labels"] and any(v is not None for v in s["v"][-3:]):
            seen.setdefault(s["name"], set()).add(s["labels"]["origin"])
    return seen, [e["text"] for e in d["events"]]


def test_three_processes_relay_a_lecture(tmp_path):
    conf = Config(tmp_path, {"lecture": "cs101"})
    # The same file serves every role (each reads only its own section), but
    # for the metrics servers of the two upstream roles, whose status the
    # egress's page shows too (status_upstreams).
    ing_metrics, tc_metrics = free_tcp_port(), free_tcp_port()
    ing_conf = with_keys(conf, "ingest.yaml", {"metrics": f"127.0.0.1:{ing_metrics}"})
    tc_conf = with_keys(conf, "transcode.yaml", {"metrics": f"127.0.0.1:{tc_metrics}"})
    eg_conf = with_keys(conf, "egress.yaml", {"status_upstreams": [
        f"http://127.0.0.1:{ing_metrics}", f"127.0.0.1:{tc_metrics}"]})
    egress = Demo(conf, args=["egress", "--config", str(eg_conf)], log_dir=tmp_path)
    transcode = Demo(conf, args=["transcode", "--config", str(tc_conf)], log_dir=tmp_path)
    ingest = Demo(conf, args=["ingest", "--config", str(ing_conf)], log_dir=tmp_path)
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

        # the egress's status page: the upstream roles' charts and events
        origins = {f"127.0.0.1:{ing_metrics}", f"127.0.0.1:{tc_metrics}"}
        def both():
            seen, events = upstream_status(egress)
            ok = (seen.get("lr_ingest_source_bitrate_bps") == {f"127.0.0.1:{ing_metrics}"} and
                  seen.get("lr_transcode_frames_total") == {f"127.0.0.1:{tc_metrics}"} and
                  origins <= seen.get("lr_link_rtt_ms", set()) and
                  any(t.startswith(f"127.0.0.1:{ing_metrics}: now reading source 1")
                      for t in events) and
                  any(t.startswith(f"127.0.0.1:{tc_metrics}: ladder link up") for t in events))
            return (seen, events) if ok else None
        wait_for(both, scaled(15), what="the upstream roles in the egress's status")

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
