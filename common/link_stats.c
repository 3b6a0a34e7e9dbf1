/* common/link_stats.c — see link_stats.h. One table of links under one
 * mutex; SRT's own counters (srt_bistats, never cleared) are read when
 * scraped and by one thread that ticks every second: it logs each link's
 * line every stats_interval_s and remembers the RTT of caller links, so a
 * reconnect sizes its latency without probing again. */
#include "link_stats.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/avstring.h>
#include <libavutil/common.h>
#include <srt/srt.h>

#include "log.h"
#include "metrics.h"
#include "stop.h"

#define MAX_LINKS 64
#define MAX_URLS  16
#define TICK_NS   INT64_C(1000000000)
#define RTT_SETTLE_NS (3 * TICK_NS)  /* SRT's RTT is a guess until ACKs flowed */

/* Warn when a stats interval crosses these. */
#define WARN_LOSS_PCT 5.0   /* of the packets, lost at first (retransmitted or not) */
#define WARN_RTT_SHARE 3    /* RTT above latency / 3: fewer than ~3 tries per packet */

enum { SIDE_UNKNOWN, SIDE_SEND, SIDE_RECV };

typedef struct totals {
    int64_t lost, retrans, snd_drop, rcv_drop, pkts;
} totals;

typedef struct entry {
    int       used;
    int       sock;            /* SRT_INVALID_SOCK while down */
    char      role[16];
    char      lecture[LR_LECTURE_NAME_MAX + 1];
    char      peer[80];
    char      url[160];        /* callers: the URL dialled */
    int       side;
    int       latency_ms;      /* negotiated */
    int64_t   connections;
    int64_t   up_since_ns, down_since_ns;
    totals    base;            /* of the connections already closed */
    totals    logged;          /* as of the last log line */
    int64_t   next_log_ns;
    double    rtt_ms;          /* last read */
} entry;

static struct {
    pthread_mutex_t  lock;
    lr_link_settings settings;
    entry            links[MAX_LINKS];
    struct { char url[160]; int rtt_ms; } rtt[MAX_URLS];
    int              next_rtt;
    int              metrics_handle;
    lr_stop          stop;
    pthread_t        thread;
    int              running;
} st = { .lock = PTHREAD_MUTEX_INITIALIZER, .settings = LR_LINK_SETTINGS_DEFAULTS };

lr_link_settings lr__link_settings(void)
{
    lr_link_settings s;

    pthread_mutex_lock(&st.lock);
    s = st.settings;
    pthread_mutex_unlock(&st.lock);
    return s;
}

void lr__link_settings_set(const lr_link_settings *s)
{
    pthread_mutex_lock(&st.lock);
    st.settings = *s;
    pthread_mutex_unlock(&st.lock);
}

int lr__link_auto_latency(const lr_link_settings *s, int rtt_ms)
{
    int64_t l = rtt_ms < 0 ? s->latency_floor_ms : s->latency_rtt_factor * (int64_t)rtt_ms;
    return (int)av_clip64(l, s->latency_floor_ms, FFMAX(s->latency_floor_ms, s->latency_ceiling_ms));
}

int lr__link_rtt_recall(const char *url)
{
    int rtt = -1;

    pthread_mutex_lock(&st.lock);
    for (int i = 0; i < MAX_URLS; i++)
        if (st.rtt[i].url[0] && !strcmp(st.rtt[i].url, url))
            rtt = st.rtt[i].rtt_ms;
    pthread_mutex_unlock(&st.lock);
    return rtt;
}

static void rtt_remember_locked(const char *url, int rtt_ms)
{
    int slot = -1;

    for (int i = 0; i < MAX_URLS && slot < 0; i++)
        if (!strcmp(st.rtt[i].url, url))
            slot = i;
    if (slot < 0) {
        slot = st.next_rtt;
        st.next_rtt = (st.next_rtt + 1) % MAX_URLS;
        av_strlcpy(st.rtt[slot].url, url, sizeof(st.rtt[slot].url));
    }
    st.rtt[slot].rtt_ms = rtt_ms;
}

