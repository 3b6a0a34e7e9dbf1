/* app/top.c — `lecture-relay top`: scrapes the roles' /metrics
 * (app/scrape.c) every interval, reads them (app/prom_text.c), folds the
 * samples into one view per lecture and draws it: in place on a terminal
 * (the alternate screen, like top or htop; q or Ctrl-C quits and gives the
 * terminal back as it was), or as one plain line per lecture per refresh.
 * Counters become rates from two consecutive scrapes; the first refresh
 * shows them since the start, as vmstat and iostat do. Called by
 * app/main.c. */
#include "top.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <libavutil/bprint.h>
#include <libavutil/common.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "prom_text.h"
#include "scrape.h"

#define MAX_TARGETS      32
#define DEFAULT_INTERVAL 2.0
#define LECTURE_WIDTH    16
#define SOURCE_MIN_WIDTH 14

/* ---- the command line ------------------------------------------------------ */

typedef struct top_opts {
    double            interval; /* seconds */
    int               once;
    const char       *token;
    const char       *cafile;
    lr_scrape_target *targets;
    int               nb_targets;
} top_opts;

static void top_usage(FILE *f)
{
    fprintf(f, "usage: lecture-relay top [--token T] [--interval SECONDS] [--once] [--cacert FILE] "
               "URL...\n\n"
               "Every lecture across the given roles, refreshed in place: the active source and\n"
               "its bitrate, the links' round-trip time and loss, the rungs (and those shed),\n"
               "the viewers and the age of the newest segment. Each URL is a role's metrics\n"
               "address (its metrics: key, or the egress's http: address), e.g.\n"
               "http://127.0.0.1:9101 or https://egress.example.cn; /metrics is added.\n"
               "q or Ctrl-C quits. When stdout is not a terminal, one plain line per lecture per\n"
               "refresh; --once: one refresh, then exit (1 if a role did not answer).\n"
               "--token (or LR_METRICS_TOKEN in the environment) is sent as a bearer token\n"
               "(egress.metrics_token) to roles on other machines. https:// checks the\n"
               "certificate against the system's CAs, or those in --cacert FILE.\n");
}

static int parse_interval(const char *s, double *out)
{
    char  *end;
    double v = strtod(s, &end);

    if (end == s || *end || !isfinite(v) || v < 0.1 || v > 3600)
        return AVERROR(EINVAL);
    *out = v;
    return 0;
}

/* Returns 0, 1 for --help (printed), or 2 after an error message. */
static int parse_options(int argc, char **argv, top_opts *o)
{
    char err[600];

    *o = (top_opts){ .interval = DEFAULT_INTERVAL, .token = getenv("LR_METRICS_TOKEN") };
    if (!(o->targets = av_calloc(MAX_TARGETS, sizeof(*o->targets)))) {
        fprintf(stderr, "lecture-relay: top: out of memory\n");
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            top_usage(stdout);
            return 1;
        } else if (!strcmp(a, "--once")) {
            o->once = 1;
        } else if (!strcmp(a, "--interval") && i + 1 < argc) {
            if (parse_interval(argv[++i], &o->interval) < 0) {
                fprintf(stderr,
                        "lecture-relay: top: --interval takes seconds from 0.1 to 3600, "
                        "not '%s'\n",
                        argv[i]);
                return 2;
            }
        } else if (!strcmp(a, "--token") && i + 1 < argc) {
            o->token = argv[++i];
        } else if (!strcmp(a, "--cacert") && i + 1 < argc) {
            o->cafile = argv[++i];
        } else if (a[0] == '-') {
            fprintf(stderr, "lecture-relay: top: unexpected argument '%s' (try --help)\n", a);
            return 2;
        } else if (o->nb_targets == MAX_TARGETS) {
            fprintf(stderr, "lecture-relay: top: at most %d URLs\n", MAX_TARGETS);
            return 2;
        } else if (lr_scrape_parse_url(a, &o->targets[o->nb_targets++], err, sizeof(err)) < 0) {
            fprintf(stderr, "lecture-relay: top: %s\n", err);
            return 2;
        }
    }
    if (!o->nb_targets) {
        fprintf(stderr, "lecture-relay: top needs a role's metrics URL, e.g. "
                        "http://127.0.0.1:8080 (try --help)\n");
        return 2;
    }
    if (o->token && !*o->token)
        o->token = NULL;
    if (o->token && !lr_scrape_token_valid(o->token)) {
        fprintf(stderr, "lecture-relay: top: the token must be printable ASCII without blanks\n");
        return 2;
    }
    return 0;
}

