/* ingest/lecture.c — see lecture.h. Every source is an lr_feed read by its
 * own thread; this lecture's thread picks the first ready one in the
 * configured order and copies its packets (no decoding) onto the link. When
 * it stays silent for stall_ms the next ready one takes over on the keyframe
 * it already holds; a recovered earlier source (always a lecturer's push,
 * others if switch_back) takes the lecture back at its next keyframe. Source
 * changes go through lr_timeline, so the link's timestamps only move forward:
 * time-aligned sources continue on one clock, others are spliced, and a
 * lecture left without any source jumps by the time it was gone, which the
 * egress marks as a discontinuity. A source that ends cleanly (feed.h) hands
 * over at once to the next ready one; with none live, the lecture's run ends:
 * the links close, so the transcoder and the egress end it too, and the next
 * source to come up starts a new run on a fresh clock. */
#include "lecture.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavutil/avstring.h>
#include <libavutil/mem.h>

#include "common/heartbeat.h"
#include "common/link.h"
#include "common/log.h"
#include "common/status.h"
#include "common/ts_wall.h"
#include "common/stop.h"
#include "feed.h"
#include "timeline.h"
#include "uplinks.h"

#define REPORT_NS      (60 * INT64_C(1000000000))  /* the per-lecture status line */
#define ALIGN_WINDOW   (2 * 90000)  /* a keyframe this close after the last packet: same clock */
/* Longer without a source: a real break. Above the 2.25 s of media missing
 * the egress takes for a break (egress/segmenter.c), which is above the
 * largest hole a failover on one clock leaves (ALIGN_WINDOW). */
#define HOLE_NS        (INT64_C(2500000000))
#define FRESH_KEY      (90000 / 5)  /* switch back on a keyframe at most this old */

enum { LINK_VIDEO = LR_FEED_VIDEO, LINK_AUDIO = LR_FEED_AUDIO, LINK_NB = LR_FEED_NB };

struct lr_lecture {
    const lr_config *conf;
    char             name[LR_LECTURE_NAME_MAX + 1];
    const char      *sources[LR_MAX_SOURCES];
    int              nb_sources;
    int              stall_ms, switch_back;
    lr_stop          stop;         /* the role is stopping */
    pthread_t        thread;
    int              thread_started;

    pthread_mutex_t  lock;         /* guards the feeds; they signal cond */
    pthread_cond_t   cond;
    lr_feed         *feeds[LR_MAX_SOURCES];
    int              push[LR_PUSH_NB]; /* the feed taking each protocol's push, -1 none */
    lr_heartbeat     hb;           /* the lecture thread runs (systemd's watchdog) */
    int64_t          claimed_until[LR_MAX_SOURCES]; /* under lock: a push admitted and not
                                                       handed over yet holds its feed */

    /* Thread-private from here. */
    int              active;       /* feed on the link, -1 none */
    int              was_on_link[LR_MAX_SOURCES];
    int64_t          session;      /* its session number */
    AVCodecParameters *src_par[LINK_NB];  /* that session's streams */
    int              eval_key;     /* the next keyframe decides: same clock or splice */
    int64_t          last_src_dts; /* source clock of the last packet sent, 1/90000 */
    int64_t          last_sent_ns; /* when it was sent; 0: never */
    int              want_key;     /* drop until a video keyframe */
    int              run_open;     /* the links carry a run (since a source was chosen) */
    int              last_active;  /* the feed the run was on last, -1 none */

    lr_uplinks      *links;        /* to the transcoders */
    AVCodecParameters *link_par[LINK_NB]; /* the streams the links carry */

    lr_timeline      tl;
    /* Counters read by the metrics scrape from another thread. */
    _Atomic int64_t  nb_switches, nb_aligned, nb_breaks, nb_dropped, nb_runs;
    int64_t          repaired;      /* timestamps the timeline moved, all runs (lock) */
    int64_t          repaired_runs; /* ...in the runs before the current one */
    int64_t          report_at;
    lr_feed_stats    reported;     /* the active feed's stats at the last report */
};


/* ---- the links --------------------------------------------------------- */

/* A source whose codecs differ from what the links carry needs a new link
 * session: a TS stream can't change codec under the same PID, and the
 * muxer's bitstream filters are set up for the first source's packing
 * (H.264 in MP4/FLV is length-prefixed, in TS it has start codes). */
