/* egress/egress.c — the egress role. Every link that arrives gets a receiver
 * thread: it demuxes the ladder (one program per rendition, named by its
 * service_name), feeds each rendition's segmenter, and publishes segments and
 * re-rendered playlists to the store, which the HTTP server reads. A lecture's
 * state outlives its link, so a reconnect continues the same playlists. */
#include "egress.h"

#include <math.h>
#include <stdlib.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/mem.h>

#include "common/link.h"
#include "common/log.h"
#include "common/stop.h"
#include "common/workers.h"
#include "http.h"
#include "playlist.h"
#include "segmenter.h"
#include "store.h"

#define LINK_IDLE_MS   5000
#define MAX_KEEP       10000
#define SEGMENT_MAX_AGE 86400
#define PLAYLIST_MAX_AGE 1

typedef struct rendition {
    char          name[LR_LECTURE_NAME_MAX + 1];
    int           vidx, aidx;      /* input streams of the current link */
    lr_segmenter *seg;
    lr_seg_info  *segs;            /* ring of the kept segments' info */
    int           nb_segs;
    int64_t       next_seq;
    int           width, height;
    double        frame_rate;
    char          codecs[40];
    int64_t       peak_bps;
    int64_t       total_bytes;
    double        total_duration;
    int           pending_disc;    /* the next segment follows a media break */
    int64_t       disc_sequence;   /* EXT-X-DISCONTINUITY-SEQUENCE of the window */
} rendition;

typedef struct lecture lecture;
struct lecture {
    lecture    *next;
    char        name[LR_LECTURE_NAME_MAX + 1];
    atomic_int  live;              /* a link is feeding it */
    rendition   rends[16];
    int         nb_rends;
    int64_t     last_end_pts;      /* 1/90000, end of the newest segment */
};

typedef struct receiver receiver;

struct lr_egress {
    const lr_config  *conf;
    lr_stop           stop;
    lr_store         *store;
    lr_http          *http;
    lr_link_listener *listener;
    pthread_mutex_t   lock;
    lecture          *lectures;    /* guarded by lock; each fed by one receiver at a time */
    lr_workers        receivers;
};

struct receiver {
    lr_worker        worker;       /* first: the list of receivers */
    lr_egress       *e;
    lecture         *lec;
    char             peer[64];
    AVIOContext     *pb;
    AVFormatContext *ifmt;
};

static lecture *find_lecture(lr_egress *e, const char *name)
{
    for (lecture *l = e->lectures; l; l = l->next)
        if (!strcmp(l->name, name))
            return l;
    return NULL;
}

static void publish(lr_egress *e, const char *path, AVBufferRef *buf, const char *type,
                    int max_age, int immutable)
{
    lr_store_obj obj = { .data = buf, .content_type = type, .max_age_s = max_age,
                         .immutable = immutable };
    if (lr_store_put(e->store, path, &obj) < 0)
        lr_error("store: cannot publish %s (out of memory)", path);
}

static void publish_text(lr_egress *e, const char *path, char *text, size_t len)
{
    AVBufferRef *buf = av_buffer_create((uint8_t *)text, len, av_buffer_default_free, NULL,
                                        AV_BUFFER_FLAG_READONLY);
    if (!buf) {
        av_free(text);
        return;
    }
    publish(e, path, buf, "application/vnd.apple.mpegurl", PLAYLIST_MAX_AGE, 0);
    av_buffer_unref(&buf);
}

static void publish_master(lr_egress *e, lecture *lec)
{
    lr_variant v[16];
    char path[160], *text;
    size_t len;
    int nb = 0;

    for (int i = 0; i < lec->nb_rends; i++) {
        rendition *r = &lec->rends[i];
        if (r->vidx < 0)
            continue;  /* not in the current link (the ladder changed) */
        if (!r->nb_segs || !r->codecs[0])
            return;  /* listed only once every rendition has a measured segment */
        v[nb++] = (lr_variant){
            .name = r->name, .bandwidth = r->peak_bps,
            .avg_bandwidth = (int64_t)(r->total_bytes * 8 / FFMAX(r->total_duration, 0.001)),
            .width = r->width, .height = r->height, .frame_rate = r->frame_rate,
            .codecs = r->codecs };
    }
    if (!nb || lr_playlist_render_master(&(lr_master){ v, nb, NULL, 0 }, &text, &len) < 0)
        return;
    snprintf(path, sizeof(path), "%s/master.m3u8", lec->name);
    publish_text(e, path, text, len);
}

