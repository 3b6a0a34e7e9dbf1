/* ingest/uplinks.c — see uplinks.h. */
#include "uplinks.h"

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

#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 2000
#define QUEUE_PACKETS  4096
#define QUEUE_BYTES    (16 << 20)  /* about 25 s of a 5 Mb/s source */
#define STARTUP_SPAN   (10 * 90000)

typedef struct uplink {
    lr_uplinks     *u;
    const char     *url;
    pthread_t       thread;
    int             started;

    /* under u->lock */
    AVPacket       *queue[QUEUE_PACKETS];  /* a ring */
    int             head, count;
    size_t          bytes;
    int             up;        /* connected, its muxer open */
    int             was_up;    /* ever */
    int             gen;       /* the parameters it was opened with */
    int             want_key;  /* queue nothing until a video keyframe: so a queue
                                  always starts at one, and a link (re)opened
                                  sends from it */
    int64_t         reconnects, dropped;
    pthread_cond_t  wake;
} uplink;

struct lr_uplinks {
    const lr_config   *c;
    char               lecture[LR_LECTURE_NAME_MAX + 1];
    lr_stop           *stop;
    pthread_mutex_t    lock;
    int                ending;
    int                run_over;           /* lr_uplinks_end: close, don't reconnect */
    int                gen;                /* 0: no parameters yet */
    AVCodecParameters *par[LR_FEED_NB];
    int                nb_links;
    uplink             links[LR_MAX_LINKS];
};

static void drop_queue(uplink *o)
{
    o->dropped += o->count;
    while (o->count) {
        av_packet_free(&o->queue[o->head]);
        o->head = (o->head + 1) % QUEUE_PACKETS;
        o->count--;
    }
    o->bytes = 0;
}

static int has_video(const lr_uplinks *u)
{
    return u->par[LR_FEED_VIDEO] != NULL;
}

void lr_uplinks_write(lr_uplinks *u, const AVPacket *pkt)
{
    int key = pkt->stream_index == LR_FEED_VIDEO && (pkt->flags & AV_PKT_FLAG_KEY);

    pthread_mutex_lock(&u->lock);
    for (int i = 0; i < u->nb_links; i++) {
        uplink *o = &u->links[i];
        AVPacket *ref;
        /* A link that is down starts again at a keyframe: it keeps the newest
         * one and what follows, so a transcoder that comes back gets at most
         * a GOP of backlog. A link being opened for the first time (an RTT
         * probe and a handshake across the border take a second or two)
         * keeps the lecture from its start, up to STARTUP_SPAN. */
        if (key && !o->up && o->count &&
            (o->was_up || pkt->dts - o->queue[o->head]->dts > STARTUP_SPAN))
            drop_queue(o);
        if (o->want_key && has_video(u) && !key) {
            o->dropped++;
            continue;
        }
        o->want_key = 0;
        if (o->count == QUEUE_PACKETS || o->bytes + (size_t)pkt->size > QUEUE_BYTES) {
            lr_warn("lecture=%s transcoder %s is not keeping up: its queue is full, %d packets "
                    "dropped; it resumes at the next keyframe", u->lecture, o->url, o->count + 1);
            drop_queue(o);
            o->dropped++;
            o->want_key = 1;
            continue;
        }
        if (!(ref = av_packet_clone(pkt))) {
            o->dropped++;
            continue;
        }
        o->queue[(o->head + o->count++) % QUEUE_PACKETS] = ref;
        o->bytes += (size_t)ref->size;
        pthread_cond_signal(&o->wake);
    }
    pthread_mutex_unlock(&u->lock);
}

int lr_uplinks_set_params(lr_uplinks *u, const AVCodecParameters *const par[LR_FEED_NB])
{
    AVCodecParameters *copy[LR_FEED_NB] = { NULL };

    for (int k = 0; k < LR_FEED_NB; k++) {
        if (!par[k])
            continue;
        if (!(copy[k] = avcodec_parameters_alloc()) ||
            avcodec_parameters_copy(copy[k], par[k]) < 0) {
            for (int j = 0; j <= k; j++)
                avcodec_parameters_free(&copy[j]);
            return AVERROR(ENOMEM);
        }
    }
    pthread_mutex_lock(&u->lock);
    for (int k = 0; k < LR_FEED_NB; k++) {
        avcodec_parameters_free(&u->par[k]);
        u->par[k] = copy[k];
    }
    u->gen++;
    u->run_over = 0;
    for (int i = 0; i < u->nb_links; i++) {
        drop_queue(&u->links[i]);
        u->links[i].want_key = 1;
        pthread_cond_signal(&u->links[i].wake);
    }
    pthread_mutex_unlock(&u->lock);
    return 0;
}