void lr__link_rtt_remember(const char *url, int rtt_ms)
{
    pthread_mutex_lock(&st.lock);
    rtt_remember_locked(url, rtt_ms);
    pthread_mutex_unlock(&st.lock);
}

/* ---- the table ---------------------------------------------------------- */

static entry *find_sock(int sock)
{
    for (int i = 0; i < MAX_LINKS; i++)
        if (st.links[i].used && st.links[i].sock == sock)
            return &st.links[i];
    return NULL;
}

/* The totals of e's current connection, or zeros when it is down. */
static int read_now(const entry *e, SRT_TRACEBSTATS *perf, totals *t)
{
    memset(t, 0, sizeof(*t));
    memset(perf, 0, sizeof(*perf));
    if (e->sock == SRT_INVALID_SOCK || srt_bistats(e->sock, perf, 0, 1) < 0)
        return -1;
    t->lost = (int64_t)perf->pktSndLossTotal + perf->pktRcvLossTotal;
    /* sent again (sender), or arrived again (receiver: never cleared, so a total) */
    t->retrans = (int64_t)perf->pktRetransTotal + perf->pktRcvRetrans;
    t->snd_drop = perf->pktSndDropTotal;
    t->rcv_drop = perf->pktRcvDropTotal;
    t->pkts = e->side == SIDE_SEND ? perf->pktSentTotal : perf->pktRecvTotal;
    return 0;
}

static void add_totals(totals *a, const totals *b)
{
    a->lost += b->lost;
    a->retrans += b->retrans;
    a->snd_drop += b->snd_drop;
    a->rcv_drop += b->rcv_drop;
    a->pkts += b->pkts;
}

void lr__link_stats_add(int sock, const char *role, const char *lecture, const char *peer,
                        const char *url)
{
    entry *e = NULL, *oldest = NULL;
    int64_t now = lr_now_ns();
    char name[sizeof(e->peer)];

    pthread_mutex_lock(&st.lock);
    /* Two links up at once from one peer (redundant feeds from one host)
     * are two series: the second is "peer#2". */
    av_strlcpy(name, peer, sizeof(name));
    for (int n = 2, i = 0; i < MAX_LINKS; i++) {
        entry *c = &st.links[i];
        if (c->used && c->sock != SRT_INVALID_SOCK && !strcmp(c->role, role) &&
            !strcmp(c->lecture, lecture) && !strcmp(c->peer, name)) {
            snprintf(name, sizeof(name), "%.60s#%d", peer, n++);
            i = -1;  /* check the new name from the start */
        }
    }
    peer = name;
    for (int i = 0; i < MAX_LINKS && !e; i++) {
        entry *c = &st.links[i];
        if (c->used && !strcmp(c->role, role) && !strcmp(c->lecture, lecture) &&
            !strcmp(c->peer, peer) && c->sock == SRT_INVALID_SOCK)
            e = c;
    }
    if (!e) {
        for (int i = 0; i < MAX_LINKS && !e; i++) {
            entry *c = &st.links[i];
            if (!c->used)
                e = c;
            else if (c->sock == SRT_INVALID_SOCK &&
                     (!oldest || c->down_since_ns < oldest->down_since_ns))
                oldest = c;
        }
        if (!e)
            e = oldest;  /* forget the link gone longest */
        if (!e) {
            pthread_mutex_unlock(&st.lock);
            lr_debug("link stats: %d links already, lecture=%s not tracked", MAX_LINKS, lecture);
            return;
        }
        memset(e, 0, sizeof(*e));
        e->used = 1;
        av_strlcpy(e->role, role, sizeof(e->role));
        av_strlcpy(e->lecture, lecture, sizeof(e->lecture));
        av_strlcpy(e->peer, peer, sizeof(e->peer));
    }
    e->sock = sock;
    av_strlcpy(e->url, url ? url : "", sizeof(e->url));
    e->connections++;
    e->up_since_ns = now;
    e->side = SIDE_UNKNOWN;
    e->logged = e->base;
    pthread_mutex_unlock(&st.lock);
}

