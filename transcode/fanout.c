/* transcode/fanout.c — see fanout.h. */
#include "fanout.h"

#include <pthread.h>
#include <time.h>

#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/mem.h>

#include "common/backoff.h"
#include "common/link.h"
#include "common/log.h"
#include "common/streamid.h"
#include "common/ts_mux.h"
#include "ladder_mux.h"
#include "shed.h"

#include <string.h>

#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 5000
#define QUEUE_PACKETS  4096
#define QUEUE_BYTES    (16 << 20)  /* about 25 s of a 5 Mb/s ladder */
#define MAX_STREAMS    (LR_MAX_RUNGS + 1)

typedef struct output {
    lr_fanout       *f;
    const char      *url;
    pthread_t        thread;
    int              started;

    /* under f->lock */
    AVPacket        *queue[QUEUE_PACKETS];  /* a ring */
    int              head, count;
    size_t           bytes;
    int              up;                    /* connected: packets are queued */
    int              want_key[MAX_STREAMS]; /* a rung resumes at its next keyframe */
    int64_t          lead_key;              /* passthrough: rung 0's first keyframe, or NOPTS */
    AVRational       lead_tb;
    int              shed;                  /* top rungs not sent (shed.h) */
    int64_t          lost_full, lost_down, sent, shed_pkts;
    pthread_cond_t   wake;
} output;

struct lr_fanout {
    const lr_config *c;
    char             lecture[LR_LECTURE_NAME_MAX + 1];
    lr_pipeline     *pipe;
    lr_stop         *stop;
    int              nb_streams, nb_video;
    pthread_mutex_t  lock;
    int              ending;
    int              nb_outputs;
    output           outputs[LR_MAX_LINKS];
};

static void drop_queue(output *o)
{
    while (o->count) {
        av_packet_free(&o->queue[o->head]);
        o->head = (o->head + 1) % QUEUE_PACKETS;
        o->count--;
    }
    o->bytes = 0;
}

/* Under the lock: from now on each rung starts at its next keyframe. */
static void resync(output *o)
{
    for (int s = 0; s < o->f->nb_video; s++)
        o->want_key[s] = 1;
    o->lead_key = AV_NOPTS_VALUE;
}

/* Passthrough sends rung 0 (the source) as the packets come in, ahead of
 * the encoded rungs' frames of the same moment: after a resync, rung 0 may
 * start a GOP later than they would, and the egress would number their
 * segments one apart. So they start at the keyframe rung 0 started at. */
static int before_lead(const output *o, const AVPacket *pkt, int stream, AVRational tb)
{
    if (stream == 0 || o->shed > 0 || !lr_pipeline_passthrough(o->f->pipe))
        return 0;
    return o->lead_key == AV_NOPTS_VALUE ||
           av_compare_ts(pkt->pts, tb, o->lead_key, o->lead_tb) < 0;
}

int lr_fanout_write(void *opaque, AVPacket *pkt, int stream, AVRational tb)
{
    lr_fanout *f = opaque;
    int key = !!(pkt->flags & AV_PKT_FLAG_KEY);

    pkt->stream_index = stream;
    pkt->time_base = tb;
    pthread_mutex_lock(&f->lock);
    for (int i = 0; i < f->nb_outputs; i++) {
        output *o = &f->outputs[i];
        AVPacket *copy;
        if (!o->up) {
            o->lost_down++;
            continue;
        }
        if (stream < o->shed) {  /* rungs are largest first */
            o->shed_pkts++;
            continue;
        }
        if (stream < f->nb_video && o->want_key[stream] &&
            (!key || before_lead(o, pkt, stream, tb))) {
            o->lost_full++;  /* still recovering from an overflow */
            continue;
        }
        if (o->count == QUEUE_PACKETS || o->bytes + (size_t)pkt->size > QUEUE_BYTES) {
            lr_warn("lecture=%s egress %s is not keeping up: its queue is full, %d packets "
                    "dropped; it resumes at the next keyframe", f->lecture, o->url, o->count + 1);
            o->lost_full += o->count + 1;
            drop_queue(o);
            resync(o);
            continue;
        }
        if (!(copy = av_packet_clone(pkt))) {
            o->lost_full++;
            continue;
        }
        if (stream < f->nb_video && o->want_key[stream] && stream == 0) {
            o->lead_key = pkt->pts;
            o->lead_tb = tb;
        }
        if (stream < f->nb_video)
            o->want_key[stream] = 0;
        o->queue[(o->head + o->count++) % QUEUE_PACKETS] = copy;
        o->bytes += (size_t)copy->size;
        pthread_cond_signal(&o->wake);
    }
    pthread_mutex_unlock(&f->lock);
    av_packet_unref(pkt);
    return 0;
}

