/* llhls_viewers: n students watching Low-Latency HLS as hls.js does, for
 * bench/soak. One thread, epoll, one keep-alive HTTP/1.1 connection per
 * viewer (opened again when the server closes it). Each viewer GETs
 * /live/<lecture>/master.m3u8 (again each second while it isn't 200), picks
 * a variant at random, GETs its playlist once, then loops: the newest part
 * it hasn't fetched (body read whole and counted), then a blocking reload
 * (?_HLS_msn=M&_HLS_part=P) for the part after it. Every --switch-s seconds
 * (±30 % per viewer) it moves to another variant; on EXT-X-ENDLIST it waits
 * 2 s and starts again at the master. A playlist without EXT-X-PART-INF is
 * polled each target duration, its newest segment fetched instead.
 * Viewers are spread round-robin over the lectures, their starts over
 * min(5 s, n ms). The run stops at --seconds whatever is in flight.
 *
 * usage: llhls_viewers --host 127.0.0.1 --port P --lecture NAME[,NAME...]
 *          --viewers N --seconds S [--switch-s 60] [--seed 1] [--report-s 10]
 *        (--switch-s 0: never switch)
 * prints (stdout, one line each; ms are CLOCK_REALTIME):
 *   error <ms> viewer=<i> lecture=<name> what=<connect|reset|status|timeout|backwards|short|master> detail=<text>
 *   busy <ms> viewer=<i> lecture=<name>       (503 with Retry-After: waits that long)
 *   report <ms> {"viewers":N,"playlists":n,"parts":n,"bytes":n,"errors":n,"busy":n,
 *                "switches":n,"restarts":n,"connections":n,"p50_part_ms":x,"p99_part_ms":y}
 *   done {...the same over the whole run}
 * report counts the last --report-s interval; playlists are media playlists
 * answered 200, parts and bytes the parts (bodies) read whole, restarts the
 * ENDLISTs seen after a live playlist, connections those opened; p50/p99 are
 * the times from sending a blocking reload to its whole 200 answer (0.1 ms
 * steps below 1 s, 1 ms above; null without one). A request not whole in
 * 3 x target duration + 2 s is a timeout; a 404 on a playlist makes a
 * viewer start again at the master, a part lost (any error) is skipped; a
 * response is at most 4 MiB (64 KiB of head); SIGINT/SIGTERM end the run
 * early, with its done line. */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "splitmix.h"

#define PATH_CAP    1024              /* the egress answers 414 above 1024 */
#define REQ_CAP     (PATH_CAP + 256)
#define HEAD_CAP    (64 * 1024)
#define BUF_FIRST   4096
#define BUF_CAP     (4u << 20)        /* one response, head and kept body */
#define MAX_VARS    32
#define HIST_FINE   10000             /* 0.1 ms buckets below 1 s ... */
#define HIST_N      (HIST_FINE + 60000) /* ... then 1 ms up to 61 s */
#define SCAN_MIN_MS 5.0               /* timers: at most one sweep per 5 ms */
#define MASTER_GRACE_MS 30000.0
#define IDLE_RACE_MS 1000.0           /* a server may close a connection idle this long */

enum step { S_MASTER, S_PLAYLIST, S_RELOAD, S_PART };
enum vstate { V_WAIT, V_CONNECTING, V_SENDING, V_READING };
enum phase { P_HEAD, P_BODY, P_UNTIL_EOF, P_CHUNK_SIZE, P_CHUNK_DATA, P_CHUNK_CRLF, P_TRAILER, P_DONE };
enum feed_rc { FEED_MORE, FEED_DONE, FEED_BAD, FEED_BIG };

/* One response being read: the head, then the body when kept (playlists). */
typedef struct resp {
    char     *buf;
    size_t    len, cap, head_len;
    int       phase, status, retry_after;  /* retry_after -1: none */
    bool      keep_body, chunked, close;
    long long clen;                         /* -1: no Content-Length */
    uint64_t  body, chunk_left, seen;       /* seen: bytes of any kind */
    size_t    loc_off, loc_len;             /* Location, within buf */
    char      line[96];                     /* a chunk-size or trailer line */
    size_t    line_len;
} resp;

typedef struct viewer {
    int      idx, lecture, fd;
    uint32_t evmask;
    int      state, step;
    int      fails;          /* connection-level failures in a row */
    int      redirects;
    bool     retried;        /* resent once after a keep-alive close */
    bool     after_idle;     /* sent on a connection idle for IDLE_RACE_MS */
    bool     live_seen;      /* a playlist without ENDLIST since the master */
    bool     master_err;     /* the master's 30 s error is counted */
    bool     poll;           /* no parts: plain reloads, segments */
    double   due;            /* CLOCK_MONOTONIC ms: start (V_WAIT) or timeout */
    double   sent_at, idle_since, master_since, switch_at;
    uint64_t rng;
    char    *vars;           /* the master's variants, one string after another */
    size_t   vars_cap;
    int      nvars, cur_var;
    double   target_s, part_s;
    int64_t  last_mseq, fetched_msn, newest_msn, reload_msn, part_msn;
    int      fetched_part, newest_part, reload_part, part_idx;
    resp     r;
    size_t   out_len, out_off;
    char     variant[PATH_CAP], part_path[PATH_CAP], out[REQ_CAP];
} viewer;

typedef struct stats {
    uint64_t playlists, parts, bytes, errors, busy, switches, restarts, connections, samples;
} stats;

