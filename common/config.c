/* common/config.c — reads the YAML configuration into lr_config through option
 * tables (name, type, offset, default, range), so defaults, parsing, copying and
 * freeing all follow one description. Loading writes nothing but the config it
 * fills. Called by app/main.c and the unit tests. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include <libavutil/error.h>
#include <libavutil/avstring.h>
#include <libavutil/mem.h>

#include "lr_build_config.h"
#include "common/config.h"
#include "common/streamid.h"

#define MAX_OPTS 24 /* entries in one table, for the lines[] arrays */
#define MAX_STRLIST 16 /* items of one string list */

enum opt_type { OPT_STRING, OPT_INT, OPT_DOUBLE, OPT_BOOL, OPT_SECTION, OPT_LIST,
                OPT_STRLIST /* char *[max_elems] and a count; def.str: one item */ };

enum opt_flags {
    OPT_EVEN     = 1 << 0, /* int: must be even */
    OPT_REQUIRED = 1 << 1, /* list element key that must be given */
    OPT_UNIQUE   = 1 << 2, /* list element string that must differ between elements */
    OPT_SECRET   = 1 << 3, /* string: never echoed in messages */
    OPT_PATH     = 1 << 4, /* string: a relative path is relative to the file's folder */
    OPT_ONE_OR_LIST = 1 << 5, /* string list: a lone string is a list of one */
};

/* Checks a string; on failure returns 0 and says what was expected. */
typedef int (*check_fn)(const char *s);

/* Cross-checks a section or list element once its keys are read; lines[i]
 * is the line of table entry i (0 when the file did not set it). Returns the
 * index of the entry to blame, or -1 when all is well; why names the problem
 * and at, when not left empty, a place inside the entry's value ("[2]",
 * "[0].sources[1]"), which the message names with its line. */
typedef int (*validate_fn)(const void *base, const int *lines, char *at, size_t at_size,
                           char *why, size_t why_size);

typedef struct opt {
    const char   *name;
    enum opt_type type;
    size_t        offset;
    union {
        const char *str;
        int         i;
        double      d;
    } def;
    double        min, max;   /* int, double */
    unsigned      flags;
    check_fn      check;      /* string */
    const char   *expect;     /* string: what check wants, for messages */
    const char   *keyword;    /* string list: an item taken as it is, not checked or a path;
                                 int: a word that stands for 0 ("auto") */
    const struct opt *sub;    /* section and list element table */
    validate_fn   validate;   /* section, list element */
    size_t        elem_size;  /* list */
    size_t        count_offset;
    int           max_elems;
} opt;

/* ---- string checks ---------------------------------------------------- */

static int in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(s, *list))
            return 1;
    return 0;
}

static int check_log_level(const char *s)
{
    static const char *const levels[] = { "error", "warn", "info", "debug", NULL };
    return in_list(s, levels);
}

static int check_preset(const char *s)
{
    static const char *const presets[] = { "ultrafast", "superfast", "veryfast", "faster",
                                           "fast", "medium", "slow", "slower", "veryslow",
                                           "placebo", NULL };
    return in_list(s, presets);
}

static int check_segment_format(const char *s)
{
    static const char *const formats[] = { "fmp4", "ts", NULL };
    return in_list(s, formats);
}

static int check_rate_control(const char *s)
{
    static const char *const modes[] = { "crf", "cbr", "abr", NULL };
    return in_list(s, modes);
}

static int check_profile(const char *s)
{
    static const char *const profiles[] = { "", "baseline", "main", "high", NULL };
    return in_list(s, profiles);
}

static int check_name(const char *s)
{
    return lr_lecture_name_valid(s);
}

static int check_nonempty(const char *s)
{
    return s[0] != 0;
}

static int check_token_secret(const char *s)
{
    return strlen(s) >= 16;
}

static int check_passphrase(const char *s)
{
    size_t len = strlen(s);
    return len == 0 || (len >= 10 && len <= 79);
}

/* "host:port" or "[v6]:port", port 0..65535; a "?query" tail when allowed. */
static int hostport_valid(const char *s, int allow_query)
{
    const char *p = s;
    long port = 0;
    int digits = 0;

    if (*p == '[') {
        for (p++; isxdigit((unsigned char)*p) || *p == ':' || *p == '.'; p++)
            ;
        if (*p != ']' || p == s + 1)
            return 0;
        p++;
    } else {
        for (; isalnum((unsigned char)*p) || *p == '.' || *p == '-' || *p == '_'; p++)
            ;
        if (p == s)
            return 0;
    }
    if (*p++ != ':')
        return 0;
    for (; isdigit((unsigned char)*p) && digits < 6; p++, digits++)
        port = port * 10 + (*p - '0');
    if (!digits || digits > 5 || port > 65535)
        return 0;
    return !*p || (allow_query && *p == '?');
}

static int check_srt_url(const char *s)
{
    return !strncmp(s, "srt://", 6) && hostport_valid(s + 6, 1);
}

/* A listener of ours: no "?option" tail, which would be silently ignored. */
static int check_srt_listen_or_empty(const char *s)
{
    return !*s || (!strncmp(s, "srt://", 6) && hostport_valid(s + 6, 0));
}

/* Goes into the stream id as s=<key>, whose parser takes printable ASCII without
 * spaces, ',' or '='. */
static int check_publish_key(const char *s)
{
    size_t len = strlen(s);

    for (size_t i = 0; i < len; i++)
        if (s[i] <= ' ' || s[i] > '~' || s[i] == ',' || s[i] == '=')
            return 0;
    return len <= 128;
}

static int check_hostport(const char *s)
{
    return hostport_valid(s, 0);
}

static int check_hostport_or_empty(const char *s)
{
    return !s[0] || hostport_valid(s, 0);
}

/* ---- the tables ------------------------------------------------------- */

/* Table entries: name, struct, field, default, then check or range, flags. */
#define STR(name_, st, f, def_, check_, expect_, flags_)                                   \
    { .name = name_, .type = OPT_STRING, .offset = offsetof(st, f), .def.str = def_,       \
      .check = check_, .expect = expect_, .flags = flags_ }
#define INT(name_, st, f, def_, min_, max_, flags_)                                        \
    { .name = name_, .type = OPT_INT, .offset = offsetof(st, f), .def.i = def_,            \
      .min = min_, .max = max_, .flags = flags_ }
