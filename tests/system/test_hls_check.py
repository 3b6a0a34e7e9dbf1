"""Fast tests of hls_check.py (no pipeline): conformant playlists in every
form egress/playlist.c writes pass, and each kind of violation is caught.
A tiny HTTP server plays an egress for the Watcher."""

import http.server
import os
import re
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hls_check import Watcher, check_master, check_media  # noqa: E402

# ---- fixtures: what egress/playlist.c writes (tests/unit/test_playlist.c) ----

LIVE_TS = """#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:7
#EXT-X-INDEPENDENT-SEGMENTS
#EXTINF:2.000,
7.ts
#EXTINF:2.002,
8.ts
#EXTINF:1.968,
9.ts
"""

FMP4_DATES = """#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:10
#EXT-X-DISCONTINUITY-SEQUENCE:4
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MAP:URI="init.mp4"
#EXT-X-DISCONTINUITY
#EXT-X-PROGRAM-DATE-TIME:2026-11-28T13:47:00.123Z
#EXTINF:2.000,
10.m4s
#EXT-X-PROGRAM-DATE-TIME:2026-11-28T13:47:02.123Z
#EXTINF:2.000,
11.m4s
#EXT-X-DISCONTINUITY
#EXTINF:1.500,
12.m4s
#EXT-X-PROGRAM-DATE-TIME:2024-02-29T23:59:59.999Z
#EXTINF:2.000,
13.m4s
"""

VOD = """#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MAP:URI="init.mp4"
#EXTINF:2.000,
0.m4s
#EXTINF:0.800,
1.m4s
#EXT-X-ENDLIST
"""

LL_HEAD = """#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:2
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.500,HOLD-BACK=6.000,CAN-SKIP-UNTIL=12.000
#EXT-X-PART-INF:PART-TARGET=0.500
"""


def ll_playlist(first, last, open_parts=2, *, head=LL_HEAD, hint=True, parts_from=None,
                independent="INDEPENDENT=YES", reports=True, dseq=0):
    """A live LL playlist as egress/playlist.c writes it: complete segments
    first..last (2 s, dated), parts on the last two, open_parts parts of
    last + 1, the preload hint, rendition reports."""
    parts_from = last - 1 if parts_from is None else parts_from
    out = [head.rstrip("\n"), f"#EXT-X-MEDIA-SEQUENCE:{first}"]
    if dseq:
        out.append(f"#EXT-X-DISCONTINUITY-SEQUENCE:{dseq}")
    out += ["#EXT-X-INDEPENDENT-SEGMENTS", '#EXT-X-MAP:URI="init.mp4"']
    for seq in range(first, last + 1):
        out.append(f"#EXT-X-PROGRAM-DATE-TIME:2026-11-28T13:{seq // 30 % 60:02d}:"
                   f"{seq * 2 % 60:02d}.000Z")
        if seq >= parts_from:
            out += [f'#EXT-X-PART:DURATION=0.500,URI="{seq}.{i}.m4s"'
                    + (f",{independent}" if i == 0 and independent else "") for i in range(4)]
        out += ["#EXTINF:2.000,", f"{seq}.m4s"]
    out += [f'#EXT-X-PART:DURATION=0.500,URI="{last + 1}.{i}.m4s"'
            + (f",{independent}" if i == 0 and independent else "") for i in range(open_parts)]
    if hint:
        out.append(f'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="{last + 1}.{open_parts}.m4s"')
    if reports:
        out.append(f'#EXT-X-RENDITION-REPORT:URI="../audio/index.m3u8",LAST-MSN={last + 1},'
                   f"LAST-PART={max(open_parts - 1, 0)}")
    return "\n".join(out) + "\n"


def delta_of(full, skipped):
    """The delta update of a full ll_playlist: the first `skipped` segments
    (their date lines and URIs) replaced by EXT-X-SKIP."""
    lines = full.split("\n")
    out, dropped, i = [], 0, 0
    while i < len(lines):
        line = lines[i]
        if line == '#EXT-X-MAP:URI="init.mp4"':
            out += [line, f"#EXT-X-SKIP:SKIPPED-SEGMENTS={skipped}"]
        elif dropped < skipped and line.startswith("#EXT-X-PROGRAM-DATE-TIME"):
            i += 3   # date, EXTINF, URI
            dropped += 1
            continue
        else:
            out.append(line.replace("#EXT-X-VERSION:6", "#EXT-X-VERSION:9"))
        i += 1
    return "\n".join(out)


