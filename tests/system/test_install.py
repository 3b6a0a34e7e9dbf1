"""The program as an operator installs it: `meson install` into a throwaway
root plays the demo with the source tree out of sight, the systemd units
verify, the service user and its folder are made from the installed
sysusers.d and tmpfiles.d files, and a role started the way systemd starts
it says READY=1 once it listens, logs with journal priorities, takes SIGHUP
without dropping anything and says STOPPING=1 on SIGTERM."""

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from lrdemo import (BINARY, REPO, Config, Demo, decode_errors, download, http_get, rung_urls,
                    scaled, tcp_listening, to_yaml, tool, wait_for, wait_master, wait_segments)

PREFIX_SHARE = Path("share") / "lecture-relay"


def meson_prefix(build):
    r = subprocess.run(["meson", "introspect", "--buildoptions", str(build)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    import json
    return next(o["value"] for o in json.loads(r.stdout) if o["name"] == "prefix")


@pytest.fixture(scope="module")
def installed():
    """(destdir, prefix inside it) of `meson install --destdir`, outside the
    source tree (the build's own temporary folders are inside it)."""
    build = BINARY.parent
    if not (build / "meson-private").is_dir():
        pytest.skip(f"{build} is not a meson build directory")
    tool("meson")
    with tempfile.TemporaryDirectory(prefix="lr-install-", dir="/tmp") as d:
        r = subprocess.run(["meson", "install", "-C", str(build), "--destdir", d,
                            "--no-rebuild", "--quiet"],
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
        yield Path(d), Path(d) / meson_prefix(build).lstrip("/")


def test_the_install_holds_what_a_service_needs(installed):
    _, prefix = installed
    for rel in ["bin/lecture-relay", PREFIX_SHARE / "assets" / "hls.min.js",
                PREFIX_SHARE / "assets" / "status.html", PREFIX_SHARE / "assets" / "uPlot.min.css",
                PREFIX_SHARE / "prometheus" / "lecture-relay-alerts.yml",
                PREFIX_SHARE / "samples" / "lecture.mp4", PREFIX_SHARE / "samples" / "egress.yaml",
                "share/man/man1/lecture-relay.1", "lib/systemd/system/lecture-relay@.service",
                "lib/sysusers.d/lecture-relay.conf", "lib/tmpfiles.d/lecture-relay.conf"]:
        assert (prefix / rel).is_file(), f"{rel} not installed under {prefix}"
    # the hls.js the page serves is npm's, byte for byte
    npm = REPO / "node_modules" / "hls.js" / "dist" / "hls.min.js"
    if npm.is_file():
        assert (prefix / PREFIX_SHARE / "assets" / "hls.min.js").read_bytes() == npm.read_bytes()
    # the man page renders without a warning
    if shutil.which("man"):
        r = subprocess.run(["man", "--warnings", "-l", str(prefix / "share/man/man1/lecture-relay.1")],
                           capture_output=True, text=True, timeout=60, env={**os.environ, "MANPAGER": "cat"})
        assert r.returncode == 0 and not r.stderr.strip(), r.stderr
        assert "SIGHUP" in r.stdout and "LECTURE_RELAY_DATADIR" in r.stdout


def test_version_names_the_libraries_and_the_installed_data_folder(installed):
    _, prefix = installed
    r = subprocess.run([str(prefix / "bin/lecture-relay"), "--version"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert re.fullmatch(r"lecture-relay \d+\.\d+\.\d+", lines[0]), lines
    for lib in (r"FFmpeg \S+ \(libavformat \d+\.\d+\.\d+\)", r"libsrt \d+\.\d+\.\d+",
                r"OpenSSL \d+\.\d+\.\d+.*", r"libh2o \d+\.\d+\.\d+ \(built with\)"):
        assert [l for l in lines if re.fullmatch(lib, l)], (lib, lines)
    # found beside the binary, not the path meson was told (the destdir moved it)
    assert f"data folder {prefix / PREFIX_SHARE}" in lines, lines


def test_the_installed_tree_plays_the_demo_with_the_source_tree_hidden(installed):
    """The installed binary with no path to its data: the sample lecture and
    hls.js come from the installed share folder. The source tree (with the
    build folder and node_modules in it) is covered by an empty tmpfs in a
    mount namespace of the program's own, so a path into it would fail."""
    if os.geteuid() != 0:
        pytest.skip("a mount namespace to hide the source tree needs root (CI runs as root)")
    tool("unshare")
    destdir, prefix = installed
    with tempfile.TemporaryDirectory(prefix="lr-installed-run-", dir="/tmp") as d:
        cfg = Config(d)
        cfg.data["ingest"].pop("source", None)  # the default: the installed sample
        cfg.path.write_text(to_yaml(cfg.data) + "\n")
        script = (f"mount -t tmpfs -o ro none {REPO} && cd / && "
                  f"exec {prefix / 'bin/lecture-relay'} run --config {cfg.path}")
        demo = Demo(cfg, binary="/usr/bin/unshare", args=["--mount", "sh", "-c", script])
        try:
            demo.start()
            variants = wait_master(demo)
            url = next(iter(rung_urls(demo, variants).values()))
            media = wait_segments(url, 2)
            seg = download(url.rsplit("/", 1)[0] + "/" + media["segments"][0]["uri"],
                           Path(d) / "first.mp4")
            rc, err = decode_errors(seg)
            assert rc == 0 and not err, err
            status, _, body = http_get(f"{demo.base}/assets/hls.min.js")
            assert status == 200 and body == (prefix / PREFIX_SHARE / "assets/hls.min.js").read_bytes()
            status, _, page = http_get(demo.url)
            assert status == 200 and b"/assets/hls.min.js" in page
            # the status page and its chart library, from the installed data folder
            status, _, page = http_get(f"{demo.base}/status")
            assert status == 200 and b"/assets/uPlot.iife.min.js" in page
            status, _, body = http_get(f"{demo.base}/assets/uPlot.iife.min.js")
            assert status == 200 and \
                body == (prefix / PREFIX_SHARE / "assets/uPlot.iife.min.js").read_bytes()
            log = demo.stderr_text()
            assert str(prefix / PREFIX_SHARE / "samples" / "lecture.mp4") in log, demo.describe()
            assert str(REPO) not in log, demo.describe()
            demo.assert_stops()
        finally:
            demo.close()


def test_the_units_verify_and_make_their_user_and_folder(installed):
    destdir, prefix = installed
    tool("systemd-analyze")
    unit = (prefix / "lib/systemd/system/lecture-relay@.service").read_text()
    bindir = re.search(r"^ExecStart=(\S+)/lecture-relay ", unit, re.M)
    assert bindir, unit
    with tempfile.TemporaryDirectory(prefix="lr-units-") as d:
        # the unit as installed, its ExecStart pointed into the destdir (verify
        # checks that the program is there); an instance of each role
        for role in ("ingest", "transcode", "egress"):
            p = Path(d) / f"lecture-relay@{role}.service"
            p.write_text(unit.replace(f"{bindir.group(1)}/lecture-relay",
                                      f"{prefix}/bin/lecture-relay"))
            r = subprocess.run(["systemd-analyze", "verify", "--man=no", str(p)],
                               capture_output=True, text=True, timeout=60)
            assert r.returncode == 0 and not r.stderr.strip(), r.stderr
        assert "Type=notify" in unit and "User=lecture-relay" in unit
        assert "ProtectSystem=strict" in unit and "NoNewPrivileges=yes" in unit
        assert "CapabilityBoundingSet=CAP_NET_BIND_SERVICE\n" in unit
    # sysusers.d and tmpfiles.d applied to the destdir as a root of its own
    tool("systemd-sysusers")
    tool("systemd-tmpfiles")
    (destdir / "etc").mkdir(exist_ok=True)
    r = subprocess.run(["systemd-sysusers", f"--root={destdir}",
                        str(prefix / "lib/sysusers.d/lecture-relay.conf")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    entry = [l for l in (destdir / "etc/passwd").read_text().splitlines()
             if l.startswith("lecture-relay:")]
    assert entry, (destdir / "etc/passwd").read_text()
    uid = int(entry[0].split(":")[2])
    assert 0 < uid < 1000, entry  # a system user
    assert entry[0].split(":")[6] in ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false"), entry
    if os.geteuid() != 0:
        return  # chown needs root
    r = subprocess.run(["systemd-tmpfiles", "--create", f"--root={destdir}",
                        str(prefix / "lib/tmpfiles.d/lecture-relay.conf")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    rec = destdir / "var/lib/lecture-relay/recordings"
    st = rec.stat()
    assert rec.is_dir() and st.st_uid == uid and st.st_mode & 0o777 == 0o750, (st.st_uid, oct(st.st_mode))


def test_a_role_tells_systemd_it_is_ready_and_logs_to_the_journal(tmp_path):
    """Started as Type=notify starts it: NOTIFY_SOCKET set, stderr the journal
    (JOURNAL_STREAM names it). READY=1 comes once the HTTP port answers;
    every line has its syslog priority; SIGHUP is taken as a reload
    (RELOADING=1, then READY=1), not fatal; SIGTERM brings STOPPING=1 and exit 0."""
    cfg = Config(tmp_path)
    notify_path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(notify_path)
    r_fd, w_fd = os.pipe()
    st = os.fstat(w_fd)
    # WatchdogSec=1 for this test: a ping every half second while the HTTP
    # loop and the SRT listener run (common/heartbeat.h)
    env = {**os.environ, "NOTIFY_SOCKET": notify_path, "JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}",
           "WATCHDOG_USEC": "1000000"}
    proc = subprocess.Popen([str(BINARY), "egress", "--config", str(cfg.path)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=w_fd, env=env)
    os.close(w_fd)
    reader = os.fdopen(r_fd, "rb")
    lines = []
    try:
        sock.settimeout(scaled(20))
        ready = sock.recv(4096).decode()
        t_ready = time.monotonic()
        assert "READY=1" in ready.split("\n"), ready
        # ready means listening: the port answers now, without a retry
        status, _, _ = http_get(f"http://127.0.0.1:{cfg.http_port}/")
        assert status == 200
        assert tcp_listening(cfg.http_port)
        pings = 0
        while pings < 4:
            msg = sock.recv(4096).decode()
            assert msg == "WATCHDOG=1", msg
            pings += 1
        # four pings at half-second steps from READY (the first at once): the
        # fourth 1.5 s after it (no sooner than 1.2 s, whatever waited here)
        assert 1.2 < time.monotonic() - t_ready < scaled(4), time.monotonic() - t_ready
        proc.send_signal(signal.SIGHUP)
        proc.send_signal(signal.SIGTERM)
        # the reload said as systemd wants it: RELOADING=1, then READY=1
        said = []
        while "STOPPING=1" not in said:
            said += [m for m in sock.recv(4096).decode().split("\n") if m and m != "WATCHDOG=1"]
        assert said == ["RELOADING=1", "READY=1", "STOPPING=1"], said
        assert proc.wait(timeout=scaled(10)) == 0
        lines = reader.read().decode(errors="replace").splitlines()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.close()
        sock.close()
    assert lines, "no log"
    bad = [l for l in lines if not re.match(r"<[3467]>(error|warn |info |debug) ", l)]
    assert not bad, bad
    assert [l for l in lines if l.startswith("<6>info  SIGHUP received")], lines
    assert [l for l in lines if "http: SIGHUP: no TLS" in l], lines
    assert [l for l in lines if "reload: " in l and "nothing changed" in l], lines
    assert [l for l in lines if l.startswith("<6>info  SIGTERM received: stopping")], lines


def test_a_config_with_secrets_readable_by_everyone_is_warned_about(tmp_path):
    conf = tmp_path / "egress.yaml"
    conf.write_text(to_yaml({"link": {"passphrase": "a-link-passphrase-1"},
                             "egress": {"token_secrets": ["0123456789abcdefXYZ"]}}) + "\n")
    plain = tmp_path / "plain.yaml"
    plain.write_text(to_yaml({"egress": {"http": "127.0.0.1:0"}}) + "\n")

    def check(path, mode):
        os.chmod(path, mode)
        r = subprocess.run([str(BINARY), "check-config", "--config", str(path)],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        assert "a-link-passphrase-1" not in r.stderr and "0123456789abcdefXYZ" not in r.stderr
        return "every user of this machine can read it" in r.stderr

    assert check(conf, 0o644)
    assert not check(conf, 0o640)
    assert not check(plain, 0o644)  # nothing secret in it


def test_the_watchdog_stays_fed_by_every_role_through_a_lecture(tmp_path):
    """All three roles in one process under WATCHDOG_USEC: the heartbeats of
    the HTTP loops, the SRT listeners, the ingest's lecture, the
    transcoder's lecture thread and the egress's link receiver all beat
    while a lecture flows, so the pings go on (a heartbeat registered and
    never beaten would stop them, and say which in the log)."""
    cfg = Config(tmp_path, {"transcode": {"preset": "ultrafast"}})
    notify_path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(notify_path)
    demo = Demo(cfg)
    old = {k: os.environ.get(k) for k in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}
    os.environ.update(NOTIFY_SOCKET=notify_path, WATCHDOG_USEC="2000000")
    try:
        demo.start()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    try:
        variants = wait_master(demo, scaled(40))
        wait_segments(next(iter(rung_urls(demo, variants).values())), 2)
        log = demo.stderr_text()
        assert "egress receiving" in log, demo.describe()
        # 12 s of pings, one a second, from here on
        sock.settimeout(scaled(5))
        t0, pings = time.monotonic(), 0
        while time.monotonic() - t0 < 12:
            if sock.recv(4096).decode() == "WATCHDOG=1":
                pings += 1
        assert pings >= 10, pings
        log = demo.stderr_text()
        assert "watchdog:" not in log, demo.describe()
        # the SRT listeners took each link as libsrt reported it, quietly
        assert "srt accept" not in log and "was waiting to be accepted" not in log, \
            demo.describe()
        demo.assert_stops()
    finally:
        demo.close()
        sock.close()