#define DBL(name_, st, f, def_, min_, max_)                                                \
    { .name = name_, .type = OPT_DOUBLE, .offset = offsetof(st, f), .def.d = def_,         \
      .min = min_, .max = max_ }
#define BOOL(name_, st, f, def_)                                                           \
    { .name = name_, .type = OPT_BOOL, .offset = offsetof(st, f), .def.i = def_ }
#define SECTION(name_, st, f, table, validate_)                                            \
    { .name = name_, .type = OPT_SECTION, .offset = offsetof(st, f), .sub = table,         \
      .validate = validate_ }

#define SRT_URL "srt://host:port"
#define NAME    "a name of 1 to 64 letters, digits, '_' or '-', starting with a letter or digit"

static const opt link_opts[] = {
    { .name = "latency_ms", .type = OPT_INT, .offset = offsetof(lr_link_settings, latency_ms),
      .def.i = LR_LINK_LATENCY_AUTO, .min = 20, .max = 8000, .keyword = "auto" },
    INT("latency_rtt_factor", lr_link_settings, latency_rtt_factor, 5, 2, 20, 0),
    INT("latency_floor_ms", lr_link_settings, latency_floor_ms, 120, 20, 8000, 0),
    INT("latency_ceiling_ms", lr_link_settings, latency_ceiling_ms, 8000, 20, 8000, 0),
    INT("maxbw_kbps", lr_link_settings, maxbw_kbps, 0, 0, 10000000, 0),
    INT("overhead_pct", lr_link_settings, overhead_pct, 25, 5, 100, 0),
    BOOL("tlpktdrop", lr_link_settings, tlpktdrop, 1),
    BOOL("intensive_retransmit", lr_link_settings, intensive_retransmit, 1),
    INT("peer_idle_timeout_ms", lr_link_settings, peer_idle_timeout_ms, 4000, 1000, 60000, 0),
    INT("stats_interval_s", lr_link_settings, stats_interval_s, 30, 0, 3600, 0),
    STR("passphrase", lr_link_settings, passphrase, "", check_passphrase,
        "an empty passphrase (no encryption) or 10 to 79 characters", OPT_SECRET),
    { .name = NULL }
};

enum { LECTURE_NAME = 0, LECTURE_SOURCES = 5 }; /* in lecture_opts */

static const opt lecture_opts[] = {
    [LECTURE_NAME] =
    STR("name", lr_lecture_conf, name, NULL, check_name, NAME, OPT_REQUIRED | OPT_UNIQUE),
    STR("passphrase", lr_lecture_conf, passphrase, "", check_passphrase,
        "an empty passphrase (no encryption) or 10 to 79 characters", OPT_SECRET),
    STR("publish_key", lr_lecture_conf, publish_key, "", check_publish_key,
        "up to 128 printable characters without spaces, ',' or '='", OPT_SECRET),
    BOOL("takeover", lr_lecture_conf, takeover, 0),
    BOOL("switch_back", lr_lecture_conf, switch_back, 1),
    [LECTURE_SOURCES] =
    { .name = "sources", .type = OPT_STRLIST, .offset = offsetof(lr_lecture_conf, sources),
      .count_offset = offsetof(lr_lecture_conf, nb_sources), .max_elems = LR_MAX_SOURCES,
      .def.str = "push", .keyword = "push|push-srt|push-rtmp", .check = check_nonempty,
      .expect = "'push', 'push-srt', 'push-rtmp', a URL or a file path", .flags = OPT_PATH },
    { .name = NULL }
};

static int validate_lecture(const void *base, const int *lines, char *at, size_t at_size,
                            char *why, size_t why_size)
{
    const lr_lecture_conf *l = base;
    int taken = 0, where[3] = { -1, -1, -1 };

    /* Each protocol's push goes to one source: 'push' takes both. */
    for (int i = 0; i < l->nb_sources; i++) {
        int p = lr_config_source_push(l->sources[i]);
        if (!p)
            continue;
        if (taken & p) {
            int j = where[taken & p & LR_PUSH_SRT_BIT ? 1 : 2];
            snprintf(at, at_size, "[%d]", i);
            if (!strcmp(l->sources[i], l->sources[j]))
                snprintf(why, why_size, "source '%s' listed twice (also [%d])",
                         l->sources[i], j);
            else
                snprintf(why, why_size, "source '%s' takes a push that '%s' ([%d]) already "
                         "takes", l->sources[i], l->sources[j], j);
            return LECTURE_SOURCES;
        }
        taken |= p;
        if (p & LR_PUSH_SRT_BIT)
            where[1] = i;
        if (p & LR_PUSH_RTMP_BIT)
            where[2] = i;
    }
    return -1;
}

enum { INGEST_LISTEN = 4, INGEST_LECTURES = 6, INGEST_RTMP_LISTEN = 7,
       INGEST_RTMPS_LISTEN = 8 }; /* in ingest_opts */

static const opt ingest_opts[] = {
    STR("source", lr_ingest_conf, source, LR_SOURCE_DIR "/samples/lecture.mp4",
        check_nonempty, "a file path or URL", OPT_PATH),
    BOOL("loop", lr_ingest_conf, loop, 1),
    BOOL("realtime", lr_ingest_conf, realtime, 1),
    { .name = "link", .type = OPT_STRLIST, .offset = offsetof(lr_ingest_conf, links),
      .count_offset = offsetof(lr_ingest_conf, nb_links), .max_elems = LR_MAX_LINKS,
      .def.str = "srt://127.0.0.1:9000", .check = check_srt_url,
      .expect = SRT_URL " (or a list of them: one per transcoder)", .flags = OPT_ONE_OR_LIST },
    [INGEST_LISTEN] =
    STR("listen", lr_ingest_conf, listen, "", check_srt_listen_or_empty,
        "empty (no push listener) or " SRT_URL " without '?options'", 0),
    INT("stall_ms", lr_ingest_conf, stall_ms, 1000, 100, 60000, 0),
    [INGEST_LECTURES] =
    { .name = "lectures", .type = OPT_LIST, .offset = offsetof(lr_ingest_conf, lectures),
      .sub = lecture_opts, .elem_size = sizeof(lr_lecture_conf),
      .count_offset = offsetof(lr_ingest_conf, nb_lectures), .max_elems = LR_MAX_LECTURES,
      .validate = validate_lecture },
    [INGEST_RTMP_LISTEN] =
    STR("rtmp_listen", lr_ingest_conf, rtmp_listen, "", check_hostport_or_empty,
        "empty (no RTMP listener) or host:port (e.g. '0.0.0.0:1935')", 0),
    [INGEST_RTMPS_LISTEN] =
    STR("rtmps_listen", lr_ingest_conf, rtmps_listen, "", check_hostport_or_empty,
        "empty (no RTMPS listener) or host:port (e.g. '0.0.0.0:1936')", 0),
    STR("rtmps_cert", lr_ingest_conf, rtmps_cert, "", NULL, "a PEM certificate file",
        OPT_PATH),
    STR("rtmps_key", lr_ingest_conf, rtmps_key, "", NULL, "a PEM private key file",
        OPT_PATH | OPT_SECRET),
    { .name = NULL }
};