MASTER = """#EXTM3U
#EXT-X-VERSION:1
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="audio",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="audio/index.m3u8"
#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,INSTREAM-ID="CC1"
#EXT-X-STREAM-INF:BANDWIDTH=2900000,AVERAGE-BANDWIDTH=1500000,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=1280x720,FRAME-RATE=30.000,AUDIO="audio",CLOSED-CAPTIONS="cc"
720p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=900000,CODECS="avc1.4d401e,mp4a.40.2",RESOLUTION=640x360,AUDIO="audio",CLOSED-CAPTIONS="cc"
360p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=140000,AVERAGE-BANDWIDTH=130000,CODECS="mp4a.40.2",AUDIO="audio"
audio/index.m3u8
"""


def one(violations, fragment):
    """Exactly the expected kind of violation (and nothing unrelated)."""
    assert violations, f"expected a violation about {fragment!r}, got none"
    assert all(fragment in v for v in violations), violations


# ---- conformant -----------------------------------------------------------------

@pytest.mark.parametrize("text", [LIVE_TS, FMP4_DATES, VOD, ll_playlist(100, 109),
                                  ll_playlist(100, 109, open_parts=0),
                                  ll_playlist(100, 109, open_parts=4)])
def test_conformant_media(text):
    assert check_media(text) == []


def test_conformant_master():
    assert check_master(MASTER) == []


def test_conformant_sequence_of_versions():
    v1 = ll_playlist(100, 109, open_parts=1)
    v2 = ll_playlist(100, 109, open_parts=3)
    v3 = ll_playlist(101, 110, open_parts=0)    # 110 complete, 100 removed
    assert check_media(v2, previous=v1) == []
    assert check_media(v3, previous=v2) == []
    # A delta update merged with the version before it.
    assert check_media(delta_of(v3, 3), previous=v2, delta=True) == []


def all_independent(text):
    return "\n".join(line + ",INDEPENDENT=YES" if line.startswith("#EXT-X-PART:") and
                     not line.endswith("INDEPENDENT=YES") else line for line in text.split("\n"))


def test_conformant_audio_only_parts():
    text = all_independent(ll_playlist(100, 103))
    assert check_media(text, audio_only=True) == []


def test_discontinuity_resets_dates():
    text = FMP4_DATES.replace("#EXT-X-DISCONTINUITY\n#EXTINF:1.500", "#EXTINF:1.500")
    text = text.replace("2024-02-29T23:59:59.999Z", "2026-11-28T13:47:05.623Z")
    assert check_media(text) == []            # 11 -> 13: 3.5 s, durations 2 + 1.5
    moved = FMP4_DATES.replace("2026-11-28T13:47:02.123Z", "2026-11-28T13:47:03.123Z")
    one(check_media(moved), "PROGRAM-DATE-TIME")


def expected_texts_of_the_renderer_unit_test():
    """The exact playlists tests/unit/test_playlist.c expects egress/playlist.c
    to write, read from its C string literals."""
    path = os.path.join(os.path.dirname(__file__), "..", "unit", "test_playlist.c")
    with open(path, encoding="utf-8") as f:
        source = f.read()
    out = []
    literal = r'"(?:[^"\\]|\\.)*"'
    for kind, body in re.findall(r"expect_(media|master)\(&(?:pl|m),((?:\s*" + literal + r")+)\);", source):
        text = "".join(part[1:-1] for part in re.findall(literal, body))
        text = text.encode().decode("unicode_escape")
        out.append((kind, text))
    return out


def test_every_playlist_of_the_renderer_unit_test_conforms():
    texts = expected_texts_of_the_renderer_unit_test()
    assert len([k for k, _ in texts if k == "media"]) >= 9 and len(texts) >= 12, len(texts)
    for kind, text in texts:
        if kind == "master":
            assert check_master(text) == [], text
        else:
            assert check_media(text, delta="#EXT-X-SKIP" in text) == [], text