/* ---- what the roles said ----------------------------------------------------- */

/* One role's last two scrapes, for rates. */
typedef struct role_view {
    const lr_scrape_target *target;
    lr_prom_text           *cur, *prev; /* NULL when that scrape failed */
    int64_t                 cur_ns, prev_ns;
    int64_t                 elapsed_ms;
    char                    error[300]; /* "" when cur is this refresh's */
} role_view;

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Takes this refresh's result: the text read becomes cur, the last cur
 * prev (a failed scrape leaves no cur: a rate needs two in a row). */
static void role_update(role_view *r, const lr_scrape_result *res, int64_t when_ns)
{
    char perr[200];

    lr_prom_text_free(&r->prev);
    r->prev = r->cur;
    r->prev_ns = r->cur_ns;
    r->cur = NULL;
    r->cur_ns = when_ns;
    r->elapsed_ms = res->elapsed_ms;
    r->error[0] = '\0';
    if (!res->ok)
        snprintf(r->error, sizeof(r->error), "%s", res->error);
    else if (lr_prom_text_parse(res->body, res->body_len, &r->cur, perr, sizeof(perr)) < 0)
        snprintf(r->error, sizeof(r->error), "not Prometheus text: %s", perr);
}

/* The sample of name with exactly like's labels in t, or NULL. */
static const lr_prom_sample *find_series(const lr_prom_text *t, const char *name,
                                         const lr_prom_sample *like)
{
    for (int i = 0; t && i < t->nb_samples; i++)
        if (!strcmp(t->samples[i].name, name) && lr_prom_same_labels(&t->samples[i], like))
            return &t->samples[i];
    return NULL;
}

/* The increase of counter name (with like's labels) since the role's
 * previous scrape; since the start when there is none (or the counter
 * went back: a restart). Returns 0, or -1 if cur lacks it. */
static int counter_increase(const role_view *r, const char *name, const lr_prom_sample *like,
                            double *inc, double *seconds)
{
    const lr_prom_sample *now = find_series(r->cur, name, like);
    const lr_prom_sample *before = find_series(r->prev, name, like);

    if (!now)
        return -1;
    if (before && now->value >= before->value) {
        *inc = now->value - before->value;
        *seconds = (r->cur_ns - r->prev_ns) / 1e9;
    } else {
        *inc = now->value;
        *seconds = NAN; /* unknown: since the process started */
    }
    return 0;
}

/* ---- the view: one entry per lecture ----------------------------------------- */

typedef struct link_view {
    const role_view      *role;
    const lr_prom_sample *labels; /* any of the link's samples */
    double                rtt_ms, loss_pct;
} link_view;

typedef struct lecture_view {
    const char *name;
    const char *source; /* the active source's number and url, or NULL */
    const char *source_url;
    int         sources; /* sources the ingest reports for it */
    double      in_bps, rtt_ms, loss_pct, rungs, shed, viewers, segment_age;
    link_view  *links;
    int         nb_links;
} lecture_view;

typedef struct top_view {
    lecture_view *lectures;
    int           nb_lectures, max_lectures;
    link_view    *links; /* each lecture's run of links, one after another */
    int           max_links;
} top_view;

static void view_free(top_view *v)
{
    av_freep(&v->lectures);
    av_freep(&v->links);
    memset(v, 0, sizeof(*v));
}

