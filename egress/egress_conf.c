/* egress/egress_conf.c — the egress's section of the configuration file
 * (`egress:`: the link listener, packaging, the HTTP side): the option table
 * and the checks across its keys. app/ hands lr_egress_conf_section to
 * lr_config_defaults; the egress reads the result as c->egress
 * (common/config.h). */
#include <stdio.h>
#include <string.h>

#include "common/datadir.h"
#include "common/conf_table.h"
#include "egress/egress.h"
#include "egress/steering.h"
#include "egress/url_sign.h"

#define PATHWAY_EXPECT "a pathway id: up to 32 of A-Z a-z 0-9 . _ -"

static int check_segment_format(const char *s)
{
    static const char *const formats[] = { "fmp4", "ts", NULL };
    return lr_conf_in_list(s, formats);
}

static int check_url_signing(const char *s)
{
    return lr_url_sign_kind_parse(s) >= 0;
}

/* what the CDNs accept as a parameter name: 1-100 of [A-Za-z0-9_] */
static int check_param_name(const char *s)
{
    size_t n = strlen(s);
    if (!n || n > 100)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return 0;
    return 1;
}

static int check_token_secret(const char *s)
{
    return strlen(s) >= 16;
}

static int check_metrics_token(const char *s)
{
    return !*s || check_token_secret(s);
}

/* ---- egress.steering (egress/steering.h, docs/regions.md) ---- */

static int check_pathway_id(const char *s)
{
    size_t n = strlen(s);
    return n <= 32 && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
                      == n;
}

static int check_nonempty_pathway_id(const char *s)
{
    return *s && check_pathway_id(s);
}

static int check_base_url(const char *s)
{
    return (!strncmp(s, "http://", 7) || !strncmp(s, "https://", 8)) && strlen(s) < 400 &&
           !strpbrk(s, "?#\" \t\n");
}

static int check_cidr(const char *s)
{
    lr_cidr c;
    return lr_cidr_parse(s, &c) == 0;
}

static const lr_conf_opt peer_opts[] = {
    STR("pathway", lr_peer_conf, pathway, NULL, check_nonempty_pathway_id, PATHWAY_EXPECT,
        LR_OPT_REQUIRED | LR_OPT_UNIQUE),
    STR("url", lr_peer_conf, url, NULL, check_base_url, "http(s)://host[:port][/path]",
        LR_OPT_REQUIRED | LR_OPT_UNIQUE),
    { .name = NULL }
};

static const lr_conf_opt prefix_opts[] = {
    STR("prefix", lr_prefix_conf, prefix, NULL, check_cidr,
        "an address prefix: 10.1.0.0/16 or 2001:db8::/32", LR_OPT_REQUIRED),
    { .name = "pathways", .type = LR_OPT_STRLIST, .offset = offsetof(lr_prefix_conf, pathways),
      .count_offset = offsetof(lr_prefix_conf, nb_pathways), .max_elems = LR_MAX_PEERS + 1,
      .check = check_nonempty_pathway_id, .expect = PATHWAY_EXPECT,
      .flags = LR_OPT_ONE_OR_LIST | LR_OPT_REQUIRED },
    { .name = NULL }
};

enum { STEERING_PATHWAY, STEERING_TTL, STEERING_CAPACITY, STEERING_PEERS, STEERING_PREFIXES };

static int known_pathway(const lr_steering_conf *st, const char *id)
{
    if (!strcmp(st->pathway, id))
        return 1;
    for (int i = 0; i < st->nb_peers; i++)
        if (!strcmp(st->peers[i].pathway, id))
            return 1;
    return 0;
}