void lr__link_stats_side(int sock, int write)
{
    entry *e;

    pthread_mutex_lock(&st.lock);
    if ((e = find_sock(sock))) {
        int v = 0, len = sizeof(v);
        e->side = write ? SIDE_SEND : SIDE_RECV;
        /* the larger of both ends' wishes, as the handshake settled it */
        if (srt_getsockflag(sock, write ? SRTO_PEERLATENCY : SRTO_RCVLATENCY, &v, &len) == 0)
            e->latency_ms = v;
        e->next_log_ns = lr_now_ns() + (int64_t)st.settings.stats_interval_s * TICK_NS;
    }
    pthread_mutex_unlock(&st.lock);
}

/* The number of a peer label's series: "peer" is 1, "peer#2" is 2. */
static int series_number(const char *label, size_t base_len)
{
    return label[base_len] == '#' ? atoi(label + base_len + 1) : 1;
}

/* A link from a peer went down while a later one from the same peer is up
 * under a "#n" label: the one still up takes the lower label over, as a
 * reconnect of it, unless the one gone never carried a packet: then it was
 * no link of the lecture, only a caller whose handshake failed on its side
 * after this side accepted it, dialling again before the half-open socket
 * here timed out (its real link read as a second one while the series
 * operators watch read down, issue 25). Lock held. */
static void take_over(entry *down)
{
    size_t base_len = strcspn(down->peer, "#");
    int n = series_number(down->peer, base_len);
    entry *up = NULL;

    for (int i = 0; i < MAX_LINKS; i++) {
        entry *c = &st.links[i];
        if (c->used && c->sock != SRT_INVALID_SOCK && !strcmp(c->role, down->role) &&
            !strcmp(c->lecture, down->lecture) && !strncmp(c->peer, down->peer, base_len) &&
            c->peer[base_len] == '#' && series_number(c->peer, base_len) > n &&
            (!up || series_number(c->peer, base_len) < series_number(up->peer, base_len)))
            up = c;
    }
    if (!up)
        return;
    add_totals(&up->logged, &down->base);
    add_totals(&up->base, &down->base);
    if (down->base.pkts > 0)
        up->connections += down->connections;
    av_strlcpy(up->peer, down->peer, sizeof(up->peer));
    *down = *up;
    up->used = 0;
    up->sock = SRT_INVALID_SOCK;
}

void lr__link_stats_remove(int sock)
{
    entry *e;

    pthread_mutex_lock(&st.lock);
    if ((e = find_sock(sock))) {
        SRT_TRACEBSTATS perf;
        totals now;
        if (read_now(e, &perf, &now) == 0)
            add_totals(&e->base, &now);
        e->sock = SRT_INVALID_SOCK;
        e->down_since_ns = lr_now_ns();
        take_over(e);
    }
    pthread_mutex_unlock(&st.lock);
}

static const char *side_name(const entry *e)
{
    return e->side == SIDE_SEND ? "send" : e->side == SIDE_RECV ? "recv" : "none";
}

/* ---- metrics ------------------------------------------------------------ */

static void labels(AVBPrint *out, const entry *e, const char *extra)
{
    av_bprintf(out, "{role=\"");
    lr_metrics_label(out, e->role);
    av_bprintf(out, "\",lecture=\"");
    lr_metrics_label(out, e->lecture);
    av_bprintf(out, "\",peer=\"");
    lr_metrics_label(out, e->peer);
    av_bprintf(out, "\",side=\"%s\"%s}", side_name(e), extra ? extra : "");
}

enum {
    M_UP, M_LATENCY, M_RTT, M_SEND, M_RECV, M_LOST, M_RETRANS, M_DROP_SND, M_DROP_RCV,
    M_RCVBUF, M_RECONNECTS, M_PKTS, NB_METRICS
};