/* Sizes the arrays for every sample of every role: no pointer moves later. */
static int view_alloc(top_view *v, const role_view *roles, int nb_roles)
{
    int samples = 0;

    view_free(v);
    for (int i = 0; i < nb_roles; i++)
        samples += roles[i].cur ? roles[i].cur->nb_samples : 0;
    v->max_lectures = FFMAX(samples, 1);
    v->max_links = FFMAX(samples, 1);
    v->lectures = av_calloc(v->max_lectures, sizeof(*v->lectures));
    v->links = av_calloc(v->max_links, sizeof(*v->links));
    return v->lectures && v->links ? 0 : AVERROR(ENOMEM);
}

static lecture_view *lecture_of(top_view *v, const char *name)
{
    for (int i = 0; i < v->nb_lectures; i++)
        if (!strcmp(v->lectures[i].name, name))
            return &v->lectures[i];
    lecture_view *l = &v->lectures[v->nb_lectures++];
    *l = (lecture_view){ .name = name,
                         .in_bps = NAN,
                         .rtt_ms = NAN,
                         .loss_pct = NAN,
                         .rungs = NAN,
                         .shed = NAN,
                         .viewers = NAN,
                         .segment_age = NAN };
    return l;
}

/* Every link found in one pass over the samples, before each lecture
 * takes its own (sized for every sample: no pointer moves). */
typedef struct link_set {
    link_view *items;
    int        nb;
} link_set;

/* The link of role r whose samples carry s's labels (role, lecture, peer,
 * side). */
static link_view *link_of(link_set *set, const role_view *r, const lr_prom_sample *s)
{
    for (int i = 0; i < set->nb; i++)
        if (set->items[i].role == r && lr_prom_same_labels(set->items[i].labels, s))
            return &set->items[i];
    link_view *k = &set->items[set->nb++];
    *k = (link_view){ .role = r, .labels = s, .rtt_ms = NAN, .loss_pct = NAN };
    return k;
}

static double nan_max(double a, double b)
{
    return isnan(a) ? b : isnan(b) ? a : FFMAX(a, b);
}

static double nan_add(double a, double b)
{
    return isnan(a) ? b : isnan(b) ? a : a + b;
}

/* The active source: its number, url and bitrate (the ingest's gauge, or
 * the rate of its byte counter where the gauge is missing). */
static void take_source(lecture_view *l, const role_view *r, const lr_prom_sample *s)
{
    double inc, secs;

    l->sources++;
    if (s->value != 1)
        return;
    l->source = lr_prom_sample_label(s, "source");
    l->source_url = lr_prom_sample_label(s, "url");
    const lr_prom_sample *bps = find_series(r->cur, "lr_ingest_source_bitrate_bps", s);
    if (bps)
        l->in_bps = bps->value;
    else if (!counter_increase(r, "lr_ingest_source_bytes_total", s, &inc, &secs) && secs > 0)
        l->in_bps = inc * 8 / secs;
}

/* A link's loss: the increase of its lost packets against the increase of
 * its packets between the two scrapes (since the start on the first). */
static double link_loss(const role_view *r, const lr_prom_sample *packets)
{
    double lost, sent, secs;

    if (counter_increase(r, "lr_link_packets_lost_total", packets, &lost, &secs) < 0 ||
        counter_increase(r, "lr_link_packets_total", packets, &sent, &secs) < 0)
        return NAN;
    if (sent <= 0)
        return lost > 0 ? 100 : NAN;
    return FFMIN(100 * lost / sent, 100);
}

static void take_sample(link_set *links, const role_view *r, lecture_view *l,
                        const lr_prom_sample *s)
{
    const char *n = s->name;

    if (!strcmp(n, "lr_ingest_source_active")) {
        take_source(l, r, s);
    } else if (!strcmp(n, "lr_link_rtt_ms")) {
        link_of(links, r, s)->rtt_ms = s->value;
    } else if (!strcmp(n, "lr_link_packets_total")) {
        link_of(links, r, s)->loss_pct = link_loss(r, s);
    } else if (!strcmp(n, "lr_transcode_rungs")) {
        l->rungs = nan_max(l->rungs, s->value);
    } else if (!strcmp(n, "lr_transcode_rungs_shed")) {
        l->shed = nan_max(l->shed, s->value);
    } else if (!strcmp(n, "lr_http_viewers")) {
        l->viewers = nan_add(l->viewers, s->value);
    } else if (!strcmp(n, "lr_egress_segment_age_seconds")) {
        l->segment_age = nan_max(l->segment_age, s->value);
    }
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const lecture_view *)a)->name, ((const lecture_view *)b)->name);
}