static int validate_ingest(const void *base, const int *lines, char *at, size_t at_size,
                           char *why, size_t why_size)
{
    const lr_ingest_conf *in = base;
    int have = (in->listen[0] ? LR_PUSH_SRT_BIT : 0) |
               (in->rtmp_listen[0] || in->rtmps_listen[0] ? LR_PUSH_RTMP_BIT : 0);

    if (in->rtmps_listen[0] && (!in->rtmps_cert[0] || !in->rtmps_key[0])) {
        snprintf(why, why_size, "rtmps_listen needs rtmps_cert and rtmps_key");
        return INGEST_RTMPS_LISTEN;
    }
    for (int i = 0; i < in->nb_lectures; i++) {
        const lr_lecture_conf *l = &in->lectures[i];

        for (int k = 0; k < l->nb_sources; k++) {
            int p = lr_config_source_push(l->sources[k]);
            /* 'push' needs one listener; push-srt and push-rtmp their own. */
            const char *need = p == LR_PUSH_SRT_BIT ? "ingest.listen"
                             : p == LR_PUSH_RTMP_BIT ? "ingest.rtmp_listen or rtmps_listen"
                             : "ingest.listen, rtmp_listen or rtmps_listen";
            if (!p || (p == (LR_PUSH_SRT_BIT | LR_PUSH_RTMP_BIT) ? have : (have & p)))
                continue;
            if (!lines[INGEST_LECTURES]) { /* the lectures came from an earlier file */
                snprintf(why, why_size, "source '%s' of lecture '%s' needs %s",
                         l->sources[k], l->name, need);
                return p == LR_PUSH_RTMP_BIT ? INGEST_RTMP_LISTEN : INGEST_LISTEN;
            }
            /* an omitted sources list ([push]) is blamed on the lecture */
            snprintf(at, at_size, "[%d].sources[%d]", i, k);
            snprintf(why, why_size, "source '%s' needs %s", l->sources[k], need);
            return INGEST_LECTURES;
        }
    }
    return -1;
}

static const opt rung_opts[] = {
    STR("name", lr_rung_conf, name, NULL, check_name, NAME,
        OPT_REQUIRED | OPT_UNIQUE),
    INT("width", lr_rung_conf, width, 0, 16, 7680, OPT_REQUIRED | OPT_EVEN),
    INT("height", lr_rung_conf, height, 0, 16, 4320, OPT_REQUIRED | OPT_EVEN),
    INT("bitrate_kbps", lr_rung_conf, bitrate_kbps, 0, 50, 50000, OPT_REQUIRED),
    STR("profile", lr_rung_conf, profile, "", check_profile,
        "empty (automatic), baseline, main or high", 0),
    DBL("fps", lr_rung_conf, fps, 0, 0, 240),
    DBL("crf", lr_rung_conf, crf, 0, 0, 51),
    { .name = NULL }
};

/* The default ladder; a rungs list in a file replaces it entirely. */
static const struct {
    const char *name;
    int width, height, bitrate_kbps;
} default_rungs[] = {
    { "1080p", 1920, 1080, 5000 },
    { "720p", 1280, 720, 2800 },
    { "480p", 854, 480, 1400 },
    { "360p", 640, 360, 800 },
};

enum { TRANSCODE_AUDIO_ONLY = 7, TRANSCODE_RUNGS = 8 }; /* in transcode_opts */

static const opt transcode_opts[] = {
    STR("listen", lr_transcode_conf, listen, "srt://127.0.0.1:9000", check_srt_url, SRT_URL, 0),
    { .name = "link", .type = OPT_STRLIST, .offset = offsetof(lr_transcode_conf, links),
      .count_offset = offsetof(lr_transcode_conf, nb_links), .max_elems = LR_MAX_LINKS,
      .def.str = "srt://127.0.0.1:9001", .check = check_srt_url,
      .expect = SRT_URL " (or a list of them: one per egress)", .flags = OPT_ONE_OR_LIST },
    DBL("segment_duration", lr_transcode_conf, segment_duration, 2.0, 0.5, 10),
    STR("preset", lr_transcode_conf, preset, "veryfast", check_preset,
        "an x264 preset (ultrafast, superfast, veryfast, faster, fast, medium, slow, "
        "slower, veryslow, placebo)", 0),
    STR("rate_control", lr_transcode_conf, rate_control, "crf", check_rate_control,
        "crf (capped CRF), cbr or abr", 0),
    DBL("crf", lr_transcode_conf, crf, 23, 0, 51),
    INT("audio_bitrate_kbps", lr_transcode_conf, audio_bitrate_kbps, 96, 16, 512, 0),
    [TRANSCODE_AUDIO_ONLY] = BOOL("audio_only", lr_transcode_conf, audio_only, 1),
    [TRANSCODE_RUNGS] = { .name = "rungs", .type = OPT_LIST, .offset = offsetof(lr_transcode_conf, rungs),
      .sub = rung_opts, .elem_size = sizeof(lr_rung_conf),
      .count_offset = offsetof(lr_transcode_conf, nb_rungs), .max_elems = LR_MAX_RUNGS },
    INT("lookahead_frames", lr_transcode_conf, lookahead_frames, 5, 0, 60, 0),
    BOOL("adaptive_shedding", lr_transcode_conf, adaptive_shedding, 1),
    BOOL("passthrough", lr_transcode_conf, passthrough, 0),
    { .name = NULL }
};