/* Connects and starts the TS with par's streams (stream k of the muxer is
 * the k-th present). Without the lock. */
static int connect_link(uplink *o, AVCodecParameters *const par[LR_FEED_NB], int stream[],
                        AVIOContext **pb, AVFormatContext **oc)
{
    lr_uplinks *u = o->u;
    lr_link_opts lo = { u->c->link.latency_ms, u->c->link.passphrase };
    char sid[128];
    int sock, ret;

    if ((ret = lr_streamid_format(sid, sizeof(sid), u->lecture, "publish")) < 0 ||
        (ret = lr_link_connect(o->url, sid, &lo, u->stop, &sock)) < 0 ||
        (ret = lr_link_avio_open(sock, 1, u->stop, 0, pb)) < 0)
        return ret;
    if ((ret = lr_ts_mux_alloc(*pb, oc)) < 0)
        goto fail;
    for (int k = 0; k < LR_FEED_NB; k++) {
        AVStream *ost;
        stream[k] = -1;
        if (!par[k])
            continue;
        if (!(ost = avformat_new_stream(*oc, NULL))) {
            ret = AVERROR(ENOMEM);
            goto fail;
        }
        if ((ret = avcodec_parameters_copy(ost->codecpar, par[k])) < 0)
            goto fail;
        ost->codecpar->codec_tag = 0;
        ost->time_base = (AVRational){ 1, 90000 };
        stream[k] = ost->index;
    }
    if ((ret = lr_ts_mux_begin(*oc)) < 0) {
        lr_error("lecture=%s cannot start the link's TS muxer: %s", u->lecture,
                 av_err2str(ret));
        goto fail;
    }
    return 0;
fail:
    lr_ts_mux_free(oc);
    lr_link_avio_close(pb);
    return ret;
}

static void disconnect(AVIOContext **pb, AVFormatContext **oc, int trailer)
{
    lr_ts_mux_end(oc, trailer);
    lr_link_avio_close(pb);
}

static void *uplink_thread(void *arg)
{
    uplink *o = arg;
    lr_uplinks *u = o->u;
    AVIOContext *pb = NULL;
    AVFormatContext *oc = NULL;
    AVCodecParameters *par[LR_FEED_NB] = { NULL };
    int stream[LR_FEED_NB];
    lr_backoff backoff;

    lr_backoff_init(&backoff, BACKOFF_MIN_MS, BACKOFF_MAX_MS, 1);
    pthread_mutex_lock(&u->lock);
    while (!lr_stop_requested(u->stop)) {
        if (oc && o->gen != u->gen) {
            o->up = 0;
            pthread_mutex_unlock(&u->lock);
            lr_info("lecture=%s source codecs changed: new link session to %s", u->lecture,
                    o->url);
            disconnect(&pb, &oc, 1);
            pthread_mutex_lock(&u->lock);
            continue;
        }
        if (!oc) {
            int gen = u->gen, ret = 0;
            if (u->ending)
                break;
            if (u->run_over) {  /* nothing to carry until the next set_params */
                drop_queue(o);
                lr_cond_wait_until(&o->wake, &o->u->lock, 0);
                continue;
            }
            if (!gen || lr_now_ns() < backoff.retry_at) {
                lr_cond_wait_until(&o->wake, &o->u->lock, gen ? backoff.retry_at : 0);
                continue;
            }
            for (int k = 0; k < LR_FEED_NB && ret >= 0; k++) {
                avcodec_parameters_free(&par[k]);
                if (u->par[k] && (!(par[k] = avcodec_parameters_alloc()) ||
                                  avcodec_parameters_copy(par[k], u->par[k]) < 0))
                    ret = AVERROR(ENOMEM);
            }
            pthread_mutex_unlock(&u->lock);
            if (ret >= 0)
                ret = connect_link(o, par, stream, &pb, &oc);
            pthread_mutex_lock(&u->lock);
            if (ret < 0) {
                o->reconnects++;
                lr_backoff_failed(&backoff, lr_now_ns());
                continue;
            }
            lr_backoff_succeeded(&backoff);
            o->gen = gen;
            o->up = o->was_up = 1;
            lr_info("lecture=%s link up to %s", u->lecture, o->url);
            continue;
        }
        if (!o->count) {
            if (u->ending)
                break;
            if (u->run_over) {
                /* Everything queued is sent: the trailer, then the close,
                 * which the transcoder takes as the lecture's end. */
                o->up = 0;
                pthread_mutex_unlock(&u->lock);
                disconnect(&pb, &oc, 1);
                lr_info("lecture=%s link to %s closed: the lecture ended", u->lecture, o->url);
                pthread_mutex_lock(&u->lock);
                o->want_key = 1;
                continue;
            }
            lr_cond_wait_until(&o->wake, &o->u->lock, 0);
            continue;
        }
        AVPacket *pkt = o->queue[o->head];
        o->head = (o->head + 1) % QUEUE_PACKETS;
        o->count--;
        o->bytes -= (size_t)pkt->size;
        pthread_mutex_unlock(&u->lock);

        int ret = 0;
        if (stream[pkt->stream_index] >= 0) {
            pkt->stream_index = stream[pkt->stream_index];
            pkt->pos = -1;
            ret = av_interleaved_write_frame(oc, pkt);
        }
        av_packet_free(&pkt);

        pthread_mutex_lock(&u->lock);
        if (ret >= 0 || ret == AVERROR(EINVAL))  /* EINVAL: the muxer refused it, logged */
            continue;
        o->up = 0;
        drop_queue(o);
        o->want_key = 1;
        pthread_mutex_unlock(&u->lock);
        if (ret != AVERROR_EXIT)
            lr_warn("lecture=%s link to %s broke: %s; reconnecting", u->lecture, o->url,
                    av_err2str(ret));
        disconnect(&pb, &oc, 0);
        pthread_mutex_lock(&u->lock);
        backoff.retry_at = lr_now_ns() + BACKOFF_MIN_MS * INT64_C(1000000);
    }
    o->up = 0;
    drop_queue(o);
    pthread_mutex_unlock(&u->lock);
    disconnect(&pb, &oc, 1);  /* the trailer, then the link lingers until all is delivered */
    for (int k = 0; k < LR_FEED_NB; k++)
        avcodec_parameters_free(&par[k]);
    return NULL;
}

