"""The Prometheus alert rules and the Grafana dashboard of contrib/
(docs/operations.md) against the real program.

`promtool check rules` and `promtool test rules` on the shipped files; then a
real Prometheus (Debian's, on a free loopback port, with its own storage in
the test's tmp) scrapes the three roles as three processes every second and
evaluates the shipped rules, and each alert is made to fire by the situation
it is about:

  the border link loses 12 % of its packets (tests/tools/impair)  LinkLoss
  the egress's certificate expires in 3 days                      TLSCertificateExpiring
    (then a renewed one, loaded by SIGHUP, clears it)
  the recordings' file system (a tmpfs of the egress's own mount
    namespace) is filled past 90 %                                RecordingsDiskFull
  the path narrows (the proxy's rate cap): the top rung is shed   RungShed
  the transcoder gets 3 % of a CPU (a cgroup's CPU quota)        TranscodeSlow
  the lecturer's encoder dies                                     LectureWithoutSource,
                                                                  PlaylistStalled
  the transcoder is killed                                        TargetDown

and the two that must not fire for a lecture that ended cleanly (a file
played once, beside the pushed lecture) don't, nor the source alert for a
lecture whose lecturer never came. Every query of the dashboard
returns a series from that Prometheus while the lecture runs.

CI time: Prometheus runs the shipped rules with every `for:` cut to 2 s (the
durations themselves are what `promtool test rules` checks); the expressions
are the shipped ones. One set of processes serves the whole module; the tests
run in order, each leaving the situation of the next.

LR_PROM_RECORD=DIR: also record, with scripts/record-alert-series, the series
of each situation at 15 s intervals into DIR (holding each situation for
minutes): the values contrib/prometheus/lecture-relay-alerts.test.yml's unit
tests feed the rules came from such a run."""

import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import types
import urllib.parse
from pathlib import Path

import pytest

from lrdemo import (BINARY, METRICS_TOKEN, REPO, Config, Demo, ffmpeg_push, free_tcp_port,
                    free_udp_port, http_get, parse_master, scaled, to_yaml, tool, wait_for)
from test_impair import IMPAIR, Impair

RULES = REPO / "contrib" / "prometheus" / "lecture-relay-alerts.yml"
RULE_TESTS = REPO / "contrib" / "prometheus" / "lecture-relay-alerts.test.yml"
DASHBOARD = REPO / "contrib" / "grafana" / "lecture-relay-dashboard.json"
RECORDER = REPO / "scripts" / "record-alert-series"
RECORD = os.environ.get("LR_PROM_RECORD")
ALERTS = ["LectureRelayTargetDown", "LectureRelayLectureWithoutSource", "LectureRelayLinkLoss",
          "LectureRelayRungShed", "LectureRelayPlaylistStalled", "LectureRelayTranscodeSlow",
          "LectureRelayRecordingsDiskFull", "LectureRelayRecordingFailing",
          "LectureRelayTLSCertificateExpiring"]
FOR_IN_TEST = "2s"
LOSS_PCT = 12
CAP_KBPS = 700          # the narrow path: above the lower rung, below the ladder (test_shedding)
CPU_SHARE = 0.03        # of one CPU, for the slow transcoder (at 0.1 it kept up here: 0.9 at worst)
TMPFS_MB = 512
JOBS = ("ingest", "transcode", "egress")


