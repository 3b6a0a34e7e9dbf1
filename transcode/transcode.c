/* transcode/transcode.c — the transcode role. Each lecture arriving on the
 * listener gets a thread that demuxes the link and feeds the pipeline
 * (pipeline.c: decode once, every rung on its own thread, AAC once); the
 * ladder goes as one MPEG-TS (ladder_mux.c) over a link to the egress, which
 * reconnects with backoff while the encoders go on. Called through
 * transcode.h. */
#include "transcode.h"

#include <pthread.h>

#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/mem.h>

#include "common/backoff.h"
#include "common/link.h"
#include "common/log.h"
#include "common/stop.h"
#include "common/streamid.h"
#include "common/ts_mux.h"
#include "common/workers.h"
#include "ladder_mux.h"
#include "pipeline.h"

#define LINK_IDLE_MS   5000
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 5000

struct lr_transcode {
    const lr_config  *conf;
    lr_stop           stop;
    lr_link_listener *listener;
    lr_workers        pipelines;
};

typedef struct lecture {
    lr_worker        worker;            /* first: the list of lectures */
    lr_transcode    *t;
    char             name[LR_LECTURE_NAME_MAX + 1];
    AVIOContext     *in_pb;
    AVFormatContext *ifmt;
    lr_pipeline     *pipe;

    /* the egress link; the rungs' threads write to it, under lock */
    pthread_mutex_t  lock;
    AVFormatContext *oc;                /* NULL while the egress link is down */
    AVIOContext     *out_pb;
    lr_backoff       reconnect;
    int64_t          dropped_pkts;
} lecture;

static void close_output(lecture *l)
{
    if (l->oc && l->out_pb)
        av_write_trailer(l->oc);
    lr_ts_mux_free(&l->oc);
    lr_link_avio_close(&l->out_pb);
}

/* Connects the egress link and starts the ladder's TS. Called without the
 * lock (connecting takes time); publishes the muxer under it. */
static int open_output(lecture *l)
{
    const lr_config *c = l->t->conf;
    lr_link_opts lo = { c->link.latency_ms, c->link.passphrase };
    AVIOContext *pb = NULL;
    AVFormatContext *oc = NULL;
    char sid[128];
    int sock, ret;

    if ((ret = lr_streamid_format(sid, sizeof(sid), l->name, "publish")) < 0)
        return ret;
    if ((ret = lr_link_connect(c->transcode.link, sid, &lo, &l->t->stop, &sock)) < 0)
        return ret;
    if ((ret = lr_link_avio_open(sock, 1, &l->t->stop, 0, &pb)) < 0)
        return ret;
    if ((ret = lr_ladder_mux_open(pb, l->pipe, c->transcode.audio_only, &oc)) < 0) {
        lr_error("lecture=%s cannot start the ladder link: %s", l->name, av_err2str(ret));
        lr_link_avio_close(&pb);
        return ret;
    }
    pthread_mutex_lock(&l->lock);
    l->oc = oc;
    l->out_pb = pb;
    pthread_mutex_unlock(&l->lock);
    lr_pipeline_force_keyframe(l->pipe);  /* the egress can only start at a keyframe */
    lr_info("lecture=%s ladder link up to %s (%d rungs)", l->name, c->transcode.link,
            lr_pipeline_nb_rungs(l->pipe));
    return 0;
}

/* Keeps the egress link up without stalling the encoders: while it is down,
 * encoded packets are dropped (counted) and reconnects back off. */
static void ensure_output(lecture *l)
{
    int up, ret;

    pthread_mutex_lock(&l->lock);
    up = l->oc != NULL;
    pthread_mutex_unlock(&l->lock);
    if (up || lr_now_ns() < l->reconnect.retry_at)
        return;
    ret = open_output(l);
    if (ret >= 0)
        lr_backoff_succeeded(&l->reconnect);
    else
        lr_backoff_failed(&l->reconnect, lr_now_ns());
}

/* lr_sink_fn: from the rungs' threads and the lecture's own. */
static int write_packet(void *opaque, AVPacket *pkt, int ost, AVRational tb)
{
    lecture *l = opaque;
    int ret = 0;

    pthread_mutex_lock(&l->lock);
    if (!l->oc) {
        l->dropped_pkts++;
        av_packet_unref(pkt);
        goto out;
    }
    pkt->stream_index = ost;
    av_packet_rescale_ts(pkt, tb, l->oc->streams[ost]->time_base);
    ret = av_interleaved_write_frame(l->oc, pkt);
    if (ret == AVERROR(EINVAL)) {      /* the muxer refused this packet, logged */
        l->dropped_pkts++;
        ret = 0;
    } else if (ret < 0 && ret != AVERROR_EXIT) {
        lr_warn("lecture=%s ladder link broke: %s; reconnecting", l->name, av_err2str(ret));
        close_output(l);
        l->reconnect.retry_at = lr_now_ns() + BACKOFF_MIN_MS * 1000000LL;
        ret = 0;
    }
out:
    pthread_mutex_unlock(&l->lock);
    return ret;
}