/* Copies lecture l's links into its own run of v->links, and takes the
 * worst RTT and loss among them. */
static void collect_links(top_view *v, lecture_view *l, const link_set *all, int *used)
{
    l->links = v->links + *used;
    for (int i = 0; i < all->nb; i++) {
        const char *lec = lr_prom_sample_label(all->items[i].labels, "lecture");
        if (!lec || strcmp(lec, l->name))
            continue;
        l->links[l->nb_links++] = all->items[i];
        l->rtt_ms = nan_max(l->rtt_ms, all->items[i].rtt_ms);
        l->loss_pct = nan_max(l->loss_pct, all->items[i].loss_pct);
    }
    *used += l->nb_links;
}

static int view_build(top_view *v, const role_view *roles, int nb_roles)
{
    link_set all = { 0 };
    int      used = 0, viewers_known = 0, ret;

    if ((ret = view_alloc(v, roles, nb_roles)) < 0)
        return ret;
    if (!(all.items = av_calloc(v->max_links, sizeof(*all.items))))
        return AVERROR(ENOMEM);
    for (int i = 0; i < nb_roles; i++) {
        const lr_prom_text *t = roles[i].cur;
        if (!t)
            continue;
        viewers_known |= lr_prom_text_has_family(t, "lr_http_viewers");
        for (int k = 0; k < t->nb_samples; k++) {
            const char *lec = lr_prom_sample_label(&t->samples[k], "lecture");
            if (lec)
                take_sample(&all, &roles[i], lecture_of(v, lec), &t->samples[k]);
        }
    }
    qsort(v->lectures, v->nb_lectures, sizeof(*v->lectures), by_name);
    for (int i = 0; i < v->nb_lectures; i++) {
        lecture_view *l = &v->lectures[i];
        collect_links(v, l, &all, &used);
        /* an egress that counts viewers and lists none has none */
        if (viewers_known && isnan(l->viewers))
            l->viewers = 0;
    }
    av_free(all.items);
    return 0;
}

/* ---- drawing ------------------------------------------------------------------- */

/* Text from the network goes out as printable ASCII only: no escape
 * sequence of a label can reach the terminal. plain: blanks too become
 * '?', so a key=value line stays one value per key. */
static void put_clean(AVBPrint *b, const char *s, int plain)
{
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        av_bprint_chars(b, c > ' ' && c < 0x7f ? (char)c : c == ' ' && !plain ? ' ' : '?', 1);
    }
}

/* s cut to width columns, "..." standing for its middle. */
static void put_fitted(AVBPrint *b, const char *s, int width)
{
    AVBPrint clean;
    int      len;

    av_bprint_init(&clean, 0, AV_BPRINT_SIZE_AUTOMATIC);
    put_clean(&clean, s, 0);
    len = (int)clean.len;
    if (len <= width) {
        av_bprintf(b, "%-*s", width, clean.str);
    } else if (width <= 3) {
        av_bprintf(b, "%.*s", width, clean.str);
    } else {
        int head = (width - 3) / 2, tail = width - 3 - head;
        av_bprintf(b, "%.*s...%s", head, clean.str, clean.str + len - tail);
    }
    av_bprint_finalize(&clean, NULL);
}

static const char *num(char *buf, size_t size, double v, int decimals)
{
    if (isnan(v))
        return "-";
    snprintf(buf, size, "%.*f", decimals, v);
    return buf;
}

typedef struct columns {
    int source; /* the one column that takes what the screen has left */
} columns;

#define NUMERIC_COLUMNS "%9s  %7s  %7s  %5s  %4s  %7s  %9s"

