"""Students in headless Chromium with hls.js in low-latency mode: live play
with forced rung switches, seeking back in the time-shift window, and the
recording played from start to end once the lecture is over."""

import json
import signal
import subprocess
import time
import urllib.request

from lrdemo import (REPO, Config, Demo, fetch_media, http_get, scaled, tls_egress, tool,
                    wait_for, wait_master, wait_segments)
from hlsjs import HLSJS, watch  # noqa: F401





def test_low_latency_play_and_rung_switches_do_not_stall(start_demo, tmp_path):
    # Over HTTPS, so Chromium speaks HTTP/2, as RFC 8216bis asks of LL-HLS
    # servers: over HTTP/1.1 its six connections per host are shared by two
    # blocking playlist reloads and the parts, and a reload can queue.
    tls, https = tls_egress(tmp_path)
    demo = start_demo(tls)
    variants = wait_master(demo)
    assert len(variants) >= 2
    for v in variants:
        wait_segments(urllib.request.urljoin(demo.live("master.m3u8"), v["uri"]), 2)
    # hls.js orders levels by bandwidth: 0 is the lowest rung.
    last = len(variants) - 1
    s = watch(https, demo.live("master.m3u8").replace(demo.base, https), 24,
              [{"at": 8, "do": "level", "level": 0}, {"at": 14, "do": "level", "level": last},
               {"at": 19, "do": "level", "level": 0}])
    assert s["ok"], s
    # an error is "type/details[ FATAL][ (reason)]": judge by its name, not the
    # reason; "video/<code>" is the media element's own (a decode error)
    assert not [e for e in s["errors"] if "DECODE" in e.split(" (")[0].upper() or " FATAL" in e
                or e.startswith("video/")], \
        s["errors"]
    assert s["played"] >= 12, s
    # '?': requests hls.js aborted report no protocol
    assert s["protocols"].get("h2") and set(s["protocols"]) <= {"h2", "?"}, \
        f"not all over HTTP/2: {s['protocols']}"
    assert 0 in s["levels"] and last in s["levels"], f"switches not seen: {s['levels']}"
    assert s["stalls"] == 0, f"BUFFER_STALLED_ERROR x{s['stalls']}: {s['errors']}, slow: {s['slow']}"
    assert s["watchdogRestarts"] == 0, s  # the player page's watchdog never had to act
    lat = sorted(s["latencies"])
    assert lat, "hls.js never reported a playing date (EXT-X-PROGRAM-DATE-TIME)"
    print(f"latency median {lat[len(lat) // 2]} ms, slow requests: {s['slow']}")
    demo.assert_stops(signal.SIGINT)


def _segments_span(url):
    m = fetch_media(url)
    return sum(s["duration"] for s in m["segments"]) if m else 0


def test_restart_time_shift_and_recording(tmp_path):
    """The roles as three processes. The ingest restarts mid-lecture: one
    discontinuity, and hls.js plays on. Later a student seeks back 30 s in
    the time-shift window. When the lecture ends, its recording plays from
    start to end."""
    rec_dir = tmp_path / "rec"
    # The grace time outlasts the 4 s outage: a break, not the lecture's end.
    conf = Config(tmp_path, {"lecture": "cs101", "egress": {
        "recordings_dir": str(rec_dir), "recording_grace": 8}})
    args = lambda role: [role, "--config", str(conf.path)]  # noqa: E731
    egress = Demo(conf, args=args("egress"), log_dir=tmp_path)
    transcode = Demo(conf, args=args("transcode"), log_dir=tmp_path)
    ingest = Demo(conf, args=args("ingest"), log_dir=tmp_path)
    ingest2 = Demo(conf, args=args("ingest"), log_dir=tmp_path)
    procs = [ingest, ingest2, transcode, egress]
    try:
        egress.start()
        transcode.start_background()
        ingest.start_background()
        master = egress.live("master.m3u8")
        variants = wait_master(egress, scaled(40))
        low = urllib.request.urljoin(master, variants[-1]["uri"])
        wait_segments(low, 2, scaled(40))
        first = fetch_media(low)["sequence"]

        # 1. A student watches while the ingest goes away for 4 s and comes back.
        player = subprocess.Popen(
            [tool("node"), str(HLSJS), json.dumps({"origin": egress.base, "src": master,
                                                   "seconds": 36})],
            cwd=str(REPO), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for(lambda: _segments_span(low) >= 14 or None, scaled(30), what="14 s of lecture")
        ingest.assert_stops(signal.SIGTERM)
        t_gone = time.monotonic()
        wait_for(lambda: time.monotonic() - t_gone >= 4 or None, 10, interval=0.1,
                 what="a 4 s outage")  # the outage itself is what is tested
        ingest2.start_background()
        out, err = player.communicate(timeout=120)
        s = json.loads([l for l in out.splitlines() if l.startswith("{")][-1])
        print({k: v for k, v in s.items() if k != "latencies"})
        assert s["ok"] and not s["fatal"], s
        assert s["played"] >= 20, f"hls.js did not play on after the restart: {s}"
        # the player page's watchdog may restart a player stuck after the
        # restart (hls.js, about 1 run in 10), once
        assert s["watchdogRestarts"] <= 1, s
        text = http_get(low)[2].decode()
        assert text.count("#EXT-X-DISCONTINUITY\n") == 1, text
        # the time-shift window still starts with the lecture: the slots the
        # outage left empty are listed as gaps, the same numbers every egress
        # node gives (a rendition whose numbers skipped once restarted its
        # window; ci10)
        assert f"#EXT-X-MEDIA-SEQUENCE:{first}\n" in text, text
        assert "#EXT-X-GAP\n" in text, text

        # 2. Seek back 30 s in the time-shift window (past the restart's
        # discontinuity: the window reaches back before it).
        wait_for(lambda: _segments_span(low) >= 42 or None, scaled(60), interval=1,
                 what="42 s in the time-shift window")
        s = watch(egress.base, master, 16, [{"at": 3, "do": "seekBack", "seconds": 30}])
        assert s["ok"] and s["played"] >= 8, s
        behind = s["seekable"][1] - s["currentTime"]
        assert behind >= 20, f"not playing 30 s back: {behind:.1f} s behind the edge"

        # 3. The lecture ends; after the grace time its recording is a VOD.
        ingest2.assert_stops(signal.SIGTERM)
        transcode.assert_stops(signal.SIGTERM)
        streamed = _segments_span(low)
        info = wait_for(lambda: next((p for p in (rec_dir / "cs101").glob("*/recording.json")
                                      if json.loads(p.read_text())["finished"]), None),
                        scaled(30), what="the finished recording")
        meta = json.loads(info.read_text())
        # the lecture list shows it within a refresh of the index (1 s)
        wait_for(lambda: meta["id"] in http_get(f"{egress.base}/api/v1/lectures")[2].decode(),
                 scaled(5), what="the recording in /api/v1/lectures")
        vod = f"{egress.base}/vod/cs101/{meta['id']}/master.m3u8"
        s = watch(egress.base, vod, 60, rate=4, low_latency=False)
        assert s["ok"] and s["ended"], f"the recording did not play to its end: {s}"
        assert abs(s["duration"] - streamed) <= 2.5, \
            f"recording lasts {s['duration']:.1f} s, {streamed:.1f} s were streamed"
        egress.assert_stops(signal.SIGTERM)
    finally:
        for p in procs:
            p.close()
