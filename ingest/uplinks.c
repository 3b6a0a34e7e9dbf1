/* ingest/uplinks.c — see uplinks.h. The links themselves are
 * common/outlinks.c's; here is what the ingest's carry: the source's
 * streams, a TS session per set of codec parameters, and a link that is down
 * keeping what it needs to start again. */
#include "uplinks.h"

#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/mem.h>

#include "common/log.h"
#include "common/outlinks.h"
#include "common/ts_mux.h"
#include "common/ts_wall.h"

#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 2000
#define QUEUE_PACKETS  4096
#define QUEUE_BYTES    (16 << 20) /* about 25 s of a 5 Mb/s source */
#define STARTUP_SPAN   (10 * 90000)

/* What one link's session was opened with: its thread's alone. */
typedef struct uplink {
    AVCodecParameters *par[LR_FEED_NB];
    int                stream[LR_FEED_NB]; /* kind -> the muxer's stream, -1 none */
} uplink;

struct lr_uplinks {
    lr_outlinks       *ol;
    char               lecture[LR_LECTURE_NAME_MAX + 1];
    AVCodecParameters *par[LR_FEED_NB]; /* under the links' lock; the run's */
    uplink             links[LR_MAX_LINKS];
};

/* A link that is down starts again at a keyframe: it keeps the newest one and
 * what follows, so a transcoder that comes back gets at most a GOP of backlog.
 * A link being opened for the first time (an RTT probe and a handshake across
 * the border take a second or two) keeps the lecture from its start, up to
 * STARTUP_SPAN. Until a queue starts at a keyframe it takes nothing (the
 * video is the run's key stream, gate_all). */
static lr_outlink_take admit(void *opaque, lr_outlink *l, const AVPacket *pkt)
{
    const AVPacket *first = lr_pktq_peek(l->queue, 0);
    int             key = pkt->stream_index == LR_FEED_VIDEO && (pkt->flags & AV_PKT_FLAG_KEY);

    if (key && !l->up && first && (l->was_up || pkt->dts - first->dts > STARTUP_SPAN))
        return LR_OUTLINK_RESTART;
    return LR_OUTLINK_QUEUE;
}

/* The run's parameters, copied for the session about to open. */
static int prepare(void *opaque, lr_outlink *l)
{
    lr_uplinks *u = opaque;
    uplink     *o = &u->links[l->index];

    for (int k = 0; k < LR_FEED_NB; k++) {
        avcodec_parameters_free(&o->par[k]);
        if (u->par[k] && (!(o->par[k] = avcodec_parameters_alloc()) ||
                          avcodec_parameters_copy(o->par[k], u->par[k]) < 0))
            return AVERROR(ENOMEM);
    }
    return 0;
}

/* The TS with the session's streams (stream k of the muxer is the k-th
 * present). */
static int open_ts(void *opaque, lr_outlink *l, AVIOContext *pb, AVFormatContext **oc)
{
    lr_uplinks *u = opaque;
    uplink     *o = &u->links[l->index];
    int         ret;

    if ((ret = lr_ts_mux_alloc(pb, oc)) < 0)
        return ret;
    av_dict_set(&(*oc)->metadata, "service_provider", LR_TS_PROVIDER_INGEST, 0);
    for (int k = 0; k < LR_FEED_NB; k++) {
        AVStream *ost;
        o->stream[k] = -1;
        if (!o->par[k])
            continue;
        if (!(ost = avformat_new_stream(*oc, NULL))) {
            ret = AVERROR(ENOMEM);
            goto fail;
        }
        if ((ret = avcodec_parameters_copy(ost->codecpar, o->par[k])) < 0)
            goto fail;
        ost->codecpar->codec_tag = 0;
        ost->time_base = (AVRational){ 1, 90000 };
        o->stream[k] = ost->index;
    }
    if ((ret = lr_ts_mux_begin(*oc)) < 0) {
        lr_error("lecture=%s cannot start the link's TS muxer: %s", u->lecture, av_err2str(ret));
        goto fail;
    }
    return 0;
fail:
    lr_ts_mux_free(oc);
    return ret;
}