static void draw_heading(AVBPrint *b, const columns *c)
{
    av_bprintf(b, "\x01%-*s  %-*s  " NUMERIC_COLUMNS "\n", LECTURE_WIDTH, "LECTURE", c->source,
               "SOURCE", "IN kbit/s", "RTT ms", "LOSS %", "RUNGS", "SHED", "VIEWERS", "SEG AGE s");
}

static void draw_lecture(AVBPrint *b, const columns *c, const lecture_view *l)
{
    char in[32], rtt[32], loss[32], rungs[32], shed[32], viewers[32], age[32];
    char source[600];

    if (l->source)
        snprintf(source, sizeof(source), "%s %s", l->source, l->source_url ? l->source_url : "");
    else
        snprintf(source, sizeof(source), "%s", l->sources ? "none active" : "-");
    put_fitted(b, l->name, LECTURE_WIDTH);
    av_bprintf(b, "  ");
    put_fitted(b, source, c->source);
    av_bprintf(b, "  " NUMERIC_COLUMNS "\n", num(in, sizeof(in), l->in_bps / 1000, 0),
               num(rtt, sizeof(rtt), l->rtt_ms, 1), num(loss, sizeof(loss), l->loss_pct, 2),
               num(rungs, sizeof(rungs), l->rungs, 0), num(shed, sizeof(shed), l->shed, 0),
               num(viewers, sizeof(viewers), l->viewers, 0),
               num(age, sizeof(age), l->segment_age, 1));
    for (int i = 0; i < l->nb_links; i++) {
        const link_view      *k = &l->links[i];
        const lr_prom_sample *s = k->labels;
        char                  what[400];
        snprintf(what, sizeof(what), "link: %s %s %s",
                 lr_prom_sample_label(s, "role") ? lr_prom_sample_label(s, "role") : "?",
                 lr_prom_sample_label(s, "side") ? lr_prom_sample_label(s, "side") : "?",
                 lr_prom_sample_label(s, "peer") ? lr_prom_sample_label(s, "peer") : "?");
        av_bprintf(b, "  ");
        put_fitted(b, what, LECTURE_WIDTH + 2 + c->source);
        av_bprintf(b, "  %9s  %7s  %7s\n", "", num(rtt, sizeof(rtt), k->rtt_ms, 1),
                   num(loss, sizeof(loss), k->loss_pct, 2));
    }
}

static void utc_clock(char *buf, size_t size, const char *fmt)
{
    time_t    t = time(NULL);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, size, fmt, &tm);
}

/* The table a terminal shows; lines end in '\n', the heading starts with
 * \x01 (drawn in reverse video). */
static void draw_table(AVBPrint *b, const top_opts *o, const role_view *roles, const top_view *v,
                       int width, int in_place)
{
    columns c = { .source = FFMAX(width - (LECTURE_WIDTH + 2 + 62), SOURCE_MIN_WIDTH) };
    char    clock[32];

    utc_clock(clock, sizeof(clock), "%H:%M:%S UTC");
    av_bprintf(b, "lecture-relay top: %d lecture%s from %d role%s, every %g s, %s%s\n",
               v->nb_lectures, v->nb_lectures == 1 ? "" : "s", o->nb_targets,
               o->nb_targets == 1 ? "" : "s", o->interval, clock, in_place ? "  (q quits)" : "");
    for (int i = 0; i < o->nb_targets; i++) {
        const role_view *r = &roles[i];
        av_bprintf(b, "  ");
        put_clean(b, r->target->url, 0);
        if (r->error[0]) {
            av_bprintf(b, "  error: ");
            put_clean(b, r->error, 0);
        } else {
            av_bprintf(b, "  ok, %d samples in %lld ms", r->cur->nb_samples,
                       (long long)r->elapsed_ms);
        }
        av_bprintf(b, "\n");
    }
    av_bprintf(b, "\n");
    draw_heading(b, &c);
    for (int i = 0; i < v->nb_lectures; i++)
        draw_lecture(b, &c, &v->lectures[i]);
    if (!v->nb_lectures)
        av_bprintf(b, "(no lecture in the roles' metrics)\n");
}

