/* common/status.c — the status page's history: the process's /metrics text
 * sampled once a second into a ring per series, and the events' ring.
 * Bounded: LR_STATUS_HISTORY samples of at most LR_STATUS_MAX_SERIES
 * series (a float each), a series unseen for the whole history forgotten. */
#include "status.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libavutil/avstring.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "datadir.h"
#include "heap.h"
#include "log.h"
#include "metrics.h"

typedef struct series {
    char    *key;        /* "name{labels}" as /metrics renders it */
    size_t   name_len;
    uint64_t hash;
    char     type;       /* 'g' gauge, 'c' counter, 'u' untyped */
    float   *v;          /* by tick % LR_STATUS_HISTORY; NAN: absent */
    int64_t  last_tick;  /* the last tick it had a value */
} series;

typedef struct event {
    int64_t t_ms;
    int     upstream;    /* reported by an upstream role: not passed on again */
    char    lecture[64];
    char    kind[16];
    char    text[240];
} event;

typedef struct upstream {
    char    origin[128];
    char   *text;        /* its last /metrics; NULL none or unreachable */
    int64_t at_ms;       /* when it came */
} upstream;

static struct {
    pthread_mutex_t lock;
    int64_t   ticks;                          /* samples taken */
    int64_t   t_ms[LR_STATUS_HISTORY];
    series   *s;
    int       nb, cap;
    int       warned_full;
    event     ev[LR_STATUS_MAX_EVENTS];
    int64_t   nb_ev;
    char      roles[64];
    upstream  up[LR_STATUS_MAX_UPSTREAMS];
    int       nb_up;
    /* the sampler */
    pthread_mutex_t wake_lock;
    pthread_cond_t  wake;
    pthread_t thread;
    int       started, stop;
} st = { .lock = PTHREAD_MUTEX_INITIALIZER, .wake_lock = PTHREAD_MUTEX_INITIALIZER,
         .wake = PTHREAD_COND_INITIALIZER };

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- events ---------------------------------------------------------------- */

void lr_status_event(const char *lecture, const char *kind, const char *fmt, ...)
{
    va_list ap;
    event e = { .t_ms = wall_ms() };

    av_strlcpy(e.lecture, lecture ? lecture : "", sizeof(e.lecture));
    av_strlcpy(e.kind, kind, sizeof(e.kind));
    va_start(ap, fmt);
    vsnprintf(e.text, sizeof(e.text), fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&st.lock);
    st.ev[st.nb_ev++ % LR_STATUS_MAX_EVENTS] = e;
    pthread_mutex_unlock(&st.lock);
}

void lr_status_upstream_event(const char *origin, int64_t t_ms, const char *lecture,
                              const char *kind, const char *text)
{
    event e = { .t_ms = t_ms, .upstream = 1 };

    av_strlcpy(e.lecture, lecture ? lecture : "", sizeof(e.lecture));
    av_strlcpy(e.kind, kind, sizeof(e.kind));
    snprintf(e.text, sizeof(e.text), "%s: %s", origin, text);
    pthread_mutex_lock(&st.lock);
    st.ev[st.nb_ev++ % LR_STATUS_MAX_EVENTS] = e;
    pthread_mutex_unlock(&st.lock);
}

void lr_status_set_upstream(const char *origin, const char *text)
{
    upstream *u = NULL;
    char *copy = text ? av_strdup(text) : NULL;

    pthread_mutex_lock(&st.lock);
    for (int i = 0; i < st.nb_up && !u; i++)
        if (!strcmp(st.up[i].origin, origin))
            u = &st.up[i];
    if (!u && st.nb_up < LR_STATUS_MAX_UPSTREAMS) {
        u = &st.up[st.nb_up++];
        av_strlcpy(u->origin, origin, sizeof(u->origin));
    }
    if (u) {
        av_free(u->text);
        u->text = copy;
        u->at_ms = wall_ms();
        copy = NULL;
    }
    pthread_mutex_unlock(&st.lock);
    av_free(copy);
}

/* ---- sampling -------------------------------------------------------------- */

static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;  /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
    return h;
}