/* Under the lock. */
static int others_up(const output *o)
{
    for (int i = 0; i < o->f->nb_outputs; i++)
        if (&o->f->outputs[i] != o && o->f->outputs[i].up)
            return 1;
    return 0;
}

/* Connects the link and starts the ladder's TS on it. Without the lock. */
static int connect_output(output *o, AVIOContext **pb, AVFormatContext **oc)
{
    lr_fanout *f = o->f;
    lr_link_opts lo = { f->c->link.latency_ms, f->c->link.passphrase };
    char sid[128];
    int sock, ret;

    if ((ret = lr_streamid_format(sid, sizeof(sid), f->lecture, "publish")) < 0 ||
        (ret = lr_link_connect(o->url, sid, &lo, f->stop, &sock)) < 0 ||
        (ret = lr_link_avio_open(sock, 1, f->stop, 0, pb)) < 0)
        return ret;
    if ((ret = lr_ladder_mux_open(*pb, f->pipe, f->c->transcode.audio_only, oc)) < 0) {
        lr_error("lecture=%s cannot start the ladder link to %s: %s", f->lecture, o->url,
                 av_err2str(ret));
        lr_link_avio_close(pb);
    }
    return ret;
}

static void disconnect(AVIOContext **pb, AVFormatContext **oc, int trailer)
{
    lr_ts_mux_end(oc, trailer);
    lr_link_avio_close(pb);
}

/* What the link wrote over the last second, from snapshots of its byte
 * count at the last checks. */
#define RATE_CHECKS 3
typedef struct wire_rate {
    int64_t bytes[RATE_CHECKS], at[RATE_CHECKS];
    int     n;
} wire_rate;

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
static int adapt(output *o, AVIOContext *pb, lr_shed *sh, int64_t *next_check,
                 wire_rate *rate)
{
    lr_fanout *f = o->f;
    lr_link_health h;
    int64_t now = lr_now_ns(), carried_kbps;
    int change;

    if (now < *next_check || !f->c->transcode.adaptive_shedding || f->nb_video < 2)
        return 0;
    *next_check = now + LR_SHED_CHECK_NS;
    if (lr_link_avio_health(pb, &h) < 0)
        return 0;
    change = lr_shed_check(sh, &h, now);
    lr_debug("lecture=%s path to %s: RTT %.0f ms (%.0f on its own), %d ms waiting for "
             "acknowledgement of %d ms latency, %lld acks", f->lecture, o->url, h.rtt_ms,
             sh->min_rtt, h.send_buffer_ms, h.latency_ms, (long long)h.acks);
    pthread_mutex_lock(&f->lock);
    o->shed = sh->shed;
    if (change < 0)
        o->want_key[sh->shed] = 1;  /* back from its next keyframe */
    pthread_mutex_unlock(&f->lock);
    carried_kbps = wire_kbps(rate, pb, now);
    if (sh->shed && carried_kbps)
        lr_link_avio_pace(pb, carried_kbps * SHED_PACE_PCT / 100);
    else if (change < 0 && !sh->shed)
        lr_link_avio_pace(pb, 0);
    if (!change)
        return 0;
    if (change > 0)
        lr_warn("lecture=%s the path to %s can't carry the ladder (RTT %.0f ms, %.0f ms on its "
                "own; %d ms waiting for acknowledgement): rung %s no longer sent on it",
                f->lecture, o->url, h.rtt_ms, sh->min_rtt, h.send_buffer_ms,
                lr_pipeline_rung(f->pipe, sh->shed - 1)->name);
    else
        lr_info("lecture=%s the path to %s has been calm for %.0f s: rung %s sent on it again",
                f->lecture, o->url, (double)sh->hold_ns / 1e9,
                lr_pipeline_rung(f->pipe, sh->shed)->name);
    return change;
}