static int link_fits(lr_lecture *l)
{
    for (int k = 0; k < LINK_NB; k++) {
        const AVCodecParameters *want = l->src_par[k];
        const AVCodecParameters *have = l->link_par[k];
        if (!want != !have)
            return 0;
        if (want && (want->codec_id != have->codec_id ||
                     want->extradata_size != have->extradata_size ||
                     (want->extradata_size &&
                      memcmp(want->extradata, have->extradata, want->extradata_size))))
            return 0;
    }
    return 1;
}

/* The links carry the active source's streams from now on. */
static void set_link_params(lr_lecture *l)
{
    if (link_fits(l))
        return;
    if (l->link_par[LINK_VIDEO] || l->link_par[LINK_AUDIO])
        lr_info("lecture=%s source codecs changed: new link session", l->name);
    for (int k = 0; k < LINK_NB; k++) {
        avcodec_parameters_free(&l->link_par[k]);
        if (l->src_par[k] && (l->link_par[k] = avcodec_parameters_alloc()) &&
            avcodec_parameters_copy(l->link_par[k], l->src_par[k]) < 0)
            avcodec_parameters_free(&l->link_par[k]);
    }
    if (lr_uplinks_set_params(l->links, (const AVCodecParameters *const *)l->link_par) < 0)
        lr_error("lecture=%s out of memory for the link's parameters", l->name);
}

/* ---- choosing the source (lock held) ----------------------------------- */

static int healthy(lr_lecture *l, int i, int64_t now)
{
    lr_feed_stats st;

    if (lr_feed_session_age(l->feeds[i], now) < 0)
        return 0;
    lr_feed_get_stats(l->feeds[i], &st);
    return now - st.last_pkt_ns <= (int64_t)l->stall_ms * 1000000;
}

/* The feed that should be on the link now: the active one while it delivers,
 * unless an earlier one may take the lecture back; else the first ready one. */
static int choose(lr_lecture *l, int64_t now)
{
    int cur_ok = l->active >= 0 && healthy(l, l->active, now);

    for (int i = 0; i < l->nb_sources; i++) {
        lr_feed *f = l->feeds[i];
        if (i == l->active && cur_ok)
            return i;
        if (!lr_feed_ready(f, now, l->stall_ms))
            continue;
        if (!cur_ok)
            return i;
        /* An earlier source is up: a lecturer's push always wins at its
         * first keyframe; any other once it has held up for stall_ms, if it
         * never had the lecture (it came up late) or switch_back is on. */
        if (i == l->push[LR_PUSH_SRT] || i == l->push[LR_PUSH_RTMP])
            return i;
        if ((l->switch_back || !l->was_on_link[i]) &&
            lr_feed_session_age(f, now) >= (int64_t)l->stall_ms * 1000000 &&
            lr_feed_queue_span(f) <= FRESH_KEY)
            return i;
    }
    return -1;
}

static void take_params(lr_lecture *l)
{
    for (int k = 0; k < LINK_NB; k++) {
        const AVCodecParameters *par = lr_feed_codecpar(l->feeds[l->active], k);
        avcodec_parameters_free(&l->src_par[k]);
        if (par && (l->src_par[k] = avcodec_parameters_alloc()) &&
            avcodec_parameters_copy(l->src_par[k], par) < 0)
            avcodec_parameters_free(&l->src_par[k]);
    }
    l->session = lr_feed_session(l->feeds[l->active]);
    l->eval_key = 1;
    l->want_key = 1;
    set_link_params(l);
}

