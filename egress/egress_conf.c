/* egress/egress_conf.c — the egress's section of the configuration file
 * (`egress:`: the link listener, packaging, the HTTP side): the option table
 * and the checks across its keys. app/ hands lr_egress_conf_section to
 * lr_config_defaults; the egress reads the result as c->egress
 * (common/config.h). */
#include <stdio.h>
#include <string.h>

#include "lr_build_config.h"
#include "common/conf_table.h"
#include "egress/egress.h"

static int check_segment_format(const char *s)
{
    static const char *const formats[] = { "fmp4", "ts", NULL };
    return lr_conf_in_list(s, formats);
}

static int check_token_secret(const char *s)
{
    return strlen(s) >= 16;
}

enum { EGRESS_PLAYLIST_SEGMENTS = 2, EGRESS_KEEP_SEGMENTS = 3 }; /* in egress_opts */

static const lr_conf_opt egress_opts[] = {
    STR("listen", lr_egress_conf, listen, "srt://127.0.0.1:9001", lr_conf_check_srt_url,
        LR_CONF_SRT_URL, 0),
    STR("http", lr_egress_conf, http, "127.0.0.1:8080", lr_conf_check_hostport, "host:port",
        0),
    [EGRESS_PLAYLIST_SEGMENTS] =
    INT("playlist_segments", lr_egress_conf, playlist_segments, 6, 3, 100, 0),
    [EGRESS_KEEP_SEGMENTS] =
    INT("keep_segments", lr_egress_conf, keep_segments, 30, 3, 10000, 0),
    INT("feeds_per_lecture", lr_egress_conf, feeds_per_lecture, 2, 1, 4, 0),
    STR("assets_dir", lr_egress_conf, assets_dir, LR_SOURCE_DIR "/node_modules/hls.js/dist",
        lr_conf_check_nonempty, "a folder path", LR_OPT_PATH),
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
    STR("tls_listen", lr_egress_conf, tls_listen, "", lr_conf_check_hostport_or_empty,
        "empty (no HTTPS) or host:port", 0),
    STR("tls_cert", lr_egress_conf, tls_cert, "", NULL, "a PEM certificate file", LR_OPT_PATH),
    STR("tls_key", lr_egress_conf, tls_key, "", NULL, "a PEM private key file",
        LR_OPT_PATH | LR_OPT_SECRET),
    STR("cors_origins", lr_egress_conf, cors_origins, "*", lr_conf_check_nonempty,
        "'*' or space-separated origins", 0),
    BOOL("require_token", lr_egress_conf, require_token, 0),
    { .name = "token_secrets", .type = LR_OPT_STRLIST,
      .offset = offsetof(lr_egress_conf, token_secrets),
      .count_offset = offsetof(lr_egress_conf, nb_token_secrets),
      .max_elems = LR_MAX_TOKEN_SECRETS, .check = check_token_secret,
      .expect = "secrets of at least 16 characters", .flags = LR_OPT_SECRET },
    INT("max_conns_per_ip", lr_egress_conf, max_conns_per_ip, 0, 0, 1000000, 0),
    STR("recordings_dir", lr_egress_conf, recordings_dir, "", NULL, "a folder path", LR_OPT_PATH),
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

const lr_conf_section lr_egress_conf_section = {
    .name = "egress", .offset = offsetof(lr_config, egress), .opts = egress_opts,
    .validate = validate_egress,
};

LR_CONF_TABLE_FITS(egress_opts);