/* The end of a sample's "name{labels}": a '{' block is read up to its '}'
 * outside quotes. NULL if the line is not a sample. */
static const char *key_end(const char *p, const char *eol)
{
    const char *q = p;
    while (q < eol && *q != '{' && *q != ' ')
        q++;
    if (q == p || q == eol)
        return NULL;
    if (*q == '{') {
        int quoted = 0;
        for (q++; q < eol; q++) {
            if (quoted && *q == '\\' && q + 1 < eol)
                q++;
            else if (*q == '"')
                quoted = !quoted;
            else if (!quoted && *q == '}')
                break;
        }
        if (q == eol)
            return NULL;
        q++;
    }
    return q;
}

static series *find_or_add(const char *key, size_t len, size_t name_len, char type)
{
    uint64_t h = hash_bytes(key, len);
    series *s;

    for (int i = 0; i < st.nb; i++)
        if (st.s[i].hash == h && !strncmp(st.s[i].key, key, len) && !st.s[i].key[len])
            return &st.s[i];
    if (st.nb == LR_STATUS_MAX_SERIES) {
        if (!st.warned_full++)
            lr_warn("status: more than %d series; the status page leaves the newest out",
                    LR_STATUS_MAX_SERIES);
        return NULL;
    }
    if (st.nb == st.cap) {
        int cap = st.cap ? st.cap * 2 : 256;
        series *n = av_realloc_array(st.s, (size_t)cap, sizeof(*n));
        if (!n)
            return NULL;
        st.s = n;
        st.cap = cap;
    }
    s = &st.s[st.nb];
    *s = (series){ .key = av_strndup(key, len), .name_len = name_len, .hash = h, .type = type,
                   .v = av_malloc_array(LR_STATUS_HISTORY, sizeof(float)) };
    if (!s->key || !s->v) {
        av_free(s->key);
        av_free(s->v);
        return NULL;
    }
    for (int i = 0; i < LR_STATUS_HISTORY; i++)
        s->v[i] = NAN;
    st.nb++;
    return s;
}

static void forget(int i)
{
    av_free(st.s[i].key);
    av_free(st.s[i].v);
    st.s[i] = st.s[--st.nb];
}

/* Reads one /metrics text into the tick's samples; origin: an upstream's,
 * added to each series' labels. */
static void read_samples(const char *text, int64_t tick, const char *origin)
{
    char key[1024];
    int slot = (int)(tick % LR_STATUS_HISTORY);
    char type = 'u', type_of[128] = "";

    for (const char *p = text; *p;) {
        const char *eol = strchr(p, '\n'), *end;
        if (!eol)
            eol = p + strlen(p);
        if (!strncmp(p, "# TYPE ", 7)) {
            const char *n = p + 7, *sp = memchr(n, ' ', (size_t)(eol - n));
            if (sp && (size_t)(sp - n) < sizeof(type_of)) {
                memcpy(type_of, n, (size_t)(sp - n));
                type_of[sp - n] = '\0';
                type = !strncmp(sp + 1, "counter", 7) ? 'c' : !strncmp(sp + 1, "gauge", 5) ? 'g' : 'u';
            }
        } else if (*p != '#' && (end = key_end(p, eol)) && *end == ' ') {
            size_t name_len = strcspn(p, "{ ");
            char *after;
            double v = strtod(end + 1, &after);
            int typed = strlen(type_of) == name_len && !strncmp(p, type_of, name_len);
            series *s;
            const char *k = p;
            size_t klen = (size_t)(end - p);
            if (origin) {
                /* name{origin="o",labels...} */
                int n = snprintf(key, sizeof(key), "%.*s{origin=\"%s\"%s%.*s", (int)name_len, p,
                                 origin, p[name_len] == '{' && p[name_len + 1] != '}' ? "," : "",
                                 p[name_len] == '{' ? (int)(klen - name_len - 1) : 1,
                                 p[name_len] == '{' ? p + name_len + 1 : "}");
                if (n < 0 || (size_t)n >= sizeof(key))
                    goto next;
                k = key;
                klen = (size_t)n;
            }
            if (after != end + 1 &&
                (s = find_or_add(k, klen, name_len, typed ? type : 'u'))) {
                s->v[slot] = (float)v;
                s->last_tick = tick;
            }
        }
next:
        p = *eol ? eol + 1 : eol;
    }
}

