"""Bad input gets a clear error and disturbs nothing else: bad config files,
garbage datagrams on the egress SRT port, a publisher that sends non-TS bytes."""

import random
import signal
import subprocess
import threading
import time

import pytest

from lrdemo import (BINARY, fetch_media, rung_urls, scaled, tool, wait_for,
                    wait_master, wait_segments)

# (name, text, line the error must name, a word it should mention)
BAD_CONFIGS = [
    ("unknown-top-key", "log_level: info\nlecture: demo\nbogus_key: 1\n", 3, "bogus_key"),
    ("unknown-nested-key",
     "lecture: demo\negress:\n  http: \"127.0.0.1:8080\"\n  no_such_option: 5\n", 4, "no_such_option"),
    ("wrong-type-int", "lecture: demo\negress:\n  playlist_segments: many\n", 3, None),
    ("wrong-type-map", "lecture: demo\ntranscode:\n  segment_duration: [1, 2]\n", 3, None),
    ("wrong-type-rungs", "transcode:\n  rungs: 720p\n", 2, None),
]


def run_briefly(args, deadline=10.0):
    try:
        return subprocess.run([str(BINARY), *args], stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=deadline)
    except subprocess.TimeoutExpired:
        pytest.fail(f"lecture-relay {' '.join(args)} still running after {deadline} s "
                    "(a bad config must make it exit)")


@pytest.mark.parametrize("name,text,line,word", BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS])
@pytest.mark.parametrize("role", ["run", "egress"])
def test_bad_config_exits_2_naming_file_and_line(tmp_path, role, name, text, line, word):
    if not BINARY.exists():
        pytest.fail(f"{BINARY} does not exist: build first")
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    r = run_briefly([role, "--config", str(path)])
    assert r.returncode == 2, f"exit {r.returncode}, stderr:\n{r.stderr}"
    # "FILE:LINE:" -- FILE as given or its base name, both end in "<name>.yaml"
    assert f"{path.name}:{line}:" in r.stderr, f"stderr does not name {path.name}:{line}:\n{r.stderr}"
    if word:
        assert word in r.stderr, f"stderr does not name the key {word!r}:\n{r.stderr}"


def test_missing_config_file_is_an_error(tmp_path):
    r = run_briefly(["run", "--config", str(tmp_path / "nope.yaml")])
    assert r.returncode != 0, r.stderr
    assert "nope.yaml" in r.stderr, r.stderr


def _sequence(url):
    """The newest segment's number (the time-shift window keeps the oldest)."""
    m = fetch_media(url)
    return m["segments"][-1]["seq"] if m and m["segments"] else None


def test_garbage_on_the_egress_port_disturbs_nothing(start_demo):
    slt = tool("srt-live-transmit")
    demo = start_demo()
    rungs = rung_urls(demo, wait_master(demo))
    for url in rungs.values():
        wait_segments(url, 1)
    port = demo.config.egress_port
    rng = random.Random(20240601)

    # 1. ~1000 random UDP datagrams at the egress SRT port
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for i in range(1000):
            s.sendto(rng.randbytes(rng.randint(1, 1500)), ("127.0.0.1", port))
            if i % 100 == 99:
                time.sleep(0.01)  # spread over a moment, like a real flood would be

    # 2. a real SRT publisher for another lecture that sends bytes that are not TS
    #    (srt-live-transmit passes the stream id as written; '#' is not a fragment to it)
    target = f"srt://127.0.0.1:{port}?streamid=#!::r=demo2,m=publish"
    pub = subprocess.Popen([slt, "-q", "file://con", target], stdin=subprocess.PIPE,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def feed():
        try:
            for _ in range(40):  # ~200 KiB over ~2 s; kept open so SRT delivers it
                pub.stdin.write(rng.randbytes(1316 * 4))
                pub.stdin.flush()
                time.sleep(0.05)
        except (BrokenPipeError, OSError):
            pass  # the egress may reject or drop the connection: also fine
        finally:
            try:
                pub.stdin.close()
            except OSError:
                pass

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    feeder.join(timeout=15)
    try:
        pub.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pub.kill()
        pub.wait()

    # 3. the lecture keeps playing: the process lives and every rung keeps advancing
    assert demo.alive(), f"lecture-relay died after garbage input\n{demo.describe()}"
    before = {name: _sequence(url) for name, url in rungs.items()}
    for name, url in rungs.items():
        assert before[name] is not None, f"{name} playlist gone after garbage\n{demo.describe()}"
        wait_for(lambda url=url, name=name: (_sequence(url) or -1) >= before[name] + 2,
                 scaled(25), interval=0.5,
                 what=f"{name} media sequence to advance by 2 after garbage")
    assert demo.alive(), demo.describe()

    # 4. the bad link was noticed (exact wording is the program's)
    wait_for(lambda: "demo2" in demo.stderr_text(), scaled(5),
             what="stderr to mention the bad link for lecture 'demo2'")

    demo.assert_stops(signal.SIGINT)