static void switch_to(lr_lecture *l, int next)
{
    int prev = l->active;

    if (prev >= 0)
        lr_feed_set_on_link(l->feeds[prev], 0);
    l->active = next;
    if (next < 0) {
        if (!lr_feed_ended(l->feeds[prev]))  /* else the run ends: end_run says so */
        {
            lr_warn("lecture=%s has no usable source: waiting for one", l->name);
            lr_status_event(l->name, "source", "no usable source: waiting for one");
        }
        return;
    }
    if (!l->run_open) {
        l->run_open = 1;
        if (l->nb_runs++)
            lr_info("lecture=%s starts again (run %" PRId64 "): a new link to the transcoder",
                    l->name, l->nb_runs);
    }
    l->last_active = next;
    /* Sources on one clock (one encoder feeding both) continue seamlessly
     * from the first keyframe after what was sent. */
    if (l->last_sent_ns)
        lr_feed_seek_key_after(l->feeds[next], l->last_src_dts, ALIGN_WINDOW);
    lr_feed_set_on_link(l->feeds[next], 1);
    l->was_on_link[next] = 1;
    take_params(l);
    if (prev >= 0 || l->last_sent_ns)
        l->nb_switches++;
    lr_info("lecture=%s now reading source %d: %s", l->name, next + 1,
            lr_feed_name(l->feeds[next]));
    lr_status_event(l->name, "source", "now reading source %d: %s", next + 1,
                    lr_feed_name(l->feeds[next]));
}

/* ---- the end of a run (lock held) -------------------------------------- */

/* 1 if the run's last source ended cleanly and no other source is live (a
 * backup that delivers but has no keyframe yet is waited for). */
static int run_ended(lr_lecture *l, int64_t now)
{
    if (!l->run_open || l->active >= 0 || l->last_active < 0 ||
        !lr_feed_ended(l->feeds[l->last_active]))
        return 0;
    for (int i = 0; i < l->nb_sources; i++)
        if (healthy(l, i, now))
            return 0;
    return 1;
}

/* The links close at once (after what they hold); the next source chosen
 * starts a new run: new link parameters, and a clock from the wall clock
 * again, as at the start. */
static void end_run(lr_lecture *l)
{
    int i = l->last_active;

    lr_info("lecture=%s ended: source %d ended: %s; no other source is live, closing the "
            "link to the transcoder", l->name, i + 1, lr_feed_end_reason(l->feeds[i]));
    lr_status_event(l->name, "lecture", "ended: source %d ended: %s", i + 1,
                    lr_feed_end_reason(l->feeds[i]));
    l->run_open = 0;
    lr_uplinks_end(l->links);
    for (int k = 0; k < LINK_NB; k++)
        avcodec_parameters_free(&l->link_par[k]);
    l->repaired_runs += l->tl.nb_nudged + l->tl.nb_breaks;
    lr_timeline_init(&l->tl);
    l->last_sent_ns = 0;
    l->last_src_dts = 0;
}

/* ---- the packet path (lock released) ----------------------------------- */

/* On the first keyframe of a new source session: the same clock as before
 * (it lands just after the last packet sent) goes on unchanged; anything
 * else is spliced, one frame after the last packet, or after the whole time
 * the lecture was without a source if that was long (a real break). */
static void place(lr_lecture *l, const AVPacket *pkt)
{
    int64_t hole;

    l->eval_key = 0;
    if (!l->last_sent_ns)
        return;
    if (pkt->dts > l->last_src_dts && pkt->dts <= l->last_src_dts + ALIGN_WINDOW) {
        l->nb_aligned++;
        lr_info("lecture=%s the new source is on the same clock: no splice, a hole of %.3f s",
                l->name, (pkt->dts - l->last_src_dts) / 90000.0);
        return;
    }
    hole = lr_now_ns() - l->last_sent_ns;
    if (hole > HOLE_NS) {
        l->nb_breaks++;
        lr_info("lecture=%s was without a source for %.1f s: marked as a break", l->name,
                hole / 1e9);
        lr_timeline_splice(&l->tl, av_rescale(hole, 90000, 1000000000));
    } else {
        lr_info("lecture=%s the new source's clock differs (its keyframe %.3f s from the last "
                "packet sent): spliced on", l->name, (pkt->dts - l->last_src_dts) / 90000.0);
        lr_timeline_splice(&l->tl, 0);
    }
}

/* The link's clock starts at the wall clock (modulo MPEG-TS's 33 bits), so
 * the egress can date every frame by when it arrived here
 * (EXT-X-PROGRAM-DATE-TIME) without any extra data on the link, and every
 * node agrees on segment numbers (common/ts_wall.h). */
static int64_t wall_clock_90k(void)
{
    return lr_ts_wall_now() & (LR_TS_WRAP - 1);
}

/* How long before the newest packet of the active source this one arrived:
 * what queued in the feed before this thread took it. The link's clock
 * starts that far back, so the first frame is dated by its arrival. */
