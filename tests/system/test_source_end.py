"""A source that ends ends the lecture (issue 26). One relay carries a lecture
per kind of source, all started together from one 16 s clip whose picture
gets brighter by 12 luma steps a second, so a recording's frames tell which
moment of the source they are and a replay shows as a step back:

- an HLS stream from a small server in this file that publishes pre-cut
  segments live and then EXT-X-ENDLIST, and later a new live playlist;
- the clip as a file with `loop: false`;
- an RTMP pull from Debian's nginx-rtmp (the university's server, which
  tells its players when the publisher stops) with ffmpeg publishing to it;
- an SRT pull from ffmpeg as a listener, which closes at the clip's end;
- a lecture whose first source (half the clip) ends while its backup goes on;
- an HLS playlist that stops updating without EXT-X-ENDLIST, an HLS server
  that goes away, and one whose live playlist answers 404 a while: these
  are losses, and the pull reconnects as before.

Each ended lecture: the ingest logs "ended" (never "lost"), the egress ends it
within `recording_grace` + 5 s (for HLS, of the relay taking the last
segment: libavformat joins a live playlist three segments back, so it plays
the last one up to three segment durations after it is published), its live
playlists end with EXT-X-ENDLIST and its recording is finished, as long as
the source within one segment, with no part of the source twice. A URL live
again starts a second recording."""

import http.server
import json
import re
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from lrdemo import (Config, Demo, fetch_media, free_tcp_port, free_udp_port, metric, metrics,
                    now_of_day, scaled, tcp_listening, tool, wait_for)

CLIP_S = 16          # the clip's length
LONG_S = 150         # the streams that go on (longer than this file's tests)
SEG_S = 2            # its segments (and GOP)
GRACE_S = 2          # egress.recording_grace
LUMA0, LUMA_PER_S = 16, 12
# A frame's moment read from its mean luma is off by up to a luma step (x264
# rounds a flat picture's level; CI read 2.08 s for the keyframe at 2.0 s).
LUMA_SLACK_S = 1.5 / LUMA_PER_S
LECTURES = ("hls", "file", "rtmp", "srt", "backup", "stall", "gone")


# --------------------------------------------------------------------------
# the sources

def cut(ffmpeg, clip, seg_dir):
    """clip cut into SEG_S s MPEG-TS segments: [(name, bytes, seconds)]."""
    seg_dir.mkdir()
    subprocess.run([ffmpeg, "-nostdin", "-v", "error", "-y", "-i", str(clip), "-c", "copy",
                    "-f", "hls", "-hls_time", str(SEG_S), "-hls_playlist_type", "vod",
                    "-hls_segment_filename", str(seg_dir / "s%d.ts"), str(seg_dir / "all.m3u8")],
                   check=True, timeout=60)
    text = (seg_dir / "all.m3u8").read_text()
    durations = [float(x) for x in re.findall(r"#EXTINF:([\d.]+),", text)]
    names = [l for l in text.splitlines() if l.endswith(".ts")]
    return [(n, (seg_dir / n).read_bytes(), s) for n, s in zip(names, durations)]