enum { EGRESS_PLAYLIST_SEGMENTS = 2, EGRESS_KEEP_SEGMENTS = 3 }; /* in egress_opts */

static const opt egress_opts[] = {
    STR("listen", lr_egress_conf, listen, "srt://127.0.0.1:9001", check_srt_url, SRT_URL, 0),
    STR("http", lr_egress_conf, http, "127.0.0.1:8080", check_hostport, "host:port", 0),
    [EGRESS_PLAYLIST_SEGMENTS] =
    INT("playlist_segments", lr_egress_conf, playlist_segments, 6, 3, 100, 0),
    [EGRESS_KEEP_SEGMENTS] =
    INT("keep_segments", lr_egress_conf, keep_segments, 30, 3, 10000, 0),
    DBL("target_duration", lr_egress_conf, target_duration, 2.0, 0.5, 10),
    INT("feeds_per_lecture", lr_egress_conf, feeds_per_lecture, 2, 1, 4, 0),
    STR("assets_dir", lr_egress_conf, assets_dir, LR_SOURCE_DIR "/node_modules/hls.js/dist",
        check_nonempty, "a folder path", OPT_PATH),
    /* packaging (egress/packager.c, docs/recordings.md) */
    STR("segment_format", lr_egress_conf, segment_format, "fmp4", check_segment_format,
        "fmp4 or ts", 0),
    DBL("part_duration", lr_egress_conf, part_duration, 0.32, 0, 2),
    DBL("dvr_window", lr_egress_conf, dvr_window, 7200, 0, 86400),
    DBL("recording_grace", lr_egress_conf, recording_grace, 60, 0, 86400),
    DBL("retention_days", lr_egress_conf, retention_days, 30, 0, 36500),
    INT("recordings_quota_mb", lr_egress_conf, recordings_quota_mb, 0, 0, 1 << 30, 0),
    /* the HTTP side (egress/http*.c, docs/http.md) */
    INT("http_threads", lr_egress_conf, http_threads, 1, 1, 64, 0),
    STR("tls_listen", lr_egress_conf, tls_listen, "", check_hostport_or_empty,
        "empty (no HTTPS) or host:port", 0),
    STR("tls_cert", lr_egress_conf, tls_cert, "", NULL, "a PEM certificate file", OPT_PATH),
    STR("tls_key", lr_egress_conf, tls_key, "", NULL, "a PEM private key file",
        OPT_PATH | OPT_SECRET),
    STR("cors_origins", lr_egress_conf, cors_origins, "*", check_nonempty,
        "'*' or space-separated origins", 0),
    BOOL("require_token", lr_egress_conf, require_token, 0),
    { .name = "token_secrets", .type = OPT_STRLIST,
      .offset = offsetof(lr_egress_conf, token_secrets),
      .count_offset = offsetof(lr_egress_conf, nb_token_secrets),
      .max_elems = LR_MAX_TOKEN_SECRETS, .check = check_token_secret,
      .expect = "secrets of at least 16 characters", .flags = OPT_SECRET },
    INT("max_conns_per_ip", lr_egress_conf, max_conns_per_ip, 0, 0, 1000000, 0),
    STR("recordings_dir", lr_egress_conf, recordings_dir, "", NULL, "a folder path", OPT_PATH),
    { .name = NULL }
};

static int validate_egress(const void *base, const int *lines, char *at, size_t at_size,
                           char *why, size_t why_size)
{
    const lr_egress_conf *e = base;

    if (e->keep_segments >= e->playlist_segments)
        return -1;
    snprintf(why, why_size, "keep_segments (%d) must be >= playlist_segments (%d)",
             e->keep_segments, e->playlist_segments);
    return lines[EGRESS_KEEP_SEGMENTS] ? EGRESS_KEEP_SEGMENTS : EGRESS_PLAYLIST_SEGMENTS;
}

/* The audio-only rendition is named "audio": no rung may take the name. */
static int validate_transcode(const void *base, const int *lines, char *at, size_t at_size,
                              char *why, size_t why_size)
{
    const lr_transcode_conf *t = base;

    if (!t->audio_only)
        return -1;
    for (int i = 0; i < t->nb_rungs; i++) {
        if (t->rungs[i].name && !strcmp(t->rungs[i].name, "audio")) {
            snprintf(why, why_size, "rung name 'audio' is the audio-only rendition's "
                     "(rename the rung or set audio_only: false)");
            if (!lines[TRANSCODE_RUNGS])
                return TRANSCODE_AUDIO_ONLY;
            snprintf(at, at_size, "[%d].name", i);
            return TRANSCODE_RUNGS;
        }
    }
    return -1;
}

static const opt config_opts[] = {
    STR("log_level", lr_config, log_level, "info", check_log_level,
        "one of error, warn, info, debug", 0),
    STR("lecture", lr_config, lecture, "demo", check_name, NAME, 0),
    STR("metrics", lr_config, metrics, "", check_hostport_or_empty,
        "empty (the egress serves /metrics) or host:port", 0),
    SECTION("link", lr_config, link, link_opts, NULL),
    SECTION("ingest", lr_config, ingest, ingest_opts, validate_ingest),
    SECTION("transcode", lr_config, transcode, transcode_opts, validate_transcode),
    SECTION("egress", lr_config, egress, egress_opts, validate_egress),
    { .name = NULL }
};

#define TABLE_FITS(t) _Static_assert(sizeof(t) / sizeof(t[0]) <= MAX_OPTS + 1, #t " too long")
TABLE_FITS(link_opts);
TABLE_FITS(ingest_opts);
TABLE_FITS(lecture_opts);
TABLE_FITS(rung_opts);
TABLE_FITS(transcode_opts);
TABLE_FITS(egress_opts);
TABLE_FITS(config_opts);
_Static_assert(LR_MAX_SOURCES <= MAX_STRLIST, "sources longer than MAX_STRLIST");
_Static_assert(LR_MAX_LINKS <= MAX_STRLIST, "links longer than MAX_STRLIST");

/* ---- walking the tables without a file -------------------------------- */

static void *field(void *base, const opt *o)
{
    return (char *)base + o->offset;
}

static void *element(void *base, const opt *o, int i)
{
    return (char *)field(base, o) + (size_t)i * o->elem_size;
}

