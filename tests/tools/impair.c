/* tests/tools/impair.c — the border impairment proxy: a UDP relay between an
 * SRT caller and an SRT listener that adds delay, jitter, loss, loss bursts, a
 * rate cap and blackouts, each direction on its own. Run by
 * tests/system/test_impair.py and by hand (docs/border.md); not linked into
 * lecture-relay. */

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "splitmix.h"

#define NS_PER_MS 1000000LL
#define NS_PER_S  1000000000LL

#define MAX_BLACKOUTS   32
#define MAX_CLIENTS     1024
#define MAX_HELD_BYTES  (256LL << 20)  /* all delay lines together; more is a queue drop */
#define READ_BATCH      256            /* datagrams read from one socket per wake-up */
#define SOCKET_BUFFER   (4 << 20)

enum { UP, DOWN, NB_DIRS };
static const char *const dir_name[NB_DIRS] = { "up", "down" };

/* ------------------------------------------------------------------------ */
/* Options: one table for the per-direction settings (--X sets both,
 * --up-X / --down-X override one direction, whatever the order). */

typedef struct window {
    int64_t start_ns, len_ns;       /* from the proxy's start */
} window;

typedef struct dir_conf {
    double delay_ms, jitter_ms;
    int    jitter_normal;           /* 0 uniform in [-jitter, +jitter], 1 normal, sigma = jitter */
    int    reorder;
    double loss_pct;
    double ge_burst_ms, ge_burst_pkts;
    double ge_p_gb, ge_p_bg, ge_loss_bad, ge_loss_good;
    double rate_kbps, queue_bytes, queue_ms;
    window blackout[MAX_BLACKOUTS];
    int    nb_blackout;
    uint32_t set;                   /* bit i: dir_opts[i] was given */
} dir_conf;

typedef enum { T_NUM, T_MS, T_FLAG, T_DIST, T_BLACKOUT } opt_type;

typedef struct dir_opt {
    const char *name;
    opt_type    type;
    size_t      off;
    double      min, max;
    const char *arg, *help;
} dir_opt;

#define O(f) offsetof(dir_conf, f)
static const dir_opt dir_opts[] = {
    { "delay",        T_MS,   O(delay_ms),      0, 600000, "MS",  "fixed one-way delay (units: us, ms, s; default ms)" },
    { "jitter",       T_MS,   O(jitter_ms),     0, 600000, "MS",  "added to the delay: uniform in [-J, +J], or normal with sigma J" },
    { "jitter-dist",  T_DIST, O(jitter_normal), 0, 1,      "DIST", "uniform (default) or normal" },
    { "reorder",      T_FLAG, O(reorder),       0, 1,      NULL,  "let jitter reorder packets (default: FIFO, a late packet holds later ones)" },
    { "loss",         T_NUM,  O(loss_pct),      0, 100,    "PCT", "random loss; with --ge-burst-* the average loss of the bursts" },
    { "ge-burst-ms",  T_MS,   O(ge_burst_ms),   0, 600000, "MS",  "Gilbert-Elliott bursts of this mean length in time (needs --loss)" },
    { "ge-burst-pkts",T_NUM,  O(ge_burst_pkts), 1, 1e9,    "N",   "Gilbert-Elliott bursts of this mean length in packets (needs --loss)" },
    { "ge-p-gb",      T_NUM,  O(ge_p_gb),       0, 100,    "PCT", "explicit Gilbert-Elliott: chance per packet to go good -> bad" },
    { "ge-p-bg",      T_NUM,  O(ge_p_bg),       0, 100,    "PCT", "explicit Gilbert-Elliott: chance per packet to go bad -> good" },
    { "ge-loss-bad",  T_NUM,  O(ge_loss_bad),   0, 100,    "PCT", "explicit Gilbert-Elliott: loss in the bad state (default 100)" },
    { "ge-loss-good", T_NUM,  O(ge_loss_good),  0, 100,    "PCT", "explicit Gilbert-Elliott: loss in the good state (default 0)" },
    { "rate-kbps",    T_NUM,  O(rate_kbps),     0, 1e8,    "KBPS","bandwidth cap in kbit/s (0: none)" },
    { "queue-bytes",  T_NUM,  O(queue_bytes),   1, 1e9,    "BYTES","bottleneck queue; tail drop when full" },
    { "queue-ms",     T_MS,   O(queue_ms),      0, 600000, "MS",  "bottleneck queue as time at the cap (default 200 ms)" },
    { "blackout",     T_BLACKOUT, O(blackout),  0, 0,      "START+LEN", "drop everything from START for LEN (units: ms, s; default s); repeatable" },
};
#undef O
#define NB_DIR_OPTS (sizeof(dir_opts) / sizeof(dir_opts[0]))

typedef struct conf {
    const char *listen, *to, *stats_file;
    uint64_t seed;
    int64_t  report_ns, idle_ns;
    dir_conf both, only[NB_DIRS];   /* as given */
    dir_conf dir[NB_DIRS];          /* merged: both, then the direction's own */
} conf;

/* ------------------------------------------------------------------------ */
/* Run-time state. */

typedef struct stats {
    uint64_t in, in_bytes, passed, passed_bytes;
    uint64_t dropped_loss, dropped_queue, dropped_blackout, send_errors;
    uint64_t delayed, reordered, queued;
} stats;

static const struct { const char *name; size_t off; } stat_fields[] = {
    { "in",               offsetof(stats, in) },
    { "passed",           offsetof(stats, passed) },
    { "dropped_loss",     offsetof(stats, dropped_loss) },
    { "dropped_queue",    offsetof(stats, dropped_queue) },
    { "dropped_blackout", offsetof(stats, dropped_blackout) },
    { "send_errors",      offsetof(stats, send_errors) },
    { "delayed",          offsetof(stats, delayed) },
    { "reordered",        offsetof(stats, reordered) },
    { "queued",           offsetof(stats, queued) },
    { "bytes_in",         offsetof(stats, in_bytes) },
    { "bytes_passed",     offsetof(stats, passed_bytes) },
};
#define NB_STAT_FIELDS (sizeof(stat_fields) / sizeof(stat_fields[0]))

