"""HLS conformance checker for the system tests: the rules of RFC 8216 and
draft-pantos-hls-rfc8216bis (LL-HLS) that a strict client relies on, checked
on every playlist the egress serves. Used by the system tests (Watcher over a
live run) and tested on fixture playlists in test_hls_check.py.

    check_media(text, previous=None, delta=False, audio_only=False) -> [str]
    check_master(text) -> [str]
    Watcher(base_url).run(seconds) -> [str]

An empty list means conformant. Section numbers in the comments are those of
rfc8216bis unless they say RFC 8216. Standard library plus Debian's
python3-m3u8, which must also parse every playlist.

Segment and part URIs are expected in lecture-relay's form, "<msn>.<ext>"
and "<msn>.<part>.<ext>", to check that the preload hint names the next part.
"""

import copy
import datetime
import math
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import m3u8

EPS = 0.0005          # times are written with millisecond precision
PARTS_VS_SEGMENT = 0.05
PDT_TOLERANCE = 0.5

MASTER_ONLY = {"EXT-X-MEDIA", "EXT-X-STREAM-INF", "EXT-X-I-FRAME-STREAM-INF",
               "EXT-X-SESSION-DATA", "EXT-X-SESSION-KEY", "EXT-X-CONTENT-STEERING"}
MEDIA_ONLY = {"EXTINF", "EXT-X-BYTERANGE", "EXT-X-DISCONTINUITY", "EXT-X-KEY", "EXT-X-MAP",
              "EXT-X-PROGRAM-DATE-TIME", "EXT-X-GAP", "EXT-X-BITRATE", "EXT-X-PART",
              "EXT-X-DATERANGE", "EXT-X-SKIP", "EXT-X-PRELOAD-HINT", "EXT-X-RENDITION-REPORT",
              "EXT-X-TARGETDURATION", "EXT-X-MEDIA-SEQUENCE", "EXT-X-DISCONTINUITY-SEQUENCE",
              "EXT-X-ENDLIST", "EXT-X-PLAYLIST-TYPE", "EXT-X-I-FRAMES-ONLY", "EXT-X-PART-INF",
              "EXT-X-SERVER-CONTROL"}
VIDEO_CODECS = ("avc1", "avc3", "hvc1", "hev1", "av01", "vp09", "dvh1", "dvhe")
PART_URI = re.compile(r"^(?P<msn>\d+)\.(?P<part>\d+)\.(?P<ext>[A-Za-z0-9]+)$")
SEG_URI = re.compile(r"^(?P<msn>\d+)\.(?P<ext>[A-Za-z0-9]+)$")
ATTR = re.compile(r'([A-Z0-9-]+)=("[^"\r\n]*"|[^",\s]*)(,|$)')


def parse_attrs(text):
    """Attribute list (section 4.2) -> dict; None if it doesn't parse."""
    out, pos = {}, 0
    while pos < len(text):
        m = ATTR.match(text, pos)
        if not m or m.group(1) in out:
            return None
        value = m.group(2)
        out[m.group(1)] = value[1:-1] if value.startswith('"') else value
        pos = m.end()
        if m.group(3) == "," and pos == len(text):
            return None
    return out


