"""The Debian package (scripts/package, debian/): it builds from a copy of
the source with dpkg-buildpackage, lintian finds no error in it, and dpkg
installs it into a throwaway root, its maintainer scripts making the service
user and the state folder there; the program it installed runs from it."""

import shutil
import subprocess
from pathlib import Path

import pytest

from lrdemo import REPO

FILES = [
    "usr/bin/lecture-relay",
    "usr/share/lecture-relay/assets/hls.min.js",
    "usr/share/lecture-relay/assets/status.html",
    "usr/share/lecture-relay/assets/status.js",
    "usr/share/lecture-relay/assets/uPlot.iife.min.js",
    "usr/share/lecture-relay/prometheus/lecture-relay-alerts.yml",
    "usr/share/lecture-relay/grafana/lecture-relay-dashboard.json",
    "usr/share/lecture-relay/samples/lecture.mp4",
    "usr/share/lecture-relay/samples/egress.yaml",
    "usr/share/man/man1/lecture-relay.1.gz",
    "usr/lib/systemd/system/lecture-relay@.service",
    "usr/lib/sysusers.d/lecture-relay.conf",
    "usr/lib/tmpfiles.d/lecture-relay.conf",
    "usr/share/doc/lecture-relay/copyright",
]


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    for t in ("dpkg-buildpackage", "dh", "lintian"):
        if not shutil.which(t):
            pytest.skip(f"{t} is missing (scripts/setup installs it)")
    out = tmp_path_factory.mktemp("dist")
    r = subprocess.run([str(REPO / "scripts" / "package"), "--out", str(out)],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    [path] = out.glob("lecture-relay_*_*.deb")
    return path, r.stdout


def test_the_package_holds_the_service_and_lintian_finds_no_error(deb):
    path, log = deb
    assert "lintian" in log and "E: " not in log, log
    listing = subprocess.run(["dpkg-deb", "-c", str(path)], capture_output=True,
                             text=True, check=True).stdout
    names = {line.split()[-1].lstrip("./") for line in listing.splitlines()}
    assert not [f for f in FILES if f not in names], listing
    # nothing of the build or the source tree
    assert not [n for n in names if "build" in n or n.endswith((".c", ".h", ".py"))], names
    # every dependency is a Debian 12 package this machine has (the shared
    # libraries' packages, found by dpkg-shlibdeps)
    depends = subprocess.run(["dpkg-deb", "-f", str(path), "Depends"], capture_output=True,
                             text=True, check=True).stdout
    first = [d.split("|")[0].split("(")[0].strip() for d in depends.split(",")]
    assert "libh2o-evloop0.13" in first and "libsrt1.5-gnutls" in first, depends
    for pkg in first:
        r = subprocess.run(["dpkg-query", "-W", "-f=${db:Status-Abbrev}", pkg],
                           capture_output=True, text=True)
        assert r.stdout.startswith("ii"), (pkg, depends)


def test_dpkg_installs_it_into_a_throwaway_root_and_it_runs(deb, tmp_path):
    path, _ = deb
    root = tmp_path / "root"
    for d in ("var/lib/dpkg/updates", "var/lib/dpkg/info", "etc"):
        (root / d).mkdir(parents=True)
    (root / "var/lib/dpkg/status").touch()
    # the maintainer scripts run outside a chroot, with DPKG_ROOT set (the
    # root holds no shell); its dependencies are this machine's
    r = subprocess.run(["dpkg", f"--root={root}", "--force-script-chrootless",
                        "--force-depends", "--log=/dev/null", "-i", str(path)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    status = subprocess.run(["dpkg", f"--root={root}", "-s", "lecture-relay"],
                            capture_output=True, text=True).stdout
    assert "Status: install ok installed" in status, status
    # postinst: the user from sysusers.d, then the folders from tmpfiles.d
    passwd = (root / "etc/passwd").read_text()
    user = [line for line in passwd.splitlines() if line.startswith("lecture-relay:")]
    assert user and user[0].endswith(":/var/lib/lecture-relay:/usr/sbin/nologin"), passwd
    uid = int(user[0].split(":")[2])
    rec = root / "var/lib/lecture-relay/recordings"
    assert rec.is_dir() and rec.stat().st_uid == uid, rec
    assert (root / "etc/lecture-relay").is_dir()

    binary = root / "usr/bin/lecture-relay"
    r = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("lecture-relay ") and "libsrt" in r.stdout, r.stdout
    # found beside the program, as /usr/share/lecture-relay once installed for real
    assert f"data folder {root}/usr/share/lecture-relay" in r.stdout, r.stdout
    # its example configuration loads
    sample = root / "usr/share/lecture-relay/samples/egress.yaml"
    r = subprocess.run([str(binary), "check-config", "--config", str(sample)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr

    r = subprocess.run(["dpkg", f"--root={root}", "--force-script-chrootless", "--log=/dev/null",
                        "--purge", "lecture-relay"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert not binary.exists()