typedef enum { GE_OFF, GE_PACKETS, GE_TIME } ge_mode;

typedef struct direction {
    const dir_conf *c;
    stats    st;
    uint64_t rng_loss, rng_ge, rng_jitter;  /* one splitmix64 stream per purpose */
    ge_mode  ge;
    bool     ge_bad;
    double   p_gb, p_bg, loss_bad, loss_good;  /* probabilities 0..1 */
    double   mean_good_ns, mean_bad_ns;        /* GE_TIME sojourns */
    int64_t  ge_switch_ns;
    double   rate_bps, queue_bytes;
    int64_t  link_free_ns;          /* the bottleneck is busy until then */
    int64_t  last_due_ns;           /* latest departure scheduled so far */
    bool     scheduled_on;          /* a --blackout window is active (as last printed) */
} direction;

enum { EV_LISTEN, EV_TIMER, EV_SIGNAL, EV_CLIENT };

typedef struct client {
    int kind;                       /* EV_CLIENT; first, for the epoll tag */
    struct sockaddr_storage addr;
    socklen_t addr_len;
    int fd;                         /* connected to --to */
    int64_t last_seen_ns;
    unsigned pending;               /* packets of this client in the delay line */
    char name[64];
} client;

typedef struct pkt {
    int64_t  due_ns;
    uint64_t seq;                   /* breaks ties: equal due times leave in arrival order */
    client  *c;
    int      dir;
    size_t   len;
    unsigned char data[];
} pkt;

typedef struct proxy {
    conf *cf;
    int ep, listen_fd, timer_fd, signal_fd;
    int kind_listen, kind_timer, kind_signal;  /* epoll tags */
    struct sockaddr_storage to;
    socklen_t to_len;
    int64_t t0, armed_ns, next_report_ns, next_sweep_ns;
    direction dir[NB_DIRS];
    bool manual_blackout, cap_lifted, stop;
    client *clients[MAX_CLIENTS];
    int nb_clients;
    pkt **heap;
    size_t heap_n, heap_cap;
    int64_t held_bytes;
    uint64_t seq;
} proxy;

/* ------------------------------------------------------------------------ */
/* Small helpers. */

static void die_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("impair: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n(impair --help lists the options)\n", stderr);
    va_end(ap);
    exit(2);
}

static void logmsg(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("impair: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}


static double rand_normal(uint64_t *s)
{
    double u1 = 1.0 - rand_unit(s), u2 = rand_unit(s);  /* u1 in (0, 1] */
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static double rand_exp(uint64_t *s, double mean)
{
    return -mean * log(1.0 - rand_unit(s));
}

static uint64_t stream_seed(uint64_t seed, int dir, int purpose)
{
    uint64_t s = seed ^ (0xa0761d6478bd642fULL * (uint64_t)(dir * 8 + purpose + 1));
    return splitmix64(&s);
}

/* "100", "100ms", "1.5s", "250us" -> ms; unit when bare. 0 on success. */
static int parse_duration_ms(const char *s, double unit_ms, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !isfinite(v) || v < 0)
        return -1;
    if (!*end)
        v *= unit_ms;
    else if (!strcmp(end, "ms"))
        ;
    else if (!strcmp(end, "s"))
        v *= 1000;
    else if (!strcmp(end, "us"))
        v /= 1000;
    else
        return -1;
    *out = v;
    return 0;
}

static void format_addr(const struct sockaddr_storage *a, char *buf, size_t size)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)a;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        port = ntohs(in->sin_port);
        snprintf(buf, size, "%s:%u", host, port);
    } else {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)a;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        port = ntohs(in6->sin6_port);
        snprintf(buf, size, "[%s]:%u", host, port);
    }
}

/* "HOST:PORT" or "[V6]:PORT". 0 on success. */
static int resolve(const char *spec, bool port_may_be_0, struct sockaddr_storage *out,
                   socklen_t *out_len, const char **why)
{
    char host[256];
    const char *colon = strrchr(spec, ':');
    if (!colon || colon == spec || !colon[1]) {
        *why = "expected HOST:PORT";
        return -1;
    }
    size_t hl = (size_t)(colon - spec);
    if (hl >= sizeof(host)) {
        *why = "host too long";
        return -1;
    }
    memcpy(host, spec, hl);
    host[hl] = 0;
    if (host[0] == '[' && hl >= 2 && host[hl - 1] == ']') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = 0;
    }
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535 || (port == 0 && !port_may_be_0)) {
        *why = port_may_be_0 ? "port must be 0..65535" : "port must be 1..65535";
        return -1;
    }
    struct addrinfo hints = { .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICSERV }, *res;
    if (getaddrinfo(host, colon + 1, &hints, &res) || !res) {
        *why = "unknown host";
        return -1;
    }
    memcpy(out, res->ai_addr, res->ai_addrlen);
    *out_len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Command line. */