# ---- one test per kind of violation ---------------------------------------------

def test_unparseable_for_python3_m3u8():
    one(check_media(LIVE_TS.replace("#EXTINF:2.002,", "#EXTINF:2.0o2,"))[:1], "python3-m3u8")


def test_version_too_low():
    one(check_media(VOD.replace("#EXT-X-VERSION:6", "#EXT-X-VERSION:5")), "EXT-X-VERSION 5 too low")
    one(check_media(LIVE_TS.replace("#EXT-X-VERSION:3", "#EXT-X-VERSION:2")), "EXT-X-VERSION 2 too low")
    delta = delta_of(ll_playlist(100, 109), 3).replace("#EXT-X-VERSION:9", "#EXT-X-VERSION:6")
    one(check_media(delta, delta=True), "EXT-X-VERSION 6 too low")


def test_extinf_above_target_duration():
    one(check_media(LIVE_TS.replace("#EXTINF:2.002,", "#EXTINF:2.500,")), "rounds above TARGETDURATION")


def test_tags_in_the_wrong_kind_of_playlist():
    one(check_media(LIVE_TS + '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="a"\n'), "master playlist tag")
    one(check_master(MASTER.replace("#EXT-X-INDEPENDENT-SEGMENTS", "#EXT-X-TARGETDURATION:2")),
        "media playlist tag")


def test_parts_do_not_add_up():
    text = ll_playlist(100, 109).replace('URI="109.3.m4s"', 'URI="109.3.m4s"').replace(
        '#EXT-X-PART:DURATION=0.500,URI="109.3.m4s"\n', "")
    one(check_media(text), "parts add up")


def test_oldest_segment_may_have_lost_its_first_parts():
    # 6.2.2: parts go in order; the oldest segment may list only its last ones.
    text = ll_playlist(100, 109).replace('#EXT-X-PART:DURATION=0.500,URI="108.0.m4s",INDEPENDENT=YES\n', "")
    assert check_media(text) == []


def test_part_longer_than_part_target():
    text = ll_playlist(100, 109).replace('DURATION=0.500,URI="110.1.m4s"', 'DURATION=0.501,URI="110.1.m4s"')
    one(check_media(text), "> PART-TARGET")


def test_part_shorter_than_85_percent():
    text = ll_playlist(100, 109).replace('DURATION=0.500,URI="109.1.m4s"', 'DURATION=0.300,URI="109.1.m4s"')
    text = text.replace('DURATION=0.500,URI="109.2.m4s"', 'DURATION=0.700,URI="109.2.m4s"')
    v = check_media(text)
    assert any("< 85% of PART-TARGET" in x for x in v) and any("> PART-TARGET" in x for x in v), v
    # The last part of a segment may be short.
    short_last = ll_playlist(100, 109).replace(
        'DURATION=0.500,URI="109.3.m4s"', 'DURATION=0.100,URI="109.3.m4s"').replace(
        "#EXTINF:2.000,\n109.m4s", "#EXTINF:1.600,\n109.m4s")
    assert check_media(short_last) == []


def test_first_part_not_independent():
    text = ll_playlist(100, 109).replace('URI="110.0.m4s",INDEPENDENT=YES', 'URI="110.0.m4s"')
    one(check_media(text), "without INDEPENDENT=YES although EXT-X-INDEPENDENT-SEGMENTS")


def test_audio_part_not_independent():
    one(check_media(ll_playlist(100, 103), audio_only=True), "audio part")


def test_preload_hint_not_the_next_part():
    one(check_media(ll_playlist(100, 109).replace('URI="110.2.m4s"', 'URI="110.3.m4s"')), "preload hint")
    after_segment = ll_playlist(100, 109, open_parts=0)
    one(check_media(after_segment.replace('URI="110.0.m4s"', 'URI="109.4.m4s"')), "preload hint")


def test_preload_hint_in_finished_playlist():
    text = ll_playlist(100, 109, open_parts=0) + "#EXT-X-ENDLIST\n"
    one(check_media(text), "EXT-X-ENDLIST")