static void *output_thread(void *arg)
{
    output *o = arg;
    lr_fanout *f = o->f;
    AVIOContext *pb = NULL;
    AVFormatContext *oc = NULL;
    lr_backoff backoff;
    lr_shed shed;
    int64_t next_check = 0;
    wire_rate rate = { .n = 0 };

    lr_backoff_init(&backoff, BACKOFF_MIN_MS, BACKOFF_MAX_MS, 1);
    pthread_mutex_lock(&f->lock);
    while (!lr_stop_requested(f->stop)) {
        if (!oc) {
            if (f->ending)
                break;
            if (lr_now_ns() < backoff.retry_at) {
                lr_cond_wait_until(&o->wake, &o->f->lock, backoff.retry_at);
                continue;
            }
            pthread_mutex_unlock(&f->lock);
            int ret = connect_output(o, &pb, &oc);
            pthread_mutex_lock(&f->lock);
            if (ret < 0) {
                lr_backoff_failed(&backoff, lr_now_ns());
                continue;
            }
            lr_backoff_succeeded(&backoff);
            o->up = 1;
            o->shed = 0;  /* a new link starts with the whole ladder */
            lr_shed_init(&shed, f->nb_video);
            rate.n = 0;
            resync(o);
            /* The egress can only start at a keyframe. An extra one would cut a
             * short segment at every other egress: with others up, this one
             * waits for the next scheduled keyframe instead (a segment at most). */
            if (!others_up(o))
                lr_pipeline_force_keyframe(f->pipe);
            lr_info("lecture=%s ladder link up to %s (%d rungs)", f->lecture, o->url,
                    f->nb_video);
            continue;
        }
        if (!o->count) {
            if (f->ending)
                break;
            lr_cond_wait_until(&o->wake, &o->f->lock, 0);
            continue;
        }
        AVPacket *pkt = o->queue[o->head];
        o->head = (o->head + 1) % QUEUE_PACKETS;
        o->count--;
        o->bytes -= (size_t)pkt->size;
        pthread_mutex_unlock(&f->lock);

        av_packet_rescale_ts(pkt, pkt->time_base, oc->streams[pkt->stream_index]->time_base);
        /* The interleaver holds every stream's packets until each stream has
         * one, up to 10 s: a shed rung sends none, so while rungs are shed the
         * packets go out as they come (each stream's in order, all TS needs). */
        int ret = shed.shed ? av_write_frame(oc, pkt) : av_interleaved_write_frame(oc, pkt);
        av_packet_free(&pkt);
        if (ret >= 0 && adapt(o, pb, &shed, &next_check, &rate) > 0 && shed.shed == 1)
            ret = av_interleaved_write_frame(oc, NULL);  /* what it held, out now */

        pthread_mutex_lock(&f->lock);
        if (ret >= 0 || ret == AVERROR(EINVAL)) {  /* EINVAL: the muxer refused it, logged */
            o->sent++;
            continue;
        }
        o->up = 0;
        o->lost_down += o->count;
        drop_queue(o);
        pthread_mutex_unlock(&f->lock);
        if (ret != AVERROR_EXIT)
            lr_warn("lecture=%s ladder link to %s broke: %s; reconnecting", f->lecture, o->url,
                    av_err2str(ret));
        disconnect(&pb, &oc, 0);
        pthread_mutex_lock(&f->lock);
        lr_backoff_failed(&backoff, lr_now_ns());
    }
    o->up = 0;
    drop_queue(o);
    pthread_mutex_unlock(&f->lock);
    disconnect(&pb, &oc, 1);  /* the trailer, then the link lingers until all is delivered */
    return NULL;
}

int lr_fanout_start(const lr_config *c, const char *lecture, lr_pipeline *pipe, lr_stop *stop,
                    lr_fanout **out)
{
    lr_fanout *f = av_mallocz(sizeof(*f));
    pthread_condattr_t attr;
    int ret = 0;

    if (!f)
        return AVERROR(ENOMEM);
    f->c = c;
    av_strlcpy(f->lecture, lecture, sizeof(f->lecture));
    f->pipe = pipe;
    f->stop = stop;
    f->nb_video = lr_pipeline_nb_rungs(pipe);
    pthread_mutex_init(&f->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);  /* lr_now_ns's clock */
    for (int i = 0; i < c->transcode.nb_links; i++) {
        output *o = &f->outputs[f->nb_outputs++];
        o->f = f;
        o->url = c->transcode.links[i];
        pthread_cond_init(&o->wake, &attr);
    }
    pthread_condattr_destroy(&attr);
    for (int i = 0; i < f->nb_outputs && ret == 0; i++) {
        ret = -pthread_create(&f->outputs[i].thread, NULL, output_thread, &f->outputs[i]);
        f->outputs[i].started = ret == 0;
    }
    if (ret < 0) {
        lr_fanout_finish(&f);
        return ret;
    }
    *out = f;
    return 0;
}

void lr_fanout_finish(lr_fanout **pf)
{
    lr_fanout *f = *pf;

    if (!f)
        return;
    pthread_mutex_lock(&f->lock);
    f->ending = 1;
    for (int i = 0; i < f->nb_outputs; i++)
        pthread_cond_signal(&f->outputs[i].wake);
    pthread_mutex_unlock(&f->lock);
    for (int i = 0; i < f->nb_outputs; i++) {
        output *o = &f->outputs[i];
        if (o->started)
            pthread_join(o->thread, NULL);
        if (o->lost_full || o->lost_down || o->shed_pkts)
            lr_info("lecture=%s egress %s: %" PRId64 " packets sent, %" PRId64 " lost to a "
                    "full queue (a slow egress), %" PRId64 " while its link was down, %" PRId64
                    " of rungs shed for its path", f->lecture, o->url, o->sent, o->lost_full,
                    o->lost_down, o->shed_pkts);
        drop_queue(o);
        pthread_cond_destroy(&o->wake);
    }
    pthread_mutex_destroy(&f->lock);
    av_freep(pf);
}