def make_clips(d):
    """ramp.mp4 (CLIP_S s), half.mp4 (its first half), ramp.mp4 cut into
    segments, and segments of a LONG_S s picture for the streams that must
    not end (their timestamps must not wrap back while the tests run)."""
    ffmpeg = tool("ffmpeg")
    ramp, half = d / "ramp.mp4", d / "half.mp4"
    subprocess.run([ffmpeg, "-nostdin", "-v", "error", "-y",
                    "-f", "lavfi", "-i", f"color=c=black:s=320x180:r=25:d={CLIP_S},"
                    f"geq=lum='{LUMA0}+{LUMA_PER_S}*T':cb=128:cr=128",
                    "-f", "lavfi", "-i", f"sine=f=440:sample_rate=48000:d={CLIP_S}",
                    "-c:v", "libx264", "-preset", "ultrafast", "-g", str(25 * SEG_S),
                    "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(ramp)],
                   check=True, timeout=120)
    subprocess.run([ffmpeg, "-nostdin", "-v", "error", "-y", "-i", str(ramp),
                    "-t", str(CLIP_S // 2), "-c", "copy", str(half)], check=True, timeout=60)
    long = d / "long.ts"
    subprocess.run([ffmpeg, "-nostdin", "-v", "error", "-y",
                    "-f", "lavfi", "-i", f"testsrc2=s=320x180:r=25:d={LONG_S}",
                    "-f", "lavfi", "-i", f"sine=f=440:sample_rate=48000:d={LONG_S}",
                    "-c:v", "libx264", "-preset", "ultrafast", "-g", str(25 * SEG_S),
                    "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", "-f", "mpegts", str(long)],
                   check=True, timeout=120)
    segments = cut(ffmpeg, ramp, d / "segments")
    assert len(segments) == CLIP_S // SEG_S, [n for n, _, _ in segments]
    return ramp, half, segments, cut(ffmpeg, long, d / "long")


class HlsOrigin:
    """A university's HLS packager, publishing pre-cut segments live: the
    stream has been going for three segments when the first player asks for
    the playlist, and one more segment is out every SEG_S s from then on.
    A run ends with EXT-X-ENDLIST once all are out (end=True), stops
    updating after stall_after segments, or goes on for ever (endless=True:
    the segments again and again). Every request is recorded."""

    def __init__(self, segments, long_segments):
        self.clip, self.long = segments, long_segments
        self.segments = segments
        self.port = free_tcp_port()
        self.url = f"http://127.0.0.1:{self.port}/live/index.m3u8"
        # A master playlist naming it by a relative URI, as packagers write.
        self.master_url = f"http://127.0.0.1:{self.port}/master.m3u8"
        self.lock = threading.Lock()
        self.gets = []  # (UTC seconds of the day, path, status)
        self.server = None
        self.playlist_status = 200  # e.g. 404: the playlist is missing a while
        self.run("a", 0)

    def run(self, prefix, first_seq, end=True, stall_after=None, endless=False):
        """A new stream at the same URL: its own segment names (prefix, numbered
        from first_seq), its clock starting at the next request. An endless
        one is the long picture (going round after LONG_S s)."""
        with self.lock:
            self.segments = self.long if endless else self.clip
            self.prefix, self.first_seq = prefix, first_seq
            self.end, self.stall_after, self.endless = end, stall_after, endless
            self.t0 = None
            self.last_out = None  # when the last segment was published

    def _visible(self):
        now = time.monotonic()
        if self.t0 is None:
            self.t0 = now
        n = 3 + int((now - self.t0) / SEG_S)
        if self.stall_after is not None:
            n = min(n, self.stall_after)
        if not self.endless:
            n = min(n, len(self.segments))
            if n == len(self.segments) and self.last_out is None:
                self.last_out = now_of_day()
        return n

    def _segment(self, i):
        return self.segments[i % len(self.segments)]

    def playlist(self):
        n = self._visible()
        first = max(0, n - 8) if self.endless else 0
        lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{SEG_S}",
                 f"#EXT-X-MEDIA-SEQUENCE:{self.first_seq + first}"]
        for i in range(first, n):
            lines += [f"#EXTINF:{self._segment(i)[2]:.6f},", f"{self.prefix}{self.first_seq + i}.ts"]
        if self.end and n == len(self.segments) and not self.endless:
            lines.append("#EXT-X-ENDLIST")
        return ("\n".join(lines) + "\n").encode()

    def _handle(self, path):
        with self.lock:
            if path == "/live/index.m3u8" and self.playlist_status != 200:
                return self.playlist_status, "text/plain", b"not now\n"
            if path == "/live/index.m3u8":
                return 200, "application/vnd.apple.mpegurl", self.playlist()
            if path == "/master.m3u8":
                return 200, "application/vnd.apple.mpegurl", (
                    "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=300000,RESOLUTION=320x180\n"
                    "./live/../live/index.m3u8\n").encode()
            m = re.fullmatch(r"/live/([a-z]+)(\d+)\.ts", path)
            if m and m.group(1) == self.prefix:
                i = int(m.group(2)) - self.first_seq
                if 0 <= i < self._visible():
                    return 200, "video/mp2t", self._segment(i)[1]
            return 404, "text/plain", b"not found\n"

    def start(self):
        origin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                status, ctype, body = origin._handle(self.path)
                with origin.lock:
                    origin.gets.append((now_of_day(), self.path, status))
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def go_away(self):
        """The server is gone: connections are refused."""
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def segment_gets(self, prefix):
        """{segment path: times fetched} for the run with this prefix."""
        out = {}
        with self.lock:
            for _, path, status in self.gets:
                m = re.fullmatch(r"/live/([a-z]+)\d+\.ts", path)
                if m and m.group(1) == prefix and status == 200:
                    out[path] = out.get(path, 0) + 1
        return out

    def last_segment_get(self, prefix):
        with self.lock:
            return max(t for t, p, s in self.gets
                       if s == 200 and re.fullmatch(rf"/live/{prefix}\d+\.ts", p))


class NginxRtmp:
    """Debian's nginx with its RTMP module: `live on` with publish_notify, so
    a player is told (NetStream.Play.UnpublishNotify) when the publisher
    stops, as a university's nginx-rtmp tells its viewers."""

    MODULE = Path("/usr/lib/nginx/modules/ngx_rtmp_module.so")

    def __init__(self, d):
        if not self.MODULE.exists():
            pytest.skip("libnginx-mod-rtmp not installed (scripts/setup installs it)")
        self.nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self.dir = d / "nginx"
        self.dir.mkdir()
        self.port = free_tcp_port()
        self.url = f"rtmp://127.0.0.1:{self.port}/live/lecture"
        self.log = self.dir / "error.log"
        (self.dir / "nginx.conf").write_text(f"""
load_module {self.MODULE};
daemon off;
master_process off;
worker_processes 1;
error_log {self.log} info;
pid {self.dir / "nginx.pid"};
events {{ worker_connections 64; }}
rtmp {{ server {{ listen 127.0.0.1:{self.port};
    application live {{ live on; publish_notify on; }} }} }}
""")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([self.nginx, "-c", str(self.dir / "nginx.conf"),
                                      "-p", str(self.dir), "-e", str(self.log)],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_for(lambda: tcp_listening(self.port), scaled(10), what="nginx-rtmp")

    def plays(self):
        """Players that asked for the stream so far."""
        try:
            return self.log.read_text(errors="replace").count("play: name='lecture'")
        except OSError:
            return 0

    def publish(self, clip):
        return publisher(["-re", "-i", str(clip), "-c", "copy", "-f", "flv", self.url])

    def close(self):
        stop(self.proc)


def publisher(args):
    return subprocess.Popen([tool("ffmpeg"), "-nostdin", "-hide_banner", "-loglevel", "error",
                             *args], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def srt_listener(port, clip):
    """A capture box's SRT output: ffmpeg waits for the caller, sends the
    clip at its own pace and closes."""
    return publisher(["-re", "-i", str(clip), "-c", "copy", "-f", "mpegts",
                      f"srt://127.0.0.1:{port}?mode=listener&latency=120000"])


def stop(p):
    if p and p.poll() is None:
        p.kill()
        p.wait()


# --------------------------------------------------------------------------
# reading the results

_LINE = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d\d\d) ")


def log_times(relay, pattern):
    """UTC seconds of the day of the relay's log lines matching pattern."""
    out = []
    for line in relay.stderr_text().splitlines():
        m = _LINE.match(line)
        if m and re.search(pattern, line):
            h, mi, s, ms = (int(g) for g in m.groups())
            out.append(h * 3600 + mi * 60 + s + ms / 1000)
    return out


def recordings(rec_dir, lecture):
    return sorted(p.parent for p in (rec_dir / lecture).glob("*/recording.json"))


def info(rec):
    return json.loads((rec / "recording.json").read_text())


def finished_recording(world, lecture, deadline):
    """The lecture's first recording, once it is finished."""
    def done():
        recs = recordings(world.rec_dir, lecture)
        return recs[0] if recs and info(recs[0])["finished"] else None
    return wait_for(done, deadline, what=f"the recording of {lecture} to be finished")


def lumas(rec, rendition, work):
    """Mean luma of each frame of the recorded rendition, in order."""
    pl = rec / rendition / "index.m3u8"
    names = [l for l in pl.read_text().splitlines() if l and not l.startswith("#")]
    whole, out = work / f"{rec.parent.name}-{rec.name}.mp4", work / f"{rec.parent.name}.luma"
    whole.write_bytes((rec / rendition / "init.mp4").read_bytes() +
                      b"".join((rec / rendition / n).read_bytes() for n in names))
    subprocess.run([tool("ffmpeg"), "-nostdin", "-v", "error", "-i", str(whole), "-vf",
                    f"signalstats,metadata=print:key=lavfi.signalstats.YAVG:file={out}",
                    "-f", "null", "-"], check=True, timeout=120)
    return [float(v) for v in re.findall(r"YAVG=([\d.]+)", out.read_text())]


def luma_time(y):
    """The moment of the clip a frame of this mean luma shows."""
    return (y - LUMA0) / LUMA_PER_S


def check_whole_once(world, lecture, rec):
    """The recording is the clip, within one segment at each end, in order:
    no frame steps back to an earlier moment (a replay would)."""
    y = lumas(rec, "180p", world.dir)
    assert len(y) > 25 * (CLIP_S - 2 * SEG_S), f"{lecture}: only {len(y)} frames recorded"
    back = [(i, a, b) for i, (a, b) in enumerate(zip(y, y[1:])) if b < a - 2]
    assert not back, f"{lecture}: the recording steps back in the clip (a replay) at {back[:5]}"
    start, end = luma_time(y[0]), luma_time(y[-1])
    assert start <= SEG_S + LUMA_SLACK_S, \
        f"{lecture}: the recording starts {start:.2f} s into the clip"
    assert end >= CLIP_S - SEG_S - LUMA_SLACK_S, \
        f"{lecture}: the recording stops {end:.2f} s into the clip"
    duration = info(rec)["duration_s"]
    assert abs(duration - CLIP_S) <= SEG_S, f"{lecture}: recorded {duration} s of {CLIP_S} s"
    return start, end


def check_ended_everywhere(world, lecture, rec):
    """recording.json and every live playlist of the lecture say it ended."""
    meta = info(rec)
    assert meta["finished"] and meta["ended"], meta
    for rend in meta["renditions"]:
        text = (rec / rend / "index.m3u8").read_text()
        assert "#EXT-X-PLAYLIST-TYPE:VOD" in text and text.rstrip().endswith("#EXT-X-ENDLIST")
        live = fetch_media(f"{world.relay.base}/live/{lecture}/{rend}/index.m3u8")
        assert live and live["endlist"], f"{lecture}/{rend}: the live playlist did not end"


def check_end_logged(world, lecture, why):
    relay = world.relay
    text = relay.stderr_text()
    assert re.search(rf"lecture={lecture} source 1 \(.*\) ended: {re.escape(why)}", text), \
        f"{lecture}: no 'ended: {why}' in the log"
    assert not re.search(rf"lecture={lecture} source 1 .* lost", text), \
        f"{lecture}: the end was taken for a loss"
    assert re.search(rf"lecture={lecture} ended: source 1 .* no other source is live", text)


def egress_end_time(world, lecture):
    return wait_for(lambda: (log_times(world.relay, rf"lecture={lecture} ended: recording")
                             or [None])[0], scaled(10), what=f"the egress to end {lecture}")


def second_recording(world, lecture, deadline):
    def two():
        recs = recordings(world.rec_dir, lecture)
        return recs if len(recs) >= 2 else None
    return wait_for(two, deadline, what=f"a second recording of {lecture}")


# --------------------------------------------------------------------------
# one relay for every case

class World:
    pass


@pytest.fixture(scope="module")
def world(tmp_path_factory, request):
    w = World()
    w.dir = tmp_path_factory.mktemp("source_end")
    w.rec_dir = w.dir / "rec"
    w.ramp, w.half, segments, long_segments = make_clips(w.dir)
    w.hls, w.stall, w.gone = (HlsOrigin(segments, long_segments) for _ in range(3))
    w.stall.run("a", 0, end=False, stall_after=5)
    w.gone.run("a", 0, end=False, endless=True)
    w.nginx = NginxRtmp(w.dir)
    w.srt_port = free_udp_port()
    w.procs = []
    srt_url = f"srt://127.0.0.1:{w.srt_port}?mode=caller&latency=120000"
    sources = {"hls": [w.hls.master_url], "file": [str(w.ramp)], "rtmp": [w.nginx.url],
               "srt": [srt_url], "backup": [str(w.half), str(w.ramp)],
               "stall": [w.stall.url], "gone": [w.gone.url]}
    w.relay = Demo(Config(w.dir, {
        "lecture": "hls",
        "ingest": {"loop": False, "stall_ms": 1000,
                   "lectures": [{"name": n, "sources": sources[n]} for n in LECTURES]},
        "transcode": {"preset": "ultrafast",
                      "rungs": [{"name": "180p", "width": 320, "height": 180,
                                 "bitrate_kbps": 300}]},
        "egress": {"recordings_dir": str(w.rec_dir), "recording_grace": GRACE_S},
    }))
    request.module._lr_demo = w.relay
    try:
        for origin in (w.hls, w.stall, w.gone):
            origin.start()
        w.nginx.start()
        w.procs.append(srt_listener(w.srt_port, w.ramp))
        w.relay.start()
        # The university's encoder goes live once the ingest waits on the
        # stream, so the lecture is pulled from its first frame.
        wait_for(lambda: w.nginx.plays() >= 1, scaled(20), what="the ingest to ask nginx-rtmp")
        w.procs.append(w.nginx.publish(w.ramp))
        yield w
        w.relay.assert_stops(signal.SIGINT)
    finally:
        w.relay.close()
        for p in w.procs:
            stop(p)
        w.nginx.close()
        for origin in (w.hls, w.stall, w.gone):
            origin.go_away()


# --------------------------------------------------------------------------
# the cases

def test_hls_endlist_ends_the_lecture_and_a_new_playlist_starts_another(world):
    relay, hls = world.relay, world.hls
    rec = finished_recording(world, "hls", scaled(CLIP_S + 30))
    check_end_logged(world, "hls", "the playlist ended (EXT-X-ENDLIST)")
    last_get = hls.last_segment_get("a")
    took = egress_end_time(world, "hls") - last_get
    print(f"hls: ended {took:.1f} s after the relay took the last segment, "
          f"{egress_end_time(world, 'hls') - hls.last_out:.1f} s after EXT-X-ENDLIST")
    assert took <= GRACE_S + scaled(5), f"the lecture ended {took:.1f} s after its last segment"
    check_ended_everywhere(world, "hls", rec)
    gets = hls.segment_gets("a")
    assert len(gets) == CLIP_S // SEG_S and set(gets.values()) == {1}, \
        f"every segment must be pulled once: {gets}"
    check_whole_once(world, "hls", rec)
    m = metrics(f"{relay.base}/metrics")
    assert metric(m, "lr_ingest_source_ended", lecture="hls", source="1") == 1
    assert metric(m, "lr_ingest_lecture_runs_total", lecture="hls") == 1
    first = info(rec)

    # While ended, the ingest only asks for the playlist; then the university
    # goes live again at the same URL: a new run, a new recording.
    hls.run("b", 100, end=False, endless=True)
    recs = second_recording(world, "hls", scaled(30))
    assert recs[0] == rec and info(rec) == first, "the ended recording changed"
    assert not info(recs[1])["finished"]
    assert re.search(r"lecture=hls source 1 \(.*\) is live again", relay.stderr_text())
    assert hls.segment_gets("a") == gets, "a segment of the ended stream was pulled again"
    assert metric(metrics(f"{relay.base}/metrics"), "lr_ingest_lecture_runs_total",
                  lecture="hls") == 2


def test_a_file_without_loop_ends_the_lecture_once(world):
    relay = world.relay
    rec = finished_recording(world, "file", scaled(CLIP_S + 30))
    check_end_logged(world, "file", "end of file")
    took = egress_end_time(world, "file") - log_times(relay, r"lecture=file source 1 .* ended")[0]
    assert took <= GRACE_S + scaled(5), f"the lecture ended {took:.1f} s after its file"
    check_ended_everywhere(world, "file", rec)
    check_whole_once(world, "file", rec)
    # A file that ended is not read again.
    assert len(log_times(relay, r"lecture=file source 1 up")) == 1
    assert recordings(world.rec_dir, "file") == [rec]


def test_rtmp_end_of_stream_ends_the_lecture_and_a_new_publish_starts_another(world):
    relay, nginx = world.relay, world.nginx
    rec = finished_recording(world, "rtmp", scaled(CLIP_S + 30))
    check_end_logged(world, "rtmp", "the RTMP server ended the stream")
    took = egress_end_time(world, "rtmp") - log_times(relay, r"lecture=rtmp source 1 .* ended")[0]
    assert took <= GRACE_S + scaled(5), f"the lecture ended {took:.1f} s after its stream"
    check_ended_everywhere(world, "rtmp", rec)
    check_whole_once(world, "rtmp", rec)

    # The ingest watches the URL; the encoder publishes again.
    plays = nginx.plays()
    wait_for(lambda: nginx.plays() > plays, scaled(20), what="the ingest to watch the stream")
    world.procs.append(nginx.publish(world.ramp))
    recs = second_recording(world, "rtmp", scaled(30))
    assert info(recs[0])["finished"] and not info(recs[1])["finished"]


def test_srt_peer_close_ends_the_lecture_and_a_new_stream_starts_another(world):
    relay = world.relay
    rec = finished_recording(world, "srt", scaled(CLIP_S + 30))
    check_end_logged(world, "srt", "the SRT peer closed the stream")
    took = egress_end_time(world, "srt") - log_times(relay, r"lecture=srt source 1 .* ended")[0]
    assert took <= GRACE_S + scaled(5), f"the lecture ended {took:.1f} s after its stream"
    check_ended_everywhere(world, "srt", rec)
    check_whole_once(world, "srt", rec)

    world.procs.append(srt_listener(world.srt_port, world.ramp))
    recs = second_recording(world, "srt", scaled(30))
    assert info(recs[0])["finished"] and not info(recs[1])["finished"]


def test_the_end_of_the_first_source_fails_over_to_the_backup(world):
    relay = world.relay
    rec = finished_recording(world, "backup", scaled(CLIP_S + 30))
    first_end = log_times(relay, r"lecture=backup source 1 \(.*\) ended: end of file")
    assert first_end, "source 1 did not end"
    to_backup = [t for t in log_times(relay, r"lecture=backup now reading source 2")
                 if t >= first_end[0] - 0.05]
    assert to_backup and to_backup[0] - first_end[0] < 1.0, \
        f"no failover to the backup at the end of source 1: {to_backup}"
    # The lecture ended once, at the backup's end, not at the first source's.
    lecture_ends = log_times(relay, r"lecture=backup ended: source")
    backup_end = log_times(relay, r"lecture=backup source 2 \(.*\) ended: end of file")
    assert len(lecture_ends) == 1 and backup_end and lecture_ends[0] >= backup_end[0], \
        relay.stderr_text()
    assert re.search(r"lecture=backup ended: source 2 ", relay.stderr_text())
    check_ended_everywhere(world, "backup", rec)
    assert recordings(world.rec_dir, "backup") == [rec]
    # Source 1's half, then the backup to its end (the one that delivers
    # first opens the lecture, so it may begin on the backup for stall_ms).
    y = lumas(rec, "180p", world.dir)
    assert luma_time(y[0]) <= SEG_S + LUMA_SLACK_S, (luma_time(y[0]), luma_time(y[-1]))
    assert luma_time(y[-1]) >= CLIP_S - SEG_S - LUMA_SLACK_S, (luma_time(y[0]), luma_time(y[-1]))
    assert info(rec)["duration_s"] >= CLIP_S - SEG_S


def test_a_stalled_live_playlist_is_a_loss_and_reconnects(world):
    relay = world.relay
    # Five segments, then nothing new and no EXT-X-ENDLIST: once those are
    # played out, the pull is lost and starts again (as before issue 26, on
    # the playlist's last three segments).
    lost = wait_for(lambda: log_times(relay, r"lecture=stall source 1 .* lost"), scaled(40),
                    what="the stalled playlist to be lost")
    wait_for(lambda: [t for t in log_times(relay, r"lecture=stall source 1 up") if t >= lost[0]],
             scaled(10), what="the stalled playlist to be pulled again")
    text = relay.stderr_text()
    assert not re.search(r"lecture=stall (source 1 .* )?ended", text), "a stall taken for an end"
    assert metric(metrics(f"{relay.base}/metrics"), "lr_ingest_source_ended",
                  lecture="stall", source="1") == 0


def test_an_hls_server_that_goes_away_or_loses_its_playlist_is_a_loss_and_reconnects(world):
    relay, gone = world.relay, world.gone
    wait_for(lambda: log_times(relay, r"lecture=gone source 1 up"), scaled(20),
             what="the endless stream pulled")
    assert not log_times(relay, r"lecture=gone source 1 .* lost"), "lost while the server was up"
    left = now_of_day()
    gone.go_away()
    # The ingest holds three segments when it joins a live stream: the loss
    # shows once they are played out.
    wait_for(lambda: [t for t in log_times(relay, r"lecture=gone source 1 .* lost") if t >= left],
             scaled(20), what="the loss")
    back = now_of_day()
    gone.start()  # the same stream goes on
    took = wait_for(lambda: [t for t in log_times(relay, r"lecture=gone source 1 up")
                             if t >= back], scaled(10), what="the pull to resume")[0] - back
    assert took < 3.5, f"resumed {took:.1f} s after the server came back"

    # The live playlist answers 404 for a while (the segments are still
    # there): libavformat's hls demuxer gives up with end-of-file, which
    # is not an end while the playlist says nothing of one.
    missing = now_of_day()
    gone.playlist_status = 404
    wait_for(lambda: [t for t in log_times(relay, r"lecture=gone source 1 .* lost")
                      if t >= missing], scaled(20), what="the loss of the playlist")
    back = now_of_day()
    gone.playlist_status = 200
    wait_for(lambda: [t for t in log_times(relay, r"lecture=gone source 1 up") if t >= back],
             scaled(10), what="the pull to resume after the 404s")
    text = relay.stderr_text()
    assert not re.search(r"lecture=gone (source 1 .* )?ended", text), "a loss taken for an end"
    assert metric(metrics(f"{relay.base}/metrics"), "lr_ingest_lecture_runs_total",
                  lecture="gone") == 1