void lr_status_sample(int64_t now_ms)
{
    AVBPrint text;

    av_bprint_init(&text, 0, AV_BPRINT_SIZE_UNLIMITED);
    lr_metrics_render(&text);
    if (!av_bprint_is_complete(&text)) {
        av_bprint_finalize(&text, NULL);
        return;
    }
    pthread_mutex_lock(&st.lock);
    int64_t tick = st.ticks;
    int slot = (int)(tick % LR_STATUS_HISTORY);
    st.t_ms[slot] = now_ms;
    for (int i = 0; i < st.nb; i++)
        st.s[i].v[slot] = NAN;
    read_samples(text.str, tick, NULL);
    for (int i = 0; i < st.nb_up; i++)  /* an upstream's text older than 3 s is stale */
        if (st.up[i].text && now_ms - st.up[i].at_ms <= 3000)
            read_samples(st.up[i].text, tick, st.up[i].origin);
    for (int i = st.nb - 1; i >= 0; i--)
        if (tick - st.s[i].last_tick >= LR_STATUS_HISTORY)
            forget(i);
    st.ticks++;
    pthread_mutex_unlock(&st.lock);
    av_bprint_finalize(&text, NULL);
}

/* The sampler also hands freed memory back to the kernel (heap.h)
 * every HEAP_TRIM_EVERY samples: the one thread every role runs anyway. */
#define HEAP_TRIM_EVERY 10