/* What a media playlist says. */
typedef struct plinfo {
    int64_t mseq;
    int     target, nsegs, inprog_parts;
    double  part_target;
    bool    part_inf, endlist, seg_gap;
    char   *last_part;       /* the last EXT-X-PART's attributes */
    int     last_part_rel, last_part_idx;
    char   *seg_uri;         /* the newest complete segment */
} plinfo;

static struct {
    int                     ep, nviewers, nlectures, port;
    char                  **lectures;
    char                    hosthdr[300];
    struct sockaddr_storage addr;
    socklen_t               addr_len;
    double                  now, next_due, switch_s;
    viewer                 *v;
    stats                   cur, tot;
    uint64_t                hist_cur[HIST_N], hist_tot[HIST_N];
    char                    scratch[65536];
} g;

static volatile sig_atomic_t stop;

static void start(viewer *v);

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static long long wall_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}


static const char *lecture_of(const viewer *v)
{
    return g.lectures[v->lecture];
}

/* The path of the request in v->out (for error details). */
static const char *req_path(const viewer *v, char *out, size_t cap)
{
    const char *p = v->out + 4, *e = strchr(p, ' ');
    size_t n = e ? (size_t)(e - p) : 0;
    if (n >= cap)
        n = cap - 1;
    memcpy(out, p, n);
    out[n] = 0;
    return out;
}

static void __attribute__((format(printf, 3, 4)))
say_error(viewer *v, const char *what, const char *fmt, ...)
{
    char d[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d, sizeof(d), fmt, ap);
    va_end(ap);
    for (char *c = d; *c; c++)
        if (*c == '\n' || *c == '\r')
            *c = ' ';
    printf("error %lld viewer=%d lecture=%s what=%s detail=%s\n", wall_ms(), v->idx,
           lecture_of(v), what, d);
    g.cur.errors++;
}

static void hist_add(double ms)
{
    size_t i;
    if (ms < 0)
        ms = 0;
    if (ms < 1000)
        i = (size_t)(ms * 10);
    else
        i = ms - 1000 >= HIST_N - HIST_FINE - 1 ? HIST_N - 1 : HIST_FINE + (size_t)(ms - 1000);
    g.hist_cur[i]++;
    g.cur.samples++;
}

static void percentile(const uint64_t *h, uint64_t n, double q, char *out, size_t cap)
{
    uint64_t rank = (uint64_t)(q * (double)n), seen = 0;
    if (!n) {
        snprintf(out, cap, "null");
        return;
    }
    if ((double)rank < q * (double)n || !rank)
        rank++;
    for (size_t i = 0; i < HIST_N; i++)
        if ((seen += h[i]) >= rank) {
            snprintf(out, cap, "%.1f", i < HIST_FINE ? (double)i / 10 : 1000.0 + (double)(i - HIST_FINE));
            return;
        }
    snprintf(out, cap, "null");
}

static void print_stats(const char *tag, const stats *s, const uint64_t *h)
{
    char p50[32], p99[32];
    percentile(h, s->samples, 0.50, p50, sizeof(p50));
    percentile(h, s->samples, 0.99, p99, sizeof(p99));
    printf("%s {\"viewers\":%d,\"playlists\":%llu,\"parts\":%llu,\"bytes\":%llu,\"errors\":%llu,"
           "\"busy\":%llu,\"switches\":%llu,\"restarts\":%llu,\"connections\":%llu,"
           "\"p50_part_ms\":%s,\"p99_part_ms\":%s}\n",
           tag, g.nviewers, (unsigned long long)s->playlists, (unsigned long long)s->parts,
           (unsigned long long)s->bytes, (unsigned long long)s->errors, (unsigned long long)s->busy,
           (unsigned long long)s->switches, (unsigned long long)s->restarts,
           (unsigned long long)s->connections, p50, p99);
}

/* The interval's numbers go into the run's. */
static void fold_interval(void)
{
    g.tot.playlists += g.cur.playlists;
    g.tot.parts += g.cur.parts;
    g.tot.bytes += g.cur.bytes;
    g.tot.errors += g.cur.errors;
    g.tot.busy += g.cur.busy;
    g.tot.switches += g.cur.switches;
    g.tot.restarts += g.cur.restarts;
    g.tot.connections += g.cur.connections;
    g.tot.samples += g.cur.samples;
    for (size_t i = 0; i < HIST_N; i++)
        g.hist_tot[i] += g.hist_cur[i];
    memset(&g.cur, 0, sizeof(g.cur));
    memset(g.hist_cur, 0, sizeof(g.hist_cur));
}

static void report(void)
{
    char tag[64];
    snprintf(tag, sizeof(tag), "report %lld", wall_ms());
    print_stats(tag, &g.cur, g.hist_cur);
    fold_interval();
}

/* ---- URLs ---- */

/* ref resolved against base (both absolute paths, maybe with a query; an
 * absolute http(s) URL is taken as this server's), dot segments removed:
 * the egress answers 400 to a path with "..". */