static void usage(FILE *f)
{
    fputs("usage: impair --listen HOST:PORT --to HOST:PORT [options]\n"
          "\n"
          "A UDP relay that simulates a lossy, slow border between an SRT caller\n"
          "(sends to --listen) and an SRT listener (at --to). \"up\" is listen -> to,\n"
          "\"down\" is to -> listen. Each client source address gets its own upstream\n"
          "socket, so several callers can share one proxy.\n"
          "\n"
          "  --listen HOST:PORT      where callers send (port 0: pick one); always prints\n"
          "                          'listening on HOST:PORT' on stdout\n"
          "  --to HOST:PORT          the upstream (SRT listener)\n"
          "  --seed N                PRNG seed (default 1); same seed + same input order\n"
          "                          = same per-packet decisions\n"
          "  --report-interval DUR   print the counters every DUR (e.g. 1s; default: only at exit)\n"
          "  --stats-file PATH       also write them as JSON to PATH (replaced atomically)\n"
          "  --idle-timeout DUR      forget a client silent for DUR (default 60s)\n"
          "  --help                  this text\n"
          "\n"
          "Per direction: --X sets both, --up-X and --down-X override one:\n", f);
    for (size_t i = 0; i < NB_DIR_OPTS; i++) {
        char left[64];
        snprintf(left, sizeof(left), "--%s%s%s", dir_opts[i].name,
                 dir_opts[i].arg ? " " : "", dir_opts[i].arg ? dir_opts[i].arg : "");
        fprintf(f, "  %-23s %s\n", left, dir_opts[i].help);
    }
    fputs("\n"
          "Order inside the proxy: blackout, loss, bottleneck queue (--rate-kbps),\n"
          "delay + jitter, and a blackout again at departure: nothing leaves during one.\n"
          "\n"
          "Control: SIGUSR1 toggles a blackout of both directions and prints\n"
          "'blackout both on (SIGUSR1)' / 'blackout both off (SIGUSR1)' once it holds;\n"
          "SIGHUP lifts the --rate-kbps caps and puts them back ('rate cap off/on (SIGHUP)');\n"
          "SIGUSR2 prints the counters (and writes --stats-file) now; SIGTERM/SIGINT\n"
          "print them and exit 0. Bad arguments exit 2.\n"
          "\n"
          "example: impair --listen 127.0.0.1:9000 --to 127.0.0.1:9001 --seed 7 --delay 100\n"
          "         --jitter 10 --loss 10 --ge-burst-ms 100 --rate-kbps 4000 --queue-ms 200\n"
          "         --blackout 10s+5s --down-loss 2\n", f);
}

static void parse_blackout(dir_conf *dc, const char *opt, const char *v)
{
    char buf[128];
    const char *plus = strchr(v, '+');
    double start = 0, len = 0;
    if (!plus || (size_t)(plus - v) >= sizeof(buf))
        die_usage("%s: '%s' is not START+LEN (e.g. 10s+5s)", opt, v);
    memcpy(buf, v, (size_t)(plus - v));
    buf[plus - v] = 0;
    if (parse_duration_ms(buf, 1000, &start) || parse_duration_ms(plus + 1, 1000, &len) || len <= 0)
        die_usage("%s: '%s' is not START+LEN with durations (e.g. 10s+5s, 1500ms+2s)", opt, v);
    if (dc->nb_blackout == MAX_BLACKOUTS)
        die_usage("%s: at most %d blackouts per direction", opt, MAX_BLACKOUTS);
    dc->blackout[dc->nb_blackout++] = (window){ (int64_t)(start * NS_PER_MS), (int64_t)(len * NS_PER_MS) };
}

static void set_dir_opt(dir_conf *dc, size_t i, const char *opt, const char *v)
{
    const dir_opt *o = &dir_opts[i];
    char *p = (char *)dc + o->off;
    double d;
    char *end;
    switch (o->type) {
    case T_FLAG:
        *(int *)p = 1;
        break;
    case T_DIST:
        if (!strcmp(v, "uniform"))
            *(int *)p = 0;
        else if (!strcmp(v, "normal"))
            *(int *)p = 1;
        else
            die_usage("%s: '%s' is neither uniform nor normal", opt, v);
        break;
    case T_BLACKOUT:
        parse_blackout(dc, opt, v);
        break;
    case T_MS:
        if (parse_duration_ms(v, 1, &d))
            die_usage("%s: '%s' is not a duration (e.g. 100, 100ms, 0.1s)", opt, v);
        goto range;
    case T_NUM:
        errno = 0;
        d = strtod(v, &end);
        if (end == v || *end || errno || !isfinite(d))
            die_usage("%s: '%s' is not a number", opt, v);
    range:
        if (d < o->min || d > o->max)
            die_usage("%s: %g is out of range %g..%g", opt, d, o->min, o->max);
        *(double *)p = d;
        break;
    }
    dc->set |= 1u << i;
}

static bool is_set(const dir_conf *dc, const char *name)
{
    for (size_t i = 0; i < NB_DIR_OPTS; i++)
        if (!strcmp(dir_opts[i].name, name))
            return dc->set & (1u << i);
    return false;
}

static void merge_dir(dir_conf *out, const dir_conf *both, const dir_conf *own)
{
    *out = (dir_conf){ .ge_loss_bad = 100 };
    for (int layer = 0; layer < 2; layer++) {
        const dir_conf *src = layer ? own : both;
        for (size_t i = 0; i < NB_DIR_OPTS; i++) {
            const dir_opt *o = &dir_opts[i];
            if (!(src->set & (1u << i)))
                continue;
            if (o->type == T_BLACKOUT) {
                for (int k = 0; k < src->nb_blackout; k++) {
                    if (out->nb_blackout == MAX_BLACKOUTS)
                        die_usage("--blackout: at most %d blackouts per direction", MAX_BLACKOUTS);
                    out->blackout[out->nb_blackout++] = src->blackout[k];
                }
            } else if (o->type == T_NUM || o->type == T_MS) {
                *(double *)((char *)out + o->off) = *(const double *)((const char *)src + o->off);
            } else {
                *(int *)((char *)out + o->off) = *(const int *)((const char *)src + o->off);
            }
            out->set |= 1u << i;
        }
    }
}