static void *sampler_thread(void *arg)
{
    unsigned n = 0;

    (void)arg;
    pthread_mutex_lock(&st.wake_lock);
    while (!st.stop) {
        struct timespec ts;
        pthread_mutex_unlock(&st.wake_lock);
        lr_status_sample(wall_ms());
        if (++n % HEAP_TRIM_EVERY == 0)
            lr_heap_trim();
        pthread_mutex_lock(&st.wake_lock);
        /* On the next whole second of the wall clock, so that two
         * processes' samples line up; waited for on the monotonic clock,
         * so that a step of the wall clock doesn't stop the sampler. */
        struct timespec wall;
        clock_gettime(CLOCK_REALTIME, &wall);
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 1000000000L - wall.tv_nsec;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        while (!st.stop && pthread_cond_timedwait(&st.wake, &st.wake_lock, &ts) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&st.wake_lock);
    return NULL;
}

int lr_status_start(const char *roles)
{
    int ret;

    pthread_mutex_lock(&st.wake_lock);
    if (st.started) {
        pthread_mutex_unlock(&st.wake_lock);
        return 0;
    }
    av_strlcpy(st.roles, roles ? roles : "", sizeof(st.roles));
    st.stop = 0;
    /* (no one waits on it while the sampler isn't running) */
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_destroy(&st.wake);
    pthread_cond_init(&st.wake, &attr);
    pthread_condattr_destroy(&attr);
    ret = pthread_create(&st.thread, NULL, sampler_thread, NULL);
    st.started = !ret;
    pthread_mutex_unlock(&st.wake_lock);
    return ret ? AVERROR(ret) : 0;
}

void lr_status_stop(void)
{
    pthread_mutex_lock(&st.wake_lock);
    int started = st.started;
    st.stop = 1;
    pthread_cond_broadcast(&st.wake);
    pthread_mutex_unlock(&st.wake_lock);
    if (started)
        pthread_join(st.thread, NULL);
    pthread_mutex_lock(&st.wake_lock);
    st.started = 0;
    pthread_mutex_unlock(&st.wake_lock);
    /* the history goes too: a start after this begins afresh */
    pthread_mutex_lock(&st.lock);
    while (st.nb)
        forget(st.nb - 1);
    av_freep(&st.s);
    st.cap = 0;
    st.ticks = 0;
    for (int i = 0; i < st.nb_up; i++)
        av_freep(&st.up[i].text);
    st.nb_up = 0;
    pthread_mutex_unlock(&st.lock);
}

/* ---- JSON -------------------------------------------------------------------- */

static void json_string(AVBPrint *out, const char *s, size_t n)
{
    av_bprint_chars(out, '"', 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            av_bprintf(out, "\\%c", c);
        else if (c < 0x20)
            av_bprintf(out, "\\u%04x", c);
        else
            av_bprint_chars(out, (char)c, 1);
    }
    av_bprint_chars(out, '"', 1);
}

/* {a="x",b="y"} of the text format as a JSON object (values unescaped). */
static void json_labels(AVBPrint *out, const char *p)
{
    int first = 1;

    av_bprint_chars(out, '{', 1);
    if (*p == '{')
        p++;
    while (*p && *p != '}') {
        const char *eq = strchr(p, '=');
        char val[512];
        size_t n = 0;
        if (!eq || eq[1] != '"')
            break;
        if (!first)
            av_bprint_chars(out, ',', 1);
        first = 0;
        json_string(out, p, (size_t)(eq - p));
        av_bprint_chars(out, ':', 1);
        for (p = eq + 2; *p && *p != '"'; p++) {
            char c = *p;
            if (c == '\\' && p[1]) {
                c = *++p;
                if (c == 'n')
                    c = '\n';
            }
            if (n < sizeof(val))
                val[n++] = c;
        }
        json_string(out, val, n);
        if (*p == '"')
            p++;
        if (*p == ',')
            p++;
    }
    av_bprint_chars(out, '}', 1);
}

void lr_status_render_json(AVBPrint *out, int64_t since_ms)
{
    char host[128] = "";
    int64_t from, to;
    int first;

    gethostname(host, sizeof(host) - 1);
    pthread_mutex_lock(&st.lock);
    to = st.ticks;
    from = FFMAX(0, to - LR_STATUS_HISTORY);
    while (from < to && st.t_ms[from % LR_STATUS_HISTORY] <= since_ms)
        from++;
    av_bprintf(out, "{\"node\":");
    json_string(out, host, strlen(host));
    av_bprintf(out, ",\"roles\":");
    json_string(out, st.roles, strlen(st.roles));
    av_bprintf(out, ",\"now_ms\":%" PRId64 ",\"interval_ms\":%d,\"t\":[", wall_ms(),
               LR_STATUS_INTERVAL_MS);
    for (int64_t k = from; k < to; k++)
        av_bprintf(out, "%s%" PRId64, k > from ? "," : "", st.t_ms[k % LR_STATUS_HISTORY]);
    av_bprintf(out, "],\"series\":[");
    first = 1;
    for (int i = 0; i < st.nb; i++) {
        const series *s = &st.s[i];
        if (s->last_tick < from)
            continue;
        av_bprintf(out, "%s{\"name\":", first ? "" : ",");
        first = 0;
        json_string(out, s->key, s->name_len);
        av_bprintf(out, ",\"type\":\"%s\",\"labels\":",
                   s->type == 'c' ? "counter" : s->type == 'g' ? "gauge" : "untyped");
        json_labels(out, s->key + s->name_len);
        av_bprintf(out, ",\"v\":[");
        for (int64_t k = from; k < to; k++) {
            float v = s->v[k % LR_STATUS_HISTORY];
            if (k > from)
                av_bprint_chars(out, ',', 1);
            if (isfinite(v))
                av_bprintf(out, "%.7g", v);
            else
                av_bprintf(out, "null");
        }
        av_bprintf(out, "]}");
    }
    av_bprintf(out, "],\"events\":[");
    first = 1;
    for (int64_t k = FFMAX(0, st.nb_ev - LR_STATUS_MAX_EVENTS); k < st.nb_ev; k++) {
        const event *e = &st.ev[k % LR_STATUS_MAX_EVENTS];
        if (e->t_ms <= since_ms)
            continue;
        av_bprintf(out, "%s{\"t_ms\":%" PRId64 ",\"lecture\":", first ? "" : ",", e->t_ms);
        first = 0;
        json_string(out, e->lecture, strlen(e->lecture));
        av_bprintf(out, ",\"kind\":");
        json_string(out, e->kind, strlen(e->kind));
        av_bprintf(out, ",\"text\":");
        json_string(out, e->text, strlen(e->text));
        av_bprint_chars(out, '}', 1);
    }
    av_bprintf(out, "]}\n");
    pthread_mutex_unlock(&st.lock);
}

static void text_field(AVBPrint *out, const char *s)
{
    for (; *s; s++)
        av_bprint_chars(out, *s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s, 1);
}

void lr_status_render_events(AVBPrint *out, int64_t since_ms)
{
    pthread_mutex_lock(&st.lock);
    for (int64_t k = FFMAX(0, st.nb_ev - LR_STATUS_MAX_EVENTS); k < st.nb_ev; k++) {
        const event *e = &st.ev[k % LR_STATUS_MAX_EVENTS];
        if (e->t_ms <= since_ms || e->upstream)
            continue;
        av_bprintf(out, "%" PRId64 "\t", e->t_ms);
        text_field(out, e->lecture);
        av_bprint_chars(out, '\t', 1);
        text_field(out, e->kind);
        av_bprint_chars(out, '\t', 1);
        text_field(out, e->text);
        av_bprint_chars(out, '\n', 1);
    }
    pthread_mutex_unlock(&st.lock);
}

/* ---- the page's files --------------------------------------------------------- */

static const struct {
    const char *name, *type;
} assets[] = {
    { "status.html",       "text/html; charset=utf-8" },
    { "status.js",         "application/javascript" },
    { "status.css",        "text/css" },
    { "uPlot.iife.min.js", "application/javascript" },
    { "uPlot.min.css",     "text/css" },
};

char *lr_status_asset(const char *name, size_t *len, const char **type)
{
    char path[4096], rel[64];
    FILE *f;
    char *buf = NULL;
    long size;

    for (size_t i = 0; i < FF_ARRAY_ELEMS(assets); i++) {
        if (strcmp(name, assets[i].name))
            continue;
        snprintf(rel, sizeof(rel), "assets/%s", name);
        if (lr_datadir_path(path, sizeof(path), rel) < 0 || !(f = fopen(path, "rb")))
            return NULL;
        if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && size < (16 << 20) &&
            fseek(f, 0, SEEK_SET) == 0 && (buf = av_malloc((size_t)size + 1)) &&
            fread(buf, 1, (size_t)size, f) == (size_t)size) {
            buf[size] = '\0';
            *len = (size_t)size;
            *type = assets[i].type;
        } else {
            av_freep(&buf);
        }
        fclose(f);
        return buf;
    }
    return NULL;
}