def promtool(*args, timeout=60):
    return subprocess.run([tool("promtool"), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


# --------------------------------------------------------------------------
# the files as shipped

def rule_blocks(text):
    """{alert name: its block of the rules file}."""
    out = {}
    for block in re.split(r"\n(?=      - alert: )", text):
        m = re.match(r"      - alert: (\w+)", block)
        if m:
            out[m.group(1)] = block
    return out


def unit_test_cases(text):
    """{alert name: {"fires", "silent"}}: which kinds of case the promtool
    unit tests have for it (an alert_rule_test expecting alerts, or none)."""
    out = {}
    name = None
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"\s*(?:- )?alertname: (\w+)", line)
        if m:
            name = m.group(1)
            continue
        if name and re.match(r"\s*exp_alerts:", line):
            nxt = next((l for l in lines[i + 1:] if l.strip() and not l.strip().startswith("#")),
                       "")
            kind = "silent" if line.strip().endswith("[]") else \
                "fires" if nxt.strip().startswith("- exp_labels:") else None
            if kind:
                out.setdefault(name, set()).add(kind)
            name = None
    return out


def test_the_rules_pass_promtool_and_their_unit_tests():
    r = promtool("check", "rules", RULES)
    assert r.returncode == 0 and f"SUCCESS: {len(ALERTS)} rules found" in r.stdout, \
        r.stdout + r.stderr
    t0 = time.monotonic()
    r = promtool("test", "rules", RULE_TESTS)
    print(f"promtool test rules: {time.monotonic() - t0:.1f} s")
    assert r.returncode == 0 and "SUCCESS" in r.stdout, r.stdout + r.stderr
    blocks = rule_blocks(RULES.read_text())
    assert sorted(blocks) == sorted(ALERTS)
    for name, block in blocks.items():
        for key in ("summary:", "description:", "severity:"):
            assert key in block, f"{name} has no {key}"
    cases = unit_test_cases(RULE_TESTS.read_text())
    for name in ALERTS:
        assert cases.get(name) == {"fires", "silent"}, \
            f"{name}: the unit tests have {cases.get(name)}, want a case that fires and one that doesn't"
    # their numbers come from the program (scripts/record-alert-series)
    assert "record-alert-series" in RULE_TESTS.read_text().split("\n\n")[0]


def test_the_dashboard_is_a_grafana_dashboard():
    d = json.loads(DASHBOARD.read_text())
    assert 36 <= d["schemaVersion"] <= 39 and d["uid"] and d["title"]
    variables = {v["name"]: v for v in d["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert "label_values(" in json.dumps(variables["lecture"]["query"])
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    titles = " ".join(p["title"] for p in d["panels"]).lower()
    for row in ("ingest", "link", "transcode", "egress"):
        assert any(p["type"] == "row" and row in p["title"].lower() for p in d["panels"]), row
    for word in ("source", "bitrate", "round-trip", "loss", "retransmissions", "latency",
                 "rate", "reconnects", "speed", "frames per second", "shed", "segment and part age",
                 "viewers", "requests per second", "bytes per second", "parked", "recording",
                 "disk", "certificate days left"):
        assert word in titles, f"no panel about {word}"
    for p in d["panels"]:
        if p["type"] == "row":
            continue
        assert p["targets"], p["title"]
        assert p["datasource"]["uid"] == "${datasource}", p["title"]


def test_meson_installs_them():
    build = BINARY.parent
    if not (build / "meson-info").is_dir():
        pytest.skip(f"{build} is not a meson build folder")
    r = subprocess.run(["meson", "introspect", "--installed", str(build)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    installed = json.loads(r.stdout)
    want = {RULES: "share/lecture-relay/prometheus/lecture-relay-alerts.yml",
            RULE_TESTS: "share/lecture-relay/prometheus/lecture-relay-alerts.test.yml",
            DASHBOARD: "share/lecture-relay/grafana/lecture-relay-dashboard.json"}
    for src, dest in want.items():
        assert installed.get(str(src), "").endswith("/" + dest), (src, installed.get(str(src)))


# --------------------------------------------------------------------------
# Prometheus

class Prometheus:
    """Debian's prometheus on a free loopback port, storage in tmp, the
    shipped rules with every `for:` cut to FOR_IN_TEST; killed by close()."""

    def __init__(self, tmp, jobs):
        self.dir = tmp / "prometheus"
        self.dir.mkdir()
        self.port = free_tcp_port()
        rules = re.sub(r"(?m)^(\s+for: ).*$", r"\g<1>" + FOR_IN_TEST, RULES.read_text())
        (self.dir / "rules.yml").write_text(rules)
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s",
                       "evaluation_interval": "1s"},
            "rule_files": [str(self.dir / "rules.yml")],
            "scrape_configs": [dict({"job_name": job, "static_configs": [{"targets": [target]}]},
                                    **extra) for job, target, extra in jobs],
        }
        (self.dir / "prometheus.yml").write_text(json.dumps(config, indent=1))  # JSON is YAML
        r = promtool("check", "config", self.dir / "prometheus.yml")
        assert r.returncode == 0, r.stdout + r.stderr
        self.log = open(self.dir / "prometheus.log", "wb")
        self.proc = subprocess.Popen(
            [tool("prometheus"), f"--config.file={self.dir / 'prometheus.yml'}",
             f"--storage.tsdb.path={self.dir / 'data'}", "--storage.tsdb.retention.time=1h",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT, cwd=self.dir)
        self.base = f"http://127.0.0.1:{self.port}"

        def ready():
            assert self.proc.poll() is None, f"prometheus exited:\n{self.describe()}"
            return http_get(self.base + "/-/ready", timeout=2)[0] == 200
        wait_for(ready, scaled(30), what="prometheus ready")

    def api(self, path, **params):
        url = f"{self.base}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        status, _, body = http_get(url, timeout=5)
        assert status == 200, f"GET {url} -> {status}: {body[:300]!r}"
        reply = json.loads(body)
        assert reply["status"] == "success", reply
        return reply["data"]

    def query(self, expr):
        return self.api("query", query=expr)["result"]

    def value(self, expr):
        """The value of an expression that has one series, or None."""
        r = self.query(expr)
        return float(r[0]["value"][1]) if len(r) == 1 else None

    def alerts(self, name, state="firing", **labels):
        return [a for a in self.api("alerts")["alerts"]
                if a["labels"]["alertname"] == name and a["state"] == state and
                all(a["labels"].get(k) == v for k, v in labels.items())]

    def wait_firing(self, name, deadline, **labels):
        t0 = time.monotonic()
        found = wait_for(lambda: self.alerts(name, **labels), deadline, interval=0.5,
                         what=f"{name}{labels} firing")
        print(f"{name}{labels}: firing after {time.monotonic() - t0:.1f} s: "
              f"{found[0]['annotations'].get('summary')}")
        return found

    def targets_up(self):
        return {t["labels"]["job"]: t["health"] for t in self.api("targets")["activeTargets"]}

    def describe(self):
        return "--- prometheus log ---\n" + (self.dir / "prometheus.log").read_text(errors="replace")

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.log.close()


# --------------------------------------------------------------------------
# the world: impair, three roles, a lecturer, Prometheus

def make_cert(directory, days):
    """A self-signed certificate for 127.0.0.1 valid for `days` days."""
    d = Path(directory)
    d.mkdir(exist_ok=True)
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", str(days),
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def role_config(base, directory, name, extra):
    """The base config's data with extra merged in, as another file (each
    role its own `metrics:` address)."""
    data = dict(base.data, **extra)
    path = Path(directory) / name
    path.write_text("# written by tests/system/test_prometheus.py\n" + to_yaml(data) + "\n")
    path.chmod(0o640)
    return types.SimpleNamespace(path=path, lecture=base.lecture, data=data)


class CpuLimit:
    """The process (all its threads) under a CPU quota of `share` of one CPU:
    a cgroup's (v1 cpu controller, or v2's cpu.max), as a busy or too small
    machine would give it. Root only."""

    def __init__(self, pid, share):
        self.dir = None
        name = f"lr-test-prometheus-{os.getpid()}"
        period = 100000
        v1 = Path("/sys/fs/cgroup/cpu")
        v2 = Path("/sys/fs/cgroup")
        if (v1 / "cpu.cfs_quota_us").exists():
            self.dir, self.parent = v1 / name, v1
            self.dir.mkdir(exist_ok=True)
            (self.dir / "cpu.cfs_period_us").write_text(str(period))
            (self.dir / "cpu.cfs_quota_us").write_text(str(int(period * share)))
        elif "cpu" in (v2 / "cgroup.controllers").read_text().split():
            self.dir, self.parent = v2 / name, v2
            self.dir.mkdir(exist_ok=True)
            (self.dir / "cpu.max").write_text(f"{int(period * share)} {period}")
        else:
            pytest.skip("no cgroup cpu controller to limit the transcoder with")
        (self.dir / "cgroup.procs").write_text(str(pid))
        self.pid = pid

    def close(self):
        if self.dir is None:
            return
        try:
            (self.parent / "cgroup.procs").write_text(str(self.pid))
        except OSError:
            pass  # the process is gone
        for _ in range(50):
            try:
                self.dir.rmdir()
                break
            except OSError:
                time.sleep(0.1)
        self.dir = None


class Recorder:
    """LR_PROM_RECORD=DIR: scripts/record-alert-series runs in the
    background, writing DIR/NAME.txt; wait() holds the situation until every
    recording started has finished. Without it, each recording is one quick
    scrape (the script is exercised, nothing is written)."""

    def __init__(self):
        self.dir = Path(RECORD) if RECORD else None
        self.running = []

    def start(self, name, url, job, samples, interval, *names, where=()):
        args = ["/usr/bin/python3", str(RECORDER), "--url", url, "--job", job,
                "--samples", str(samples if self.dir else 1), "--interval", str(interval),
                *[f"--where={w}" for w in where], *names]
        if not self.dir:
            r = subprocess.run(args, capture_output=True, text=True, timeout=30)
            assert r.returncode == 0 and "series: 'lr_" in r.stdout, r.stdout + r.stderr
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        out = open(self.dir / f"{name}.txt", "w")
        self.running.append((name, subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                                                    text=True), out))
        print(f"recording {name}: {samples} samples, {interval} s apart")

    def wait(self):
        for name, proc, out in self.running:
            proc.wait()
            out.close()
            assert proc.returncode == 0, (self.dir / f"{name}.txt").read_text()
        self.running = []

    def close(self):
        for _, proc, out in self.running:
            proc.kill()
            proc.wait()
            out.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    if not IMPAIR:
        pytest.skip("LR_IMPAIR is not set (meson sets it; by hand: LR_IMPAIR=build/tests/tools/impair)")
    tool("prometheus")
    tool("ffmpeg")
    root = os.geteuid() == 0
    tmp = tmp_path_factory.mktemp("prometheus")
    w = types.SimpleNamespace(tmp=tmp, procs=[], root=root, limit=None, pushes=[],
                              recorder=Recorder())
    # a lecture that plays a file once and ends cleanly, beside the pushed one
    short = tmp / "short.ts"
    subprocess.run([tool("ffmpeg"), "-nostdin", "-v", "error", "-y",
                    "-f", "lavfi", "-i", "testsrc2=s=640x360:r=30:d=10",
                    "-f", "lavfi", "-i", "sine=f=330:d=10", "-c:v", "libx264", "-preset",
                    "ultrafast", "-g", "30", "-pix_fmt", "yuv420p", "-c:a", "aac",
                    "-f", "mpegts", str(short)], check=True, timeout=120)
    egress_port = free_udp_port()
    push_port = free_udp_port()
    w.cert_dir = tmp / "tls"
    cert, key = make_cert(w.cert_dir, 3)
    tls_port = free_tcp_port()
    w.mnt = tmp / "recfs"
    w.mnt.mkdir()
    rec_dir = w.mnt / "recordings"
    try:
        # the border: 200 ms RTT, 12 % loss from the transcoder to the egress,
        # and a rate cap that starts lifted (SIGHUP puts it on)
        w.proxy = Impair(tmp, egress_port, "--delay", 100, "--jitter", 2, "--seed", 20,
                         "--up-loss", LOSS_PCT, "--up-rate-kbps", CAP_KBPS,
                         "--up-queue-ms", 300)
        w.proxy.proc.send_signal(signal.SIGHUP)
        w.proxy.wait_line("rate cap off")
        base = Config(tmp, {
            "lecture": "cs101",
            "link": {"latency_ms": "auto"},
            "ingest": {"listen": f"srt://127.0.0.1:{push_port}", "stall_ms": 1000,
                       "loop": False,
                       "lectures": [{"name": "cs101", "sources": ["push"]},
                                    {"name": "short", "sources": [str(short)]},
                                    # scheduled, but its lecturer never came
                                    {"name": "later", "sources": ["push"]}]},
            "transcode": {
                "link": f"srt://127.0.0.1:{w.proxy.port}",
                "preset": "ultrafast",
                "rungs": [{"name": "360p", "width": 640, "height": 360, "bitrate_kbps": 800},
                          {"name": "240p", "width": 426, "height": 240, "bitrate_kbps": 400}]},
            "egress": {"listen": f"srt://127.0.0.1:{egress_port}", "recording_grace": 600,
                       "recordings_dir": str(rec_dir),
                       "tls_listen": f"127.0.0.1:{tls_port}", "tls_cert": str(cert),
                       "tls_key": str(key)},
        }, name="egress.yaml")
        w.metrics = {"egress": f"http://127.0.0.1:{base.http_port}/metrics"}
        confs = {"egress": base}
        for role in ("ingest", "transcode"):
            port = free_tcp_port()
            w.metrics[role] = f"http://127.0.0.1:{port}/metrics"
            confs[role] = role_config(base, tmp, f"{role}.yaml", {"metrics": f"127.0.0.1:{port}"})
        if root:
            # the recordings on a small file system of the egress's own (a
            # tmpfs in its own mount namespace: gone with the process)
            script = (f"mount -t tmpfs -o size={TMPFS_MB}m none {w.mnt} && mkdir {rec_dir} && "
                      f"exec {BINARY} egress --config {base.path}")
            w.egress = Demo(base, binary=shutil.which("unshare") or "/usr/bin/unshare",
                            args=["--mount", "sh", "-c", script], log_dir=tmp)
        else:
            rec_dir.mkdir()
            w.egress = Demo(base, args=["egress", "--config", str(base.path)], log_dir=tmp)
        w.transcode = Demo(confs["transcode"], args=["transcode", "--config",
                                                     str(confs["transcode"].path)], log_dir=tmp)
        w.ingest = Demo(confs["ingest"], args=["ingest", "--config", str(confs["ingest"].path)],
                        log_dir=tmp)
        w.procs = [w.ingest, w.transcode, w.egress]
        w.egress.start()
        w.transcode.start_background()
        w.ingest.start_background()
        w.pushes.append(ffmpeg_push(push_port, "#!::r=cs101,m=publish", seconds=1800))
        w.prom = Prometheus(tmp, [
            ("lecture-relay-ingest", w.metrics["ingest"][7:-8], {}),
            ("lecture-relay-transcode", w.metrics["transcode"][7:-8], {}),
            # loopback needs no token; another host would send it like this
            ("lecture-relay-egress", w.metrics["egress"][7:-8],
             {"authorization": {"type": "Bearer", "credentials": METRICS_TOKEN}}),
        ])
        wait_for(lambda: master(w) >= {"360p", "240p"} or None, scaled(60),
                 what="the master playlist with both rungs")
        wait_for(lambda: set(w.prom.targets_up().values()) == {"up"} or None, scaled(20),
                 what="every role scraped")
        yield w
        for p in w.procs:
            if p.alive():
                p.assert_stops(signal.SIGTERM, deadline=10)
    finally:
        if w.limit:
            w.limit.close()
        w.recorder.close()
        for p in w.pushes:
            if p.poll() is None:
                p.kill()
                p.wait()
        if getattr(w, "prom", None):
            print(w.prom.describe()[-3000:])
            w.prom.close()
        for p in w.procs:
            p.close()
        if getattr(w, "proxy", None):
            w.proxy.close()


def master(w):
    status, _, body = http_get(f"{w.egress.base}/live/cs101/master.m3u8")
    return {v["uri"].split("/")[0] for v in parse_master(body.decode())} if status == 200 else set()


def record(w, name, role, samples, interval, *names, where=("lecture=cs101",)):
    w.recorder.start(name, w.metrics[role], f"lecture-relay-{role}", samples, interval, *names,
                     where=where)


# --------------------------------------------------------------------------
# the situations, in order

def test_a_lossy_link_an_expiring_certificate_and_a_full_disk_fire(world):
    w = world
    for rung in ("360p", "240p"):  # a student on each rung (lr_http_viewers)
        assert http_get(f"{w.egress.base}/live/cs101/{rung}/index.m3u8")[0] == 200
    w.prom.wait_firing("LectureRelayLinkLoss", scaled(60), lecture="cs101", role="egress",
                       side="recv")
    # the ingest's own link has no loss
    assert not w.prom.alerts("LectureRelayLinkLoss", lecture="cs101", role="transcode")
    w.prom.wait_firing("LectureRelayTLSCertificateExpiring", scaled(20),
                       job="lecture-relay-egress")
    days = w.prom.value("(lr_tls_certificate_expiry_timestamp_seconds - time()) / 86400")
    assert 2.9 < days <= 3, days
    # nothing else is wrong yet
    for name in ("LectureRelayLectureWithoutSource", "LectureRelayRecordingsDiskFull"):
        assert not w.prom.alerts(name) and not w.prom.alerts(name, state="pending"), name
    # (a scrape may time out now and then on a busy machine: pending, not firing)
    assert not w.prom.alerts("LectureRelayTargetDown")
    record(w, "healthy-lecture", "ingest", 6, 15, "lr_ingest_lecture_(live|ended|runs_total)",
           where=())
    record(w, "healthy-link", "egress", 13, 15, "lr_link_packets_(lost_)?total")
    record(w, "healthy-ingest-link", "transcode", 13, 15, "lr_link_packets_(lost_)?total")
    record(w, "healthy-transcode", "transcode", 6, 15,
           "lr_transcode_(speed_ratio|rungs_shed)")
    record(w, "healthy-egress", "egress", 6, 15,
           "lr_egress_(segment_age|target_duration)_seconds")
    record(w, "tls-3-days", "egress", 2, 15, "lr_tls_certificate_expiry_timestamp_seconds",
           where=())
    if w.root:
        record(w, "disk-empty", "egress", 7, 15, "lr_recordings_disk_used_ratio", where=())
    w.recorder.wait()

    # the operator's remedy: a renewed certificate, loaded without a restart
    make_cert(w.cert_dir, 90)
    w.egress.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: (w.prom.value("(lr_tls_certificate_expiry_timestamp_seconds - time())"
                                   " / 86400") or 0) > 89, scaled(20),
             what="the renewed certificate in /metrics")
    wait_for(lambda: not w.prom.alerts("LectureRelayTLSCertificateExpiring"), scaled(10),
             what="the certificate alert resolved")
    record(w, "tls-90-days", "egress", 2, 15, "lr_tls_certificate_expiry_timestamp_seconds",
           where=())

    if not w.root:
        print("RecordingsDiskFull: not caused (a tmpfs of the egress's own needs root)")
        w.recorder.wait()
        return
    # fill the recordings' file system from inside the egress's namespace
    used = w.prom.value("lr_recordings_disk_used_ratio")
    assert used is not None and used < 0.5, used
    filler = int(TMPFS_MB * 0.91) << 20
    subprocess.run(["nsenter", f"--target={w.egress.proc.pid}", "--mount",
                    "fallocate", "-l", str(filler), str(w.mnt / "not-a-recording")],
                   check=True, timeout=30)
    w.prom.wait_firing("LectureRelayRecordingsDiskFull", scaled(20), job="lecture-relay-egress")
    record(w, "disk-full", "egress", 7, 15, "lr_recordings_disk_used_ratio", where=())
    w.recorder.wait()
    assert not w.prom.alerts("LectureRelayRecordingFailing")
    # the last byte taken: the recording stops, and comes back with the room
    last = w.mnt / "the-last-byte"
    subprocess.run(["nsenter", f"--target={w.egress.proc.pid}", "--mount", "dd",
                    "if=/dev/zero", f"of={last}", "bs=1M"], capture_output=True, timeout=60)
    w.prom.wait_firing("LectureRelayRecordingFailing", scaled(20), lecture="cs101")
    subprocess.run(["nsenter", f"--target={w.egress.proc.pid}", "--mount", "rm", str(last)],
                   check=True, timeout=30)
    wait_for(lambda: not w.prom.alerts("LectureRelayRecordingFailing"), scaled(20),
             what="the recording alert resolved")


def test_every_dashboard_query_returns_a_series(world):
    w = world
    for rung in ("360p", "240p"):
        assert http_get(f"{w.egress.base}/live/cs101/{rung}/index.m3u8")[0] == 200
    # a viewer counts for 30 s: wait for a scrape that saw them
    wait_for(lambda: w.prom.query('lr_http_viewers{lecture="cs101"}'), scaled(10),
             what="the viewers scraped")
    d = json.loads(DASHBOARD.read_text())
    lectures = w.prom.api("label/lecture/values", **{"match[]": "lr_ingest_lecture_runs_total"})
    assert {"cs101", "short"} <= set(lectures), lectures
    empty = []
    exprs = [t["expr"] for p in d["panels"] for t in p.get("targets", [])]
    for expr in exprs:
        q = expr.replace("${lecture}", "cs101").replace("$lecture", "cs101")
        q = q.replace("$__rate_interval", "15s")
        assert "$" not in q, f"a variable the test doesn't know: {expr}"
        if not w.prom.query(q):
            empty.append(q)
    assert not empty, "dashboard queries without a series:\n" + "\n".join(empty)
    print(f"{len(exprs)} dashboard queries, each with a series")


def test_a_narrow_path_sheds_a_rung(world):
    w = world
    w.proxy.proc.send_signal(signal.SIGHUP)
    w.proxy.wait_line("rate cap on")
    w.prom.wait_firing("LectureRelayRungShed", scaled(40), lecture="cs101",
                       job="lecture-relay-transcode")
    wait_for(lambda: "360p" not in master(w), scaled(10), what="360p out of the master")
    record(w, "shed", "transcode", 6, 15, "lr_transcode_rungs_shed")
    w.recorder.wait()
    w.proxy.proc.send_signal(signal.SIGHUP)   # wide again: the rung comes back in its time
    w.proxy.wait_line("rate cap off")


def test_a_starved_transcoder_is_slower_than_real_time(world):
    w = world
    if not w.root:
        pytest.skip("a CPU quota (cgroup) needs root")
    w.limit = CpuLimit(w.transcode.proc.pid, CPU_SHARE)
    try:
        w.prom.wait_firing("LectureRelayTranscodeSlow", scaled(40), lecture="cs101",
                           job="lecture-relay-transcode")
        print("speed, the last 30 s:", [round(float(v), 2) for _, v in w.prom.query(
            'lr_transcode_speed_ratio{lecture="cs101"}[30s]')[0]["values"]])
        record(w, "slow", "transcode", 6, 15, "lr_transcode_speed_ratio")
        w.recorder.wait()
    finally:
        w.limit.close()
        w.limit = None
    wait_for(lambda: not w.prom.alerts("LectureRelayTranscodeSlow"), scaled(30),
             what="the transcoder back at real time")


def test_a_lost_source_fires_and_a_clean_end_does_not(world):
    w = world
    # the file of lecture `short` played once and ended cleanly long ago
    assert w.prom.value('lr_ingest_lecture_ended{lecture="short"}') == 1
    assert w.prom.value('lr_ingest_lecture_live{lecture="short"}') == 0
    w.pushes[0].kill()  # the lecturer's encoder dies without a goodbye
    w.prom.wait_firing("LectureRelayLectureWithoutSource", scaled(20), lecture="cs101",
                       job="lecture-relay-ingest")
    w.prom.wait_firing("LectureRelayPlaylistStalled", scaled(30), lecture="cs101",
                       job="lecture-relay-egress")
    record(w, "no-source", "ingest", 4, 15, "lr_ingest_lecture_(live|ended|runs_total)",
           where=())
    record(w, "stalled", "egress", 4, 15, "lr_egress_(segment_age|target_duration)_seconds",
           where=())
    w.recorder.wait()
    # the lecture that ended: no source alert, and no stalled playlist while
    # the egress waits out recording_grace with its last segment growing old
    age = w.prom.value('max(lr_egress_segment_age_seconds{lecture="short"})')
    target = w.prom.value('lr_egress_target_duration_seconds{lecture="short"}')
    print(f"short: its newest segment {age} s old, target duration {target} s")
    assert age is not None and target and age > 3 * target, (age, target)
    assert not w.prom.alerts("LectureRelayLectureWithoutSource", lecture="short")
    # nor for a lecture that never started
    assert w.prom.value('lr_ingest_lecture_runs_total{lecture="later"}') == 0
    assert not w.prom.alerts("LectureRelayLectureWithoutSource", lecture="later")
    assert not w.prom.alerts("LectureRelayPlaylistStalled", lecture="short")
    assert not w.prom.alerts("LectureRelayPlaylistStalled", lecture="short", state="pending")


def test_a_dead_process_is_a_target_down(world):
    w = world
    w.transcode.kill()
    w.prom.wait_firing("LectureRelayTargetDown", scaled(20), job="lecture-relay-transcode")
    assert not w.prom.alerts("LectureRelayTargetDown", job="lecture-relay-egress")
