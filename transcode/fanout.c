/* transcode/fanout.c — see fanout.h. The links themselves are
 * common/outlinks.c's; here is what each egress's carries: the ladder's TS,
 * its rungs resuming at keyframes (after the passed-through rung's, see
 * before_lead), and adaptive shedding (shed.h) with the pacing that goes
 * with it. */
#include "fanout.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <string.h>

#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/mem.h>

#include "common/log.h"
#include "common/status.h"
#include "common/outlinks.h"
#include "ladder_mux.h"
#include "shed.h"

#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 5000
#define QUEUE_PACKETS  4096
#define QUEUE_BYTES    (16 << 20) /* about 25 s of a 5 Mb/s ladder */

/* What the link wrote over the last second, from snapshots of its byte
 * count at the last checks. */
#define RATE_CHECKS 3
typedef struct wire_rate {
    int64_t bytes[RATE_CHECKS], at[RATE_CHECKS];
    int     n;
} wire_rate;

typedef struct output {
    /* under the links' lock */
    int        shed;     /* top rungs shed (shed.h), each from its next keyframe */
    uint32_t   stopped;  /* of those, the ones past that keyframe: not sent */
    int64_t    lead_key; /* passthrough: the pts rung 0 resumed at */
    AVRational lead_tb;
    /* the link's thread's */
    lr_shed   sh;
    int64_t   next_check;
    wire_rate rate;
} output;

struct lr_fanout {
    const lr_config *c;
    char             lecture[LR_LECTURE_NAME_MAX + 1];
    lr_pipeline     *pipe;
    int              nb_video;
    char             up_note[32];
    lr_outlinks     *ol;
    output           outputs[LR_MAX_LINKS];
    _Atomic int64_t  sheds;             /* rungs shed so far, over the links */
};

/* Passthrough sends rung 0 (the source) as the packets come in, ahead of
 * the encoded rungs' frames of the same moment: after a resync, rung 0 may
 * start a GOP later than they would, and the egress would number their
 * segments one apart. So they start at the keyframe rung 0 started at
 * (unknown while rung 0 itself waits for one). */
static int before_lead(const lr_fanout *f, const output *o, const lr_outlink *l,
                       const AVPacket *pkt)
{
    if (pkt->stream_index == 0 || o->shed > 0 || !lr_pipeline_passthrough(f->pipe))
        return 0;
    return lr_pktq_wants_key(l->queue, 0) ||
           av_compare_ts(pkt->pts, pkt->time_base, o->lead_key, o->lead_tb) < 0;
}

/* Under the lock, for each link that is up. A rung waiting for its keyframe
 * is refused by the queue until one comes (pktq.h). */
static lr_outlink_take admit(void *opaque, lr_outlink *l, const AVPacket *pkt)
{
    lr_fanout *f = opaque;
    output    *o = &f->outputs[l->index];
    int        s = pkt->stream_index;

    /* Rungs are largest first. A shed rung stops at its next keyframe, so
     * the egress ends its segment whole and hands its players over to the
     * lower rung at a segment boundary (egress/packager.c redirect_idle):
     * parts from mid-way through one rung's GOP don't decode after another's. */
    if (s < o->shed) {
        if (pkt->flags & AV_PKT_FLAG_KEY)
            o->stopped |= UINT32_C(1) << s;
        if (o->stopped & (UINT32_C(1) << s))
            return LR_OUTLINK_SKIP;
    }
    if (s < f->nb_video && lr_pktq_wants_key(l->queue, s) && (pkt->flags & AV_PKT_FLAG_KEY)) {
        if (before_lead(f, o, l, pkt))
            return LR_OUTLINK_REFUSE;
        if (s == 0) {
            o->lead_key = pkt->pts;
            o->lead_tb = pkt->time_base;
        }
    }
    return LR_OUTLINK_QUEUE;
}

static int open_ladder(void *opaque, lr_outlink *l, AVIOContext *pb, AVFormatContext **oc)
{
    lr_fanout *f = opaque;
    int        ret = lr_ladder_mux_open(pb, f->pipe, f->c->transcode.audio_only, oc);

    if (ret < 0)
        lr_error("lecture=%s cannot start the ladder link to %s: %s", f->lecture, l->url,
                 av_err2str(ret));
    return ret;
}

/* Under the lock: a new link starts with the whole ladder, each rung at its
 * next keyframe. */
