/* common/config.c — reads the YAML configuration into lr_config through option
 * tables (common/conf_table.h: name, type, offset, default, range), so
 * defaults, parsing, copying and freeing all follow one description. Holds
 * the walker and the shared keys' tables (the top level, `link:`); each
 * role's section is beside the role and comes in through lr_config_defaults.
 * Loading writes nothing but the config it fills. Called by app/main.c and
 * the unit tests. */
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

#include "common/conf_table.h"
#include "common/config.h"
#include "common/datadir.h"
#include "common/streamid.h"

/* ---- string checks ---------------------------------------------------- */

int lr_conf_in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(s, *list))
            return 1;
    return 0;
}

static int check_log_level(const char *s)
{
    static const char *const levels[] = { "error", "warn", "info", "debug", NULL };
    return lr_conf_in_list(s, levels);
}

int lr_conf_check_name(const char *s)
{
    return lr_lecture_name_valid(s);
}

int lr_conf_check_nonempty(const char *s)
{
    return s[0] != 0;
}

int lr_conf_check_passphrase(const char *s)
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

int lr_conf_check_srt_url(const char *s)
{
    return !strncmp(s, "srt://", 6) && hostport_valid(s + 6, 1);
}

/* A listener of ours: no "?option" tail, which would be silently ignored. */
int lr_conf_check_srt_listen_or_empty(const char *s)
{
    return !*s || (!strncmp(s, "srt://", 6) && hostport_valid(s + 6, 0));
}

int lr_conf_check_hostport(const char *s)
{
    return hostport_valid(s, 0);
}

int lr_conf_check_hostport_or_empty(const char *s)
{
    return !s[0] || hostport_valid(s, 0);
}

/* ---- the shared tables ------------------------------------------------ */