static void plain_value(AVBPrint *b, const char *key, double v, int decimals)
{
    char buf[32];

    av_bprintf(b, " %s=%s", key, num(buf, sizeof(buf), v, decimals));
}

/* One line per role that failed and per lecture: "TIME lecture=NAME key=value ...". */
static void draw_plain(AVBPrint *b, const top_opts *o, const role_view *roles, const top_view *v)
{
    char clock[32];

    utc_clock(clock, sizeof(clock), "%Y-%m-%dT%H:%M:%SZ");
    for (int i = 0; i < o->nb_targets; i++) {
        if (!roles[i].error[0])
            continue;
        av_bprintf(b, "%s error url=", clock);
        put_clean(b, roles[i].target->url, 1);
        av_bprintf(b, " ");
        put_clean(b, roles[i].error, 0);
        av_bprintf(b, "\n");
    }
    for (int i = 0; i < v->nb_lectures; i++) {
        const lecture_view *l = &v->lectures[i];
        av_bprintf(b, "%s lecture=", clock);
        put_clean(b, l->name, 1);
        av_bprintf(b, " source=");
        put_clean(b, l->source ? l->source : l->sources ? "none" : "-", 1);
        av_bprintf(b, " url=");
        put_clean(b, l->source_url ? l->source_url : "-", 1);
        plain_value(b, "in_kbps", l->in_bps / 1000, 0);
        plain_value(b, "rtt_ms", l->rtt_ms, 1);
        plain_value(b, "loss_pct", l->loss_pct, 2);
        plain_value(b, "rungs", l->rungs, 0);
        plain_value(b, "shed", l->shed, 0);
        plain_value(b, "viewers", l->viewers, 0);
        plain_value(b, "segment_age_s", l->segment_age, 1);
        av_bprintf(b, "\n");
    }
}

/* ---- the terminal ----------------------------------------------------------------- */

typedef struct term {
    int            masked;   /* the signals below are blocked */
    int            table;    /* stdout is a terminal: the table, not plain lines */
    int            in_place; /* ... redrawn in place on the alternate screen */
    int            keys;     /* stdin is a terminal, read key by key */
    struct termios saved;
    int            sfd; /* signalfd: INT, TERM, HUP quit; WINCH redraws */
    sigset_t       old_mask;
} term;

enum event { EV_TIMEOUT, EV_QUIT, EV_REDRAW };

static int term_open(term *t, int once)
{
    sigset_t set;

    t->sfd = -1;
    t->table = isatty(STDOUT_FILENO);
    t->in_place = t->table && !once;
    signal(SIGPIPE, SIG_IGN); /* a closed pipe is a write error, not a death */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGWINCH);
    if (sigprocmask(SIG_BLOCK, &set, &t->old_mask) == 0)
        t->masked = 1;
    if (!t->masked || (t->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
        fprintf(stderr, "lecture-relay: top: signals: %s\n", strerror(errno));
        return AVERROR(errno);
    }
    if (!t->in_place)
        return 0;
    if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &t->saved) == 0) {
        struct termios raw = t->saved;
        raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO); /* ISIG stays: Ctrl-C is SIGINT */
        raw.c_cc[VMIN] = 1;
        raw.c_cc[VTIME] = 0;
        t->keys = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
    }
    fputs("\033[?1049h\033[?25l", stdout); /* the alternate screen, no cursor */
    fflush(stdout);
    return 0;
}

static void term_close(term *t)
{
    if (t->in_place) {
        fputs("\033[?25h\033[?1049l", stdout);
        fflush(stdout);
    }
    if (t->keys)
        tcsetattr(STDIN_FILENO, TCSANOW, &t->saved);
    if (t->sfd >= 0)
        close(t->sfd);
    if (t->masked)
        sigprocmask(SIG_SETMASK, &t->old_mask, NULL);
    t->in_place = t->keys = t->masked = 0;
    t->sfd = -1;
}

static void term_size(int *width, int *rows)
{
    struct winsize ws;

    *width = 80;
    *rows = 24;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
        *width = ws.ws_col;
        *rows = ws.ws_row;
    }
}