@pytest.mark.parametrize("old, new, fragment", [
    ("HOLD-BACK=6.000", "HOLD-BACK=5.000", "HOLD-BACK 5.000 < 3 x"),
    ("PART-HOLD-BACK=1.500", "PART-HOLD-BACK=0.900", "PART-HOLD-BACK 0.9 < 2 x"),
    ("PART-HOLD-BACK=1.500,", "", "without PART-HOLD-BACK"),
    ("CAN-SKIP-UNTIL=12.000", "CAN-SKIP-UNTIL=11.000", "CAN-SKIP-UNTIL 11.000 < 6 x"),
    ("CAN-BLOCK-RELOAD=YES", "CAN-BLOCK-RELOAD=NO", "CAN-BLOCK-RELOAD=NO"),
], ids=["hold-back", "part-hold-back", "no-part-hold-back", "skip-until", "block-reload"])
def test_server_control_values(old, new, fragment):
    one(check_media(ll_playlist(100, 109).replace(old, new, 1)), fragment)


def test_part_without_part_inf():
    text = ll_playlist(100, 109).replace("#EXT-X-PART-INF:PART-TARGET=0.500\n", "")
    one(check_media(text), "without EXT-X-PART-INF")


def test_skip_only_in_delta_updates():
    delta = delta_of(ll_playlist(100, 109), 3)
    one(check_media(delta), "without _HLS_skip")
    assert check_media(delta, delta=True) == []


def test_delta_update_skips_too_much():
    # 4 segments (8 s) left: segment 105 ended only 8 s before the end.
    one(check_media(delta_of(ll_playlist(100, 109), 6), delta=True), "skips too much")


def test_delta_request_answered_in_full():
    one(check_media(ll_playlist(100, 109), delta=True), "MUST respond with a delta update")
    # Nothing beyond the boundary yet: a full answer is right.
    assert check_media(ll_playlist(100, 105), delta=True) == []


def test_delta_merge_needs_the_skipped_segments():
    later = ll_playlist(120, 129)
    one(check_media(delta_of(later, 3), previous=ll_playlist(100, 109), delta=True),
        "missing from the previous version")


def test_media_sequence_goes_back():
    v = check_media(ll_playlist(100, 109), previous=ll_playlist(101, 110))
    assert any("went back from 101 to 100" in x for x in v), v


def test_uri_changes_its_sequence_number():
    shifted = ll_playlist(100, 109).replace("#EXT-X-MEDIA-SEQUENCE:100", "#EXT-X-MEDIA-SEQUENCE:101")
    v = check_media(shifted, previous=ll_playlist(100, 109))
    assert any("'105.m4s' was segment 105, now 106" in x for x in v), v


def test_segment_duration_changes():
    v1 = ll_playlist(100, 109)
    v2 = v1.replace("#EXTINF:2.000,\n104.m4s", "#EXTINF:1.900,\n104.m4s")
    one([x for x in check_media(v2, previous=v1) if "PROGRAM-DATE-TIME" not in x], "was 2.0 s, now 1.9 s")


def test_discontinuity_sequence_inconsistent():
    v1 = ll_playlist(100, 109).replace('#EXT-X-PROGRAM-DATE-TIME:2026-11-28T13:03:20.000Z',
                                       '#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2026-11-28T13:03:20.000Z')
    # Segment 100 (with its discontinuity) removed: the sequence must become 1.
    good = ll_playlist(101, 110, dseq=1)
    assert check_media(good, previous=v1) == []
    bad = ll_playlist(101, 110)
    v = check_media(bad, previous=v1)
    assert v and all("discontinuity" in x.lower() for x in v), v


def test_target_duration_changes():
    v1 = ll_playlist(100, 109)
    v2 = ll_playlist(100, 109).replace("#EXT-X-TARGETDURATION:2", "#EXT-X-TARGETDURATION:3")
    v = check_media(v2, previous=v1)
    assert any("TARGETDURATION changed" in x for x in v), v