static bool resolve(const char *base, const char *ref, char *out, size_t cap)
{
    char joined[2 * PATH_CAP + 8], *q;
    size_t o = 0, plen;

    if (!strncasecmp(ref, "http://", 7) || !strncasecmp(ref, "https://", 8)) {
        ref = strchr(strstr(ref, "//") + 2, '/');
        if (!ref)
            ref = "/";
    }
    if (ref[0] == '/') {
        if (strlen(ref) >= sizeof(joined))
            return false;
        strcpy(joined, ref);
    } else {
        size_t bl = strcspn(base, "?"), rl = strlen(ref);
        while (bl > 0 && base[bl - 1] != '/')
            bl--;
        if (bl + rl >= sizeof(joined))
            return false;
        memcpy(joined, base, bl);
        memcpy(joined + bl, ref, rl + 1);
        if (joined[0] != '/')
            return false;
    }
    q = strchr(joined, '?');
    plen = q ? (size_t)(q - joined) : strlen(joined);
    for (size_t i = 0; i < plen;) {   /* joined[i] == '/' */
        size_t s = i + 1, e = s;
        while (e < plen && joined[e] != '/')
            e++;
        bool last = e >= plen;
        if (e - s == 1 && joined[s] == '.') {
            /* nothing */
        } else if (e - s == 2 && joined[s] == '.' && joined[s + 1] == '.') {
            while (o > 0 && out[--o] != '/')
                ;
        } else {
            if (o + 1 + (e - s) >= cap)
                return false;
            out[o++] = '/';
            memcpy(out + o, joined + s, e - s);
            o += e - s;
            last = false;
        }
        if (last) {
            if (o + 1 >= cap)
                return false;
            out[o++] = '/';
        }
        i = e;
    }
    if (!o)
        out[o++] = '/';
    if (q) {
        size_t ql = strlen(q);
        if (o + ql >= cap)
            return false;
        memcpy(out + o, q, ql);
        o += ql;
    }
    if (o >= cap)
        return false;
    out[o] = 0;
    return true;
}

/* ---- HTTP/1.1 responses ---- */

static void resp_reset(resp *r, bool keep_body)
{
    r->len = r->head_len = 0;
    r->phase = P_HEAD;
    r->status = 0;
    r->retry_after = -1;
    r->keep_body = keep_body;
    r->chunked = r->close = false;
    r->clen = -1;
    r->body = r->chunk_left = r->seen = 0;
    r->loc_off = r->loc_len = 0;
    r->line_len = 0;
}

static bool buf_put(resp *r, const char *p, size_t n)
{
    if (r->len + n + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : BUF_FIRST;
        char *b;
        while (cap < r->len + n + 1)
            cap *= 2;
        if (cap > BUF_CAP || !(b = realloc(r->buf, cap)))
            return false;
        r->buf = b;
        r->cap = cap;
    }
    memcpy(r->buf + r->len, p, n);
    r->len += n;
    r->buf[r->len] = 0;
    return true;
}

static bool body_put(resp *r, const char *p, size_t n)
{
    r->body += n;
    return !r->keep_body || buf_put(r, p, n);
}

/* Whether a header's value (up to the line's end) holds tok. */
static bool value_has(const char *v, const char *tok)
{
    size_t tl = strlen(tok);
    for (; *v && *v != '\r' && *v != '\n'; v++)
        if (!strncasecmp(v, tok, tl))
            return true;
    return false;
}

/* The head is whole in buf[0, head_len): what the body will be. */
static int head_done(resp *r)
{
    char *h = r->buf, *l;
    if (r->head_len < 12 || strncmp(h, "HTTP/1.", 7) || h[8] != ' ')
        return FEED_BAD;
    r->status = atoi(h + 9);
    r->close = h[7] == '0';
    for (l = strchr(h, '\n'); l && *++l; l = strchr(l, '\n')) {
        if (!strncasecmp(l, "content-length:", 15)) {
            char *e;
            r->clen = strtoll(l + 15, &e, 10);
            if (r->clen < 0 || e == l + 15)
                return FEED_BAD;
        } else if (!strncasecmp(l, "transfer-encoding:", 18)) {
            r->chunked = value_has(l + 18, "chunked");
        } else if (!strncasecmp(l, "connection:", 11)) {
            if (value_has(l + 11, "close"))
                r->close = true;
            else if (value_has(l + 11, "keep-alive"))
                r->close = false;
        } else if (!strncasecmp(l, "retry-after:", 12)) {
            char *v = l + 12 + strspn(l + 12, " \t");
            r->retry_after = *v >= '0' && *v <= '9' ? atoi(v) : 1; /* an HTTP-date: 1 s */
        } else if (!strncasecmp(l, "location:", 9)) {
            char *v = l + 9 + strspn(l + 9, " \t");
            r->loc_off = (size_t)(v - h);
            r->loc_len = strcspn(v, "\r\n");
        }
    }
    if (r->status >= 100 && r->status < 200 && r->status != 101) {
        r->len = r->head_len = 0;   /* interim: the real head follows */
        r->clen = -1;
        r->chunked = false;
        r->retry_after = -1;
        r->loc_len = 0;
        return FEED_MORE;
    }
    if (r->status < 200 || r->status > 599)
        return FEED_BAD;
    if (r->status == 204 || r->status == 304) {
        r->phase = P_DONE;
        return FEED_DONE;
    }
    if (r->chunked) {
        r->phase = P_CHUNK_SIZE;
    } else if (r->clen >= 0) {
        r->phase = P_BODY;
        if (!r->clen) {
            r->phase = P_DONE;
            return FEED_DONE;
        }
    } else {
        r->phase = P_UNTIL_EOF;
        r->close = true;
    }
    return FEED_MORE;
}

/* One whole line of the chunked framing (without its '\n'). */
static int chunk_line(resp *r)
{
    char *l = r->line, *e;
    l[r->line_len] = 0;
    r->line_len = 0;
    if (r->phase == P_CHUNK_SIZE) {
        unsigned long long n = strtoull(l, &e, 16);
        if (e == l)
            return FEED_BAD;
        r->chunk_left = n;
        r->phase = n ? P_CHUNK_DATA : P_TRAILER;
        return FEED_MORE;
    }
    if (l[0] && strcmp(l, "\r")) /* a trailer field, or junk after a chunk */
        return r->phase == P_TRAILER ? FEED_MORE : FEED_BAD;
    if (r->phase == P_TRAILER) {
        r->phase = P_DONE;
        return FEED_DONE;
    }
    r->phase = P_CHUNK_SIZE;
    return FEED_MORE;
}