static void link_up(void *opaque, lr_outlink *l, int others_up)
{
    lr_fanout *f = opaque;
    output    *o = &f->outputs[l->index];

    o->shed = 0;
    o->stopped = 0;
    lr_shed_init(&o->sh, f->nb_video);
    o->rate.n = 0;
    /* The egress can only start at a keyframe. An extra one would cut a
     * short segment at every other egress: with others up, this one waits
     * for the next scheduled keyframe instead (a segment at most). */
    if (!others_up)
        lr_pipeline_force_keyframe(f->pipe);
}

/* Returns the rate in kb/s, 0 until the window is full. */
static int64_t wire_kbps(wire_rate *r, AVIOContext *pb, int64_t now)
{
    memmove(&r->bytes[1], &r->bytes[0], (RATE_CHECKS - 1) * sizeof(r->bytes[0]));
    memmove(&r->at[1], &r->at[0], (RATE_CHECKS - 1) * sizeof(r->at[0]));
    r->bytes[0] = lr_link_avio_bytes(pb);
    r->at[0] = now;
    if (++r->n < RATE_CHECKS)
        return 0;
    return (r->bytes[0] - r->bytes[RATE_CHECKS - 1]) * 8000000 / (now - r->at[RATE_CHECKS - 1]);
}

/* While rungs are shed the link sends at most this much above what it
 * writes: live SRT has no congestion control, and at its usual pacing (the
 * input rate plus the overhead, 8 Mb/s at least) the retransmissions of what
 * the full path lost, and the backlog queued in front of it, keep the path
 * full for many seconds after the shed. 15 %: SRT's headers (3 %) and some
 * room for retransmissions, yet below a path only a little wider than what
 * is left of the ladder (25 % kept the test's path full: docs/border.md). */
#define SHED_PACE_PCT 115

/* Twice a second: sheds a rung from this link, or restores one, as its
 * path's health says (shed.h). Without the lock. Returns the change (+1 a
 * rung shed, -1 one restored, 0 none). */
static int adapt(lr_fanout *f, lr_outlink *l, AVIOContext *pb)
{
    output        *o = &f->outputs[l->index];
    lr_shed       *sh = &o->sh;
    lr_link_health h;
    int64_t        now = lr_now_ns(), carried_kbps;
    int            change;

    if (now < o->next_check || !f->c->transcode.adaptive_shedding || f->nb_video < 2)
        return 0;
    o->next_check = now + LR_SHED_CHECK_NS;
    if (lr_link_avio_health(pb, &h) < 0)
        return 0;
    change = lr_shed_check(sh, &h, now);
    lr_debug("lecture=%s path to %s: RTT %.0f ms (%.0f on its own), %d ms waiting for "
             "acknowledgement of %d ms latency, %lld acks",
             f->lecture, l->url, h.rtt_ms, sh->min_rtt, h.send_buffer_ms, h.latency_ms,
             (long long)h.acks);
    lr_outlinks_lock(f->ol);
    o->shed = sh->shed;
    o->stopped &= (UINT32_C(1) << sh->shed) - 1;
    if (change < 0) /* back from its next keyframe */
        lr_pktq_want_key(l->queue, UINT64_C(1) << sh->shed);
    lr_outlinks_unlock(f->ol);
    carried_kbps = wire_kbps(&o->rate, pb, now);
    if (sh->shed && carried_kbps)
        lr_link_avio_pace(pb, carried_kbps * SHED_PACE_PCT / 100);
    else if (change < 0 && !sh->shed)
        lr_link_avio_pace(pb, 0);
    if (!change)
        return 0;
    if (change > 0)
        atomic_fetch_add(&f->sheds, 1);
    lr_status_event(f->lecture, "shed", change > 0 ? "rung %s shed on the path to %s"
                                                   : "rung %s back on the path to %s",
                    lr_pipeline_rung(f->pipe, sh->shed - (change > 0))->name, l->url);
    if (change > 0)
        lr_warn("lecture=%s the path to %s can't carry the ladder (RTT %.0f ms, %.0f ms on its "
                "own; %d ms waiting for acknowledgement): rung %s no longer sent on it from "
                "its next keyframe",
                f->lecture, l->url, h.rtt_ms, sh->min_rtt, h.send_buffer_ms,
                lr_pipeline_rung(f->pipe, sh->shed - 1)->name);
    else
        lr_info("lecture=%s the path to %s has been calm for %.0f s: rung %s sent on it again",
                f->lecture, l->url, (double)sh->hold_ns / 1e9,
                lr_pipeline_rung(f->pipe, sh->shed)->name);
    return change;
}