static int validate_steering(const void *base, const int *lines, char *at, size_t at_size,
                             char *why, size_t why_size)
{
    const lr_steering_conf *st = base;

    if (!*st->pathway && (st->nb_peers || st->nb_prefixes)) {
        snprintf(why, why_size, "peers and prefixes need this node's own pathway id");
        return STEERING_PATHWAY;
    }
    for (int i = 0; i < st->nb_peers; i++)
        if (!strcmp(st->peers[i].pathway, st->pathway)) {
            snprintf(at, at_size, "[%d]", i);
            snprintf(why, why_size, "a peer has this node's own pathway id '%s'", st->pathway);
            return STEERING_PEERS;
        }
    for (int i = 0; i < st->nb_prefixes; i++)
        for (int k = 0; k < st->prefixes[i].nb_pathways; k++)
            if (!known_pathway(st, st->prefixes[i].pathways[k])) {
                snprintf(at, at_size, "[%d].pathways[%d]", i, k);
                snprintf(why, why_size, "'%s' is neither this node's pathway nor a peer's",
                         st->prefixes[i].pathways[k]);
                return STEERING_PREFIXES;
            }
    return -1;
}

static const lr_conf_opt steering_opts[] = {
    [STEERING_PATHWAY] =
    STR("pathway", lr_steering_conf, pathway, "", check_pathway_id, PATHWAY_EXPECT, 0),
    [STEERING_TTL] = INT("ttl", lr_steering_conf, ttl, 10, 1, 3600, 0),
    [STEERING_CAPACITY] =
    INT("viewer_capacity", lr_steering_conf, viewer_capacity, 0, 0, 10000000, 0),
    [STEERING_PEERS] =
    { .name = "peers", .type = LR_OPT_LIST, .offset = offsetof(lr_steering_conf, peers),
      .sub = peer_opts, .elem_size = sizeof(lr_peer_conf),
      .count_offset = offsetof(lr_steering_conf, nb_peers), .max_elems = LR_MAX_PEERS },
    [STEERING_PREFIXES] =
    { .name = "prefixes", .type = LR_OPT_LIST, .offset = offsetof(lr_steering_conf, prefixes),
      .sub = prefix_opts, .elem_size = sizeof(lr_prefix_conf),
      .count_offset = offsetof(lr_steering_conf, nb_prefixes), .max_elems = LR_MAX_PREFIXES },
    { .name = NULL }
};

enum { EGRESS_PLAYLIST_SEGMENTS = 2, EGRESS_KEEP_SEGMENTS = 3, EGRESS_URL_SIGNING = 4,
       EGRESS_TOKEN_SECRETS = 5 }; /* in egress_opts */