static const struct { const char *name, *type, *help; } families[NB_METRICS] = {
    [M_UP]         = { "lr_link_up", "gauge", "1 while the SRT link is connected" },
    [M_LATENCY]    = { "lr_link_latency_ms", "gauge",
                       "SRT latency negotiated at the handshake (ms)" },
    [M_RTT]        = { "lr_link_rtt_ms", "gauge", "smoothed round-trip time (ms)" },
    [M_SEND]       = { "lr_link_send_rate_mbps", "gauge", "sending rate (Mbit/s)" },
    [M_RECV]       = { "lr_link_recv_rate_mbps", "gauge", "receiving rate (Mbit/s)" },
    [M_LOST]       = { "lr_link_packets_lost_total", "counter",
                       "packets lost on the way (reported by NAK; most are recovered)" },
    [M_RETRANS]    = { "lr_link_packets_retransmitted_total", "counter",
                       "packets sent again (sender) or arrived again (receiver)" },
    [M_DROP_SND]   = { "lr_link_packets_send_dropped_total", "counter",
                       "packets the sender dropped as too late to play" },
    [M_DROP_RCV]   = { "lr_link_packets_recv_dropped_total", "counter",
                       "packets the receiver gave up on as too late to play: media lost" },
    [M_RCVBUF]     = { "lr_link_recv_buffer_ms", "gauge",
                       "media held in the receive buffer (ms)" },
    [M_RECONNECTS] = { "lr_link_reconnects_total", "counter",
                       "times this link (role, lecture, peer) came up again" },
    [M_PKTS]       = { "lr_link_packets_total", "counter",
                       "data packets sent (send side) or received (recv side)" },
};

static void collect(void *opaque, AVBPrint *out)
{
    SRT_TRACEBSTATS perf[MAX_LINKS];
    totals now[MAX_LINKS];
    int up[MAX_LINKS];

    (void)opaque;
    pthread_mutex_lock(&st.lock);
    for (int i = 0; i < MAX_LINKS; i++)
        up[i] = st.links[i].used && read_now(&st.links[i], &perf[i], &now[i]) == 0;
    for (int m = 0; m < NB_METRICS; m++) {
        int any = 0;
        for (int i = 0; i < MAX_LINKS; i++) {
            const entry *e = &st.links[i];
            totals t = e->base;
            double v;

            if (!e->used)
                continue;
            if (!any++)
                lr_metrics_family(out, families[m].name, families[m].type, families[m].help);
            if (up[i])
                add_totals(&t, &now[i]);
            switch (m) {
            case M_UP:         v = up[i]; break;
            case M_LATENCY:    v = e->latency_ms; break;
            case M_RTT:        v = up[i] ? perf[i].msRTT : e->rtt_ms; break;
            case M_SEND:       v = up[i] ? perf[i].mbpsSendRate : 0; break;
            case M_RECV:       v = up[i] ? perf[i].mbpsRecvRate : 0; break;
            case M_LOST:       v = (double)t.lost; break;
            case M_RETRANS:    v = (double)t.retrans; break;
            case M_DROP_SND:   v = (double)t.snd_drop; break;
            case M_DROP_RCV:   v = (double)t.rcv_drop; break;
            case M_RCVBUF:     v = up[i] ? perf[i].msRcvBuf : 0; break;
            case M_RECONNECTS: v = (double)(e->connections - 1); break;
            default:           v = (double)t.pkts; break;
            }
            av_bprintf(out, "%s", families[m].name);
            labels(out, e, NULL);
            av_bprintf(out, " %.10g\n", v);
        }
    }
    pthread_mutex_unlock(&st.lock);
}

/* ---- the stats thread ----------------------------------------------------- */