static void publish_segment(lr_egress *e, lecture *lec, rendition *r, lr_segment *s)
{
    const lr_egress_conf *ec = &e->conf->egress;
    int keep = FFMIN(ec->keep_segments, MAX_KEEP), window = ec->playlist_segments;
    char path[160], *text;
    size_t len;
    lr_seg_info *info;
    int64_t bps;

    /* A discontinuity leaving the playlist window moves into the sequence. */
    if (r->nb_segs >= window && r->segs[r->nb_segs - window].discontinuity)
        r->disc_sequence++;
    if (r->nb_segs == keep) {  /* the ring is full: forget the oldest */
        snprintf(path, sizeof(path), "%s/%s/%" PRId64 ".ts", lec->name, r->name, r->segs[0].seq);
        lr_store_remove(e->store, path);
        memmove(r->segs, r->segs + 1, sizeof(*r->segs) * (size_t)(keep - 1));
        r->nb_segs--;
    }
    info = &r->segs[r->nb_segs];
    *info = (lr_seg_info){ .seq = r->next_seq++, .duration = s->duration,
                           .discontinuity = r->pending_disc, .bytes = s->data->size };
    r->pending_disc = 0;
    snprintf(path, sizeof(path), "%s/%s/%" PRId64 ".ts", lec->name, r->name, info->seq);
    publish(e, path, s->data, "video/mp2t", SEGMENT_MAX_AGE, 1);
    r->nb_segs++;

    bps = (int64_t)(s->data->size * 8 / FFMAX(s->duration, 0.1));
    r->total_bytes += s->data->size;
    r->total_duration += s->duration;
    r->peak_bps = FFMAX(r->peak_bps, bps);

    window = FFMIN(r->nb_segs, window);
    lr_media_playlist pl = {
        .target_duration = lr_playlist_target_duration(r->segs + r->nb_segs - window, window,
                                                       (int)ceil(ec->target_duration)),
        .disc_sequence = r->disc_sequence,
        .segs = r->segs + r->nb_segs - window,
        .nb_segs = window,
        .ext = "ts",
    };
    if (lr_playlist_render_media(&pl, &text, &len) >= 0) {
        snprintf(path, sizeof(path), "%s/%s/index.m3u8", lec->name, r->name);
        publish_text(e, path, text, len);
    }
    publish_master(e, lec);
}

/* Finds, or adds, the rendition for this link's program. */
static rendition *attach_rendition(lecture *lec, const char *name, int keep)
{
    rendition *r;

    for (int i = 0; i < lec->nb_rends; i++)
        if (!strcmp(lec->rends[i].name, name))
            return &lec->rends[i];
    if (lec->nb_rends == FF_ARRAY_ELEMS(lec->rends))
        return NULL;
    r = &lec->rends[lec->nb_rends];
    memset(r, 0, sizeof(*r));
    if (!(r->segs = av_calloc((size_t)keep, sizeof(*r->segs))))
        return NULL;
    av_strlcpy(r->name, name, sizeof(r->name));
    lec->nb_rends++;
    return r;
}