def parse_pdt(value):
    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _float(value):
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _tags(text):
    """Yields (line number, tag name, value or None, line); URI lines as (n, None, None, line)."""
    for n, line in enumerate(text.split("\n"), 1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        if line.startswith("#EXT"):
            name, sep, value = line[1:].partition(":")
            yield n, name, value if sep else None, line
        elif line.startswith("#"):
            continue
        else:
            yield n, None, None, line


def _m3u8_errors(text):
    # Debian's python3-m3u8 must read it too (strict: every line understood).
    try:
        m3u8.parse(text, strict=True)
        m3u8.loads(text)
    except Exception as e:  # noqa: BLE001 - any failure of the parser is reported
        return [f"python3-m3u8 fails to parse it: {type(e).__name__}: {e}"]
    return []


class Part:
    def __init__(self, uri, duration, independent):
        self.uri, self.duration, self.independent = uri, duration, independent


class Segment:
    def __init__(self, seq):
        self.seq, self.uri, self.duration = seq, None, None
        self.discontinuity, self.pdt, self.parts, self.dseq = False, None, [], 0
        self.gap = False


class MediaPlaylist:
    """What check_media reads from a media playlist (after merging a delta update)."""

    def __init__(self):
        self.version = 1
        self.target = None
        self.msn = 0
        self.disc_seq = 0
        self.segments = []          # complete segments (skipped ones excluded)
        self.open_parts = []        # parts after the last complete segment
        self.open_discontinuity = False
        self.skipped = 0
        self.hints = []
        self.reports = []
        self.server_control = {}
        self.part_target = None
        self.endlist = False
        self.playlist_type = None
        self.independent_segments = False
        self.map_uri = None
        self.i_frames_only = False
        self.tags = set()

    @property
    def next_msn(self):
        return self.msn + self.skipped + len(self.segments)

    def by_seq(self):
        return {s.seq: s for s in self.segments}


def parse_media(text, errors):
    """Reads a media playlist; structural violations go to errors."""
    pl = MediaPlaylist()
    lines = list(_tags(text))
    if not lines or lines[0][3] != "#EXTM3U":
        errors.append("first line is not #EXTM3U (RFC 8216 4.3.1.1)")
    seen_once = {}
    pending = Segment(None)
    pending_parts = []
    pending_inf = None
    for n, name, value, line in lines[1:] if lines and lines[0][3] == "#EXTM3U" else lines:
        if name is None:
            # A URI line: the media segment its EXTINF announced (4.4.4.1).
            if pending_inf is None:
                errors.append(f"line {n}: URI {line!r} without EXTINF (4.4.4.1)")
                continue
            pending.uri, pending.duration = line, pending_inf
            pending.parts = pending_parts
            pl.segments.append(pending)
            pending, pending_parts, pending_inf = Segment(None), [], None
            continue
        pl.tags.add(name)
        if name in MASTER_ONLY:
            errors.append(f"line {n}: {name} is a master playlist tag (4.4.6, RFC 8216 4.1)")
            continue
        if name in ("EXT-X-VERSION", "EXT-X-TARGETDURATION", "EXT-X-MEDIA-SEQUENCE",
                    "EXT-X-DISCONTINUITY-SEQUENCE", "EXT-X-PLAYLIST-TYPE", "EXT-X-PART-INF",
                    "EXT-X-SERVER-CONTROL", "EXT-X-SKIP", "EXT-X-ENDLIST", "EXT-X-INDEPENDENT-SEGMENTS"):
            if name in seen_once:
                errors.append(f"line {n}: {name} appears more than once (4.4.3, 4.4.5.2)")
            seen_once[name] = n
        if name == "EXT-X-VERSION":
            pl.version = int(value) if value and value.isdigit() else 0
        elif name == "EXT-X-TARGETDURATION":
            if not (value and value.isdigit()):
                errors.append(f"line {n}: TARGETDURATION {value!r} is not a decimal-integer (4.4.3.1)")
            else:
                pl.target = int(value)
        elif name == "EXT-X-MEDIA-SEQUENCE":
            pl.msn = int(value) if value and value.isdigit() else 0
            if pl.segments or pending_parts:
                errors.append(f"line {n}: EXT-X-MEDIA-SEQUENCE after the first segment (4.4.3.2)")
        elif name == "EXT-X-DISCONTINUITY-SEQUENCE":
            pl.disc_seq = int(value) if value and value.isdigit() else 0
            if pl.segments or pending_parts:
                errors.append(f"line {n}: EXT-X-DISCONTINUITY-SEQUENCE after the first segment (4.4.3.3)")
        elif name == "EXT-X-PLAYLIST-TYPE":
            pl.playlist_type = value
            if value not in ("EVENT", "VOD"):
                errors.append(f"line {n}: EXT-X-PLAYLIST-TYPE {value!r} (4.4.3.5)")
        elif name == "EXT-X-ENDLIST":
            pl.endlist = True
        elif name == "EXT-X-INDEPENDENT-SEGMENTS":
            pl.independent_segments = True
        elif name == "EXT-X-I-FRAMES-ONLY":
            pl.i_frames_only = True
        elif name == "EXT-X-MAP":
            attrs = parse_attrs(value or "")
            if not attrs or "URI" not in attrs:
                errors.append(f"line {n}: EXT-X-MAP without URI (4.4.4.5)")
            else:
                pl.map_uri = attrs["URI"]
        elif name == "EXT-X-PART-INF":
            attrs = parse_attrs(value or "") or {}
            pl.part_target = _float(attrs.get("PART-TARGET"))
            if pl.part_target is None or pl.part_target <= 0:
                errors.append(f"line {n}: EXT-X-PART-INF without a PART-TARGET (4.4.3.7)")
        elif name == "EXT-X-SERVER-CONTROL":
            attrs = parse_attrs(value or "")
            if attrs is None:
                errors.append(f"line {n}: bad attribute list {line!r} (4.2)")
            else:
                pl.server_control = attrs
        elif name == "EXT-X-SKIP":
            attrs = parse_attrs(value or "") or {}
            skipped = attrs.get("SKIPPED-SEGMENTS", "")
            if not skipped.isdigit():
                errors.append(f"line {n}: EXT-X-SKIP without SKIPPED-SEGMENTS (4.4.5.2)")
            elif pl.segments or pending_parts or pending_inf is not None:
                errors.append(f"line {n}: EXT-X-SKIP after a segment (4.4.5.2)")
            else:
                pl.skipped = int(skipped)
        elif name == "EXTINF":
            duration = _float((value or "").split(",")[0])
            if duration is None or duration < 0:
                errors.append(f"line {n}: EXTINF {value!r} has no duration (4.4.4.1)")
                duration = 0.0
            if "." in (value or "").split(",")[0]:
                pl.tags.add("float EXTINF")
            pending_inf = duration
        elif name == "EXT-X-DISCONTINUITY":
            pending.discontinuity = True
            if pending_parts:
                errors.append(f"line {n}: EXT-X-DISCONTINUITY after the first part of its segment (4.4.4.9)")
        elif name == "EXT-X-GAP":
            pending.gap = True
            if pending_parts:
                errors.append(f"line {n}: EXT-X-GAP after parts of its segment (4.4.4.7: no media)")
        elif name == "EXT-X-PROGRAM-DATE-TIME":
            pending.pdt = parse_pdt(value or "")
            if pending.pdt is None:
                errors.append(f"line {n}: EXT-X-PROGRAM-DATE-TIME {value!r} is not ISO 8601 (4.4.4.6)")
            if pending_parts:
                errors.append(f"line {n}: EXT-X-PROGRAM-DATE-TIME after the first part of its segment (4.4.4.9)")
        elif name == "EXT-X-PART":
            attrs = parse_attrs(value or "") or {}
            duration = _float(attrs.get("DURATION"))
            if "URI" not in attrs or duration is None:
                errors.append(f"line {n}: EXT-X-PART needs URI and DURATION (4.4.4.9)")
                continue
            if attrs.get("INDEPENDENT", "YES") != "YES":
                errors.append(f"line {n}: INDEPENDENT={attrs['INDEPENDENT']} (4.4.4.9: only YES)")
            pending_parts.append(Part(attrs["URI"], duration, attrs.get("INDEPENDENT") == "YES"))
        elif name == "EXT-X-PRELOAD-HINT":
            attrs = parse_attrs(value or "") or {}
            if attrs.get("TYPE") not in ("PART", "MAP") or "URI" not in attrs:
                errors.append(f"line {n}: EXT-X-PRELOAD-HINT needs TYPE=PART|MAP and URI (4.4.5.3)")
            else:
                pl.hints.append(attrs)
        elif name == "EXT-X-RENDITION-REPORT":
            attrs = parse_attrs(value or "") or {}
            if "URI" not in attrs:
                errors.append(f"line {n}: EXT-X-RENDITION-REPORT without URI (4.4.5.4)")
            else:
                pl.reports.append(attrs)
    if pending_inf is not None:
        errors.append("EXTINF at the end without its URI (4.4.4.1)")
    pl.open_parts = pending_parts
    pl.open_discontinuity = pending.discontinuity
    for i, seg in enumerate(pl.segments):
        seg.seq = pl.msn + pl.skipped + i
    if pl.target is None:
        errors.append("no EXT-X-TARGETDURATION (4.4.3.1: REQUIRED)")
    return pl


def _number_segments(pl, base_dseq):
    """Discontinuity sequence number of each segment (4.4.3.3)."""
    d = base_dseq
    for seg in pl.segments:
        if seg.discontinuity:
            d += 1
        seg.dseq = d


def _merge_delta(pl, previous, errors):
    """A client merges a delta update with its previous version (6.3.7)."""
    if not pl.skipped or previous is None:
        return
    old = previous.by_seq()
    filled = []
    for seq in range(pl.msn, pl.msn + pl.skipped):
        if seq not in old:
            errors.append(f"delta update skips segment {seq}, missing from the previous version (6.3.7)")
            return
        filled.append(copy.copy(old[seq]))
    pl.segments = filled + pl.segments
    pl.skipped = 0


def required_version(pl):
    """Section 8: the lowest EXT-X-VERSION for what the playlist holds."""
    need, why = 1, "nothing"
    for version, present, reason in (
            (3, "float EXTINF" in pl.tags, "decimal EXTINF durations"),
            (4, "EXT-X-BYTERANGE" in pl.tags or pl.i_frames_only, "EXT-X-BYTERANGE/I-FRAMES-ONLY"),
            (5, "EXT-X-MAP" in pl.tags, "EXT-X-MAP"),
            (6, "EXT-X-MAP" in pl.tags and not pl.i_frames_only, "EXT-X-MAP without I-FRAMES-ONLY"),
            (8, "EXT-X-DEFINE" in pl.tags, "EXT-X-DEFINE"),
            (9, "EXT-X-SKIP" in pl.tags, "EXT-X-SKIP")):
        if present and version > need:
            need, why = version, reason
    return need, why


def _check_structure(pl, delta, audio_only, errors):
    need, why = required_version(pl)
    if pl.version < need:
        errors.append(f"EXT-X-VERSION {pl.version} too low: {why} needs {need} (section 8)")
    target = pl.target or 0
    # 4.4.3.1: every EXTINF, rounded to the nearest integer, <= TARGETDURATION.
    for seg in pl.segments:
        if math.floor(seg.duration + 0.5) > target:
            errors.append(f"segment {seg.seq}: EXTINF {seg.duration} rounds above "
                          f"TARGETDURATION {target} (4.4.3.1)")
    sc = pl.server_control
    # 4.4.3.8: hold-back limits and the Skip Boundary.
    if "HOLD-BACK" in sc and (_float(sc["HOLD-BACK"]) or 0) < 3 * target - EPS:
        errors.append(f"HOLD-BACK {sc['HOLD-BACK']} < 3 x TARGETDURATION {target} (4.4.3.8)")
    if "CAN-SKIP-UNTIL" in sc and (_float(sc["CAN-SKIP-UNTIL"]) or 0) < 6 * target - EPS:
        errors.append(f"CAN-SKIP-UNTIL {sc['CAN-SKIP-UNTIL']} < 6 x TARGETDURATION {target} (4.4.3.8)")
    for key in ("CAN-BLOCK-RELOAD", "CAN-SKIP-DATERANGES"):
        if key in sc and sc[key] != "YES":
            errors.append(f"{key}={sc[key]}: the only value is YES (4.4.3.8)")
    if "CAN-SKIP-DATERANGES" in sc and "CAN-SKIP-UNTIL" not in sc:
        errors.append("CAN-SKIP-DATERANGES without CAN-SKIP-UNTIL (4.4.3.8)")
    has_parts = bool(pl.open_parts) or any(s.parts for s in pl.segments)
    if has_parts and pl.part_target is None:
        errors.append("EXT-X-PART without EXT-X-PART-INF (4.4.3.7: REQUIRED)")
    if pl.part_target is not None:
        phb = _float(sc.get("PART-HOLD-BACK"))
        if phb is None:
            errors.append("EXT-X-PART-INF without PART-HOLD-BACK in EXT-X-SERVER-CONTROL (4.4.3.8)")
        elif phb < 2 * pl.part_target - EPS:
            errors.append(f"PART-HOLD-BACK {phb} < 2 x PART-TARGET {pl.part_target} (4.4.3.8)")
    # 4.4.5.3: no hint in a finished playlist; one per TYPE (6.2.6 SHOULD NOT more).
    if pl.endlist and pl.hints:
        errors.append("EXT-X-PRELOAD-HINT in a playlist with EXT-X-ENDLIST (4.4.5.3)")
    for kind in ("PART", "MAP"):
        if sum(1 for h in pl.hints if h["TYPE"] == kind) > 1:
            errors.append(f"more than one EXT-X-PRELOAD-HINT TYPE={kind} (6.2.6)")
    # 4.4.5.2 / 6.2.5.1: EXT-X-SKIP only in a delta update the client asked for.
    if pl.skipped or "EXT-X-SKIP" in pl.tags:
        if not delta:
            errors.append("EXT-X-SKIP in a response to a request without _HLS_skip (6.2.5.1)")
        if "CAN-SKIP-UNTIL" not in sc or pl.endlist:
            errors.append("EXT-X-SKIP without CAN-SKIP-UNTIL, or with EXT-X-ENDLIST (6.2.5.1)")
    if delta and "CAN-SKIP-UNTIL" in sc and not pl.endlist:
        _check_skip_boundary(pl, _float(sc["CAN-SKIP-UNTIL"]) or 0, errors)
    _check_parts(pl, audio_only, errors)
    _check_hint(pl, errors)
    _check_dates(pl, errors)
    for r in pl.reports:
        for key in ("LAST-MSN", "LAST-PART"):
            if key in r and not r[key].isdigit():
                errors.append(f"EXT-X-RENDITION-REPORT {key}={r[key]} is not a decimal-integer (4.4.5.4)")


def _check_skip_boundary(pl, boundary, errors):
    # 6.2.5.1: only segments further from the end of the last segment than the
    # Skip Boundary are replaced; the rest (and their tags) stay.
    kept = sum(s.duration for s in pl.segments)
    if pl.skipped and kept < boundary - EPS:
        errors.append(f"delta update skips too much: {kept:.3f} s left < CAN-SKIP-UNTIL {boundary} (6.2.5.1)")
    if not pl.skipped and pl.segments and kept - pl.segments[0].duration > boundary + EPS:
        errors.append("_HLS_skip=YES answered without EXT-X-SKIP although segments lie "
                      "beyond the Skip Boundary (6.2.5.1: MUST respond with a delta update)")


def _check_parts(pl, audio_only, errors):
    pt = pl.part_target
    if pt is None:
        return
    groups = [(s, s.parts, True) for s in pl.segments if s.parts]
    if pl.open_parts:
        groups.append((None, pl.open_parts, False))
    for gi, (seg, parts, complete) in enumerate(groups):
        name = f"segment {seg.seq}" if seg else f"open segment {pl.next_msn}"
        oldest = gi == 0 and complete
        total = sum(p.duration for p in parts)
        trimmed = False
        if complete:
            # 3.2: a segment and its parts hold the same media. Parts go from the
            # front of the oldest segment first (6.2.2): it may list fewer.
            if total > seg.duration + PARTS_VS_SEGMENT or (
                    not oldest and total < seg.duration - PARTS_VS_SEGMENT):
                errors.append(f"{name}: parts add up to {total:.3f} s, EXTINF {seg.duration} (3.2)")
            trimmed = oldest and total < seg.duration - PARTS_VS_SEGMENT
        for i, p in enumerate(parts):
            # 4.4.4.9: a part is at most the Part Target Duration ...
            if p.duration > pt + EPS:
                errors.append(f"{name}: part {p.uri} {p.duration} s > PART-TARGET {pt} (4.4.4.9)")
            # ... and at least 85% of it, except INDEPENDENT=YES parts and the last
            # part of its segment (the newest open part may turn out to be one).
            last = i == len(parts) - 1
            if p.duration < 0.85 * pt - EPS and not p.independent and not last:
                errors.append(f"{name}: part {p.uri} {p.duration} s < 85% of PART-TARGET {pt} (4.4.4.9)")
            if audio_only and not p.independent:
                errors.append(f"{name}: audio part {p.uri} without INDEPENDENT=YES (4.4.4.9: every "
                              "part with an independent frame SHOULD say so)")
        # EXT-X-INDEPENDENT-SEGMENTS: every segment starts with an independent
        # frame (4.4.2.1), so its first part has one (4.4.4.9).
        if pl.independent_segments and parts and not trimmed and not parts[0].independent:
            errors.append(f"{name}: first part {parts[0].uri} without INDEPENDENT=YES although "
                          "EXT-X-INDEPENDENT-SEGMENTS (4.4.2.1, 4.4.4.9)")


def _check_hint(pl, errors):
    # 4.4.5.3: the hinted URI is the one that will be added next as EXT-X-PART.
    hints = [h for h in pl.hints if h["TYPE"] == "PART"]
    if not hints:
        return
    uri = hints[0]["URI"]
    if pl.open_parts:
        m = PART_URI.match(pl.open_parts[-1].uri)
        expect = m and f"{int(m['msn'])}.{int(m['part']) + 1}.{m['ext']}"
    else:
        ref = pl.segments[-1].uri if pl.segments else ""
        m = SEG_URI.match(ref)
        expect = m and f"{pl.next_msn}.0.{m['ext']}"
    if not expect:
        errors.append(f"preload hint {uri!r}: cannot tell the next part from URIs not in "
                      "<msn>.<part>.<ext> form")
    elif uri != expect:
        errors.append(f"preload hint names {uri!r}, the next part is {expect!r} (4.4.5.3)")


def _check_dates(pl, errors):
    # 4.4.4.6: dates follow from durations; a date that disagrees makes the
    # mapping ambiguous, unless a discontinuity intervenes.
    prev = None
    for seg in pl.segments:
        if seg.pdt is not None and prev is not None and prev.pdt is not None and not seg.discontinuity:
            gap = seg.pdt - prev.pdt
            if abs(gap - prev.duration) > PDT_TOLERANCE:
                errors.append(f"segment {seg.seq}: PROGRAM-DATE-TIME {gap:.3f} s after segment "
                              f"{prev.seq}, whose EXTINF is {prev.duration} (4.4.4.6)")
        prev = seg


def _check_against_previous(pl, old, errors):
    """RFC 8216 6.2.1 / rfc8216bis 6.2.1: between versions a server only appends,
    removes segments (and parts) from the front, and counts what it removed."""
    if pl.msn < old.msn:
        errors.append(f"EXT-X-MEDIA-SEQUENCE went back from {old.msn} to {pl.msn} (6.2.1)")
    if old.target is not None and pl.target != old.target:
        errors.append(f"EXT-X-TARGETDURATION changed from {old.target} to {pl.target} (6.2.1)")
    if pl.segments and old.segments and pl.segments[-1].seq < old.segments[-1].seq:
        errors.append(f"the last segment went back from {old.segments[-1].seq} to "
                      f"{pl.segments[-1].seq} (6.2.1)")
    if (old.endlist or old.playlist_type == "VOD") and (
            pl.msn != old.msn or len(pl.segments) != len(old.segments)):
        errors.append("a finished (ENDLIST/VOD) playlist changed (6.2.1)")
    if old.playlist_type == "EVENT" and pl.msn != old.msn:
        errors.append("an EVENT playlist removed segments (6.2.1)")
    if old.endlist and not pl.endlist:
        errors.append("EXT-X-ENDLIST went away (6.2.1)")
    old_seq, old_uri = old.by_seq(), {s.uri: s for s in old.segments}
    for seg in pl.segments:
        before = old_seq.get(seg.seq)
        if before is not None:
            if before.uri != seg.uri:
                errors.append(f"segment {seg.seq} was {before.uri!r}, now {seg.uri!r} (6.2.1)")
            if abs(before.duration - seg.duration) > EPS:
                errors.append(f"segment {seg.seq} was {before.duration} s, now {seg.duration} s (6.2.1)")
            if before.dseq != seg.dseq:
                errors.append(f"segment {seg.seq} discontinuity sequence {before.dseq} -> {seg.dseq} "
                              "(4.4.3.3, 6.2.2)")
            if before.pdt is not None and seg.pdt is not None and abs(before.pdt - seg.pdt) > EPS:
                errors.append(f"segment {seg.seq} PROGRAM-DATE-TIME changed (4.4.4.6, 6.2.1)")
        same = old_uri.get(seg.uri)
        if same is not None and same.seq != seg.seq:
            errors.append(f"{seg.uri!r} was segment {same.seq}, now {seg.seq} (6.2.1)")
    # A segment removed from the front takes its discontinuity with it, and the
    # discontinuity sequence counts it (6.2.2).
    if old.segments and pl.msn in old_seq and pl.disc_seq != old_seq[pl.msn].dseq - int(
            old_seq[pl.msn].discontinuity):
        errors.append(f"EXT-X-DISCONTINUITY-SEQUENCE {pl.disc_seq} does not count the discontinuities "
                      "removed with the first segments (6.2.2)")
    # The segment being built (its parts listed, no EXTINF yet) keeps the
    # discontinuity sequence it was announced with (hls.js: "discontinuity
    # sequence mismatch", a playlist it refuses).
    if old.open_parts:
        open_dseq = (old.segments[-1].dseq if old.segments else old.disc_seq) + \
            int(old.open_discontinuity)
        now = pl.by_seq().get(old.next_msn)
        if now is not None and now.dseq != open_dseq:
            errors.append(f"segment {old.next_msn}, announced by its parts in discontinuity "
                          f"sequence {open_dseq}, was completed in {now.dseq} (4.4.3.3, 6.2.2)")
    old_parts = {p.uri: p for s in old.segments for p in s.parts}
    old_parts.update({p.uri: p for p in old.open_parts})
    for p in [p for s in pl.segments for p in s.parts] + pl.open_parts:
        before = old_parts.get(p.uri)
        if before and (abs(before.duration - p.duration) > EPS or before.independent != p.independent):
            errors.append(f"part {p.uri} changed between versions (6.2.1)")


def check_media_playlist(text, *, previous=None, delta=False, audio_only=False):
    """Like check_media, also returning the playlist as read (a delta update
    merged with previous) for the next call's previous."""
    errors = _m3u8_errors(text)
    pl = parse_media(text, errors)
    if isinstance(previous, str):
        previous = parse_media(previous, [])
        _number_segments(previous, previous.disc_seq)
    _check_structure(pl, delta, audio_only, errors)
    _merge_delta(pl, previous, errors)
    _number_segments(pl, pl.disc_seq)
    if previous is not None:
        _check_against_previous(pl, previous, errors)
    return errors, pl


def check_media(text, *, previous=None, delta=False, audio_only=False):
    """Violations of one media playlist (and of the change from previous, a
    text or a MediaPlaylist); delta: the request carried _HLS_skip=YES;
    audio_only: every part holds only independent (audio) frames."""
    return check_media_playlist(text, previous=previous, delta=delta, audio_only=audio_only)[0]


# ---- master ------------------------------------------------------------------

def check_master(text):
    errors = _m3u8_errors(text)
    lines = list(_tags(text))
    if not lines or lines[0][3] != "#EXTM3U":
        errors.append("first line is not #EXTM3U (RFC 8216 4.3.1.1)")
    version, media, variants, pending = 1, [], [], None
    for n, name, value, line in lines[1:]:
        if name is None:
            if pending is None:
                errors.append(f"line {n}: URI {line!r} without EXT-X-STREAM-INF (4.4.6.2)")
            else:
                variants.append((pending, line))
                pending = None
            continue
        if name in MEDIA_ONLY:
            errors.append(f"line {n}: {name} is a media playlist tag (4.4.3-4.4.5, RFC 8216 4.1)")
        elif name == "EXT-X-VERSION":
            version = int(value) if value and value.isdigit() else 0
        elif name in ("EXT-X-MEDIA", "EXT-X-STREAM-INF"):
            attrs = parse_attrs(value or "")
            if attrs is None:
                errors.append(f"line {n}: bad attribute list {line!r} (4.2)")
                attrs = {}
            if name == "EXT-X-MEDIA":
                media.append(attrs)
            else:
                pending = attrs
    if pending is not None:
        errors.append("EXT-X-STREAM-INF at the end without its URI (4.4.6.2)")
    need = 1
    groups = {}
    for m in media:
        # 4.4.6.1: TYPE, GROUP-ID and NAME are required; captions carry
        # INSTREAM-ID and no URI; DEFAULT=YES needs AUTOSELECT=YES.
        kind, group, name = m.get("TYPE"), m.get("GROUP-ID"), m.get("NAME")
        if kind not in ("AUDIO", "VIDEO", "SUBTITLES", "CLOSED-CAPTIONS") or not group or not name:
            errors.append(f"EXT-X-MEDIA {m}: TYPE, GROUP-ID and NAME are REQUIRED (4.4.6.1)")
            continue
        if kind == "CLOSED-CAPTIONS":
            if "URI" in m:
                errors.append(f"EXT-X-MEDIA captions {name!r} with a URI (4.4.6.1)")
            iid = m.get("INSTREAM-ID", "")
            if not re.fullmatch(r"CC[1-4]|SERVICE([1-9]|[1-5][0-9]|6[0-3])", iid):
                errors.append(f"EXT-X-MEDIA captions {name!r}: INSTREAM-ID {iid!r} (4.4.6.1)")
            if iid.startswith("SERVICE"):
                need = 7
        elif "INSTREAM-ID" in m:
            errors.append(f"EXT-X-MEDIA {name!r}: INSTREAM-ID outside CLOSED-CAPTIONS (4.4.6.1)")
        if m.get("DEFAULT") == "YES" and m.get("AUTOSELECT", "YES") != "YES":
            errors.append(f"EXT-X-MEDIA {name!r}: DEFAULT=YES with AUTOSELECT=NO (4.4.6.1)")
        members = groups.setdefault((kind, group), [])
        if any(o.get("NAME") == name for o in members):
            errors.append(f"EXT-X-MEDIA group {group!r}: NAME {name!r} twice (4.4.6.1.1)")
        if m.get("DEFAULT") == "YES" and any(o.get("DEFAULT") == "YES" for o in members):
            errors.append(f"EXT-X-MEDIA group {group!r}: more than one DEFAULT=YES (4.4.6.1.1)")
        members.append(m)
    if version < need:
        errors.append(f"EXT-X-VERSION {version} too low: INSTREAM-ID SERVICE needs 7 (section 8)")
    if not variants:
        errors.append("no EXT-X-STREAM-INF (a master playlist lists its variants, 4.4.6.2)")
    cc_values = [a.get("CLOSED-CAPTIONS") for a, _ in variants]
    for attrs, uri in variants:
        bw = attrs.get("BANDWIDTH", "")
        if not bw.isdigit() or int(bw) <= 0:
            errors.append(f"variant {uri}: BANDWIDTH {bw!r} (4.4.6.2: REQUIRED)")
        if "RESOLUTION" in attrs and not re.fullmatch(r"\d+x\d+", attrs["RESOLUTION"]):
            errors.append(f"variant {uri}: RESOLUTION {attrs['RESOLUTION']!r} (4.4.6.2)")
        # 4.4.6.2: AUDIO / CLOSED-CAPTIONS name a group of that TYPE.
        if "AUDIO" in attrs and ("AUDIO", attrs["AUDIO"]) not in groups:
            errors.append(f"variant {uri}: AUDIO group {attrs['AUDIO']!r} not in EXT-X-MEDIA (4.4.6.2)")
        cc = attrs.get("CLOSED-CAPTIONS")
        if cc is not None and cc != "NONE" and ("CLOSED-CAPTIONS", cc) not in groups:
            errors.append(f"variant {uri}: CLOSED-CAPTIONS group {cc!r} not in EXT-X-MEDIA (4.4.6.2)")
    # 4.4.6.2: NONE on one variant means NONE on all.
    if "NONE" in cc_values and any(v != "NONE" for v in cc_values):
        errors.append("CLOSED-CAPTIONS=NONE on some variants but not all (4.4.6.2)")
    return errors


def master_media_uris(text):
    """(variant URIs, audio-only URIs) named by a master playlist, in order."""
    uris, audio = [], set()
    pending = None
    for _, name, value, line in _tags(text):
        if name == "EXT-X-MEDIA":
            attrs = parse_attrs(value or "") or {}
            if "URI" in attrs:
                uris.append(attrs["URI"])
                if attrs.get("TYPE") == "AUDIO":
                    audio.add(attrs["URI"])
        elif name == "EXT-X-STREAM-INF":
            pending = parse_attrs(value or "") or {}
        elif name is None and pending is not None:
            uris.append(line)
            codecs = pending.get("CODECS", "")
            if codecs and not any(c.strip().startswith(VIDEO_CODECS) for c in codecs.split(",")):
                audio.add(line)
            pending = None
    return list(dict.fromkeys(uris)), audio


# ---- live watcher ------------------------------------------------------------

MEDIA_TYPES = {".m4s": ("video/mp4", "audio/mp4", "video/iso.segment", "application/mp4"),
               ".mp4": ("video/mp4", "audio/mp4", "application/mp4"),
               ".ts": ("video/mp2t",),
               ".aac": ("audio/aac",)}


class Watcher:
    """Polls a master playlist and every media playlist it names, as a LL-HLS
    client would (blocking reloads, sometimes delta updates), and checks every
    version against the last. fetch_media: also GET every segment, part and
    init section (kept in .media, url -> bytes; .parts_of maps a segment's url
    to its parts' urls in order). .versions, .deltas and .blocking count, per
    media playlist url, the versions checked, the delta updates among them and
    the blocking reloads."""

    def __init__(self, base_url, *, fetch_media=False, delta_every=3, timeout=None):
        self.master_url = base_url if base_url.endswith(".m3u8") else urllib.parse.urljoin(
            base_url.rstrip("/") + "/", "master.m3u8")
        self.fetch_media = fetch_media
        self.delta_every = delta_every
        self.timeout = timeout
        self.violations = []
        self.versions = {}          # playlist url -> versions checked
        self.deltas = {}            # playlist url -> delta updates (EXT-X-SKIP) checked
        self.blocking = {}          # playlist url -> blocking reloads (_HLS_msn) answered
        self.media = {}
        self.parts_of = {}
        self.media_urls = []
        self._lock = threading.Lock()

    def _report(self, url, messages):
        if messages:
            with self._lock:
                self.violations.extend(f"{url}: {m}" for m in messages)

    def _get(self, url, timeout):
        req = urllib.request.Request(url, headers={"User-Agent": "lecture-relay hls_check"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.read(), r.headers.get("Content-Type", "")

    def run(self, seconds):
        text, _ = self._get(self.master_url, 10)
        text = text.decode("utf-8")
        self._report(self.master_url, check_master(text))
        uris, audio = master_media_uris(text)
        self.media_urls = [urllib.parse.urljoin(self.master_url, u) for u in uris]
        audio_urls = {urllib.parse.urljoin(self.master_url, u) for u in audio}
        deadline = time.monotonic() + seconds
        threads = [threading.Thread(target=self._watch, args=(u, u in audio_urls, deadline), daemon=True)
                   for u in self.media_urls]
        for t in threads:
            t.start()
        for t in threads:
            t.join(seconds + 60)
        return list(self.violations)

    def _watch(self, url, audio_only, deadline):
        previous, full_at, n = None, 0.0, 0
        while time.monotonic() < deadline:
            query, delta = {}, False
            if previous is not None and not previous.endlist:
                sc = previous.server_control
                if sc.get("CAN-BLOCK-RELOAD") == "YES":
                    query.update(self._next_directive(previous))
                skip = _float(sc.get("CAN-SKIP-UNTIL"))
                # 6.3.7: only with a version no older than half the Skip Boundary.
                if (skip and self.delta_every and n % self.delta_every == self.delta_every - 1
                        and time.monotonic() - full_at < skip / 2):
                    query["_HLS_skip"] = "YES"
                    delta = True
            target = (previous.target if previous and previous.target else 6)
            request = url + ("?" + urllib.parse.urlencode(query) if query else "")
            try:
                body, _ = self._get(request, self.timeout or 3 * target + 5)
            except urllib.error.HTTPError as e:
                if e.code != 503:   # 6.2.5.2: 503 after blocking 3 target durations
                    self._report(request, [f"HTTP {e.code}"])
                    return
                time.sleep(0.1)
                continue
            except (urllib.error.URLError, OSError) as e:
                self._report(request, [f"request failed: {e}"])
                return
            n += 1
            errors, pl = check_media_playlist(body.decode("utf-8"), previous=previous, delta=delta,
                                              audio_only=audio_only)
            errors += self._check_blocking(query, pl)
            errors += self._check_reports(url, pl)
            self._report(request, errors)
            with self._lock:
                self.versions[url] = self.versions.get(url, 0) + 1
                if "EXT-X-SKIP" in pl.tags:
                    self.deltas[url] = self.deltas.get(url, 0) + 1
                if "_HLS_msn" in query:
                    self.blocking[url] = self.blocking.get(url, 0) + 1
            if not delta:
                full_at = time.monotonic()
            if self.fetch_media:
                self._fetch(url, pl)
            previous = pl
            if pl.endlist:
                return
            if "CAN-BLOCK-RELOAD" not in pl.server_control:
                time.sleep(min(1.0, (pl.target or 2) / 2))   # 6.3.4: plain reloads

    @staticmethod
    def _position(pl):
        """(msn, part) of the newest thing listed; part None for a segment without parts."""
        if pl.open_parts:
            return pl.next_msn, len(pl.open_parts) - 1
        if pl.segments:
            return pl.segments[-1].seq, (len(pl.segments[-1].parts) - 1 if pl.segments[-1].parts else None)
        return pl.msn - 1, None

    def _next_directive(self, pl):
        msn, part = self._position(pl)
        if pl.part_target is None:
            return {"_HLS_msn": pl.next_msn}
        if part is None:
            return {"_HLS_msn": msn + 1, "_HLS_part": 0}
        return {"_HLS_msn": msn, "_HLS_part": part + 1}

    def _check_blocking(self, query, pl):
        # 6.2.5.2: the response waits until it holds the requested segment or part.
        if "_HLS_msn" not in query or pl.endlist:
            return []
        m, p = int(query["_HLS_msn"]), query.get("_HLS_part")
        seqs = {s.seq: s for s in pl.segments}
        if any(s > m for s in seqs) or (pl.open_parts and pl.next_msn > m):
            return []
        if p is None:
            return [] if m in seqs else [f"blocking reload for msn {m} answered without it (6.2.5.2)"]
        p = int(p)
        if m in seqs and (not seqs[m].parts or len(seqs[m].parts) > p):
            return []
        if pl.next_msn == m and len(pl.open_parts) > p:
            return []
        return [f"blocking reload for msn {m} part {p} answered without it (6.2.5.2)"]

    def _master_urls(self):
        """The media playlists the master lists now (a rendition shed or back
        changes it while the watch goes on)."""
        try:
            text, _ = self._get(self.master_url, 10)
        except (urllib.error.URLError, OSError):
            return set(self.media_urls)
        uris, _ = master_media_uris(text.decode("utf-8"))
        return {urllib.parse.urljoin(self.master_url, u) for u in uris}

    def _check_reports(self, url, pl):
        # 4.4.5.4: a report names another rendition of the master.
        out, current = [], None
        for r in pl.reports:
            target = urllib.parse.urljoin(url, r["URI"])
            if target in self.media_urls:
                continue
            if current is None:
                current = self._master_urls()
            if target not in current:
                out.append(f"rendition report {r['URI']!r} names no playlist of the master (4.4.5.4)")
        return out

    def _fetch(self, url, pl):
        wanted = []
        if pl.map_uri:
            wanted.append(pl.map_uri)
        for seg in pl.segments:
            if seg.gap:  # 4.4.4.7: a client must not load it
                continue
            seg_url = urllib.parse.urljoin(url, seg.uri)
            if seg.parts:
                self.parts_of[seg_url] = [urllib.parse.urljoin(url, p.uri) for p in seg.parts]
            wanted += [p.uri for p in seg.parts] + [seg.uri]
        wanted += [p.uri for p in pl.open_parts]
        for uri in wanted:
            full = urllib.parse.urljoin(url, uri)
            if full in self.media:
                continue
            try:
                body, ctype = self._get(full, 10)
            except (urllib.error.URLError, OSError) as e:
                self._report(full, [f"listed but not served: {e}"])
                self.media[full] = None
                continue
            ext = "." + uri.rsplit(".", 1)[-1].split("?")[0]
            allowed = MEDIA_TYPES.get(ext)
            if allowed and ctype.split(";")[0].strip() not in allowed:
                self._report(full, [f"Content-Type {ctype!r} for a {ext} resource"])
            self.media[full] = body