static void check_dir(const dir_conf *dc, const char *dn)
{
    bool burst = is_set(dc, "ge-burst-ms") || is_set(dc, "ge-burst-pkts");
    bool explicit_ge = is_set(dc, "ge-p-gb") || is_set(dc, "ge-p-bg");
    if (is_set(dc, "ge-burst-ms") && is_set(dc, "ge-burst-pkts"))
        die_usage("%s: give --ge-burst-ms or --ge-burst-pkts, not both", dn);
    if (burst && explicit_ge)
        die_usage("%s: give either --loss with --ge-burst-*, or --ge-p-gb/--ge-p-bg", dn);
    if (explicit_ge && is_set(dc, "loss"))
        die_usage("%s: --loss with --ge-p-gb/--ge-p-bg is ambiguous; use --ge-burst-ms or "
                  "--ge-burst-pkts to make --loss bursty", dn);
    if (explicit_ge && !(is_set(dc, "ge-p-gb") && is_set(dc, "ge-p-bg")))
        die_usage("%s: explicit Gilbert-Elliott needs both --ge-p-gb and --ge-p-bg", dn);
    if (!explicit_ge && (is_set(dc, "ge-loss-bad") || is_set(dc, "ge-loss-good")))
        die_usage("%s: --ge-loss-bad/--ge-loss-good go with --ge-p-gb/--ge-p-bg", dn);
    if (burst && dc->loss_pct >= 100)
        die_usage("%s: bursts of 100%% loss never end; use a --loss below 100", dn);
    if (is_set(dc, "queue-bytes") && is_set(dc, "queue-ms"))
        die_usage("%s: give --queue-bytes or --queue-ms, not both", dn);
    if ((is_set(dc, "queue-bytes") || is_set(dc, "queue-ms")) && dc->rate_kbps <= 0)
        die_usage("%s: a queue needs --rate-kbps", dn);
}

static void parse_args(conf *cf, int argc, char **argv)
{
    *cf = (conf){ .seed = 1, .idle_ns = 60 * NS_PER_S,
                  .both = { .ge_loss_bad = 100 },
                  .only = { { .ge_loss_bad = 100 }, { .ge_loss_bad = 100 } } };
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a], *value = NULL;
        char name[64];
        if (strncmp(arg, "--", 2))
            die_usage("unexpected argument '%s'", arg);
        const char *eq = strchr(arg, '=');
        size_t nl = eq ? (size_t)(eq - arg) : strlen(arg);
        if (nl >= sizeof(name))
            die_usage("unknown option '%s'", arg);
        memcpy(name, arg, nl);
        name[nl] = 0;
        if (!strcmp(name, "--help")) {
            usage(stdout);
            exit(0);
        }
        /* which table, which direction */
        const char *base = name + 2;
        dir_conf *dc = &cf->both;
        if (!strncmp(base, "up-", 3)) {
            base += 3;
            dc = &cf->only[UP];
        } else if (!strncmp(base, "down-", 5)) {
            base += 5;
            dc = &cf->only[DOWN];
        }
        size_t i;
        for (i = 0; i < NB_DIR_OPTS; i++)
            if (!strcmp(dir_opts[i].name, base))
                break;
        bool wants_value = i == NB_DIR_OPTS || dir_opts[i].type != T_FLAG;
        if (wants_value) {
            if (eq)
                value = eq + 1;
            else if (a + 1 < argc)
                value = argv[++a];
            else
                die_usage("%s needs a value", name);
        } else if (eq) {
            die_usage("%s takes no value", name);
        }
        if (i < NB_DIR_OPTS) {
            set_dir_opt(dc, i, name, value);
            continue;
        }
        if (dc != &cf->both)
            die_usage("unknown option '%s'", name);
        double ms;
        if (!strcmp(name, "--listen")) {
            cf->listen = value;
        } else if (!strcmp(name, "--to")) {
            cf->to = value;
        } else if (!strcmp(name, "--stats-file")) {
            cf->stats_file = value;
        } else if (!strcmp(name, "--seed")) {
            char *end;
            errno = 0;
            cf->seed = strtoull(value, &end, 0);
            if (end == value || *end || errno || value[0] == '-')
                die_usage("--seed: '%s' is not an unsigned integer", value);
        } else if (!strcmp(name, "--report-interval") || !strcmp(name, "--idle-timeout")) {
            if (parse_duration_ms(value, 1000, &ms))
                die_usage("%s: '%s' is not a duration (e.g. 1s, 500ms)", name, value);
            int64_t ns = (int64_t)(ms * NS_PER_MS);
            if (name[2] == 'r') {
                if (ns != 0 && ns < 10 * NS_PER_MS)
                    die_usage("--report-interval: at least 10ms (or 0: only at exit)");
                cf->report_ns = ns;
            } else {
                if (ns < NS_PER_S)
                    die_usage("--idle-timeout: at least 1s");
                cf->idle_ns = ns;
            }
        } else {
            die_usage("unknown option '%s'", name);
        }
    }
    if (!cf->listen || !cf->to)
        die_usage("--listen and --to are required");
    for (int d = 0; d < NB_DIRS; d++) {
        merge_dir(&cf->dir[d], &cf->both, &cf->only[d]);
        check_dir(&cf->dir[d], dir_name[d]);
    }
}

/* ------------------------------------------------------------------------ */
/* Delay line: a binary min-heap of packets ordered by (due, seq). */

static bool pkt_before(const pkt *a, const pkt *b)
{
    return a->due_ns < b->due_ns || (a->due_ns == b->due_ns && a->seq < b->seq);
}