static const lr_conf_opt link_opts[] = {
    { .name = "latency_ms", .type = LR_OPT_INT, .offset = offsetof(lr_link_settings, latency_ms),
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
    STR("passphrase", lr_link_settings, passphrase, "", lr_conf_check_passphrase,
        LR_CONF_PASSPHRASE, LR_OPT_SECRET),
    { .name = NULL }
};

/* status_upstreams: a role's metrics address, as `lecture-relay top` takes it
 * (app/scrape.h checks the rest when it starts). */
static int check_metrics_url(const char *s)
{
    const char *hp = !strncmp(s, "http://", 7) ? s + 7 : !strncmp(s, "https://", 8) ? s + 8 : s;
    char host[300];
    size_t n = strcspn(hp, "/");

    if (n >= sizeof(host))
        return 0;
    memcpy(host, hp, n);
    host[n] = '\0';
    return lr_conf_check_hostport(host);
}

/* The top level's own keys; top_table() appends the roles' sections. */
static const lr_conf_opt config_opts[] = {
    STR("log_level", lr_config, log_level, "info", check_log_level,
        "one of error, warn, info, debug", 0),
    STR("lecture", lr_config, lecture, "demo", lr_conf_check_name, LR_CONF_NAME, 0),
    STR("metrics", lr_config, metrics, "", lr_conf_check_hostport_or_empty,
        "empty (the egress serves /metrics) or host:port", 0),
    { .name = "status_upstreams", .type = LR_OPT_STRLIST,
      .offset = offsetof(lr_config, status_upstreams),
      .count_offset = offsetof(lr_config, nb_status_upstreams),
      .max_elems = LR_MAX_STATUS_UPSTREAMS, .check = check_metrics_url,
      .expect = "a list of the upstream roles' metrics addresses: http://host:port, "
                "https://host:port or host:port", .flags = LR_OPT_ONE_OR_LIST },
    { .name = "link", .type = LR_OPT_SECTION, .offset = offsetof(lr_config, link),
      .sub = link_opts },
    { .name = NULL }
};

LR_CONF_TABLE_FITS(link_opts);

#define NB_SHARED (sizeof(config_opts) / sizeof(config_opts[0]) - 1)

/* The whole top level of c: the shared keys, then a section per role it has
 * (lr_config_defaults checked that they fit). */
static void top_table(const lr_config *c, lr_conf_opt t[LR_CONF_MAX_OPTS + 1])
{
    const lr_conf_section *const *sec = c->sections;
    size_t n;

    memcpy(t, config_opts, NB_SHARED * sizeof(*t));
    for (n = NB_SHARED; sec && *sec && n < LR_CONF_MAX_OPTS; sec++, n++)
        t[n] = (lr_conf_opt){ .name = (*sec)->name, .type = LR_OPT_SECTION,
                              .offset = (*sec)->offset, .sub = (*sec)->opts,
                              .validate = (*sec)->validate, .init = (*sec)->init };
    t[n] = (lr_conf_opt){ .name = NULL };
}

/* ---- walking the tables without a file -------------------------------- */

static void *field(void *base, const lr_conf_opt *o)
{
    return (char *)base + o->offset;
}

static void *element(void *base, const lr_conf_opt *o, int i)
{
    return (char *)field(base, o) + (size_t)i * o->elem_size;
}

/* Calls fn on every string field reachable from base, list slots included. */
static void visit_strings(const lr_conf_opt *t, void *base, void (*fn)(char **s, int *failed),
                          int *failed)
{
    for (; t->name; t++) {
        switch (t->type) {
        case LR_OPT_STRING:
            fn(field(base, t), failed);
            break;
        case LR_OPT_SECTION:
            visit_strings(t->sub, field(base, t), fn, failed);
            break;
        case LR_OPT_LIST:
            for (int i = 0; i < t->max_elems; i++)
                visit_strings(t->sub, element(base, t, i), fn, failed);
            break;
        case LR_OPT_STRLIST:
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

/* A copy of a string default; one in the data folder (LR_IN_DATADIR) with
 * the folder's path in front. */
static char *default_string(const char *def)
{
    size_t n = strlen(LR_IN_DATADIR);

    if (strncmp(def, LR_IN_DATADIR, n))
        return av_strdup(def);
    return av_asprintf("%s/%s", lr_datadir(), def + n);
}

int lr_conf_set_defaults(const lr_conf_opt *t, void *base)
{
    for (; t->name; t++) {
        int ret;

        switch (t->type) {
        case LR_OPT_STRING:
            if (t->def.str && !(*(char **)field(base, t) = default_string(t->def.str)))
                return AVERROR(ENOMEM);
            break;
        case LR_OPT_INT:
        case LR_OPT_BOOL:
            *(int *)field(base, t) = t->def.i;
            break;
        case LR_OPT_DOUBLE:
            *(double *)field(base, t) = t->def.d;
            break;
        case LR_OPT_SECTION:
            if ((ret = lr_conf_set_defaults(t->sub, field(base, t))) < 0 ||
                (t->init && (ret = t->init(field(base, t))) < 0))
                return ret;
            break;
        case LR_OPT_STRLIST:
            if (t->def.str) {
                if (!(*(char **)field(base, t) = av_strdup(t->def.str)))
                    return AVERROR(ENOMEM);
                *(int *)((char *)base + t->count_offset) = 1;
            }
            break;
        case LR_OPT_LIST:
            break; /* lists of mappings have no generic default: the section's init */
        }
    }
    return 0;
}

void lr_config_free(lr_config *c)
{
    lr_conf_opt top[LR_CONF_MAX_OPTS + 1];

    if (!c)
        return;
    top_table(c, top);
    visit_strings(top, c, free_string, NULL);
    memset(c, 0, sizeof(*c));
}

int lr_config_defaults(lr_config *c, const lr_conf_section *const *sections)
{
    lr_conf_opt top[LR_CONF_MAX_OPTS + 1];
    size_t n = NB_SHARED;
    int ret;

    memset(c, 0, sizeof(*c));
    for (const lr_conf_section *const *sec = sections; sec && *sec; sec++)
        if (++n > LR_CONF_MAX_OPTS)
            return AVERROR(EINVAL);
    c->sections = sections;
    top_table(c, top);
    if ((ret = lr_conf_set_defaults(top, c)) < 0)
        lr_config_free(c);
    return ret;
}

/* ---- what a reload changes ------------------------------------------- */

static int string_differs(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "");
}

/* 1 when the values under t differ (lists element by element). */
static int opts_differ(const lr_conf_opt *t, const void *a, const void *b);

static int opt_differs(const lr_conf_opt *o, const void *a, const void *b)
{
    const void *fa = (const char *)a + o->offset, *fb = (const char *)b + o->offset;

    switch (o->type) {
    case LR_OPT_STRING:
        return string_differs(*(char *const *)fa, *(char *const *)fb);
    case LR_OPT_INT:
    case LR_OPT_BOOL:
        return *(const int *)fa != *(const int *)fb;
    case LR_OPT_DOUBLE:
        return *(const double *)fa != *(const double *)fb;
    case LR_OPT_SECTION:
        return opts_differ(o->sub, fa, fb);
    case LR_OPT_STRLIST:
    case LR_OPT_LIST: {
        int na = *(const int *)((const char *)a + o->count_offset);
        int nb = *(const int *)((const char *)b + o->count_offset);
        if (na != nb)
            return 1;
        for (int i = 0; i < na; i++) {
            if (o->type == LR_OPT_STRLIST ? string_differs(((char *const *)fa)[i],
                                                           ((char *const *)fb)[i])
                                          : opts_differ(o->sub,
                                                        (const char *)fa + (size_t)i * o->elem_size,
                                                        (const char *)fb + (size_t)i * o->elem_size))
                return 1;
        }
        return 0;
    }
    }
    return 0;
}

static int opts_differ(const lr_conf_opt *t, const void *a, const void *b)
{
    for (; t->name; t++)
        if (opt_differs(t, a, b))
            return 1;
    return 0;
}

int lr_config_diff(const lr_config *a, const lr_config *b, lr_config_changed_fn *changed,
                   void *opaque)
{
    lr_conf_opt top[LR_CONF_MAX_OPTS + 1];
    char key[128];
    int n = 0;

    top_table(a, top);
    for (const lr_conf_opt *t = top; t->name; t++) {
        if (t->type != LR_OPT_SECTION) {
            if (opt_differs(t, a, b)) {
                changed(opaque, t->name);
                n++;
            }
            continue;
        }
        const void *sa = (const char *)a + t->offset, *sb = (const char *)b + t->offset;
        for (const lr_conf_opt *o = t->sub; o->name; o++) {
            if (opt_differs(o, sa, sb)) {
                snprintf(key, sizeof(key), "%s.%s", t->name, o->name);
                changed(opaque, key);
                n++;
            }
        }
    }
    return n;
}

/* Deep copy, so a file is applied to a copy and c changes only on success. */
static int copy_config(lr_config *dst, const lr_config *src)
{
    lr_conf_opt top[LR_CONF_MAX_OPTS + 1];
    int failed = 0;

    *dst = *src;
    top_table(dst, top);
    visit_strings(top, dst, dup_string, &failed);
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
    const char      *dir;  /* folder of the file, for LR_OPT_PATH; NULL: leave paths as given */
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
           lr_conf_in_list(scalar(n), nulls);
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
static int blame(walker *w, const lr_conf_opt *t, const yaml_node_t *map, const char *prefix,
                 int bad, const char *at, const char *why)
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

/* Keys an earlier version had, with what to do instead: a file written for
 * it gets told, not just "unknown key". */
static const struct {
    const char *path, *instead;
} removed_keys[] = {
    { "egress.target_duration", "the egress learns the segment duration from the keyframes "
                                "it receives (transcode.segment_duration, or the source's GOP "
                                "in passthrough): delete the line" },
};

static int unknown_key(walker *w, const lr_conf_opt *t, const yaml_node_t *key, const char *path)
{
    const char *best = NULL;
    size_t best_d = 3; /* suggest only near misses */

    for (size_t i = 0; i < sizeof(removed_keys) / sizeof(removed_keys[0]); i++)
        if (!strcmp(path, removed_keys[i].path))
            return fail(w, line_of(key), "key '%s' is no more: %s", path,
                        removed_keys[i].instead);

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

static int set_scalar(walker *w, const lr_conf_opt *o, void *base, const yaml_node_t *n,
                      const char *path)
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
    case LR_OPT_STRING: {
        char *copy, **dst = field(base, o);

        if (is_null(n))
            s = "";
        if (o->check && !o->check(s)) {
            if (o->flags & LR_OPT_SECRET)
                return fail(w, line_of(n), "key '%s': expected %s, got %zu characters", path,
                            o->expect, strlen(s));
            return fail(w, line_of(n), "key '%s': expected %s, got %s", path, o->expect,
                        describe(n, got, sizeof(got)));
        }
        if ((o->flags & LR_OPT_PATH) && w->dir && is_relative_path(s))
            copy = av_asprintf("%s/%s", w->dir, s);
        else
            copy = av_strdup(s);
        if (!copy)
            return AVERROR(ENOMEM);
        av_freep(dst);
        *dst = copy;
        return 0;
    }
    case LR_OPT_INT:
        if (o->keyword && !strcmp(s, o->keyword)) {
            *(int *)field(base, o) = 0;
            return 0;
        }
        if (!parse_int(s, &iv) || (double)iv < o->min || (double)iv > o->max ||
            ((o->flags & LR_OPT_EVEN) && iv % 2))
            goto type_error;
        *(int *)field(base, o) = (int)iv;
        return 0;
    case LR_OPT_DOUBLE:
        if (!parse_double(s, &dv) || dv < o->min || dv > o->max)
            goto type_error;
        *(double *)field(base, o) = dv;
        return 0;
    case LR_OPT_BOOL:
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
    case LR_OPT_STRING:
        return fail(w, line_of(n), "key '%s': expected %s, got %s", path,
                    o->expect ? o->expect : "a string", got);
    case LR_OPT_INT:
        return fail(w, line_of(n), "key '%s': expected %s%s%s between %g and %g, got %s", path,
                    o->keyword ? o->keyword : "", o->keyword ? " or " : "",
                    (o->flags & LR_OPT_EVEN) ? "an even integer" : "an integer", o->min, o->max,
                    got);
    case LR_OPT_DOUBLE:
        return fail(w, line_of(n), "key '%s': expected a number between %g and %g, got %s",
                    path, o->min, o->max, got);
    default:
        return fail(w, line_of(n), "key '%s': expected true or false (yes/no, on/off), got %s",
                    path, got);
    }
}

static int walk_mapping(walker *w, const lr_conf_opt *t, void *base, const yaml_node_t *map,
                        const char *prefix, int *lines);

static int walk_list(walker *w, const lr_conf_opt *o, void *base, const yaml_node_t *seq,
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
        int lines[LR_CONF_MAX_OPTS] = { 0 };

        snprintf(ipath, sizeof(ipath), "%s[%d]", path, i);
        if (item->type != YAML_MAPPING_NODE) {
            ret = fail(w, line_of(item), "key '%s': expected a mapping, got %s", ipath,
                       describe(item, got, sizeof(got)));
            goto fail;
        }
        if ((ret = lr_conf_set_defaults(o->sub, e)) < 0 ||
            (ret = walk_mapping(w, o->sub, e, item, ipath, lines)) < 0)
            goto fail;
        if (o->validate) {
            char why[256], at[64] = "";
            int bad = o->validate(e, lines, at, sizeof(at), why, sizeof(why));
            if (bad >= 0) {
                ret = blame(w, o->sub, item, ipath, bad, at, why);
                goto fail;
            }
        }
        for (int k = 0; o->sub[k].name; k++) {
            if (!(o->sub[k].flags & LR_OPT_UNIQUE))
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

/* A list of strings replaces what was there, each item checked like a string
 * (a null item is the empty string); the keyword items are taken as they are. */
static int walk_strlist(walker *w, const lr_conf_opt *o, void *base, const yaml_node_t *seq,
                        const char *path)
{
    char *items[LR_CONF_MAX_STRLIST] = { 0 }, got[64], ipath[176];
    char **dst = field(base, o);
    int n, i, ret = 0;

    /* LR_OPT_ONE_OR_LIST: a lone string is the list's one item */
    const yaml_node_t *one = seq->type == YAML_SCALAR_NODE && (o->flags & LR_OPT_ONE_OR_LIST) &&
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
        if (item->type == YAML_SCALAR_NODE && !keyword && o->check && !o->check(s) &&
            (o->flags & LR_OPT_SECRET)) {
            ret = fail(w, line_of(item), "key '%s': expected %s, got %zu characters", ipath,
                       o->expect, strlen(s));
            goto end;
        }
        if (item->type != YAML_SCALAR_NODE || (!keyword && o->check && !o->check(s))) {
            ret = fail(w, line_of(item), "key '%s': expected %s, got %s", ipath, o->expect,
                       describe(item, got, sizeof(got)));
            goto end;
        }
        if ((o->flags & LR_OPT_PATH) && w->dir && !keyword && is_relative_path(s))
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
static int walk_mapping(walker *w, const lr_conf_opt *t, void *base, const yaml_node_t *map,
                        const char *prefix, int *lines)
{
    char path[160], got[64];
    yaml_node_pair_t *pair;
    int ret;

    for (pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
        yaml_node_t *key = yaml_document_get_node(w->doc, pair->key);
        yaml_node_t *val = yaml_document_get_node(w->doc, pair->value);
        const lr_conf_opt *o;
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
        case LR_OPT_SECTION: {
            int sub_lines[LR_CONF_MAX_OPTS] = { 0 }, bad;
            char why[256], at[64] = "";

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
        case LR_OPT_LIST:
            if ((ret = walk_list(w, o, base, val, path)) < 0)
                return ret;
            break;
        case LR_OPT_STRLIST:
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
        if ((t[i].flags & LR_OPT_REQUIRED) && !lines[i])
            return fail(w, line_of(map), "key '%s': missing '%s'", prefix, t[i].name);
    return 0;
}

/* Loads every document the parser yields into c (one at most is allowed). */
static int load(lr_config *c, yaml_parser_t *parser, const char *name, const char *dir,
                char *err, size_t err_size)
{
    walker w = { .file = name, .dir = dir, .err = err, .err_size = err_size };
    lr_conf_opt top[LR_CONF_MAX_OPTS + 1];
    yaml_document_t doc, extra;
    yaml_node_t *root;
    lr_config tmp;
    int ret, have_doc = 0, have_extra = 0;

    if (err && err_size)
        err[0] = 0;
    if ((ret = copy_config(&tmp, c)) < 0)
        return ret;
    top_table(c, top);
    if (!yaml_parser_load(parser, &doc))
        goto syntax;
    have_doc = 1;
    w.doc = &doc;
    root = yaml_document_get_root_node(&doc);
    if (root) {
        char got[64];
        int lines[LR_CONF_MAX_OPTS] = { 0 };

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
            (ret = walk_mapping(&w, top, &tmp, root, "", lines)) < 0)
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
