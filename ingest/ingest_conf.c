/* ingest/ingest_conf.c — the ingest's section of the configuration file
 * (`ingest:`, its `lectures` list): the option table and the checks across
 * its keys. app/ hands lr_ingest_conf_section to lr_config_defaults; the
 * ingest reads the result as c->ingest (common/config.h). */
#include <stdio.h>
#include <string.h>

#include "common/datadir.h"
#include "common/conf_table.h"
#include "ingest/ingest.h"

/* Which lecturers' pushes a source entry takes: "push" both, "push-srt" or
 * "push-rtmp" one, anything else none (0). */
#define LR_PUSH_SRT_BIT  1
#define LR_PUSH_RTMP_BIT 2

static int source_push(const char *source)
{
    return !strcmp(source, "push") ? LR_PUSH_SRT_BIT | LR_PUSH_RTMP_BIT
         : !strcmp(source, "push-srt") ? LR_PUSH_SRT_BIT
         : !strcmp(source, "push-rtmp") ? LR_PUSH_RTMP_BIT : 0;
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

enum { LECTURE_NAME = 0, LECTURE_SOURCES = 5 }; /* in lecture_opts */

static const lr_conf_opt lecture_opts[] = {
    [LECTURE_NAME] =
    STR("name", lr_lecture_conf, name, NULL, lr_conf_check_name, LR_CONF_NAME,
        LR_OPT_REQUIRED | LR_OPT_UNIQUE),
    STR("passphrase", lr_lecture_conf, passphrase, "", lr_conf_check_passphrase,
        LR_CONF_PASSPHRASE, LR_OPT_SECRET),
    STR("publish_key", lr_lecture_conf, publish_key, "", check_publish_key,
        "up to 128 printable characters without spaces, ',' or '='", LR_OPT_SECRET),
    BOOL("takeover", lr_lecture_conf, takeover, 0),
    BOOL("switch_back", lr_lecture_conf, switch_back, 1),
    [LECTURE_SOURCES] =
    { .name = "sources", .type = LR_OPT_STRLIST, .offset = offsetof(lr_lecture_conf, sources),
      .count_offset = offsetof(lr_lecture_conf, nb_sources), .max_elems = LR_MAX_SOURCES,
      .def.str = "push", .keyword = "push|push-srt|push-rtmp",
      .check = lr_conf_check_nonempty,
      .expect = "'push', 'push-srt', 'push-rtmp', a URL or a file path", .flags = LR_OPT_PATH },
    { .name = NULL }
};

static int validate_lecture(const void *base, const int *lines, char *at, size_t at_size,
                            char *why, size_t why_size)
{
    const lr_lecture_conf *l = base;
    int taken = 0, where[3] = { -1, -1, -1 };

    /* Each protocol's push goes to one source: 'push' takes both. */
    for (int i = 0; i < l->nb_sources; i++) {
        int p = source_push(l->sources[i]);
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

static const lr_conf_opt ingest_opts[] = {
    STR("source", lr_ingest_conf, source, LR_IN_DATADIR "samples/lecture.mp4",
        lr_conf_check_nonempty, "a file path or URL", LR_OPT_PATH),
    BOOL("loop", lr_ingest_conf, loop, 1),
    BOOL("realtime", lr_ingest_conf, realtime, 1),
    { .name = "link", .type = LR_OPT_STRLIST, .offset = offsetof(lr_ingest_conf, links),
      .count_offset = offsetof(lr_ingest_conf, nb_links), .max_elems = LR_MAX_LINKS,
      .def.str = "srt://127.0.0.1:9000", .check = lr_conf_check_srt_url,
      .expect = LR_CONF_SRT_URL " (or a list of them: one per transcoder)",
      .flags = LR_OPT_ONE_OR_LIST },
    [INGEST_LISTEN] =
    STR("listen", lr_ingest_conf, listen, "", lr_conf_check_srt_listen_or_empty,
        "empty (no push listener) or " LR_CONF_SRT_URL " without '?options'", 0),
    INT("stall_ms", lr_ingest_conf, stall_ms, 1000, 100, 60000, 0),
    [INGEST_LECTURES] =
    { .name = "lectures", .type = LR_OPT_LIST, .offset = offsetof(lr_ingest_conf, lectures),
      .sub = lecture_opts, .elem_size = sizeof(lr_lecture_conf),
      .count_offset = offsetof(lr_ingest_conf, nb_lectures), .max_elems = LR_MAX_LECTURES,
      .validate = validate_lecture },
    [INGEST_RTMP_LISTEN] =
    STR("rtmp_listen", lr_ingest_conf, rtmp_listen, "", lr_conf_check_hostport_or_empty,
        "empty (no RTMP listener) or host:port (e.g. '0.0.0.0:1935')", 0),
    [INGEST_RTMPS_LISTEN] =
    STR("rtmps_listen", lr_ingest_conf, rtmps_listen, "", lr_conf_check_hostport_or_empty,
        "empty (no RTMPS listener) or host:port (e.g. '0.0.0.0:1936')", 0),
    STR("rtmps_cert", lr_ingest_conf, rtmps_cert, "", NULL, "a PEM certificate file",
        LR_OPT_PATH),
    STR("rtmps_key", lr_ingest_conf, rtmps_key, "", NULL, "a PEM private key file",
        LR_OPT_PATH | LR_OPT_SECRET),
    BOOL("allow_unkeyed_push", lr_ingest_conf, allow_unkeyed_push, 0),
    { .name = NULL }
};

/* Whether a listener's address ("srt://host:port" or "host:port") can be
 * reached only from this machine. */
static int loopback_only(const char *listen)
{
    const char *h = strstr(listen, "://");
    char host[256];
    size_t n;

    h = h ? h + 3 : listen;
    if (*h == '[')
        n = strcspn(++h, "]");
    else
        n = strcspn(h, ":");
    if (n >= sizeof(host))
        return 0;
    memcpy(host, h, n);
    host[n] = '\0';
    return !strncmp(host, "127.", 4) || !strcmp(host, "::1") || !strcmp(host, "localhost");
}

/* A lecture anyone could take: it takes pushes over a protocol whose
 * listener other machines reach, with nothing to check the pusher by (SRT:
 * neither publish_key nor passphrase; RTMP: no publish_key). Returns the
 * listener, or NULL. */
static const char *open_to_anyone(const lr_ingest_conf *in, const lr_lecture_conf *l)
{
    int p = 0;

    for (int k = 0; k < l->nb_sources; k++)
        p |= source_push(l->sources[k]);
    if ((p & LR_PUSH_SRT_BIT) && in->listen[0] && !loopback_only(in->listen) &&
        !l->publish_key[0] && !l->passphrase[0])
        return in->listen;
    if ((p & LR_PUSH_RTMP_BIT) && !l->publish_key[0]) {
        if (in->rtmp_listen[0] && !loopback_only(in->rtmp_listen))
            return in->rtmp_listen;
        if (in->rtmps_listen[0] && !loopback_only(in->rtmps_listen))
            return in->rtmps_listen;
    }
    return NULL;
}

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
            int p = source_push(l->sources[k]);
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
    for (int i = 0; i < in->nb_lectures && !in->allow_unkeyed_push; i++) {
        const char *listener = open_to_anyone(in, &in->lectures[i]);

        if (!listener)
            continue;
        snprintf(why, why_size, "lecture '%s' takes pushes on %s (open to other machines) "
                 "with no publish_key%s, so anyone could publish it: give it one, or set "
                 "ingest.allow_unkeyed_push", in->lectures[i].name, listener,
                 strstr(listener, "://") ? " or passphrase" : "");
        if (!lines[INGEST_LECTURES])
            return strstr(listener, "://") ? INGEST_LISTEN : INGEST_RTMP_LISTEN;
        snprintf(at, at_size, "[%d]", i);
        return INGEST_LECTURES;
    }
    return -1;
}

const lr_conf_section lr_ingest_conf_section = {
    .name = "ingest", .offset = offsetof(lr_config, ingest), .opts = ingest_opts,
    .validate = validate_ingest,
};

LR_CONF_TABLE_FITS(ingest_opts);
LR_CONF_TABLE_FITS(lecture_opts);
_Static_assert(LR_MAX_SOURCES <= LR_CONF_MAX_STRLIST, "sources longer than LR_CONF_MAX_STRLIST");
_Static_assert(LR_MAX_LINKS <= LR_CONF_MAX_STRLIST, "links longer than LR_CONF_MAX_STRLIST");