/* Takes n more bytes of the response; bytes after its end are dropped (one
 * request at a time: there should be none). */
static int feed(resp *r, const char *p, size_t n)
{
    r->seen += n;
    while (n > 0) {
        size_t k;
        int rc;
        switch (r->phase) {
        case P_HEAD: {
            size_t from = r->len > 3 ? r->len - 3 : 0, before = r->len;
            char *e;
            k = n < HEAD_CAP - r->len ? n : HEAD_CAP - r->len;
            if (!k || !buf_put(r, p, k))
                return FEED_BIG;
            e = memmem(r->buf + from, r->len - from, "\r\n\r\n", 4);
            if (!e) {
                p += k;
                n -= k;
                break;
            }
            r->head_len = (size_t)(e - r->buf) + 4;
            r->len = r->head_len;
            r->buf[r->len] = 0;
            p += r->head_len - before;
            n -= r->head_len - before;
            if ((rc = head_done(r)) != FEED_MORE)
                return rc;
            break;
        }
        case P_BODY:
            k = (uint64_t)n < (uint64_t)r->clen - r->body ? n : (size_t)((uint64_t)r->clen - r->body);
            if (!body_put(r, p, k))
                return FEED_BIG;
            p += k;
            n -= k;
            if (r->body == (uint64_t)r->clen) {
                r->phase = P_DONE;
                return FEED_DONE;
            }
            break;
        case P_UNTIL_EOF:
            if (!body_put(r, p, n))
                return FEED_BIG;
            n = 0;
            break;
        case P_CHUNK_DATA:
            k = (uint64_t)n < r->chunk_left ? n : (size_t)r->chunk_left;
            if (!body_put(r, p, k))
                return FEED_BIG;
            p += k;
            n -= k;
            if (!(r->chunk_left -= k))
                r->phase = P_CHUNK_CRLF;
            break;
        case P_CHUNK_SIZE:
        case P_CHUNK_CRLF:
        case P_TRAILER:
            for (; n > 0; p++, n--) {
                if (*p == '\n') {
                    p++;
                    n--;
                    if ((rc = chunk_line(r)) != FEED_MORE)
                        return rc;
                    break;
                }
                if (r->line_len >= sizeof(r->line) - 1)
                    return FEED_BAD;
                r->line[r->line_len++] = *p;
            }
            break;
        default:
            return FEED_DONE;
        }
    }
    return FEED_MORE;
}

/* ---- playlists ---- */

/* The value of attribute name in an attribute list, unquoted. */
static bool attr(const char *list, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    const char *p = list;
    while (*p) {
        const char *eq = strchr(p, '='), *v, *ve;
        bool match;
        if (!eq)
            return false;
        match = (size_t)(eq - p) == nl && !strncmp(p, name, nl);
        v = eq + 1;
        if (*v == '"') {
            if (!(ve = strchr(++v, '"')))
                return false;
            p = ve + 1;
        } else {
            ve = v + strcspn(v, ",");
            p = ve;
        }
        if (match) {
            if ((size_t)(ve - v) >= cap)
                return false;
            memcpy(out, v, (size_t)(ve - v));
            out[ve - v] = 0;
            return true;
        }
        p += strcspn(p, ",");
        if (*p)
            p++;
    }
    return false;
}

/* Splits text into lines in place (CR LF or LF); returns the next line. */
static char *next_line(char **cursor)
{
    char *l = *cursor, *nl;
    size_t n;
    if (!*l)
        return NULL;
    if ((nl = strchr(l, '\n'))) {
        *nl = 0;
        *cursor = nl + 1;
    } else {
        *cursor = l + strlen(l);
    }
    n = strlen(l);
    if (n && l[n - 1] == '\r')
        l[n - 1] = 0;
    return l;
}

static void parse_playlist(char *text, plinfo *pl)
{
    char *cur = text, *l, val[64];
    bool gap = false;
    memset(pl, 0, sizeof(*pl));
    while ((l = next_line(&cur))) {
        if (!strncmp(l, "#EXT-X-MEDIA-SEQUENCE:", 22)) {
            pl->mseq = strtoll(l + 22, NULL, 10);
        } else if (!strncmp(l, "#EXT-X-TARGETDURATION:", 22)) {
            pl->target = atoi(l + 22);
        } else if (!strncmp(l, "#EXT-X-PART-INF:", 16)) {
            pl->part_inf = true;
            if (attr(l + 16, "PART-TARGET", val, sizeof(val)))
                pl->part_target = strtod(val, NULL);
        } else if (!strncmp(l, "#EXT-X-PART:", 12)) {
            pl->last_part = l + 12;
            pl->last_part_rel = pl->nsegs;
            pl->last_part_idx = pl->inprog_parts++;
        } else if (!strcmp(l, "#EXT-X-GAP")) {
            gap = true;
        } else if (!strncmp(l, "#EXT-X-ENDLIST", 14)) {
            pl->endlist = true;
        } else if (l[0] && l[0] != '#') {   /* a segment */
            pl->seg_uri = l;
            pl->seg_gap = gap;
            gap = false;
            pl->nsegs++;
            pl->inprog_parts = 0;
        }
        /* EXT-X-DISCONTINUITY, EXT-X-PRELOAD-HINT, the rest: nothing to do */
    }
}

/* ---- viewers ---- */

static double timeout_ms(const viewer *v)
{
    return (3 * v->target_s + 2) * 1000;
}