static int heap_push(proxy *p, pkt *k)
{
    if (p->heap_n == p->heap_cap) {
        size_t cap = p->heap_cap ? p->heap_cap * 2 : 1024;
        pkt **h = realloc(p->heap, cap * sizeof(*h));
        if (!h)
            return -ENOMEM;
        p->heap = h;
        p->heap_cap = cap;
    }
    size_t i = p->heap_n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!pkt_before(k, p->heap[parent]))
            break;
        p->heap[i] = p->heap[parent];
        i = parent;
    }
    p->heap[i] = k;
    return 0;
}

static pkt *heap_pop(proxy *p)
{
    pkt *top = p->heap[0], *last = p->heap[--p->heap_n];
    size_t i = 0, n = p->heap_n;
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        const pkt *best = last;
        if (l < n && pkt_before(p->heap[l], best))
            m = l, best = p->heap[l];
        if (l + 1 < n && pkt_before(p->heap[l + 1], best))
            m = l + 1;
        if (m == i)
            break;
        p->heap[i] = p->heap[m];
        i = m;
    }
    if (n)
        p->heap[i] = last;
    return top;
}

/* ------------------------------------------------------------------------ */
/* The impairments. */

static void setup_direction(proxy *p, int d)
{
    direction *dr = &p->dir[d];
    const dir_conf *c = &p->cf->dir[d];
    dr->c = c;
    dr->rng_loss = stream_seed(p->cf->seed, d, 0);
    dr->rng_ge = stream_seed(p->cf->seed, d, 1);
    dr->rng_jitter = stream_seed(p->cf->seed, d, 2);
    double loss = c->loss_pct / 100;
    if (c->ge_p_gb > 0 || c->ge_p_bg > 0) {
        dr->ge = GE_PACKETS;
        dr->p_gb = c->ge_p_gb / 100;
        dr->p_bg = c->ge_p_bg / 100;
        dr->loss_bad = c->ge_loss_bad / 100;
        dr->loss_good = c->ge_loss_good / 100;
    } else if (c->ge_burst_pkts > 0 && loss > 0) {
        /* mean burst N packets: p_bg = 1/N; time in bad = p_gb / (p_gb + p_bg) = loss */
        dr->ge = GE_PACKETS;
        dr->p_bg = 1.0 / c->ge_burst_pkts;
        dr->p_gb = fmin(1.0, loss * dr->p_bg / (1 - loss));
        dr->loss_bad = 1;
    } else if (c->ge_burst_ms > 0 && loss > 0) {
        /* exponential sojourns: mean bad B, mean good B (1 - loss) / loss */
        dr->ge = GE_TIME;
        dr->mean_bad_ns = c->ge_burst_ms * NS_PER_MS;
        dr->mean_good_ns = dr->mean_bad_ns * (1 - loss) / loss;
        dr->ge_switch_ns = p->t0 + (int64_t)rand_exp(&dr->rng_ge, dr->mean_good_ns);
        dr->loss_bad = 1;
    }
    dr->rate_bps = c->rate_kbps * 1000;
    if (dr->rate_bps > 0) {
        double q_ms = is_set(c, "queue-ms") ? c->queue_ms : 200;
        dr->queue_bytes = is_set(c, "queue-bytes") ? c->queue_bytes : dr->rate_bps / 8 * q_ms / 1000;
    }
}

static void describe_direction(const proxy *p, int d)
{
    const direction *dr = &p->dir[d];
    const dir_conf *c = dr->c;
    char ge[128] = "", rate[96] = "";
    if (dr->ge == GE_PACKETS)
        snprintf(ge, sizeof(ge), " ge=packets(p_gb=%.4g%% p_bg=%.4g%% bad=%.4g%% good=%.4g%%)",
                 dr->p_gb * 100, dr->p_bg * 100, dr->loss_bad * 100, dr->loss_good * 100);
    else if (dr->ge == GE_TIME)
        snprintf(ge, sizeof(ge), " ge=time(bad %.4gms good %.4gms mean)",
                 dr->mean_bad_ns / NS_PER_MS, dr->mean_good_ns / NS_PER_MS);
    if (dr->rate_bps > 0)
        snprintf(rate, sizeof(rate), " rate=%.6gkbps queue=%.0fB", c->rate_kbps, dr->queue_bytes);
    logmsg("%s: delay=%gms jitter=%gms(%s%s) loss=%g%%%s%s blackouts=%d", dir_name[d],
           c->delay_ms, c->jitter_ms, c->jitter_normal ? "normal" : "uniform",
           c->reorder ? ",reorder" : "", c->loss_pct, ge, rate, c->nb_blackout);
}

static bool scheduled_blackout(const proxy *p, const direction *dr, int64_t now)
{
    int64_t t = now - p->t0;
    for (int i = 0; i < dr->c->nb_blackout; i++) {
        const window *w = &dr->c->blackout[i];
        if (t >= w->start_ns && t < w->start_ns + w->len_ns)
            return true;
    }
    return false;
}

static bool blacked_out(const proxy *p, const direction *dr, int64_t now)
{
    return p->manual_blackout || scheduled_blackout(p, dr, now);
}

/* One draw per packet from the loss stream whenever loss is configured, so
 * the same seed and input order give the same decisions. */