/* Calls fn on every string field reachable from base, list slots included. */
static void visit_strings(const opt *t, void *base, void (*fn)(char **s, int *failed),
                          int *failed)
{
    for (; t->name; t++) {
        switch (t->type) {
        case OPT_STRING:
            fn(field(base, t), failed);
            break;
        case OPT_SECTION:
            visit_strings(t->sub, field(base, t), fn, failed);
            break;
        case OPT_LIST:
            for (int i = 0; i < t->max_elems; i++)
                visit_strings(t->sub, element(base, t, i), fn, failed);
            break;
        case OPT_STRLIST:
            for (int i = 0; i < t->max_elems; i++)
                fn((char **)field(base, t) + i, failed);
            break;
        default:
            break;
        }
    }
}

static void free_string(char **s, int *failed)
{
    av_freep(s);
}

/* Replaces a borrowed pointer by an owned copy; after a failure, by NULL. */
static void dup_string(char **s, int *failed)
{
    char *copy = NULL;

    if (*s && !*failed && !(copy = av_strdup(*s)))
        *failed = 1;
    *s = copy;
}

static int set_defaults(const opt *t, void *base)
{
    for (; t->name; t++) {
        int ret;

        switch (t->type) {
        case OPT_STRING:
            if (t->def.str && !(*(char **)field(base, t) = av_strdup(t->def.str)))
                return AVERROR(ENOMEM);
            break;
        case OPT_INT:
        case OPT_BOOL:
            *(int *)field(base, t) = t->def.i;
            break;
        case OPT_DOUBLE:
            *(double *)field(base, t) = t->def.d;
            break;
        case OPT_SECTION:
            if ((ret = set_defaults(t->sub, field(base, t))) < 0)
                return ret;
            break;
        case OPT_STRLIST:
            if (t->def.str) {
                if (!(*(char **)field(base, t) = av_strdup(t->def.str)))
                    return AVERROR(ENOMEM);
                *(int *)((char *)base + t->count_offset) = 1;
            }
            break;
        case OPT_LIST:
            break; /* lists of mappings have no generic default; see lr_config_defaults */
        }
    }
    return 0;
}

void lr_config_free(lr_config *c)
{
    if (!c)
        return;
    visit_strings(config_opts, c, free_string, NULL);
    memset(c, 0, sizeof(*c));
}

int lr_config_defaults(lr_config *c)
{
    lr_transcode_conf *t = &c->transcode;
    int ret;

    memset(c, 0, sizeof(*c));
    if ((ret = set_defaults(config_opts, c)) < 0)
        goto fail;
    for (size_t i = 0; i < sizeof(default_rungs) / sizeof(default_rungs[0]); i++) {
        lr_rung_conf *r = &t->rungs[i];

        if ((ret = set_defaults(rung_opts, r)) < 0)
            goto fail;
        if (!(r->name = av_strdup(default_rungs[i].name))) {
            ret = AVERROR(ENOMEM);
            goto fail;
        }
        r->width        = default_rungs[i].width;
        r->height       = default_rungs[i].height;
        r->bitrate_kbps = default_rungs[i].bitrate_kbps;
        t->nb_rungs++;
    }
    return 0;
fail:
    lr_config_free(c);
    return ret;
}

/* Deep copy, so a file is applied to a copy and c changes only on success. */
static int copy_config(lr_config *dst, const lr_config *src)
{
    int failed = 0;

    *dst = *src;
    visit_strings(config_opts, dst, dup_string, &failed);
    if (failed) {
        lr_config_free(dst);
        return AVERROR(ENOMEM);
    }
    return 0;
}

/* ---- walking the YAML document ---------------------------------------- */

typedef struct walker {
    yaml_document_t *doc;
    const char      *file;
    const char      *dir;  /* folder of the file, for OPT_PATH; NULL: leave paths as given */
    char            *err;
    size_t           err_size;
} walker;

static int line_of(const yaml_node_t *n)
{
    return (int)n->start_mark.line + 1;
}

static int fail(walker *w, int line, const char *fmt, ...)
{
    char msg[400];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (w->err && w->err_size)
        snprintf(w->err, w->err_size, "%s:%d: %s", w->file, line, msg);
    return AVERROR(EINVAL);
}