static void set_due(viewer *v, double t)
{
    v->due = t;
    if (t < g.next_due)
        g.next_due = t;
}

static void set_events(viewer *v, uint32_t mask)
{
    struct epoll_event e = { .events = mask, .data.u64 = (uint64_t)(uint32_t)v->fd << 32 | (uint32_t)v->idx };
    if (v->evmask != mask && epoll_ctl(g.ep, EPOLL_CTL_MOD, v->fd, &e) == 0)
        v->evmask = mask;
}

static void conn_close(viewer *v)
{
    if (v->fd >= 0)
        close(v->fd);
    v->fd = -1;
    v->evmask = 0;
}

/* Does step next, after delay_ms. */
static void issue(viewer *v, int step, double delay_ms)
{
    v->step = step;
    v->retried = false;
    if (delay_ms > 0) {
        v->state = V_WAIT;
        set_due(v, g.now + delay_ms);
    } else {
        start(v);
    }
}

/* A failure of the connection: the request again (a part: the next reload)
 * at once the first time, then after 0.5, 1, 2, 4 s; after a refused
 * connect 1, 2, 4 s. */
static void fail_conn(viewer *v, bool connecting)
{
    int f = ++v->fails;
    double d = connecting ? 1000.0 * (1 << (f - 1 < 2 ? f - 1 : 2))
                          : f == 1 ? 0 : 500.0 * (1 << (f - 2 < 3 ? f - 2 : 3));
    conn_close(v);
    if (v->step == S_PART) {   /* a player moves on past a part it lost */
        v->fetched_msn = v->part_msn;
        v->fetched_part = v->part_idx;
        issue(v, v->poll ? S_PLAYLIST : S_RELOAD, d);
        return;
    }
    issue(v, v->step, d);
}

static void fail_connect(viewer *v, int err)
{
    say_error(v, "connect", "%s", strerror(err));
    fail_conn(v, true);
}

/* The connection went away before the answer was whole. */
static void lost(viewer *v, const char *why)
{
    char path[PATH_CAP];
    if (!v->r.seen && v->after_idle && !v->retried) {
        /* the server closed an idle kept-alive connection as we reused it:
         * a browser sends again, once */
        v->retried = true;
        conn_close(v);
        start(v);
        return;
    }
    if (v->step == S_PART && v->r.phase != P_HEAD)
        say_error(v, "short", "%s after %llu of %lld body bytes of %s", why,
                  (unsigned long long)v->r.body, v->r.clen, req_path(v, path, sizeof(path)));
    else
        say_error(v, "reset", "%s after %llu bytes of the answer to %s", why,
                  (unsigned long long)v->r.seen, req_path(v, path, sizeof(path)));
    fail_conn(v, false);
}

static void send_req(viewer *v)
{
    ssize_t k;
    if (!v->out_off)
        v->sent_at = now_ms();
    k = send(v->fd, v->out + v->out_off, v->out_len - v->out_off, MSG_NOSIGNAL);
    if (k < 0 && errno != EAGAIN && errno != EINTR) {
        lost(v, strerror(errno));
        return;
    }
    if (k > 0)
        v->out_off += (size_t)k;
    if (v->out_off < v->out_len) {
        v->state = V_SENDING;
        set_events(v, EPOLLOUT);
        return;
    }
    v->state = V_READING;
    set_events(v, EPOLLIN);
}