def test_part_changes_between_versions():
    v1 = ll_playlist(100, 109, open_parts=2)
    v2 = ll_playlist(100, 109, open_parts=3).replace('DURATION=0.500,URI="110.1.m4s"',
                                                     'DURATION=0.450,URI="110.1.m4s"')
    one(check_media(v2, previous=v1), "changed between versions")


def test_finished_playlist_changes():
    one(check_media(VOD.replace("#EXT-X-ENDLIST\n", "#EXTINF:2.000,\n2.m4s\n#EXT-X-ENDLIST\n"),
                    previous=VOD), "finished")


# ---- master violations --------------------------------------------------------------

@pytest.mark.parametrize("old, new, fragment", [
    ('AUDIO="audio",CLOSED-CAPTIONS="cc"\n720p', 'AUDIO="aac",CLOSED-CAPTIONS="cc"\n720p', "AUDIO group 'aac'"),
    ('AUDIO="audio"\naudio/', 'AUDIO="audio",CLOSED-CAPTIONS=NONE\naudio/', "NONE on some variants"),
    ('INSTREAM-ID="CC1"', 'INSTREAM-ID="CC1",URI="cc.m3u8"', "with a URI"),
    ('INSTREAM-ID="CC1"', 'INSTREAM-ID="SERVICE1"', "SERVICE needs 7"),
    ('INSTREAM-ID="CC1"', 'INSTREAM-ID="CC9"', "INSTREAM-ID 'CC9'"),
    ("BANDWIDTH=900000,", "BANDWIDTH=0,", "BANDWIDTH '0'"),
    ('NAME="audio",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES',
     'NAME="audio",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=NO', "AUTOSELECT=NO"),
], ids=["audio-group", "cc-none", "cc-uri", "service-version", "instream-id", "bandwidth", "autoselect"])
def test_master_violations(old, new, fragment):
    assert old in MASTER
    one(check_master(MASTER.replace(old, new, 1)), fragment)


def test_master_group_rules():
    extra = ('#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="audio",DEFAULT=NO,AUTOSELECT=YES,'
             'URI="a2/index.m3u8"\n')
    one(check_master(MASTER.replace("#EXT-X-STREAM-INF", extra + "#EXT-X-STREAM-INF", 1)), "NAME 'audio' twice")
    extra = ('#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="dub",DEFAULT=YES,AUTOSELECT=YES,'
             'URI="a2/index.m3u8"\n')
    one(check_master(MASTER.replace("#EXT-X-STREAM-INF", extra + "#EXT-X-STREAM-INF", 1)), "more than one DEFAULT")


# ---- the Watcher against a scripted server -------------------------------------------

class Scripted(http.server.ThreadingHTTPServer):
    """Serves, per path, the next of a list of bodies on each request; a
    blocking request past the last one gets 503. Records the query strings."""

    def __init__(self, script, media):
        self.script, self.media, self.queries, self.served = script, media, [], {}
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), Handler)


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        srv = self.server
        path, _, query = self.path.partition("?")
        with srv.lock:
            srv.queries.append((path, query))
            versions = srv.script.get(path)
            body, ctype = None, None
            if versions:
                n = srv.served.get(path, 0)
                srv.served[path] = n + 1
                if n < len(versions) or "_HLS_msn" not in query:
                    body = versions[min(n, len(versions) - 1)]
                ctype = "application/vnd.apple.mpegurl"
            elif path in srv.media:
                body, ctype = srv.media[path]
        if body is None and versions:
            # Out of versions: what a server says after blocking too long.
            time.sleep(0.1)
            self.send_error(503)
            return
        if body is None:
            self.send_error(404)
            return
        data = body.encode() if isinstance(body, str) else body
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def scripted():
    servers = []

    def start(script, media=None):
        srv = Scripted(script, media or {})
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return srv, f"http://127.0.0.1:{srv.server_address[1]}/live/x/"

    yield start
    for srv in servers:
        srv.shutdown()
        srv.server_close()


AUDIO_MASTER = """#EXTM3U
#EXT-X-VERSION:1
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="audio",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="audio/index.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=900000,CODECS="avc1.4d401e,mp4a.40.2",RESOLUTION=640x360,AUDIO="audio"
360p/index.m3u8
"""