static const char *scalar(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

static int is_null(const yaml_node_t *n)
{
    static const char *const nulls[] = { "", "~", "null", "Null", "NULL", NULL };

    return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
           in_list(scalar(n), nulls);
}

/* What a value looked like, for "got ..." in messages: one line, short. */
static const char *describe(const yaml_node_t *n, char *buf, size_t size)
{
    size_t i, len;

    if (n->type == YAML_MAPPING_NODE)
        return "a mapping";
    if (n->type == YAML_SEQUENCE_NODE)
        return "a list";
    len = n->data.scalar.length;
    snprintf(buf, size, "'%.*s%s'", (int)(len > 40 ? 40 : len), scalar(n), len > 40 ? "..." : "");
    for (i = 0; buf[i]; i++)
        if ((unsigned char)buf[i] < ' ')
            buf[i] = '?';
    return buf;
}

/* Follows at (".sources[1]", "[2]", ...) down from n as far as the document
 * goes; *used gets how much of at was found. */
static const yaml_node_t *node_at(const walker *w, const yaml_node_t *n, const char *at,
                                  size_t *used)
{
    const char *p = at;

    *used = 0;
    while (*p) {
        const yaml_node_t *next = NULL;
        const char *q = p;

        if (*p == '[' && n->type == YAML_SEQUENCE_NODE) {
            char *end;
            long i = strtol(p + 1, &end, 10);

            if (*end != ']' || i < 0 ||
                i >= n->data.sequence.items.top - n->data.sequence.items.start)
                break;
            next = yaml_document_get_node(w->doc, n->data.sequence.items.start[i]);
            q = end + 1;
        } else if (*p == '.' && n->type == YAML_MAPPING_NODE) {
            size_t len = strcspn(p + 1, ".[");

            for (yaml_node_pair_t *pair = n->data.mapping.pairs.start;
                 pair < n->data.mapping.pairs.top && !next; pair++) {
                yaml_node_t *key = yaml_document_get_node(w->doc, pair->key);

                if (key->type == YAML_SCALAR_NODE && key->data.scalar.length == len &&
                    !memcmp(scalar(key), p + 1, len))
                    next = yaml_document_get_node(w->doc, pair->value);
            }
            q = p + 1 + len;
        }
        if (!next)
            break;
        n = next;
        p = q;
        *used = (size_t)(p - at);
    }
    return n;
}

/* Reports what a validator found in map (read into table t under prefix):
 * entry bad, and inside it the place at, as deep as the document has it. */
static int blame(walker *w, const opt *t, const yaml_node_t *map, const char *prefix, int bad,
                 const char *at, const char *why)
{
    char rel[200];
    const yaml_node_t *n;
    size_t used;

    snprintf(rel, sizeof(rel), ".%s%s", t[bad].name, at);
    n = node_at(w, map, rel, &used);
    if (!used)
        return fail(w, line_of(map), "key '%s.%s': %s", prefix, t[bad].name, why);
    return fail(w, line_of(n), "key '%s%.*s': %s", prefix, (int)used, rel, why);
}

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[33], i, j;

    if (la > 32 || lb > 32)
        return SIZE_MAX;
    for (j = 0; j <= lb; j++)
        row[j] = j;
    for (i = 1; i <= la; i++) {
        size_t diag = row[0];

        row[0] = i;
        for (j = 1; j <= lb; j++) {
            size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);

            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static int unknown_key(walker *w, const opt *t, const yaml_node_t *key, const char *path)
{
    const char *best = NULL;
    size_t best_d = 3; /* suggest only near misses */

    for (; t->name; t++) {
        size_t d = edit_distance(scalar(key), t->name);

        if (d < best_d && d < strlen(t->name)) {
            best_d = d;
            best = t->name;
        }
    }
    if (best)
        return fail(w, line_of(key), "unknown key '%s' (did you mean '%s'?)", path, best);
    return fail(w, line_of(key), "unknown key '%s'", path);
}

static int parse_int(const char *s, long long *v)
{
    char *end;

    if (!*s || isspace((unsigned char)*s))
        return 0;
    errno = 0;
    *v = strtoll(s, &end, 10);
    return !errno && !*end;
}

static int parse_double(const char *s, double *v)
{
    char *end;

    if (!*s || isspace((unsigned char)*s))
        return 0;
    errno = 0;
    *v = strtod(s, &end);
    return !errno && !*end && isfinite(*v);
}

static int parse_bool(const char *s, int *v)
{
    static const char *const yes[] = { "true", "yes", "on" };
    static const char *const no[] = { "false", "no", "off" };

    for (int i = 0; i < 3; i++) {
        if (!strcasecmp(s, yes[i]))
            return *v = 1, 1;
        if (!strcasecmp(s, no[i]))
            return *v = 0, 1;
    }
    return 0;
}

/* Not absolute and not a URL ("proto:..." as libavformat reads it). */
static int is_relative_path(const char *s)
{
    size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-");

    return s[0] && s[0] != '/' && !(n > 0 && s[n] == ':');
}

static int set_scalar(walker *w, const opt *o, void *base, const yaml_node_t *n, const char *path)
{
    char got[64], desc[64];
    const char *s;
    long long iv;
    double dv;
    int bv;

    if (n->type != YAML_SCALAR_NODE || strlen(scalar(n)) != n->data.scalar.length) {
        if (n->type == YAML_SCALAR_NODE)
            snprintf(got, sizeof(got), "a value with a NUL byte");
        goto type_error;
    }
    s = scalar(n);
    switch (o->type) {
    case OPT_STRING: {
        char *copy, **dst = field(base, o);

        if (is_null(n))
            s = "";
        if (o->check && !o->check(s)) {
            if (o->flags & OPT_SECRET)
                return fail(w, line_of(n), "key '%s': expected %s, got %zu characters", path,
                            o->expect, strlen(s));
            return fail(w, line_of(n), "key '%s': expected %s, got %s", path, o->expect,
                        describe(n, got, sizeof(got)));
        }
        if ((o->flags & OPT_PATH) && w->dir && is_relative_path(s))
            copy = av_asprintf("%s/%s", w->dir, s);
        else
            copy = av_strdup(s);
        if (!copy)
            return AVERROR(ENOMEM);
        av_freep(dst);
        *dst = copy;
        return 0;
    }
    case OPT_INT:
        if (o->keyword && !strcmp(s, o->keyword)) {
            *(int *)field(base, o) = 0;
            return 0;
        }
        if (!parse_int(s, &iv) || (double)iv < o->min || (double)iv > o->max ||
            ((o->flags & OPT_EVEN) && iv % 2))
            goto type_error;
        *(int *)field(base, o) = (int)iv;
        return 0;
    case OPT_DOUBLE:
        if (!parse_double(s, &dv) || dv < o->min || dv > o->max)
            goto type_error;
        *(double *)field(base, o) = dv;
        return 0;
    case OPT_BOOL:
        if (!parse_bool(s, &bv))
            goto type_error;
        *(int *)field(base, o) = bv;
        return 0;
    default:
        break;
    }
type_error:
    if (n->type != YAML_SCALAR_NODE || strlen(scalar(n)) == n->data.scalar.length)
        snprintf(got, sizeof(got), "%s", describe(n, desc, sizeof(desc)));
    switch (o->type) {
    case OPT_STRING:
        return fail(w, line_of(n), "key '%s': expected %s, got %s", path,
                    o->expect ? o->expect : "a string", got);
    case OPT_INT:
        return fail(w, line_of(n), "key '%s': expected %s%s%s between %g and %g, got %s", path,
                    o->keyword ? o->keyword : "", o->keyword ? " or " : "",
                    (o->flags & OPT_EVEN) ? "an even integer" : "an integer", o->min, o->max,
                    got);
    case OPT_DOUBLE:
        return fail(w, line_of(n), "key '%s': expected a number between %g and %g, got %s",
                    path, o->min, o->max, got);
    default:
        return fail(w, line_of(n), "key '%s': expected true or false (yes/no, on/off), got %s",
                    path, got);
    }
}

static int walk_mapping(walker *w, const opt *t, void *base, const yaml_node_t *map,
                        const char *prefix, int *lines);

static int walk_list(walker *w, const opt *o, void *base, const yaml_node_t *seq,
                     const char *path)
{
    char got[64], ipath[176];
    char *elems = NULL;
    int n, i, ret;

    if (seq->type != YAML_SEQUENCE_NODE)
        return fail(w, line_of(seq), "key '%s': expected a list of mappings, got %s", path,
                    describe(seq, got, sizeof(got)));
    n = (int)(seq->data.sequence.items.top - seq->data.sequence.items.start);
    if (n < 1 || n > o->max_elems)
        return fail(w, line_of(seq), "key '%s': expected 1 to %d entries, got %d", path,
                    o->max_elems, n);
    if (!(elems = av_calloc((size_t)o->max_elems, o->elem_size)))
        return AVERROR(ENOMEM);
    for (i = 0; i < n; i++) {
        yaml_node_t *item = yaml_document_get_node(w->doc, seq->data.sequence.items.start[i]);
        void *e = elems + (size_t)i * o->elem_size;
        int lines[MAX_OPTS] = { 0 };

        snprintf(ipath, sizeof(ipath), "%s[%d]", path, i);
        if (item->type != YAML_MAPPING_NODE) {
            ret = fail(w, line_of(item), "key '%s': expected a mapping, got %s", ipath,
                       describe(item, got, sizeof(got)));
            goto fail;
        }
        if ((ret = set_defaults(o->sub, e)) < 0 ||
            (ret = walk_mapping(w, o->sub, e, item, ipath, lines)) < 0)
            goto fail;
        if (o->validate) {
            char why[160], at[64] = "";
            int bad = o->validate(e, lines, at, sizeof(at), why, sizeof(why));
            if (bad >= 0) {
                ret = blame(w, o->sub, item, ipath, bad, at, why);
                goto fail;
            }
        }
        for (int k = 0; o->sub[k].name; k++) {
            if (!(o->sub[k].flags & OPT_UNIQUE))
                continue;
            for (int j = 0; j < i; j++) {
                const char *a = *(char **)((char *)e + o->sub[k].offset);
                const char *b = *(char **)(elems + (size_t)j * o->elem_size + o->sub[k].offset);

                if (!strcmp(a, b)) {
                    ret = fail(w, lines[k], "key '%s.%s': duplicate %s '%s' (also %s[%d])",
                               ipath, o->sub[k].name, o->sub[k].name, a, path, j);
                    goto fail;
                }
            }
        }
    }
    /* the list replaces what was there */
    for (i = 0; i < o->max_elems; i++)
        visit_strings(o->sub, element(base, o, i), free_string, NULL);
    memcpy(field(base, o), elems, (size_t)o->max_elems * o->elem_size);
    *(int *)((char *)base + o->count_offset) = n;
    av_freep(&elems);
    return 0;
fail:
    for (i = 0; i < o->max_elems; i++)
        visit_strings(o->sub, elems + (size_t)i * o->elem_size, free_string, NULL);
    av_freep(&elems);
    return ret;
}

/* s is one of the '|'-separated words in keywords. */
static int is_keyword(const char *keywords, const char *s)
{
    size_t n = strlen(s);

    for (const char *k = keywords; *k; k += strcspn(k, "|"), k += *k == '|') {
        if (strcspn(k, "|") == n && !strncmp(k, s, n))
            return 1;
    }
    return 0;
}

int lr_config_source_push(const char *source)
{
    return !strcmp(source, "push") ? LR_PUSH_SRT_BIT | LR_PUSH_RTMP_BIT
         : !strcmp(source, "push-srt") ? LR_PUSH_SRT_BIT
         : !strcmp(source, "push-rtmp") ? LR_PUSH_RTMP_BIT : 0;
}

/* A list of strings replaces what was there, each item checked like a string
 * (a null item is the empty string); the keyword items are taken as they are. */
static int walk_strlist(walker *w, const opt *o, void *base, const yaml_node_t *seq,
                        const char *path)
{
    char *items[MAX_STRLIST] = { 0 }, got[64], ipath[176];
    char **dst = field(base, o);
    int n, i, ret = 0;

    /* OPT_ONE_OR_LIST: a lone string is the list's one item */
    const yaml_node_t *one = seq->type == YAML_SCALAR_NODE && (o->flags & OPT_ONE_OR_LIST) &&
                             !is_null(seq) ? seq : NULL;

    if (!one && seq->type != YAML_SEQUENCE_NODE)
        return fail(w, line_of(seq), "key '%s': expected a list of strings, got %s", path,
                    describe(seq, got, sizeof(got)));
    n = one ? 1 : (int)(seq->data.sequence.items.top - seq->data.sequence.items.start);
    if (n < 1 || n > o->max_elems)
        return fail(w, line_of(seq), "key '%s': expected 1 to %d entries, got %d", path,
                    o->max_elems, n);
    for (i = 0; i < n; i++) {
        const yaml_node_t *item =
            one ? one : yaml_document_get_node(w->doc, seq->data.sequence.items.start[i]);
        const char *s = item->type == YAML_SCALAR_NODE && !is_null(item) ? scalar(item) : "";
        int keyword = o->keyword && is_keyword(o->keyword, s);

        if (one)
            snprintf(ipath, sizeof(ipath), "%s", path);
        else
            snprintf(ipath, sizeof(ipath), "%s[%d]", path, i);
        if (item->type == YAML_SCALAR_NODE && strlen(s) != item->data.scalar.length &&
            !is_null(item)) {
            ret = fail(w, line_of(item), "key '%s': expected %s, got a value with a NUL byte",
                       ipath, o->expect);
            goto end;
        }
        if (item->type != YAML_SCALAR_NODE || (!keyword && o->check && !o->check(s))) {
            ret = fail(w, line_of(item), "key '%s': expected %s, got %s", ipath, o->expect,
                       describe(item, got, sizeof(got)));
            goto end;
        }
        if ((o->flags & OPT_PATH) && w->dir && !keyword && is_relative_path(s))
            items[i] = av_asprintf("%s/%s", w->dir, s);
        else
            items[i] = av_strdup(s);
        if (!items[i]) {
            ret = AVERROR(ENOMEM);
            goto end;
        }
    }
    for (i = 0; i < o->max_elems; i++)
        av_freep(&dst[i]);
    memcpy(dst, items, (size_t)n * sizeof(*dst));
    memset(items, 0, sizeof(items));
    *(int *)((char *)base + o->count_offset) = n;
end:
    for (i = 0; i < n; i++)
        av_freep(&items[i]);
    return ret;
}

/* Applies one mapping to base through table t; lines[i] gets the line of
 * entry i's value when the mapping sets it. */
static int walk_mapping(walker *w, const opt *t, void *base, const yaml_node_t *map,
                        const char *prefix, int *lines)
{
    char path[160], got[64];
    yaml_node_pair_t *pair;
    int ret;

    for (pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
        yaml_node_t *key = yaml_document_get_node(w->doc, pair->key);
        yaml_node_t *val = yaml_document_get_node(w->doc, pair->value);
        const opt *o;
        int idx;

        if (key->type != YAML_SCALAR_NODE)
            return fail(w, line_of(key), "%s%skeys must be names, got %s", prefix,
                        *prefix ? ": " : "", describe(key, got, sizeof(got)));
        snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", scalar(key));
        for (idx = 0; t[idx].name && strcmp(t[idx].name, scalar(key)); idx++)
            ;
        o = &t[idx];
        if (!o->name)
            return unknown_key(w, t, key, path);
        if (lines[idx])
            return fail(w, line_of(key), "key '%s': given twice (first on line %d)", path,
                        lines[idx]);
        lines[idx] = line_of(val);
        switch (o->type) {
        case OPT_SECTION: {
            int sub_lines[MAX_OPTS] = { 0 }, bad;
            char why[160], at[64] = "";

            if (is_null(val))
                break; /* "egress:" with every key commented out */
            if (val->type != YAML_MAPPING_NODE)
                return fail(w, line_of(val), "key '%s': expected a mapping of keys, got %s",
                            path, describe(val, got, sizeof(got)));
            if ((ret = walk_mapping(w, o->sub, field(base, o), val, path, sub_lines)) < 0)
                return ret;
            if (o->validate && (bad = o->validate(field(base, o), sub_lines, at, sizeof(at),
                                                   why, sizeof(why))) >= 0)
                return blame(w, o->sub, val, path, bad, at, why);
            break;
        }
        case OPT_LIST:
            if ((ret = walk_list(w, o, base, val, path)) < 0)
                return ret;
            break;
        case OPT_STRLIST:
            if ((ret = walk_strlist(w, o, base, val, path)) < 0)
                return ret;
            break;
        default:
            if ((ret = set_scalar(w, o, base, val, path)) < 0)
                return ret;
            break;
        }
    }
    for (int i = 0; t[i].name; i++)
        if ((t[i].flags & OPT_REQUIRED) && !lines[i])
            return fail(w, line_of(map), "key '%s': missing '%s'", prefix, t[i].name);
    return 0;
}

/* Loads every document the parser yields into c (one at most is allowed). */
static int load(lr_config *c, yaml_parser_t *parser, const char *name, const char *dir,
                char *err, size_t err_size)
{
    walker w = { .file = name, .dir = dir, .err = err, .err_size = err_size };
    yaml_document_t doc, extra;
    yaml_node_t *root;
    lr_config tmp;
    int ret, have_doc = 0, have_extra = 0;

    if (err && err_size)
        err[0] = 0;
    if ((ret = copy_config(&tmp, c)) < 0)
        return ret;
    if (!yaml_parser_load(parser, &doc))
        goto syntax;
    have_doc = 1;
    w.doc = &doc;
    root = yaml_document_get_root_node(&doc);
    if (root) {
        char got[64];
        int lines[MAX_OPTS] = { 0 };

        if (!yaml_parser_load(parser, &extra))
            goto syntax;
        have_extra = 1;
        if (yaml_document_get_root_node(&extra)) {
            ret = fail(&w, (int)extra.start_mark.line + 1,
                       "only one YAML document is allowed per file");
            goto fail;
        }
        if (root->type != YAML_MAPPING_NODE && !is_null(root)) {
            ret = fail(&w, line_of(root), "the top level must be a mapping of keys, got %s",
                       describe(root, got, sizeof(got)));
            goto fail;
        }
        if (root->type == YAML_MAPPING_NODE &&
            (ret = walk_mapping(&w, config_opts, &tmp, root, "", lines)) < 0)
            goto fail;
    }
    lr_config_free(c);
    *c = tmp;
    memset(&tmp, 0, sizeof(tmp));
    ret = 0;
    goto end;
syntax:
    if (parser->error == YAML_MEMORY_ERROR) {
        ret = AVERROR(ENOMEM);
    } else {
        size_t line = parser->error == YAML_READER_ERROR ? parser->mark.line
                                                          : parser->problem_mark.line;

        ret = fail(&w, (int)line + 1, "YAML syntax error: %s%s%s%s",
                   parser->problem ? parser->problem : "unreadable input",
                   parser->context ? " (" : "", parser->context ? parser->context : "",
                   parser->context ? ")" : "");
    }
fail:
    lr_config_free(&tmp);
end:
    if (have_extra)
        yaml_document_delete(&extra);
    if (have_doc)
        yaml_document_delete(&doc);
    return ret;
}

int lr_config_load_string(lr_config *c, const char *yaml, const char *name, char *err,
                          size_t err_size)
{
    yaml_parser_t parser;
    int ret;

    if (!yaml)
        return AVERROR(EINVAL);
    if (!yaml_parser_initialize(&parser))
        return AVERROR(ENOMEM);
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, strlen(yaml));
    ret = load(c, &parser, name ? name : "<string>", NULL, err, err_size);
    yaml_parser_delete(&parser);
    return ret;
}

int lr_config_load_file(lr_config *c, const char *path, char *err, size_t err_size)
{
    yaml_parser_t parser;
    const char *slash = strrchr(path, '/');
    char *dir = NULL;
    FILE *f;
    int ret;

    if (!(f = fopen(path, "rb"))) {
        int e = errno;

        if (err && err_size)
            snprintf(err, err_size, "%s: cannot open: %s", path, strerror(e));
        return AVERROR(e);
    }
    dir = slash ? av_strndup(path, slash == path ? 1 : (size_t)(slash - path)) : av_strdup(".");
    if (!dir || !yaml_parser_initialize(&parser)) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    yaml_parser_set_input_file(&parser, f);
    ret = load(c, &parser, path, dir, err, err_size);
    yaml_parser_delete(&parser);
end:
    av_freep(&dir);
    fclose(f);
    return ret;
}