int lr_fanout_shed(lr_fanout *f, int64_t *sheds_total)
{
    int most = 0;

    lr_outlinks_lock(f->ol);
    for (int i = 0; i < LR_MAX_LINKS; i++)
        most = FFMAX(most, f->outputs[i].shed);
    lr_outlinks_unlock(f->ol);
    *sheds_total = atomic_load(&f->sheds);
    return most;
}

static int write_ladder(void *opaque, lr_outlink *l, AVFormatContext *oc, AVIOContext *pb,
                        AVPacket *pkt)
{
    lr_fanout *f = opaque;
    lr_shed   *sh = &f->outputs[l->index].sh;
    int        ret;

    av_packet_rescale_ts(pkt, pkt->time_base, oc->streams[pkt->stream_index]->time_base);
    /* The interleaver holds every stream's packets until each stream has
     * one, up to 10 s: a shed rung sends none, so while rungs are shed the
     * packets go out as they come (each stream's in order, all TS needs). */
    ret = sh->shed ? av_write_frame(oc, pkt) : av_interleaved_write_frame(oc, pkt);
    if (ret >= 0 && adapt(f, l, pb) > 0 && sh->shed == 1)
        ret = av_interleaved_write_frame(oc, NULL); /* what it held, out now */
    return ret;
}

static const lr_outlinks_ops fanout_ops = {
    .admit = admit,
    .open = open_ladder,
    .up = link_up,
    .write = write_ladder,
};

int lr_fanout_write(void *opaque, AVPacket *pkt, int stream, AVRational tb)
{
    lr_fanout *f = opaque;

    pkt->stream_index = stream;
    pkt->time_base = tb;
    lr_outlinks_write(f->ol, pkt);
    av_packet_unref(pkt);
    return 0;
}

int lr_fanout_start(const lr_config *c, const char *lecture, lr_pipeline *pipe, lr_stop *stop,
                    lr_fanout **out)
{
    lr_fanout       *f = av_mallocz(sizeof(*f));
    lr_outlinks_opts o = {
        .lecture = lecture,
        .urls = (const char *const *)c->transcode.links,
        .nb_links = c->transcode.nb_links,
        .link = lr_link_opts_of(&c->link),
        .stop = stop,
        .backoff_min_ms = BACKOFF_MIN_MS,
        .backoff_max_ms = BACKOFF_MAX_MS,
        .max_pkts = QUEUE_PACKETS,
        .max_bytes = QUEUE_BYTES,
        .name = "ladder link",
        .peer = "egress",
    };
    int ret;

    if (!f)
        return AVERROR(ENOMEM);
    f->c = c;
    av_strlcpy(f->lecture, lecture, sizeof(f->lecture));
    f->pipe = pipe;
    f->nb_video = lr_pipeline_nb_rungs(pipe);
    snprintf(f->up_note, sizeof(f->up_note), " (%d rungs)", f->nb_video);
    o.up_note = f->up_note;
    if ((ret = lr_outlinks_start(&o, &fanout_ops, f, &f->ol)) < 0) {
        av_free(f);
        return ret;
    }
    /* One run, as long as the lecture: every rung is a key stream. */
    lr_outlinks_lock(f->ol);
    lr_outlinks_begin_run(f->ol, (UINT64_C(1) << f->nb_video) - 1, "the lecture began");
    lr_outlinks_unlock(f->ol);
    *out = f;
    return 0;
}

void lr_fanout_finish(lr_fanout **pf)
{
    lr_fanout *f = *pf;

    if (!f)
        return;
    lr_outlinks_drain(f->ol);
    for (int i = 0; i < lr_outlinks_nb_links(f->ol); i++) {
        lr_outlink_stats st;
        lr_outlinks_get_stats(f->ol, i, &st);
        if (st.lost_full || st.lost_key || st.lost_down || st.skipped)
            lr_info("lecture=%s egress %s: %" PRId64 " packets sent, %" PRId64 " lost to a "
                    "full queue (a slow egress), %" PRId64 " while its link was down, %" PRId64
                    " of rungs shed for its path",
                    f->lecture, f->c->transcode.links[i], st.sent, st.lost_full + st.lost_key,
                    st.lost_down, st.skipped);
    }
    lr_outlinks_free(&f->ol);
    av_freep(pf);
}