static bool lose(direction *dr, int64_t now)
{
    switch (dr->ge) {
    case GE_OFF:
        return dr->c->loss_pct > 0 && rand_unit(&dr->rng_loss) * 100 < dr->c->loss_pct;
    case GE_PACKETS:
        if (dr->ge_bad ? rand_unit(&dr->rng_ge) < dr->p_bg : rand_unit(&dr->rng_ge) < dr->p_gb)
            dr->ge_bad = !dr->ge_bad;
        break;
    case GE_TIME:
        if ((double)(now - dr->ge_switch_ns) > 100 * (dr->mean_bad_ns + dr->mean_good_ns)) {
            /* long idle: restart from the stationary distribution */
            double bad_share = dr->mean_bad_ns / (dr->mean_bad_ns + dr->mean_good_ns);
            dr->ge_bad = rand_unit(&dr->rng_ge) < bad_share;
            dr->ge_switch_ns = now + (int64_t)rand_exp(&dr->rng_ge, dr->ge_bad ? dr->mean_bad_ns
                                                                                : dr->mean_good_ns);
        }
        while (now >= dr->ge_switch_ns) {
            dr->ge_bad = !dr->ge_bad;
            dr->ge_switch_ns += 1 + (int64_t)rand_exp(&dr->rng_ge, dr->ge_bad ? dr->mean_bad_ns
                                                                               : dr->mean_good_ns);
        }
        break;
    }
    double l = dr->ge_bad ? dr->loss_bad : dr->loss_good;
    double u = rand_unit(&dr->rng_loss);
    return u < l;
}

static void take_packet(proxy *p, client *c, int d, const unsigned char *buf, size_t len, int64_t now)
{
    direction *dr = &p->dir[d];
    const dir_conf *cfg = dr->c;
    dr->st.in++;
    dr->st.in_bytes += len;
    if (blacked_out(p, dr, now)) {
        dr->st.dropped_blackout++;
        return;
    }
    if (lose(dr, now)) {
        dr->st.dropped_loss++;
        return;
    }
    int64_t base = now, due;
    if (dr->rate_bps > 0 && !p->cap_lifted) {
        int64_t start = dr->link_free_ns > now ? dr->link_free_ns : now;
        double backlog = (double)(start - now) * dr->rate_bps / 8 / NS_PER_S;
        if (start > now && backlog + (double)len > dr->queue_bytes) {
            dr->st.dropped_queue++;
            return;
        }
        dr->link_free_ns = start + (int64_t)((double)len * 8 * NS_PER_S / dr->rate_bps);
        base = dr->link_free_ns;
    }
    if (p->held_bytes + (int64_t)len > MAX_HELD_BYTES) {
        dr->st.dropped_queue++;
        return;
    }
    double jitter = 0;
    if (cfg->jitter_ms > 0)
        jitter = cfg->jitter_normal ? rand_normal(&dr->rng_jitter) * cfg->jitter_ms
                                    : (rand_unit(&dr->rng_jitter) * 2 - 1) * cfg->jitter_ms;
    due = base + (int64_t)((cfg->delay_ms + jitter) * NS_PER_MS);
    if (due < base)
        due = base;
    if (due < dr->last_due_ns) {
        if (cfg->reorder)
            dr->st.reordered++;
        else
            due = dr->last_due_ns;      /* FIFO: the packet ahead holds this one */
    }
    if (due > dr->last_due_ns)
        dr->last_due_ns = due;
    pkt *k = malloc(sizeof(*k) + len);
    if (k) {
        *k = (pkt){ .due_ns = due, .seq = p->seq++, .c = c, .dir = d, .len = len };
        memcpy(k->data, buf, len);
    }
    if (!k || heap_push(p, k) < 0) {
        free(k);
        dr->st.dropped_queue++;
        logmsg("%s: out of memory, packet dropped", dir_name[d]);
        return;
    }
    if (due > now)
        dr->st.delayed++;
    dr->st.queued++;
    c->pending++;
    p->held_bytes += (int64_t)len;
}

static void send_packet(proxy *p, pkt *k, int64_t now)
{
    direction *dr = &p->dir[k->dir];
    client *c = k->c;
    dr->st.queued--;
    c->pending--;
    p->held_bytes -= (int64_t)k->len;
    if (blacked_out(p, dr, now)) {
        dr->st.dropped_blackout++;
        return;
    }
    ssize_t n;
    if (k->dir == UP)
        n = send(c->fd, k->data, k->len, MSG_DONTWAIT);
    else
        n = sendto(p->listen_fd, k->data, k->len, MSG_DONTWAIT,
                   (const struct sockaddr *)&c->addr, c->addr_len);
    if (n < 0) {
        dr->st.send_errors++;
        return;
    }
    dr->st.passed++;
    dr->st.passed_bytes += k->len;
}

/* ------------------------------------------------------------------------ */
/* Clients: one upstream socket per caller source address. */

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return false;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
    return x->sin6_port == y->sin6_port && !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr));
}

static void set_buffers(int fd)
{
    int size = SOCKET_BUFFER;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
}