static int open_input(lecture *l)
{
    AVDictionary *opts = NULL;
    int ret;

    if (!(l->ifmt = avformat_alloc_context()))
        return AVERROR(ENOMEM);
    l->ifmt->pb = l->in_pb;
    l->ifmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    av_dict_set(&opts, "analyzeduration", "3000000", 0);
    av_dict_set(&opts, "probesize", "4000000", 0);
    ret = avformat_open_input(&l->ifmt, NULL, av_find_input_format("mpegts"), &opts);
    av_dict_free(&opts);
    if (ret < 0 || (ret = avformat_find_stream_info(l->ifmt, NULL)) < 0) {
        lr_error("lecture=%s transcode: the link carries no readable MPEG-TS: %s", l->name,
                 av_err2str(ret));
        return ret;
    }
    return 0;
}

static void *lecture_thread(void *arg)
{
    lecture *l = arg;
    AVPacket *in = av_packet_alloc();
    int ret = in ? open_input(l) : AVERROR(ENOMEM);

    if (ret >= 0)
        ret = lr_pipeline_open(&l->t->conf->transcode, l->name, l->ifmt, 1, write_packet, l,
                               &l->pipe);
    while (ret >= 0 && !lr_stop_requested(&l->t->stop)) {
        ensure_output(l);
        if ((ret = lr_link_read_packet(l->ifmt, in)) < 0)
            break;
        ret = lr_pipeline_send_packet(l->pipe, in);
        av_packet_unref(in);
    }
    if (l->pipe && ret != AVERROR_EXIT && !lr_stop_requested(&l->t->stop))
        lr_pipeline_finish(l->pipe);  /* the link ended: the last frames go out */
    if (ret < 0 && ret != AVERROR_EXIT)
        lr_info("lecture=%s transcode pipeline ended: %s (%" PRId64 " packets dropped while "
                "the ladder link was down)", l->name, av_err2str(ret), l->dropped_pkts);
    av_packet_free(&in);
    lr_pipeline_free(&l->pipe);       /* joins the rungs' threads: no more writes */
    close_output(l);
    avformat_close_input(&l->ifmt);
    lr_link_avio_close(&l->in_pb);
    pthread_mutex_destroy(&l->lock);
    lr_worker_done(&l->worker);
    return NULL;
}

static int admit(void *opaque, const lr_streamid *sid, const char *peer, lr_link_admission *ad)
{
    lr_transcode *t = opaque;
    int busy = 0;

    if (strcmp(sid->mode, "publish")) {
        ad->reason = "stream id mode must be publish";
        return AVERROR(EINVAL);
    }
    pthread_mutex_lock(&t->pipelines.lock);
    for (lr_worker *w = t->pipelines.head; w; w = w->next)
        busy |= !atomic_load(&w->done) && !strcmp(((lecture *)w)->name, sid->resource);
    pthread_mutex_unlock(&t->pipelines.lock);
    if (busy) {
        ad->reason = "lecture already has a live publisher";
        return AVERROR(EBUSY);
    }
    return 0;
}

static int accept_link(void *opaque, int sock, const lr_streamid *sid, const char *peer)
{
    lr_transcode *t = opaque;
    lecture *l;
    int ret;

    lr_workers_reap(&t->pipelines, 0);
    if (!(l = av_mallocz(sizeof(*l))))
        return AVERROR(ENOMEM);  /* the listener closes the socket */
    l->t = t;
    pthread_mutex_init(&l->lock, NULL);
    lr_backoff_init(&l->reconnect, BACKOFF_MIN_MS, BACKOFF_MAX_MS, 0);
    av_strlcpy(l->name, sid->resource, sizeof(l->name));
    if ((ret = lr_link_avio_open(sock, 0, &t->stop, LINK_IDLE_MS, &l->in_pb)) < 0) {
        pthread_mutex_destroy(&l->lock);
        av_free(l);
        return 0;  /* the socket is already closed */
    }
    if ((ret = lr_workers_start(&t->pipelines, &l->worker, lecture_thread)) < 0) {
        lr_link_avio_close(&l->in_pb);
        pthread_mutex_destroy(&l->lock);
        av_free(l);
    }
    return 0;  /* the socket is the lecture's, or closed */
}

int lr_transcode_start(const lr_config *c, lr_transcode **out)
{
    lr_link_opts lo = { c->link.latency_ms, c->link.passphrase };
    lr_transcode *t;
    int ret;

    if (!(t = av_mallocz(sizeof(*t))))
        return AVERROR(ENOMEM);
    t->conf = c;
    if ((ret = lr_stop_init(&t->stop)) < 0) {
        av_free(t);
        return ret;
    }
    lr_workers_init(&t->pipelines);
    if ((ret = lr_link_listen(c->transcode.listen, &lo, "transcode", admit, accept_link, t,
                              &t->listener)) < 0) {
        lr_transcode_stop(&t);
        return ret;
    }
    *out = t;
    return 0;
}

void lr_transcode_stop(lr_transcode **pt)
{
    lr_transcode *t = *pt;

    if (!t)
        return;
    lr_stop_request(&t->stop);
    lr_link_listener_free(&t->listener);
    lr_workers_destroy(&t->pipelines);
    lr_stop_destroy(&t->stop);
    av_freep(pt);
}