/* Writes the table: each line cut to the width, the screen's bottom not
 * passed (a line there would scroll the screen), the rest cleared. */
static void emit_in_place(AVBPrint *out, const char *text, int width, int rows)
{
    av_bprintf(out, "\033[H");
    for (int line = 0; *text && line < rows; line++) {
        const char *nl = strchr(text, '\n'), *s = text;
        int         len = nl ? (int)(nl - text) : (int)strlen(text);
        const char *next = nl ? nl + 1 : text + len;
        if (line == rows - 1 && *next) { /* no room for what follows */
            s = "...";
            len = 3;
        }
        int inverse = *s == '\x01';
        av_bprintf(out, "%s%.*s%s\033[K%s", inverse ? "\033[7m" : "", FFMIN(len - inverse, width),
                   s + inverse, inverse ? "\033[0m" : "", line + 1 < rows && *next ? "\n" : "");
        text = next;
    }
    av_bprintf(out, "\033[J");
}

/* The table as is for a terminal that keeps it (--once): no escapes. */
static void emit_once(AVBPrint *out, const char *text)
{
    for (const char *s = text; *s; s++)
        if (*s != '\x01')
            av_bprint_chars(out, *s, 1);
}

static int write_out(const AVBPrint *b)
{
    if (!av_bprint_is_complete(b))
        return AVERROR(ENOMEM);
    if (fwrite(b->str, 1, b->len, stdout) != b->len || fflush(stdout) != 0)
        return AVERROR(errno ? errno : EIO);
    return 0;
}

static int draw(const term *t, const top_opts *o, const role_view *roles, const top_view *v)
{
    AVBPrint text, out;
    int      width, rows, ret;

    term_size(&width, &rows);
    av_bprint_init(&text, 0, AV_BPRINT_SIZE_UNLIMITED);
    av_bprint_init(&out, 0, AV_BPRINT_SIZE_UNLIMITED);
    if (!t->table)
        draw_plain(&text, o, roles, v);
    else
        draw_table(&text, o, roles, v, width, t->in_place);
    if (!av_bprint_is_complete(&text)) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    if (t->in_place)
        emit_in_place(&out, text.str, width, rows);
    else if (t->table)
        emit_once(&out, text.str);
    else
        av_bprint_append_data(&out, text.str, text.len);
    ret = write_out(&out);
end:
    av_bprint_finalize(&text, NULL);
    av_bprint_finalize(&out, NULL);
    return ret;
}

static enum event read_signal(term *t)
{
    struct signalfd_siginfo si;

    while (read(t->sfd, &si, sizeof(si)) == sizeof(si))
        if (si.ssi_signo != SIGWINCH)
            return EV_QUIT;
    return EV_REDRAW;
}

static enum event read_keys(term *t)
{
    char    buf[64];
    ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

    if (n <= 0) {
        t->keys = 0; /* stdin ended: only signals from now on */
        return EV_TIMEOUT;
    }
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] == 'q' || buf[i] == 'Q' || buf[i] == 3)
            return EV_QUIT;
        if (buf[i] == 12) /* Ctrl-L */
            return EV_REDRAW;
    }
    return EV_TIMEOUT;
}

/* Waits until deadline_ns for a key or a signal. */
static enum event term_wait(term *t, int64_t deadline_ns)
{
    for (;;) {
        struct pollfd pfd[2] = { { t->sfd, POLLIN, 0 }, { STDIN_FILENO, POLLIN, 0 } };
        int64_t       left = deadline_ns - now_ns();
        if (left <= 0)
            return EV_TIMEOUT;
        int r = poll(pfd, t->keys ? 2 : 1, (int)((left + 999999) / 1000000));
        if (r < 0 && errno != EINTR)
            return EV_QUIT;
        if (r > 0 && pfd[0].revents) {
            enum event e = read_signal(t);
            if (e != EV_TIMEOUT)
                return e;
        }
        if (r > 0 && t->keys && pfd[1].revents) {
            enum event e = read_keys(t);
            if (e != EV_TIMEOUT)
                return e;
        }
    }
}