static client *find_client(proxy *p, const struct sockaddr_storage *from, socklen_t len, int64_t now)
{
    for (int i = 0; i < p->nb_clients; i++)
        if (same_addr(&p->clients[i]->addr, from))
            return p->clients[i];
    char name[64];
    format_addr(from, name, sizeof(name));
    if (p->nb_clients == MAX_CLIENTS) {
        logmsg("client %s refused: already %d clients", name, MAX_CLIENTS);
        return NULL;
    }
    client *c = calloc(1, sizeof(*c));
    if (!c) {
        logmsg("client %s refused: out of memory", name);
        return NULL;
    }
    c->kind = EV_CLIENT;
    c->fd = socket(p->to.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0 || connect(c->fd, (const struct sockaddr *)&p->to, p->to_len) < 0) {
        logmsg("client %s refused: upstream socket: %s", name, strerror(errno));
        goto fail;
    }
    set_buffers(c->fd);
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
    if (epoll_ctl(p->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
        logmsg("client %s refused: epoll: %s", name, strerror(errno));
        goto fail;
    }
    memcpy(&c->addr, from, len);
    c->addr_len = len;
    c->last_seen_ns = now;
    memcpy(c->name, name, sizeof(name));
    p->clients[p->nb_clients++] = c;
    struct sockaddr_storage local;
    socklen_t ll = sizeof(local);
    char via[64] = "?";
    if (!getsockname(c->fd, (struct sockaddr *)&local, &ll))
        format_addr(&local, via, sizeof(via));
    logmsg("client %s: new, relayed from %s (%d clients)", name, via, p->nb_clients);
    return c;
fail:
    if (c->fd >= 0)
        close(c->fd);
    free(c);
    return NULL;
}

/* Forget clients silent for --idle-timeout with nothing left in the delay line. */
static void sweep_clients(proxy *p, int64_t now)
{
    for (int i = 0; i < p->nb_clients;) {
        client *c = p->clients[i];
        if (now - c->last_seen_ns < p->cf->idle_ns || c->pending) {
            i++;
            continue;
        }
        logmsg("client %s: idle, forgotten (%d clients)", c->name, p->nb_clients - 1);
        epoll_ctl(p->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        free(c);
        p->clients[i] = p->clients[--p->nb_clients];
    }
}

static void read_listen(proxy *p)
{
    static unsigned char buf[65536];
    for (int i = 0; i < READ_BATCH; i++) {
        struct sockaddr_storage from;
        socklen_t fl = sizeof(from);
        ssize_t n = recvfrom(p->listen_fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNREFUSED)
                logmsg("listen socket: %s", strerror(errno));
            return;
        }
        int64_t now = now_ns();
        client *c = find_client(p, &from, fl, now);
        if (!c)
            continue;
        c->last_seen_ns = now;
        take_packet(p, c, UP, buf, (size_t)n, now);
    }
}

static void read_upstream(proxy *p, client *c)
{
    static unsigned char buf[65536];
    for (int i = 0; i < READ_BATCH; i++) {
        ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0) {
            /* ECONNREFUSED: the upstream is not listening (yet); SRT retries */
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNREFUSED)
                logmsg("client %s: upstream socket: %s", c->name, strerror(errno));
            return;
        }
        int64_t now = now_ns();
        c->last_seen_ns = now;
        take_packet(p, c, DOWN, buf, (size_t)n, now);
    }
}

/* ------------------------------------------------------------------------ */
/* Reports: one line per direction on stdout, and the JSON stats file. */

static uint64_t stat_value(const stats *st, size_t i)
{
    return *(const uint64_t *)((const char *)st + stat_fields[i].off);
}

static void write_stats_file(proxy *p, int64_t now)
{
    const char *path = p->cf->stats_file;
    char tmp[4096];
    if (!path)
        return;
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
        logmsg("--stats-file: path too long");
        return;
    }
    FILE *f = fopen(tmp, "w");
    if (!f) {
        logmsg("--stats-file %s: %s", tmp, strerror(errno));
        return;
    }
    fprintf(f, "{\"seed\": %" PRIu64 ", \"elapsed_s\": %.3f, \"clients\": %d, \"blackout_manual\": %s",
            p->cf->seed, (double)(now - p->t0) / NS_PER_S, p->nb_clients,
            p->manual_blackout ? "true" : "false");
    for (int d = 0; d < NB_DIRS; d++) {
        fprintf(f, ",\n \"%s\": {", dir_name[d]);
        for (size_t i = 0; i < NB_STAT_FIELDS; i++)
            fprintf(f, "%s\"%s\": %" PRIu64, i ? ", " : "", stat_fields[i].name,
                    stat_value(&p->dir[d].st, i));
        fputc('}', f);
    }
    fputs("}\n", f);
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        logmsg("--stats-file %s: %s", path, strerror(errno));
}

static void report(proxy *p, int64_t now)
{
    for (int d = 0; d < NB_DIRS; d++) {
        printf("report t=%.3f %s", (double)(now - p->t0) / NS_PER_S, dir_name[d]);
        for (size_t i = 0; i < NB_STAT_FIELDS; i++)
            printf(" %s=%" PRIu64, stat_fields[i].name, stat_value(&p->dir[d].st, i));
        putchar('\n');
    }
    fflush(stdout);
    write_stats_file(p, now);
}

/* ------------------------------------------------------------------------ */
/* The loop. */

static void announce_scheduled_blackouts(proxy *p, int64_t now)
{
    for (int d = 0; d < NB_DIRS; d++) {
        direction *dr = &p->dir[d];
        bool on = scheduled_blackout(p, dr, now);
        if (on != dr->scheduled_on) {
            dr->scheduled_on = on;
            printf("blackout %s %s (scheduled)\n", dir_name[d], on ? "on" : "off");
            fflush(stdout);
        }
    }
}

static int64_t next_blackout_edge(const proxy *p, int64_t now)
{
    int64_t next = INT64_MAX;
    for (int d = 0; d < NB_DIRS; d++)
        for (int i = 0; i < p->dir[d].c->nb_blackout; i++) {
            const window *w = &p->dir[d].c->blackout[i];
            int64_t a = p->t0 + w->start_ns, b = a + w->len_ns;
            if (a > now && a < next)
                next = a;
            if (b > now && b < next)
                next = b;
        }
    return next;
}

/* Sends what is due, prints what is due; returns the next deadline. */
static int64_t run_due(proxy *p, int64_t now)
{
    announce_scheduled_blackouts(p, now);
    while (p->heap_n && p->heap[0]->due_ns <= now) {
        pkt *k = heap_pop(p);
        send_packet(p, k, now);
        free(k);
    }
    if (p->cf->report_ns && now >= p->next_report_ns) {
        report(p, now);
        while (p->next_report_ns <= now)
            p->next_report_ns += p->cf->report_ns;
    }
    if (now >= p->next_sweep_ns) {
        sweep_clients(p, now);
        p->next_sweep_ns = now + NS_PER_S;
    }
    int64_t next = next_blackout_edge(p, now);
    if (p->heap_n && p->heap[0]->due_ns < next)
        next = p->heap[0]->due_ns;
    if (p->cf->report_ns && p->next_report_ns < next)
        next = p->next_report_ns;
    if (p->nb_clients && p->next_sweep_ns < next)
        next = p->next_sweep_ns;
    return next;
}