int lr_uplinks_start(const lr_config *c, const char *lecture, lr_stop *stop, lr_uplinks **out)
{
    lr_uplinks *u = av_mallocz(sizeof(*u));
    pthread_condattr_t attr;
    int ret = 0;

    if (!u)
        return AVERROR(ENOMEM);
    u->c = c;
    av_strlcpy(u->lecture, lecture, sizeof(u->lecture));
    u->stop = stop;
    pthread_mutex_init(&u->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);  /* lr_now_ns's clock */
    for (int i = 0; i < c->ingest.nb_links; i++) {
        uplink *o = &u->links[u->nb_links++];
        o->u = u;
        o->url = c->ingest.links[i];
        o->want_key = 1;
        pthread_cond_init(&o->wake, &attr);
    }
    pthread_condattr_destroy(&attr);
    for (int i = 0; i < u->nb_links && ret == 0; i++) {
        ret = -pthread_create(&u->links[i].thread, NULL, uplink_thread, &u->links[i]);
        u->links[i].started = ret == 0;
    }
    if (ret < 0) {
        lr_uplinks_free(&u);
        return AVERROR(-ret);
    }
    *out = u;
    return 0;
}

void lr_uplinks_end(lr_uplinks *u)
{
    pthread_mutex_lock(&u->lock);
    u->run_over = 1;
    for (int i = 0; i < u->nb_links; i++)
        pthread_cond_signal(&u->links[i].wake);
    pthread_mutex_unlock(&u->lock);
}

void lr_uplinks_get_stats(lr_uplinks *u, lr_uplinks_stats *st)
{
    *st = (lr_uplinks_stats){ .nb_links = u->nb_links };
    pthread_mutex_lock(&u->lock);
    for (int i = 0; i < u->nb_links; i++) {
        st->up += u->links[i].up;
        st->reconnects += u->links[i].reconnects;
        st->dropped += u->links[i].dropped;
    }
    pthread_mutex_unlock(&u->lock);
}

void lr_uplinks_free(lr_uplinks **pu)
{
    lr_uplinks *u = *pu;

    if (!u)
        return;
    pthread_mutex_lock(&u->lock);
    u->ending = 1;
    for (int i = 0; i < u->nb_links; i++)
        pthread_cond_signal(&u->links[i].wake);
    pthread_mutex_unlock(&u->lock);
    for (int i = 0; i < u->nb_links; i++) {
        uplink *o = &u->links[i];
        if (o->started)
            pthread_join(o->thread, NULL);
        drop_queue(o);
        pthread_cond_destroy(&o->wake);
    }
    for (int k = 0; k < LR_FEED_NB; k++)
        avcodec_parameters_free(&u->par[k]);
    pthread_mutex_destroy(&u->lock);
    av_freep(pu);
}