VIDEO_MASTER = """#EXTM3U
#EXT-X-VERSION:1
#EXT-X-STREAM-INF:BANDWIDTH=900000,CODECS="avc1.4d401e,mp4a.40.2",RESOLUTION=640x360
360p/index.m3u8
"""


def video_versions(report="../audio/index.m3u8"):
    return [ll_playlist(100, 109, open_parts=p, reports=False).replace(
        "#EXT-X-RENDITION-REPORT", "#X") + f'#EXT-X-RENDITION-REPORT:URI="{report}",LAST-MSN=110\n'
        for p in (1, 2, 3)]


def audio_versions():
    return [all_independent(ll_playlist(100, 109, open_parts=p, reports=False)) for p in (1, 2, 3)]


def test_watcher_conformant_stream_with_blocking_reloads(scripted):
    srv, base = scripted({"/live/x/master.m3u8": [AUDIO_MASTER],
                          "/live/x/360p/index.m3u8": video_versions(),
                          "/live/x/audio/index.m3u8": audio_versions()})
    w = Watcher(base, delta_every=0)
    assert w.run(1.0) == []
    assert w.versions["http" + base[4:] + "360p/index.m3u8"] >= 3
    # After the first version, every reload asked for the next part.
    queries = [q for p, q in srv.queries if p == "/live/x/360p/index.m3u8"]
    assert queries[0] == "" and queries[1] == "_HLS_msn=110&_HLS_part=1", queries[:3]


def test_watcher_reports_a_stale_blocking_answer(scripted):
    versions = video_versions()
    _, base = scripted({"/live/x/master.m3u8": [AUDIO_MASTER],
                        "/live/x/360p/index.m3u8": [versions[1], versions[0]],
                        "/live/x/audio/index.m3u8": audio_versions()})
    v = Watcher(base, delta_every=0).run(0.5)
    assert any("answered without it" in x for x in v), v


def test_watcher_reports_unknown_rendition(scripted):
    _, base = scripted({"/live/x/master.m3u8": [AUDIO_MASTER],
                        "/live/x/360p/index.m3u8": video_versions("../720p/index.m3u8"),
                        "/live/x/audio/index.m3u8": audio_versions()})
    v = Watcher(base, delta_every=0).run(0.5)
    assert v and all("names no playlist of the master" in x for x in v), v


def test_watcher_asks_for_delta_updates(scripted):
    full = ll_playlist(100, 109, open_parts=1, reports=False)
    nxt = ll_playlist(100, 109, open_parts=2, reports=False)
    srv, base = scripted({"/live/x/master.m3u8": [VIDEO_MASTER],
                          "/live/x/360p/index.m3u8": [full, delta_of(nxt, 3)]})
    assert Watcher(base, delta_every=2).run(0.5) == []
    assert any("_HLS_skip=YES" in q for _, q in srv.queries), srv.queries


def test_watcher_fetches_media(scripted):
    text = ll_playlist(100, 101, open_parts=1, reports=False, hint=False) + "#EXT-X-ENDLIST\n"
    text = text.replace("#EXT-X-PART:DURATION=0.500,URI=\"102.0.m4s\",INDEPENDENT=YES\n", "")
    media = {f"/live/x/360p/{n}": (n.encode(), "video/mp4")
             for n in ["init.mp4", "100.m4s", "101.m4s"] + [f"{s}.{i}.m4s" for s in (100, 101) for i in range(4)]}
    media["/live/x/360p/101.2.m4s"] = (b"x", "text/plain")
    del media["/live/x/360p/101.3.m4s"]
    _, base = scripted({"/live/x/master.m3u8": [VIDEO_MASTER],
                        "/live/x/360p/index.m3u8": [text]}, media)
    w = Watcher(base, fetch_media=True)
    v = w.run(0.5)
    assert len(v) == 2 and "Content-Type 'text/plain'" in v[0] + v[1] and "not served" in v[0] + v[1], v
    seg = base + "360p/101.m4s"
    assert w.media[seg] == b"101.m4s"
    assert w.parts_of[seg] == [base + f"360p/101.{i}.m4s" for i in range(4)]