static int64_t queued_behind(lr_lecture *l, int64_t dts)
{
    int64_t last;

    pthread_mutex_lock(&l->lock);
    last = l->active >= 0 ? lr_feed_queue_last_dts(l->feeds[l->active]) : AV_NOPTS_VALUE;
    pthread_mutex_unlock(&l->lock);
    return last == AV_NOPTS_VALUE ? 0 : av_clip64(last - dts, 0, 10 * 90000);
}

static void forward(lr_lecture *l, AVPacket *pkt)
{
    int k = pkt->stream_index;
    int64_t dts, src_dts;

    if (!l->link_par[k])
        return;
    /* Receivers can only start at a keyframe: after a source change, wait
     * for one (sources without video need no wait). */
    if (l->want_key && l->link_par[LINK_VIDEO]) {
        if (k != LINK_VIDEO || !(pkt->flags & AV_PKT_FLAG_KEY))
            goto drop;
    }
    l->want_key = 0;
    if (pkt->dts == AV_NOPTS_VALUE)
        pkt->dts = pkt->pts;
    if (l->eval_key)
        place(l, pkt);
    src_dts = pkt->dts;
    if (l->tl.max_out == AV_NOPTS_VALUE)
        l->tl.origin = (wall_clock_90k() - queued_behind(l, pkt->dts)) & ((INT64_C(1) << 33) - 1);
    dts = lr_timeline_map(&l->tl, (unsigned)k, pkt->dts);
    if (dts == INT64_MIN)
        goto drop;
    if (k == LINK_VIDEO || !l->link_par[LINK_VIDEO]) {
        l->last_src_dts = src_dts;
        l->last_sent_ns = lr_now_ns();
    }
    pkt->dts = dts;
    if (pkt->pts != AV_NOPTS_VALUE)
        pkt->pts = FFMAX(pkt->pts + l->tl.offset, dts);
    lr_uplinks_write(l->links, pkt);
    return;
drop:
    l->nb_dropped++;
}

/* Once a minute: what an operator asks first about a lecture (lock held). */
static void report(lr_lecture *l, int64_t now)
{
    lr_feed_stats st = { 0 };
    lr_uplinks_stats ls;
    double secs;

    if (!l->report_at) {
        l->report_at = now + REPORT_NS;
        return;
    }
    if (now < l->report_at)
        return;
    secs = (now - l->report_at + REPORT_NS) / 1e9;
    if (l->active >= 0)
        lr_feed_get_stats(l->feeds[l->active], &st);
    lr_uplinks_get_stats(l->links, &ls);
    lr_info("lecture=%s source %d (%s) %.0f kb/s %.1f fps, last packet %.0f ms ago, "
            "%" PRId64 " source changes, %" PRId64 " link reconnects, links up %d of %d",
            l->name, l->active + 1, l->active >= 0 ? lr_feed_name(l->feeds[l->active]) : "-",
            (st.bytes - l->reported.bytes) * 8 / secs / 1000,
            (st.video_frames - l->reported.video_frames) / secs,
            st.last_pkt_ns ? (now - st.last_pkt_ns) / 1e6 : -1.0, l->nb_switches,
            ls.reconnects, ls.up, ls.nb_links);
    l->reported = st;
    l->report_at = now + REPORT_NS;
}

/* Until something changes: a packet, a push, the active source's stall
 * deadline, the next report, or stop. */
static void wait_for_news(lr_lecture *l, int64_t now)
{
    int64_t until = l->report_at ? l->report_at : now + REPORT_NS;
    lr_feed_stats st;

    if (l->active >= 0) {
        lr_feed_get_stats(l->feeds[l->active], &st);
        until = FFMIN(until, st.last_pkt_ns + (int64_t)l->stall_ms * 1000000 + 1000000);
    }
    /* a second at most, so that the thread's heartbeat shows it runs */
    lr_cond_wait_until(&l->cond, &l->lock, FFMIN(until, now + 1000000000));
}