static int arm_timer(proxy *p, int64_t when)
{
    if (when == p->armed_ns)
        return 0;
    struct itimerspec its = { 0 };
    if (when != INT64_MAX) {
        its.it_value.tv_sec = when / NS_PER_S;
        its.it_value.tv_nsec = when % NS_PER_S;
    }
    if (timerfd_settime(p->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0) {
        logmsg("timerfd: %s", strerror(errno));
        return -1;
    }
    p->armed_ns = when;
    return 0;
}

static void handle_signals(proxy *p, int64_t now)
{
    struct signalfd_siginfo si;
    while (read(p->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        switch (si.ssi_signo) {
        case SIGUSR1:
            p->manual_blackout = !p->manual_blackout;
            printf("blackout both %s (SIGUSR1)\n", p->manual_blackout ? "on" : "off");
            fflush(stdout);
            break;
        case SIGUSR2:
            report(p, now);
            break;
        case SIGHUP:  /* the bottleneck widens (and narrows again): shedding tests */
            p->cap_lifted = !p->cap_lifted;
            printf("rate cap %s (SIGHUP)\n", p->cap_lifted ? "off" : "on");
            fflush(stdout);
            break;
        default:
            p->stop = true;
            break;
        }
    }
}

static int open_listen(proxy *p)
{
    const char *why;
    struct sockaddr_storage la;
    socklen_t ll;
    if (resolve(p->cf->listen, true, &la, &ll, &why) < 0)
        die_usage("--listen %s: %s", p->cf->listen, why);
    if (resolve(p->cf->to, false, &p->to, &p->to_len, &why) < 0)
        die_usage("--to %s: %s", p->cf->to, why);
    p->listen_fd = socket(la.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p->listen_fd < 0 || bind(p->listen_fd, (struct sockaddr *)&la, ll) < 0) {
        logmsg("--listen %s: %s", p->cf->listen, strerror(errno));
        return -1;
    }
    set_buffers(p->listen_fd);
    ll = sizeof(la);
    getsockname(p->listen_fd, (struct sockaddr *)&la, &ll);
    char name[64];
    format_addr(&la, name, sizeof(name));
    printf("listening on %s\n", name);
    fflush(stdout);
    return 0;
}

static int add_fd(proxy *p, int fd, int *tag)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = tag };
    return epoll_ctl(p->ep, EPOLL_CTL_ADD, fd, &ev);
}

static int run(proxy *p)
{
    struct epoll_event evs[64];
    while (!p->stop) {
        int64_t next = run_due(p, now_ns());
        if (arm_timer(p, next) < 0)
            return -1;
        int n = epoll_wait(p->ep, evs, 64, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            logmsg("epoll_wait: %s", strerror(errno));
            return -1;
        }
        for (int i = 0; i < n; i++) {
            int kind = *(int *)evs[i].data.ptr;
            if (kind == EV_LISTEN) {
                read_listen(p);
            } else if (kind == EV_TIMER) {
                uint64_t expirations;
                if (read(p->timer_fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
                    logmsg("timerfd read: %s", strerror(errno));
                p->armed_ns = 0;   /* fired: re-arm even for the same time */
            } else if (kind == EV_SIGNAL) {
                handle_signals(p, now_ns());
            } else {
                read_upstream(p, evs[i].data.ptr);
            }
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    conf cf;
    proxy px = { .cf = &cf, .ep = -1, .listen_fd = -1, .timer_fd = -1, .signal_fd = -1,
                 .kind_listen = EV_LISTEN, .kind_timer = EV_TIMER, .kind_signal = EV_SIGNAL };
    proxy *p = &px;
    int ret = 1;

    parse_args(&cf, argc, argv);
    signal(SIGPIPE, SIG_IGN);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGUSR1);
    sigaddset(&mask, SIGUSR2);
    sigaddset(&mask, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
        goto fail;
    p->signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    p->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    p->ep = epoll_create1(EPOLL_CLOEXEC);
    if (p->signal_fd < 0 || p->timer_fd < 0 || p->ep < 0) {
        logmsg("setup: %s", strerror(errno));
        goto fail;
    }
    p->t0 = now_ns();
    p->next_report_ns = p->t0 + cf.report_ns;
    p->next_sweep_ns = p->t0 + NS_PER_S;
    p->armed_ns = -1;
    if (open_listen(p) < 0)
        goto fail;
    if (add_fd(p, p->listen_fd, &p->kind_listen) < 0 || add_fd(p, p->timer_fd, &p->kind_timer) < 0 ||
        add_fd(p, p->signal_fd, &p->kind_signal) < 0) {
        logmsg("epoll: %s", strerror(errno));
        goto fail;
    }
    logmsg("relaying %s -> %s, seed %" PRIu64, cf.listen, cf.to, cf.seed);
    for (int d = 0; d < NB_DIRS; d++) {
        setup_direction(p, d);
        describe_direction(p, d);
    }
    if (run(p) < 0)
        goto fail;
    report(p, now_ns());
    ret = 0;
fail:
    while (p->heap_n)
        free(heap_pop(p));
    free(p->heap);
    for (int i = 0; i < p->nb_clients; i++) {
        close(p->clients[i]->fd);
        free(p->clients[i]);
    }
    if (p->listen_fd >= 0)
        close(p->listen_fd);
    if (p->timer_fd >= 0)
        close(p->timer_fd);
    if (p->signal_fd >= 0)
        close(p->signal_fd);
    if (p->ep >= 0)
        close(p->ep);
    return ret;
}