static int write_ts(void *opaque, lr_outlink *l, AVFormatContext *oc, AVIOContext *pb,
                    AVPacket *pkt)
{
    lr_uplinks *u = opaque;
    int         s = u->links[l->index].stream[pkt->stream_index];

    if (s < 0)
        return 0;
    pkt->stream_index = s;
    pkt->pos = -1;
    return av_interleaved_write_frame(oc, pkt);
}

static const lr_outlinks_ops uplinks_ops = {
    .admit = admit,
    .prepare = prepare,
    .open = open_ts,
    .write = write_ts,
};

void lr_uplinks_write(lr_uplinks *u, const AVPacket *pkt)
{
    lr_outlinks_write(u->ol, pkt);
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
    lr_outlinks_lock(u->ol);
    for (int k = 0; k < LR_FEED_NB; k++) {
        avcodec_parameters_free(&u->par[k]);
        u->par[k] = copy[k];
    }
    /* A TS link can't change codec under the same PID: a new session. */
    lr_outlinks_begin_run(u->ol, u->par[LR_FEED_VIDEO] ? UINT64_C(1) << LR_FEED_VIDEO : 0,
                          "source codecs changed");
    lr_outlinks_unlock(u->ol);
    return 0;
}

int lr_uplinks_start(const lr_config *c, const char *lecture, lr_stop *stop, lr_uplinks **out)
{
    lr_uplinks      *u = av_mallocz(sizeof(*u));
    lr_outlinks_opts o = {
        .lecture = lecture,
        .urls = (const char *const *)c->ingest.links,
        .nb_links = c->ingest.nb_links,
        .link = lr_link_opts_of(&c->link),
        .stop = stop,
        .backoff_min_ms = BACKOFF_MIN_MS,
        .backoff_max_ms = BACKOFF_MAX_MS,
        .max_pkts = QUEUE_PACKETS,
        .max_bytes = QUEUE_BYTES,
        .keep_while_down = 1,
        .gate_all = 1,
        .name = "link",
        .peer = "transcoder",
    };
    int ret;

    if (!u)
        return AVERROR(ENOMEM);
    av_strlcpy(u->lecture, lecture, sizeof(u->lecture));
    if ((ret = lr_outlinks_start(&o, &uplinks_ops, u, &u->ol)) < 0) {
        av_free(u);
        return ret;
    }
    *out = u;
    return 0;
}

void lr_uplinks_end(lr_uplinks *u)
{
    lr_outlinks_lock(u->ol);
    lr_outlinks_end_run(u->ol, "the lecture ended");
    lr_outlinks_unlock(u->ol);
}

void lr_uplinks_get_stats(lr_uplinks *u, lr_uplinks_stats *st)
{
    *st = (lr_uplinks_stats){ .nb_links = lr_outlinks_nb_links(u->ol) };
    for (int i = 0; i < st->nb_links; i++) {
        lr_outlink_stats ls;
        lr_outlinks_get_stats(u->ol, i, &ls);
        st->up += ls.up;
        st->reconnects += ls.reconnects;
        st->dropped += ls.lost_full + ls.lost_key + ls.lost_down + ls.lost_run;
    }
}

void lr_uplinks_free(lr_uplinks **pu)
{
    lr_uplinks *u = *pu;

    if (!u)
        return;
    lr_outlinks_free(&u->ol);
    for (int i = 0; i < LR_MAX_LINKS; i++)
        for (int k = 0; k < LR_FEED_NB; k++)
            avcodec_parameters_free(&u->links[i].par[k]);
    for (int k = 0; k < LR_FEED_NB; k++)
        avcodec_parameters_free(&u->par[k]);
    av_freep(pu);
}