/* Maps the link's programs to renditions; returns how many. */
static int map_renditions(receiver *rc)
{
    AVFormatContext *ifmt = rc->ifmt;
    lecture *lec = rc->lec;
    int nb = 0, any_audio = av_find_best_stream(ifmt, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
    int64_t next_seq = 0;

    for (int i = 0; i < lec->nb_rends; i++) {
        lec->rends[i].vidx = lec->rends[i].aidx = -1;
        next_seq = FFMAX(next_seq, lec->rends[i].next_seq);
    }
    for (unsigned v = 0; v < ifmt->nb_streams; v++) {
        const AVStream *st = ifmt->streams[v];
        const AVDictionaryEntry *sn = NULL;
        char name[LR_LECTURE_NAME_MAX + 1];
        int aidx = any_audio;
        rendition *r;

        if (st->codecpar->codec_type != AVMEDIA_TYPE_VIDEO || st->codecpar->width <= 0)
            continue;
        for (unsigned p = 0; p < ifmt->nb_programs; p++) {
            const AVProgram *prog = ifmt->programs[p];
            for (unsigned k = 0; k < prog->nb_stream_indexes; k++) {
                if (prog->stream_index[k] == v)
                    sn = av_dict_get(prog->metadata, "service_name", NULL, 0);
            }
        }
        if (sn && lr_lecture_name_valid(sn->value))
            av_strlcpy(name, sn->value, sizeof(name));
        else
            snprintf(name, sizeof(name), "v%u", v);
        if (!(r = attach_rendition(lec, name, FFMIN(rc->e->conf->egress.keep_segments, MAX_KEEP))))
            break;
        r->vidx = (int)v;
        r->aidx = aidx;
        r->width = st->codecpar->width;
        r->height = st->codecpar->height;
        r->frame_rate = st->avg_frame_rate.num ? av_q2d(st->avg_frame_rate)
                      : st->r_frame_rate.num ? av_q2d(st->r_frame_rate) : 0;
        if (r->frame_rate > 240)
            r->frame_rate = 0;
        lr_segmenter_free(&r->seg);
        if (lr_segmenter_alloc(st, aidx >= 0 ? ifmt->streams[aidx] : NULL,
                               rc->e->conf->egress.target_duration * 0.5, &r->seg) < 0)
            return AVERROR(ENOMEM);
        nb++;
    }
    /* Renditions continue from one shared number, so segment N is the same
     * moment in each of them. */
    for (int i = 0; i < lec->nb_rends; i++)
        lec->rends[i].next_seq = next_seq;
    return nb;
}

static void codecs_string(rendition *r, const AVFormatContext *ifmt)
{
    const char *v = lr_segmenter_video_codec(r->seg);
    const char *a = "";

    if (!v[0])
        return;
    if (r->aidx >= 0) {
        int profile = ifmt->streams[r->aidx]->codecpar->profile;
        a = profile == FF_PROFILE_AAC_HE ? ",mp4a.40.5"
          : profile == FF_PROFILE_AAC_HE_V2 ? ",mp4a.40.29" : ",mp4a.40.2";
    }
    snprintf(r->codecs, sizeof(r->codecs), "%s%s", v, a);
}

static int receive(receiver *rc)
{
    lr_egress *e = rc->e;
    lecture *lec = rc->lec;
    AVDictionary *opts = NULL;
    AVPacket *pkt = NULL;
    int ret, first_segment = 1;

    if (!(rc->ifmt = avformat_alloc_context()))
        return AVERROR(ENOMEM);
    rc->ifmt->pb = rc->pb;
    rc->ifmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    av_dict_set(&opts, "analyzeduration", "3000000", 0);
    av_dict_set(&opts, "probesize", "2000000", 0);
    ret = avformat_open_input(&rc->ifmt, NULL, av_find_input_format("mpegts"), &opts);
    av_dict_free(&opts);
    if (ret < 0 || (ret = avformat_find_stream_info(rc->ifmt, NULL)) < 0 ||
        (ret = map_renditions(rc)) <= 0) {
        lr_warn("lecture=%s egress link from %s: not a readable MPEG-TS ladder (%s); closing",
                lec->name, rc->peer, ret < 0 ? av_err2str(ret) : "no video");
        return ret < 0 ? ret : AVERROR_INVALIDDATA;
    }
    lr_info("lecture=%s egress receiving %d rendition(s) from %s", lec->name, ret, rc->peer);
    if (!(pkt = av_packet_alloc()))
        return AVERROR(ENOMEM);
    while ((ret = lr_link_read_packet(rc->ifmt, pkt)) >= 0) {
        for (int i = 0; i < lec->nb_rends; i++) {
            rendition *r = &lec->rends[i];
            lr_segment seg;
            int is_video = pkt->stream_index == r->vidx;
            if (!r->seg || (!is_video && pkt->stream_index != r->aidx))
                continue;
            if (lr_segmenter_push(r->seg, is_video, pkt, &seg) <= 0)
                continue;
            if (first_segment && lec->last_end_pts != AV_NOPTS_VALUE &&
                llabs(seg.start_pts - lec->last_end_pts) > 90000) {
                /* The media itself broke between links: tell players. */
                for (int k = 0; k < lec->nb_rends; k++)
                    lec->rends[k].pending_disc = 1;
                lr_info("lecture=%s timestamps jumped %.3f s across the link break: "
                        "discontinuity", lec->name, (seg.start_pts - lec->last_end_pts) / 9e4);
            }
            first_segment = 0;
            if (!r->codecs[0])
                codecs_string(r, rc->ifmt);
            publish_segment(e, lec, r, &seg);
            if (seg.gap_after) {
                r->pending_disc = 1;
                if (i == 0)
                    lr_info("lecture=%s the media breaks off after segment %" PRId64
                            ": discontinuity", lec->name, r->next_seq - 1);
            }
            lec->last_end_pts = seg.start_pts + (int64_t)(seg.duration * 90000);
            av_buffer_unref(&seg.data);
        }
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
    return ret;
}

static void *receiver_thread(void *arg)
{
    receiver *rc = arg;
    int ret = receive(rc);

    if (ret != AVERROR_EXIT)
        lr_info("lecture=%s egress link from %s ended: %s", rc->lec->name, rc->peer,
                av_err2str(ret));
    avformat_close_input(&rc->ifmt);
    lr_link_avio_close(&rc->pb);
    for (int i = 0; i < rc->lec->nb_rends; i++)
        lr_segmenter_free(&rc->lec->rends[i].seg);
    atomic_store(&rc->lec->live, 0);
    lr_worker_done(&rc->worker);
    return NULL;
}

static int admit(void *opaque, const lr_streamid *sid, const char *peer, lr_link_admission *ad)
{
    lr_egress *e = opaque;
    lecture *lec;
    int busy;

    if (strcmp(sid->mode, "publish")) {
        ad->reason = "stream id mode must be publish";
        return AVERROR(EINVAL);
    }
    pthread_mutex_lock(&e->lock);
    lec = find_lecture(e, sid->resource);
    busy = lec && atomic_load(&lec->live);
    pthread_mutex_unlock(&e->lock);
    if (busy) {
        ad->reason = "lecture already has a live link";
        return AVERROR(EBUSY);
    }
    return 0;
}

static int accept_link(void *opaque, int sock, const lr_streamid *sid, const char *peer)
{
    lr_egress *e = opaque;
    receiver *rc = NULL;
    lecture *lec;
    int ret;

    lr_workers_reap(&e->receivers, 0);
    pthread_mutex_lock(&e->lock);
    lec = find_lecture(e, sid->resource);
    if (!lec && (lec = av_mallocz(sizeof(*lec)))) {
        av_strlcpy(lec->name, sid->resource, sizeof(lec->name));
        lec->last_end_pts = AV_NOPTS_VALUE;
        lec->next = e->lectures;
        e->lectures = lec;
    }
    if (!lec || atomic_load(&lec->live) || !(rc = av_mallocz(sizeof(*rc)))) {
        pthread_mutex_unlock(&e->lock);
        return lec ? AVERROR(EBUSY) : AVERROR(ENOMEM);
    }
    atomic_store(&lec->live, 1);
    pthread_mutex_unlock(&e->lock);

    rc->e = e;
    rc->lec = lec;
    av_strlcpy(rc->peer, peer, sizeof(rc->peer));
    if (lr_link_avio_open(sock, 0, &e->stop, LINK_IDLE_MS, &rc->pb) < 0)
        goto fail;  /* the socket is closed already */
    if ((ret = lr_workers_start(&e->receivers, &rc->worker, receiver_thread)) < 0) {
        lr_link_avio_close(&rc->pb);
        goto fail;
    }
    return 0;
fail:
    atomic_store(&lec->live, 0);
    av_free(rc);
    return 0;
}

int lr_egress_start(const lr_config *c, lr_egress **out)
{
    lr_link_opts lo = { c->link.latency_ms, c->link.passphrase };
    lr_egress *e;
    int ret;

    if (!(e = av_mallocz(sizeof(*e))))
        return AVERROR(ENOMEM);
    e->conf = c;
    if ((ret = lr_stop_init(&e->stop)) < 0) {
        av_free(e);
        return ret;
    }
    pthread_mutex_init(&e->lock, NULL);
    lr_workers_init(&e->receivers);
    if (!(e->store = lr_store_alloc())) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    if ((ret = lr_http_start(c->egress.http, e->store, c->egress.assets_dir, &e->http)) < 0)
        goto fail;
    if ((ret = lr_link_listen(c->egress.listen, &lo, "egress", admit, accept_link, e,
                              &e->listener)) < 0)
        goto fail;
    *out = e;
    return 0;
fail:
    lr_egress_stop(&e);
    return ret;
}

int lr_egress_http_port(const lr_egress *e)
{
    return lr_http_port(e->http);
}

void lr_egress_stop(lr_egress **pe)
{
    lr_egress *e = *pe;

    if (!e)
        return;
    lr_stop_request(&e->stop);
    lr_link_listener_free(&e->listener);
    lr_workers_destroy(&e->receivers);
    lr_http_stop(&e->http);
    while (e->lectures) {
        lecture *lec = e->lectures;
        e->lectures = lec->next;
        for (int i = 0; i < lec->nb_rends; i++) {
            lr_segmenter_free(&lec->rends[i].seg);
            av_freep(&lec->rends[i].segs);
        }
        av_free(lec);
    }
    lr_store_free(&e->store);
    pthread_mutex_destroy(&e->lock);
    lr_stop_destroy(&e->stop);
    av_freep(pe);
}