static void *lecture_thread(void *arg)
{
    lr_lecture *l = arg;
    AVPacket *pkt = av_packet_alloc();

    pthread_mutex_lock(&l->lock);
    while (pkt && !lr_stop_requested(&l->stop)) {
        int64_t now = lr_now_ns();
        int next = choose(l, now);

        lr_heartbeat_beat(&l->hb);
        /* A source that ended cleanly sends all it read before anything
         * replaces it (unless a failover takes over at once). */
        if (next < 0 && l->active >= 0 && lr_feed_ended(l->feeds[l->active]) &&
            lr_feed_queued(l->feeds[l->active]))
            next = l->active;
        if (next != l->active && (next >= 0 || l->active >= 0))
            switch_to(l, next);
        if (run_ended(l, now))
            end_run(l);
        report(l, now);
        if (l->active < 0 || lr_feed_take(l->feeds[l->active], pkt) < 0) {
            wait_for_news(l, now);
            continue;
        }
        if (pkt->pos != l->session) {
            /* The active feed reconnected (or a push was taken over). */
            take_params(l);
            lr_info("lecture=%s now reading source %d: %s", l->name, l->active + 1,
                    lr_feed_name(l->feeds[l->active]));
        }
        pthread_mutex_unlock(&l->lock);
        forward(l, pkt);
        av_packet_unref(pkt);
        pthread_mutex_lock(&l->lock);
        /* the timeline is this thread's; the metrics read the lock's copy */
        l->repaired = l->repaired_runs + l->tl.nb_nudged + l->tl.nb_breaks;
    }
    pthread_mutex_unlock(&l->lock);
    av_packet_free(&pkt);
    return NULL;
}

/* ---- life cycle -------------------------------------------------------- */

int lr_lecture_start(const lr_config *c, const lr_lecture_spec *spec, lr_lecture **out)
{
    pthread_condattr_t attr;
    lr_lecture *l;
    int ret;

    if (spec->nb_sources < 1 || spec->nb_sources > LR_MAX_SOURCES)
        return AVERROR(EINVAL);
    if (!(l = av_mallocz(sizeof(*l))))
        return AVERROR(ENOMEM);
    l->conf = c;
    av_strlcpy(l->name, spec->name, sizeof(l->name));
    l->nb_sources = spec->nb_sources;
    l->stall_ms = spec->stall_ms;
    l->switch_back = spec->switch_back;
    l->active = -1;
    l->last_active = -1;
    l->push[LR_PUSH_SRT] = l->push[LR_PUSH_RTMP] = -1;
    lr_timeline_init(&l->tl);
    lr_stop_init(&l->stop);
    if ((ret = lr_uplinks_start(c, l->name, &l->stop, &l->links)) < 0) {
        lr_stop_destroy(&l->stop);
        av_freep(&l);
        return ret;
    }
    pthread_mutex_init(&l->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&l->cond, &attr);
    pthread_condattr_destroy(&attr);
    for (int i = 0; i < spec->nb_sources; i++) {
        lr_feed_spec fs = { l->name, i, spec->sources[i], spec->loop, spec->realtime,
                            spec->stall_ms };
        l->sources[i] = spec->sources[i];
        if (!strcmp(spec->sources[i], "push") || !strcmp(spec->sources[i], "push-srt"))
            l->push[LR_PUSH_SRT] = i;
        if (!strcmp(spec->sources[i], "push") || !strcmp(spec->sources[i], "push-rtmp"))
            l->push[LR_PUSH_RTMP] = i;
        if ((ret = lr_feed_start(&fs, &l->lock, &l->cond, &l->feeds[i])) < 0)
            goto fail;
    }
    char name[96];
    snprintf(name, sizeof(name), "lecture %s's ingest thread", l->name);
    lr_heartbeat_register(&l->hb, name, 10000);
    if ((ret = pthread_create(&l->thread, NULL, lecture_thread, l))) {
        lr_heartbeat_unregister(&l->hb);
        ret = AVERROR(ret);
        goto fail;
    }
    l->thread_started = 1;
    *out = l;
    return 0;
fail:
    lr_lecture_stop(&l);
    return ret;
}