static int64_t query_since(const char *q)
{
    for (const char *p = q; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL)
        if (!strncmp(p, "since=", 6))
            return strtoll(p + 6, NULL, 10);
    return 0;
}

int lr_status_route(const char *path, const char *query, AVBPrint *out, const char **type,
                    int *status)
{
    const char *name = NULL;
    char *body;
    size_t len;

    if (!strcmp(path, "/api/v1/status")) {
        lr_status_render_json(out, query_since(query));
        *type = "application/json";
        *status = 200;
        return 1;
    }
    if (!strcmp(path, "/api/v1/events")) {
        lr_status_render_events(out, query_since(query));
        *type = "text/plain; charset=utf-8";
        *status = 200;
        return 1;
    }
    if (!strcmp(path, "/status"))
        name = "status.html";
    else if (!strncmp(path, "/assets/", 8) && strcmp(path + 8, "status.html"))
        name = path + 8;
    if (!name)
        return 0;
    if (!(body = lr_status_asset(name, &len, type))) {
        if (strcmp(path, "/status") && !strstr(path, "status") && !strstr(path, "uPlot"))
            return 0;
        av_bprintf(out, "the status page's file %s is not installed\n", name);
        *type = "text/plain";
        *status = 404;
        return 1;
    }
    av_bprint_append_data(out, body, (unsigned)len);
    av_free(body);
    *status = 200;
    return 1;
}