/* ---- the loop --------------------------------------------------------------------- */

/* Scrapes every role once; AVERROR_EXIT if a signal came first (nothing
 * is taken then). */
static int refresh(const top_opts *o, SSL_CTX *tls, int cancel_fd, role_view *roles,
                   lr_scrape_result *results, top_view *v)
{
    int timeout_ms = (int)(av_clipd(o->interval, 1, 5) * 1000);
    int ret =
        lr_scrape_all(o->targets, o->nb_targets, o->token, tls, timeout_ms, cancel_fd, results);
    if (ret == AVERROR_EXIT)
        return ret;
    int64_t when = now_ns();
    for (int i = 0; i < o->nb_targets; i++)
        role_update(&roles[i], &results[i], when);
    return view_build(v, roles, o->nb_targets);
}

static int all_answered(const role_view *roles, int nb)
{
    for (int i = 0; i < nb; i++)
        if (roles[i].error[0])
            return 0;
    return 1;
}

static int run(const top_opts *o, SSL_CTX *tls, term *t, role_view *roles,
               lr_scrape_result *results)
{
    top_view   v = { 0 };
    int64_t    next = now_ns();
    int        ret = 0;
    enum event e = EV_TIMEOUT;

    while (e != EV_QUIT) {
        ret = refresh(o, tls, t->sfd, roles, results, &v);
        if (ret == AVERROR_EXIT) { /* a signal: quit, or redraw and scrape again */
            e = read_signal(t);
            ret = 0;
            continue;
        }
        if (ret < 0 || (ret = draw(t, o, roles, &v)) < 0)
            break;
        if (o->once)
            break;
        next = FFMAX(next + (int64_t)(o->interval * 1e9), now_ns());
        while ((e = term_wait(t, next)) == EV_REDRAW)
            if ((ret = draw(t, o, roles, &v)) < 0)
                goto end;
    }
end:
    view_free(&v);
    return ret;
}

int lr_top_main(int argc, char **argv)
{
    top_opts          o;
    term              t = { .sfd = -1 };
    SSL_CTX          *tls = NULL;
    role_view        *roles = NULL;
    lr_scrape_result *results = NULL;
    char              err[300];
    int               ret = parse_options(argc, argv, &o);

    if (ret) {
        av_free(o.targets);
        return ret == 1 ? 0 : 2;
    }
    for (int i = 0; i < o.nb_targets && !tls; i++) {
        if (o.targets[i].tls && lr_scrape_tls_new(o.cafile, &tls, err, sizeof(err)) < 0) {
            fprintf(stderr, "lecture-relay: top: %s\n", err);
            av_free(o.targets);
            return 2;
        }
    }
    roles = av_calloc((unsigned)o.nb_targets, sizeof(*roles));
    results = av_calloc((unsigned)o.nb_targets, sizeof(*results));
    if (!roles || !results) {
        fprintf(stderr, "lecture-relay: top: out of memory\n");
        ret = 1;
        goto end;
    }
    for (int i = 0; i < o.nb_targets; i++)
        roles[i].target = &o.targets[i];
    if (term_open(&t, o.once) < 0) {
        ret = 1;
        goto end;
    }
    ret = run(&o, tls, &t, roles, results);
    term_close(&t);
    if (ret == AVERROR(EPIPE)) { /* the reader went away (| head): done */
        ret = 0;
    } else if (ret < 0) {
        fprintf(stderr, "lecture-relay: top: %s\n", av_err2str(ret));
        ret = 1;
    } else {
        ret = o.once && !all_answered(roles, o.nb_targets);
    }
end:
    term_close(&t);
    for (int i = 0; roles && i < o.nb_targets; i++) {
        lr_prom_text_free(&roles[i].cur);
        lr_prom_text_free(&roles[i].prev);
    }
    for (int i = 0; results && i < o.nb_targets; i++)
        lr_scrape_result_reset(&results[i]);
    av_free(roles);
    av_free(results);
    lr_scrape_tls_free(&tls);
    av_free(o.targets);
    return ret;
}