static const lr_conf_opt egress_opts[] = {
    STR("listen", lr_egress_conf, listen, "srt://127.0.0.1:9001", lr_conf_check_srt_url,
        LR_CONF_SRT_URL, 0),
    STR("http", lr_egress_conf, http, "127.0.0.1:8080", lr_conf_check_hostport, "host:port",
        0),
    [EGRESS_PLAYLIST_SEGMENTS] =
    INT("playlist_segments", lr_egress_conf, playlist_segments, 6, 3, 100, 0),
    [EGRESS_KEEP_SEGMENTS] =
    INT("keep_segments", lr_egress_conf, keep_segments, 30, 3, 10000, 0),
    [EGRESS_URL_SIGNING] =
    STR("url_signing", lr_egress_conf, url_signing, "path", check_url_signing,
        "path, cdn_a or nginx", 0),
    [EGRESS_TOKEN_SECRETS] =
    { .name = "token_secrets", .type = LR_OPT_STRLIST,
      .offset = offsetof(lr_egress_conf, token_secrets),
      .count_offset = offsetof(lr_egress_conf, nb_token_secrets),
      .max_elems = LR_MAX_TOKEN_SECRETS, .check = check_token_secret,
      .expect = "secrets of at least 16 characters", .flags = LR_OPT_SECRET },
    STR("url_signing_param", lr_egress_conf, url_signing_param, "auth_key", check_param_name,
        "1-100 of A-Z a-z 0-9 _", 0),
    INT("feeds_per_lecture", lr_egress_conf, feeds_per_lecture, 2, 1, 4, 0),
    STR("assets_dir", lr_egress_conf, assets_dir, LR_IN_DATADIR "assets",
        lr_conf_check_nonempty, "a folder path", LR_OPT_PATH),
    /* packaging (egress/packager.c, docs/recordings.md) */
    STR("segment_format", lr_egress_conf, segment_format, "fmp4", check_segment_format,
        "fmp4 or ts", 0),
    DBL("part_duration", lr_egress_conf, part_duration, 0.32, 0, 2),
    DBL("dvr_window", lr_egress_conf, dvr_window, 7200, 0, 86400),
    DBL("recording_grace", lr_egress_conf, recording_grace, 60, 0, 86400),
    DBL("retention_days", lr_egress_conf, retention_days, 30, 0, 36500),
    INT("recordings_quota_mb", lr_egress_conf, recordings_quota_mb, 0, 0, 1 << 30, 0),
    DBL("recordings_min_free_pct", lr_egress_conf, recordings_min_free_pct, 10, 0, 90),
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
    INT("max_conns_per_ip", lr_egress_conf, max_conns_per_ip, 256, 0, 1000000, 0),
    { .name = "uncapped", .type = LR_OPT_STRLIST, .offset = offsetof(lr_egress_conf, uncapped),
      .count_offset = offsetof(lr_egress_conf, nb_uncapped), .max_elems = LR_MAX_UNCAPPED,
      .def.str = "loopback", .keyword = "loopback", .check = check_cidr,
      .expect = "'loopback' or address prefixes (CIDR)", .flags = LR_OPT_ONE_OR_LIST },
    INT("max_conns", lr_egress_conf, max_conns, 20000, 0, 1000000, 0),
    STR("metrics_token", lr_egress_conf, metrics_token, "", check_metrics_token,
        "empty or a token of at least 16 characters", LR_OPT_SECRET),
    INT("max_parked", lr_egress_conf, max_parked, 10000, 0, 1000000, 0),
    STR("recordings_dir", lr_egress_conf, recordings_dir, "", NULL, "a folder path", LR_OPT_PATH),
    { .name = "steering", .type = LR_OPT_SECTION, .offset = offsetof(lr_egress_conf, steering),
      .sub = steering_opts, .validate = validate_steering },
    { .name = NULL }
};

static int validate_egress(const void *base, const int *lines, char *at, size_t at_size,
                           char *why, size_t why_size)
{
    const lr_egress_conf *e = base;
    int kind = lr_url_sign_kind_parse(e->url_signing);

    if (e->keep_segments < e->playlist_segments) {
        snprintf(why, why_size, "keep_segments (%d) must be >= playlist_segments (%d)",
                 e->keep_segments, e->playlist_segments);
        return lines[EGRESS_KEEP_SEGMENTS] ? EGRESS_KEEP_SEGMENTS : EGRESS_PLAYLIST_SEGMENTS;
    }
    if (kind != LR_URL_SIGN_PATH && e->nb_token_secrets < 1) {
        snprintf(why, why_size, "url_signing %s needs token_secrets (its keys)", e->url_signing);
        return EGRESS_URL_SIGNING;
    }
    for (int i = 0; i < e->nb_token_secrets; i++) {
        if (!lr_url_sign_key_valid(kind, e->token_secrets[i])) {
            snprintf(why, why_size, "url_signing cdn_a: token secret %d must be 16 to 32 letters "
                     "and digits (what the CDN consoles accept)", i + 1);
            return EGRESS_TOKEN_SECRETS;
        }
    }
    return -1;
}

const lr_conf_section lr_egress_conf_section = {
    .name = "egress", .offset = offsetof(lr_config, egress), .opts = egress_opts,
    .validate = validate_egress,
};

LR_CONF_TABLE_FITS(egress_opts);
LR_CONF_TABLE_FITS(steering_opts);