void lr_lecture_stop(lr_lecture **pl)
{
    lr_lecture *l = *pl;

    if (!l)
        return;
    lr_stop_request(&l->stop);
    pthread_mutex_lock(&l->lock);
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->lock);
    if (l->thread_started) {
        pthread_join(l->thread, NULL);
        lr_heartbeat_unregister(&l->hb);
    }
    for (int i = 0; i < l->nb_sources; i++)
        lr_feed_stop(&l->feeds[i]);
    lr_uplinks_free(&l->links);
    if (l->nb_switches || l->nb_dropped || l->tl.nb_nudged)
        lr_info("lecture=%s ingest ends: %" PRId64 " source changes (%" PRId64
                " on one clock, %" PRId64 " breaks), %" PRId64
                " packets dropped overlapping a splice, %" PRId64
                " repeated source timestamps moved on", l->name, l->nb_switches,
                l->nb_aligned, l->nb_breaks, l->nb_dropped, l->tl.nb_nudged);
    for (int k = 0; k < LINK_NB; k++) {
        avcodec_parameters_free(&l->src_par[k]);
        avcodec_parameters_free(&l->link_par[k]);
    }
    pthread_cond_destroy(&l->cond);
    pthread_mutex_destroy(&l->lock);
    lr_stop_destroy(&l->stop);
    av_freep(pl);
}

void lr_lecture_get_metrics(lr_lecture *l, lr_lecture_metrics *m)
{
    lr_uplinks_stats ls;

    lr_uplinks_get_stats(l->links, &ls);
    *m = (lr_lecture_metrics){
        .name = l->name, .nb_sources = l->nb_sources,
        .switches = l->nb_switches, .aligned = l->nb_aligned, .breaks = l->nb_breaks,
        .link_reconnects = ls.reconnects, .dropped = l->nb_dropped + ls.dropped,
        .links_up = ls.up, .runs = l->nb_runs,
    };
    pthread_mutex_lock(&l->lock);
    m->active = l->active;
    m->run_open = l->run_open;
    m->repaired = l->repaired;
    for (int i = 0; i < l->nb_sources; i++) {
        m->sources[i] = l->sources[i];
        lr_feed_get_stats(l->feeds[i], &m->stats[i]);
        av_strlcpy(m->names[i], lr_feed_name(l->feeds[i]), sizeof(m->names[i]));
    }
    pthread_mutex_unlock(&l->lock);
}

int lr_lecture_takes_push(const lr_lecture *l, int proto)
{
    return l->push[proto] >= 0;
}

int lr_lecture_push_live(lr_lecture *l, int proto)
{
    int live;

    if (l->push[proto] < 0)
        return 0;
    pthread_mutex_lock(&l->lock);
    live = lr_feed_push_live(l->feeds[l->push[proto]]);
    pthread_mutex_unlock(&l->lock);
    return live;
}

int lr_lecture_claim_push(lr_lecture *l, int proto, int takeover, int hold)
{
    int f = l->push[proto], ret = 0;
    int64_t now = lr_now_ns();

    if (f < 0)
        return AVERROR(ENOENT);
    pthread_mutex_lock(&l->lock);
    if (!takeover && (lr_feed_push_live(l->feeds[f]) || l->claimed_until[f] > now))
        ret = AVERROR(EBUSY);
    else if (hold)
        l->claimed_until[f] = now + LR_PUSH_CLAIM_NS;
    pthread_mutex_unlock(&l->lock);
    return ret;
}

/* The hand-over ends the claim that admitted it. */
static void unclaim(lr_lecture *l, int f)
{
    pthread_mutex_lock(&l->lock);
    l->claimed_until[f] = 0;
    pthread_mutex_unlock(&l->lock);
}

int lr_lecture_offer_push(lr_lecture *l, int sock, const char *peer, int takeover)
{
    int ret;

    if (l->push[LR_PUSH_SRT] < 0)
        return AVERROR(ENOENT);
    ret = lr_feed_offer_push(l->feeds[l->push[LR_PUSH_SRT]], sock, peer, takeover);
    unclaim(l, l->push[LR_PUSH_SRT]);
    return ret;
}

int lr_lecture_offer_rtmp(lr_lecture *l, lr_rtmp_conn *conn, int takeover)
{
    int ret;

    if (l->push[LR_PUSH_RTMP] < 0)
        return AVERROR(ENOENT);
    ret = lr_feed_offer_rtmp(l->feeds[l->push[LR_PUSH_RTMP]], conn, takeover);
    unclaim(l, l->push[LR_PUSH_RTMP]);
    return ret;
}