static void start(viewer *v)
{
    char path[PATH_CAP + 64];
    int n;
    switch (v->step) {
    case S_MASTER:
        n = snprintf(path, sizeof(path), "/live/%s/master.m3u8", lecture_of(v));
        break;
    case S_PLAYLIST:
        n = snprintf(path, sizeof(path), "%s", v->variant);
        break;
    case S_RELOAD:
        n = snprintf(path, sizeof(path), "%s%c_HLS_msn=%lld&_HLS_part=%d", v->variant,
                     strchr(v->variant, '?') ? '&' : '?', (long long)v->reload_msn, v->reload_part);
        break;
    default:
        n = snprintf(path, sizeof(path), "%s", v->part_path);
        break;
    }
    if (n < 0 || n >= PATH_CAP ||
        (n = snprintf(v->out, sizeof(v->out),
                      "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: llhls_viewers\r\nAccept: */*\r\n\r\n",
                      path, g.hosthdr)) < 0 || n >= (int)sizeof(v->out)) {
        say_error(v, "status", "a path over %d bytes", PATH_CAP);
        issue(v, S_MASTER, 1000);
        return;
    }
    v->out_len = (size_t)n;
    v->out_off = 0;
    resp_reset(&v->r, v->step != S_PART);
    set_due(v, g.now + timeout_ms(v));
    v->after_idle = v->fd >= 0 && g.now - v->idle_since >= IDLE_RACE_MS;
    if (v->fd >= 0) {
        send_req(v);
        return;
    }

    int fd = socket(g.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0) {
        fail_connect(v, errno);
        return;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    v->fd = fd;
    g.cur.connections++;
    struct epoll_event e = { .events = EPOLLOUT, .data.u64 = (uint64_t)(uint32_t)fd << 32 | (uint32_t)v->idx };
    if (epoll_ctl(g.ep, EPOLL_CTL_ADD, fd, &e) < 0) {
        fail_connect(v, errno);
        return;
    }
    v->evmask = EPOLLOUT;
    if (connect(fd, (const struct sockaddr *)&g.addr, g.addr_len) == 0) {
        send_req(v);
    } else if (errno == EINPROGRESS) {
        v->state = V_CONNECTING;
    } else {
        fail_connect(v, errno);
    }
}

static double switch_interval(viewer *v)
{
    return g.switch_s > 0 ? g.switch_s * 1000 * (0.7 + 0.6 * rand_unit(&v->rng)) : 1e300;
}

static void set_variant(viewer *v, int i)
{
    const char *s = v->vars;
    for (int k = 0; k < i; k++)
        s += strlen(s) + 1;
    snprintf(v->variant, sizeof(v->variant), "%s", s);
    v->cur_var = i;
    v->last_mseq = v->fetched_msn = v->newest_msn = -1;
    v->fetched_part = v->newest_part = -1;
    v->poll = false;
    v->redirects = 0;
}

/* The next playlist request, or a switch when one is due. */
static void next_reload(viewer *v, double delay_ms)
{
    if (g.now >= v->switch_at) {
        v->switch_at = g.now + switch_interval(v);
        if (v->nvars > 1) {
            int j = (int)(splitmix64(&v->rng) % (uint64_t)(v->nvars - 1));
            set_variant(v, j >= v->cur_var ? j + 1 : j);
            g.cur.switches++;
            issue(v, S_PLAYLIST, 0);
            return;
        }
    }
    issue(v, v->poll ? S_PLAYLIST : S_RELOAD, delay_ms);
}

static bool newer(int64_t am, int ap, int64_t bm, int bp)
{
    return am > bm || (am == bm && ap > bp);
}

static void on_master(viewer *v)
{
    resp *r = &v->r;
    if (r->status == 200) {
        char *cur = r->buf + r->head_len, *l;
        const char *base = "/live/";
        char master[PATH_CAP], uri[PATH_CAP];
        bool want = false;
        size_t used = 0;
        snprintf(master, sizeof(master), "%s%s/master.m3u8", base, lecture_of(v));
        v->nvars = 0;
        while ((l = next_line(&cur)) && v->nvars < MAX_VARS) {
            if (!strncmp(l, "#EXT-X-STREAM-INF", 17)) {
                want = true;
            } else if (want && l[0] && l[0] != '#') {
                want = false;
                if (!resolve(master, l, uri, sizeof(uri)))
                    continue;
                size_t ul = strlen(uri) + 1;
                if (used + ul > v->vars_cap) {
                    size_t cap = v->vars_cap ? v->vars_cap : 256;
                    char *b;
                    while (cap < used + ul)
                        cap *= 2;
                    if (!(b = realloc(v->vars, cap)))
                        break;
                    v->vars = b;
                    v->vars_cap = cap;
                }
                memcpy(v->vars + used, uri, ul);
                used += ul;
                v->nvars++;
            }
        }
        if (v->nvars > 0) {
            v->master_since = 0;
            v->master_err = false;
            v->live_seen = false;
            set_variant(v, (int)(splitmix64(&v->rng) % (uint64_t)v->nvars));
            v->switch_at = g.now + switch_interval(v);
            issue(v, S_PLAYLIST, 0);
            return;
        }
    }
    /* not live (yet): a player asks again */
    if (!v->master_since)
        v->master_since = g.now;
    else if (g.now - v->master_since > MASTER_GRACE_MS && !v->master_err) {
        v->master_err = true;
        say_error(v, "master", "no live master for %.0f s (status %d%s)", MASTER_GRACE_MS / 1000,
                  r->status, r->status == 200 ? ", no variants" : "");
    }
    issue(v, S_MASTER, 1000);
}

static void on_playlist(viewer *v, double latency)
{
    resp *r = &v->r;
    char path[PATH_CAP], uri[PATH_CAP];
    plinfo pl;

    if (r->status >= 300 && r->status < 400 && r->loc_len) {
        /* a rendition the link stopped carrying redirects to a stand-in */
        char loc[PATH_CAP];
        if (++v->redirects <= 5 && r->loc_len < sizeof(loc)) {
            memcpy(loc, r->buf + r->loc_off, r->loc_len);
            loc[r->loc_len] = 0;
            if (resolve(v->variant, loc, uri, sizeof(uri))) {
                uri[strcspn(uri, "?")] = 0;
                snprintf(v->variant, sizeof(v->variant), "%s", uri);
                v->last_mseq = v->fetched_msn = v->newest_msn = -1;
                v->fetched_part = v->newest_part = -1;
                issue(v, S_PLAYLIST, 0);
                return;
            }
        }
    }
    if (r->status != 200) {
        say_error(v, "status", "%d on %s", r->status, req_path(v, path, sizeof(path)));
        issue(v, r->status == 404 || v->redirects > 5 ? S_MASTER : S_PLAYLIST, 1000);
        return;
    }
    v->redirects = 0;
    g.cur.playlists++;
    if (v->step == S_RELOAD)
        hist_add(latency);
    parse_playlist(r->buf + r->head_len, &pl);

    if (pl.endlist) {   /* the lecture ended: wait for it to come back */
        if (v->live_seen)
            g.cur.restarts++;
        v->live_seen = false;
        issue(v, S_MASTER, 2000);
        return;
    }
    v->live_seen = true;
    if (v->last_mseq >= 0 && pl.mseq < v->last_mseq)
        say_error(v, "backwards", "media sequence %lld after %lld on %s", (long long)pl.mseq,
                  (long long)v->last_mseq, v->variant);
    v->last_mseq = pl.mseq;
    if (pl.target > 0)
        v->target_s = pl.target;
    if (pl.part_target > 0)
        v->part_s = pl.part_target;

    if (!pl.part_inf && !pl.last_part) {   /* not LL: poll, segments */
        int64_t msn = pl.mseq + pl.nsegs - 1;
        v->poll = true;
        if (pl.seg_uri && msn > v->fetched_msn && !pl.seg_gap &&
            resolve(v->variant, pl.seg_uri, v->part_path, sizeof(v->part_path))) {
            v->part_msn = msn;
            v->part_idx = -1;
            issue(v, S_PART, 0);
        } else {
            next_reload(v, v->target_s * 1000);
        }
        return;
    }
    v->poll = false;
    v->reload_msn = pl.mseq + pl.nsegs;
    v->reload_part = pl.inprog_parts;
    if (pl.last_part) {
        int64_t msn = pl.mseq + pl.last_part_rel;
        int idx = pl.last_part_idx;
        bool advanced = newer(msn, idx, v->newest_msn, v->newest_part);
        if (advanced) {
            v->newest_msn = msn;
            v->newest_part = idx;
        }
        if (newer(msn, idx, v->fetched_msn, v->fetched_part)) {
            char gap[8];
            if ((attr(pl.last_part, "GAP", gap, sizeof(gap)) && !strcmp(gap, "YES")) ||
                !attr(pl.last_part, "URI", uri, sizeof(uri)) ||
                !resolve(v->variant, uri, v->part_path, sizeof(v->part_path))) {
                v->fetched_msn = msn;   /* nothing to fetch there */
                v->fetched_part = idx;
            } else {
                v->part_msn = msn;
                v->part_idx = idx;
                issue(v, S_PART, 0);
                return;
            }
        }
        /* a reload that brought nothing new: don't ask again at once */
        next_reload(v, v->step == S_RELOAD && !advanced ? v->part_s * 1000 : 0);
        return;
    }
    next_reload(v, 0);
}

static void on_part(viewer *v)
{
    resp *r = &v->r;
    char path[PATH_CAP];
    if (r->status != 200)
        say_error(v, "status", "%d on %s", r->status, req_path(v, path, sizeof(path)));
    else if (r->clen >= 0 && r->body != (uint64_t)r->clen)
        say_error(v, "short", "%llu of %lld body bytes of %s", (unsigned long long)r->body, r->clen,
                  req_path(v, path, sizeof(path)));
    else {
        g.cur.parts++;
        g.cur.bytes += r->body;
    }
    v->fetched_msn = v->part_msn;   /* fetched, or given up */
    v->fetched_part = v->part_idx;
    next_reload(v, v->poll ? v->target_s * 1000 : 0);
}

/* A whole answer. The body stays in v->r until the next request starts. */
static void on_response(viewer *v)
{
    resp *r = &v->r;
    double latency = now_ms() - v->sent_at;
    v->fails = 0;
    v->state = V_WAIT;
    v->idle_since = g.now;
    if (r->close)
        conn_close(v);
    if (r->status == 503 && r->retry_after >= 0) {
        printf("busy %lld viewer=%d lecture=%s\n", wall_ms(), v->idx, lecture_of(v));
        g.cur.busy++;
        issue(v, v->step, r->retry_after > 0 ? r->retry_after * 1000.0 : 200);
        return;
    }
    switch (v->step) {
    case S_MASTER:
        on_master(v);
        break;
    case S_PLAYLIST:
    case S_RELOAD:
        on_playlist(v, latency);
        break;
    default:
        on_part(v);
        break;
    }
}

static void on_readable(viewer *v)
{
    ssize_t k = recv(v->fd, g.scratch, sizeof(g.scratch), 0);
    char path[PATH_CAP];
    if (k < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (v->state == V_WAIT) {   /* kept alive, idle: closed (or junk) */
        conn_close(v);
        return;
    }
    if (k > 0) {
        switch (feed(&v->r, g.scratch, (size_t)k)) {
        case FEED_DONE:
            on_response(v);
            break;
        case FEED_BAD:
            say_error(v, "reset", "malformed response to %s", req_path(v, path, sizeof(path)));
            fail_conn(v, false);
            break;
        case FEED_BIG:
            say_error(v, "short", "response to %s over %u bytes", req_path(v, path, sizeof(path)),
                      v->r.phase == P_HEAD ? HEAD_CAP : BUF_CAP);
            fail_conn(v, false);
            break;
        }
        return;
    }
    if (k == 0 && v->r.phase == P_UNTIL_EOF) {
        v->r.close = true;
        on_response(v);
        return;
    }
    lost(v, k == 0 ? "closed" : strerror(errno));
}

static void on_event(viewer *v)
{
    int err = 0;
    socklen_t l = sizeof(err);
    switch (v->state) {
    case V_CONNECTING:
        if (getsockopt(v->fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
            err = errno;
        if (err)
            fail_connect(v, err);
        else
            send_req(v);
        break;
    case V_SENDING:
        send_req(v);
        break;
    default:
        on_readable(v);
        break;
    }
}

static void on_timeout(viewer *v)
{
    char path[PATH_CAP];
    say_error(v, "timeout", "%s not whole after %.1f s (%s)", req_path(v, path, sizeof(path)),
              timeout_ms(v) / 1000,
              v->state == V_CONNECTING ? "connecting" : v->state == V_SENDING ? "sending" : "reading");
    fail_conn(v, false);
}

/* Viewers whose time has come: a request to start, or one too slow. */
static void sweep(void)
{
    double next = 1e300;
    for (int i = 0; i < g.nviewers; i++) {
        viewer *v = &g.v[i];
        if (v->due <= g.now) {
            if (v->state == V_WAIT)
                start(v);
            else
                on_timeout(v);
        }
        if (v->due < next)
            next = v->due;
    }
    g.next_due = next > g.now + SCAN_MIN_MS ? next : g.now + SCAN_MIN_MS;
}

static void usage(void)
{
    fprintf(stderr, "usage: llhls_viewers --host 127.0.0.1 --port P --lecture NAME[,NAME...] --viewers N "
                    "--seconds S [--switch-s 60] [--seed 1] [--report-s 10]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "host", required_argument, NULL, 'h' },     { "port", required_argument, NULL, 'p' },
        { "lecture", required_argument, NULL, 'l' },  { "viewers", required_argument, NULL, 'n' },
        { "seconds", required_argument, NULL, 's' },  { "switch-s", required_argument, NULL, 'w' },
        { "seed", required_argument, NULL, 'r' },     { "report-s", required_argument, NULL, 'i' },
        { NULL, 0, NULL, 0 },
    };
    const char *host = "127.0.0.1";
    char *lectures = NULL, portstr[16];
    double seconds = 0, report_s = 10;
    unsigned long long seed = 1;
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
    struct rlimit rl;
    struct sigaction sa = { .sa_handler = on_signal };
    int o;

    g.switch_s = 60;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'h': host = optarg; break;
        case 'p': g.port = atoi(optarg); break;
        case 'l': lectures = optarg; break;
        case 'n': g.nviewers = atoi(optarg); break;
        case 's': seconds = strtod(optarg, NULL); break;
        case 'w': g.switch_s = strtod(optarg, NULL); break;
        case 'r': seed = strtoull(optarg, NULL, 10); break;
        case 'i': report_s = strtod(optarg, NULL); break;
        default: usage();
        }
    }
    if (optind != argc || g.port <= 0 || g.port > 65535 || !lectures || !*lectures ||
        g.nviewers <= 0 || seconds <= 0 || report_s <= 0 || g.switch_s < 0)
        usage();

    /* lectures: one copy, split at the commas */
    if (!(lectures = strdup(lectures)))
        return 1;
    g.nlectures = 1;
    for (char *c = lectures; *c; c++)
        g.nlectures += *c == ',';
    if (!(g.lectures = calloc((size_t)g.nlectures, sizeof(*g.lectures))))
        return 1;
    g.nlectures = 0;
    for (char *tok = strtok(lectures, ","); tok; tok = strtok(NULL, ","))
        g.lectures[g.nlectures++] = tok;
    if (!g.nlectures)
        usage();

    snprintf(portstr, sizeof(portstr), "%d", g.port);
    if ((o = getaddrinfo(host, portstr, &hints, &ai))) {
        fprintf(stderr, "llhls_viewers: %s: %s\n", host, gai_strerror(o));
        return 1;
    }
    memcpy(&g.addr, ai->ai_addr, ai->ai_addrlen);
    g.addr_len = ai->ai_addrlen;
    freeaddrinfo(ai);
    snprintf(g.hosthdr, sizeof(g.hosthdr), strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, g.port);

    /* a descriptor per viewer, and some */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)g.nviewers + 64) {
        rlim_t need = (rlim_t)g.nviewers + 64;
        rl.rlim_cur = need;
        if (rl.rlim_max < need)
            rl.rlim_max = need;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
            fprintf(stderr, "llhls_viewers: RLIMIT_NOFILE %llu: %s\n", (unsigned long long)need,
                    strerror(errno));
            return 1;
        }
    }

    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    alarm((unsigned)seconds + 10);   /* a backstop only: the loop ends at --seconds */

    if ((g.ep = epoll_create1(EPOLL_CLOEXEC)) < 0 || !(g.v = calloc((size_t)g.nviewers, sizeof(*g.v)))) {
        perror("llhls_viewers");
        return 1;
    }
    g.now = now_ms();
    double t0 = g.now, end = t0 + seconds * 1000, next_report = t0 + report_s * 1000;
    double spread = g.nviewers < 5000 ? g.nviewers : 5000;
    g.next_due = t0;
    for (int i = 0; i < g.nviewers; i++) {
        viewer *v = &g.v[i];
        v->idx = i;
        v->lecture = i % g.nlectures;
        v->fd = -1;
        v->rng = seed * 0x100000001b3ull + (uint64_t)i;  /* each viewer its own stream */
        splitmix64(&v->rng);
        v->target_s = 2;
        v->part_s = 1;
        v->step = S_MASTER;
        v->state = V_WAIT;
        v->due = t0 + spread * i / g.nviewers;
        v->switch_at = 1e300;
    }

    while (!stop) {
        struct epoll_event ev[1024];
        double wake;
        int n, timeout;
        g.now = now_ms();
        if (g.now >= end)
            break;
        if (g.now >= next_report) {
            report();
            while (next_report <= g.now)
                next_report += report_s * 1000;
        }
        if (g.now >= g.next_due)
            sweep();
        wake = g.next_due < next_report ? g.next_due : next_report;
        wake = wake < end ? wake : end;
        timeout = wake <= g.now ? 0 : (int)(wake - g.now) + 1;
        n = epoll_wait(g.ep, ev, 1024, timeout > 1000 ? 1000 : timeout);
        g.now = now_ms();
        for (int j = 0; j < n; j++) {
            viewer *v = &g.v[(uint32_t)ev[j].data.u64];
            if (v->fd == (int)(ev[j].data.u64 >> 32))   /* not a descriptor closed since */
                on_event(v);
        }
    }

    fold_interval();
    print_stats("done", &g.tot, g.hist_tot);
    for (int i = 0; i < g.nviewers; i++) {
        conn_close(&g.v[i]);
        free(g.v[i].r.buf);
        free(g.v[i].vars);
    }
    free(g.v);
    free(g.lectures);
    free(lectures);
    close(g.ep);
    return 0;
}