static void log_entry(entry *e, const SRT_TRACEBSTATS *perf, const totals *now)
{
    totals t = e->base, d;

    add_totals(&t, now);
    d = (totals){ t.lost - e->logged.lost, t.retrans - e->logged.retrans,
                  t.snd_drop - e->logged.snd_drop, t.rcv_drop - e->logged.rcv_drop,
                  t.pkts - e->logged.pkts };
    e->logged = t;
    lr_info("lecture=%s link stats: role=%s side=%s peer=%s rtt=%.0fms latency=%dms "
            "send=%.2fMb/s recv=%.2fMb/s lost=%" PRId64 " retrans=%" PRId64
            " drop_send=%" PRId64 " drop_recv=%" PRId64 " rcvbuf=%dms reconnects=%" PRId64,
            e->lecture, e->role, side_name(e), e->peer, perf->msRTT, e->latency_ms,
            perf->mbpsSendRate, perf->mbpsRecvRate, t.lost, t.retrans, t.snd_drop, t.rcv_drop,
            perf->msRcvBuf, e->connections - 1);
    if (d.pkts + d.lost > 0 && d.lost * 100.0 / (double)(d.pkts + d.lost) > WARN_LOSS_PCT)
        lr_warn("lecture=%s link to %s: %.1f %% of packets lost in the last interval "
                "(SRT recovers what fits in the latency)", e->lecture, e->peer,
                d.lost * 100.0 / (double)(d.pkts + d.lost));
    if (e->latency_ms > 0 && perf->msRTT * WARN_RTT_SHARE > e->latency_ms)
        lr_warn("lecture=%s link to %s: RTT %.0f ms is above a third of the latency (%d ms): "
                "too little time to retransmit; use link.latency_ms: auto or raise it",
                e->lecture, e->peer, perf->msRTT, e->latency_ms);
    if (d.snd_drop + d.rcv_drop > 0)
        lr_warn("lecture=%s link to %s: %" PRId64 " packets dropped as too late in the last "
                "interval: media lost", e->lecture, e->peer, d.snd_drop + d.rcv_drop);
}

static void *stats_thread(void *arg)
{
    (void)arg;
    while (!lr_stop_wait_until(&st.stop, lr_now_ns() + TICK_NS)) {
        int64_t now_ns = lr_now_ns();

        pthread_mutex_lock(&st.lock);
        for (int i = 0; i < MAX_LINKS; i++) {
            entry *e = &st.links[i];
            SRT_TRACEBSTATS perf;
            totals now;

            if (!e->used || e->side == SIDE_UNKNOWN || read_now(e, &perf, &now) < 0)
                continue;
            e->rtt_ms = perf.msRTT;
            if (e->url[0] && now.pkts > 0 && now_ns - e->up_since_ns > RTT_SETTLE_NS)
                rtt_remember_locked(e->url, (int)(perf.msRTT + 0.5));
            if (st.settings.stats_interval_s > 0 && now_ns >= e->next_log_ns) {
                e->next_log_ns = now_ns + (int64_t)st.settings.stats_interval_s * TICK_NS;
                log_entry(e, &perf, &now);
            }
        }
        pthread_mutex_unlock(&st.lock);
    }
    return NULL;
}

int lr__link_stats_init(void)
{
    int ret;

    if ((ret = lr_stop_init(&st.stop)) < 0)
        return ret;
    if ((ret = lr_metrics_register(collect, NULL)) < 0) {
        lr_stop_destroy(&st.stop);
        return ret;
    }
    st.metrics_handle = ret;
    if ((ret = pthread_create(&st.thread, NULL, stats_thread, NULL))) {
        lr_metrics_unregister(st.metrics_handle);
        lr_stop_destroy(&st.stop);
        return AVERROR(ret);
    }
    st.running = 1;
    return 0;
}

void lr__link_stats_uninit(void)
{
    if (!st.running)
        return;
    lr_stop_request(&st.stop);
    pthread_join(st.thread, NULL);
    lr_metrics_unregister(st.metrics_handle);
    lr_stop_destroy(&st.stop);
    st.running = 0;
}
