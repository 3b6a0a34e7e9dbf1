/* ingest/lecture.c — see lecture.h. One thread per lecture: pick the first
 * usable source in the configured order, copy its packets (no decoding) onto
 * the link, and when it fails or stays silent for stall_ms, move to the next;
 * a lecturer's push that (re)appears wins back the lecture at its first
 * keyframe. Every source change is spliced in lr_timeline, so the link's
 * timestamps only move forward. */
#include "lecture.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/avstring.h>
#include <libavutil/mem.h>

#include "common/backoff.h"
#include "common/link.h"
#include "common/log.h"
#include "common/stop.h"
#include "common/ts_mux.h"
#include "source.h"
#include "timeline.h"

#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 2000  /* a source that returns is back within ~3 s */
#define MAX_IN_STREAMS 64
#define REPORT_NS      (60 * INT64_C(1000000000))  /* the per-lecture status line */

enum { LINK_VIDEO, LINK_AUDIO, LINK_NB };

struct lr_lecture {
    const lr_config *conf;
    char             name[LR_LECTURE_NAME_MAX + 1];
    const char      *sources[LR_MAX_SOURCES];
    int              nb_sources;
    int              loop, realtime, stall_ms;
    lr_stop          stop;         /* the role is stopping */
    lr_stop          abandon;      /* leave the current source (and on stop) */
    pthread_t        thread;
    int              thread_started;

    pthread_mutex_t  lock;         /* guards the pending push */
    pthread_cond_t   cond;
    int              pending_sock; /* -1: none */
    char             pending_peer[64];
    atomic_int       push_reading;

    /* Thread-private from here. */
    lr_source       *src;
    int              active;       /* index into sources, -1 none */
    lr_backoff       retry[LR_MAX_SOURCES];
    int              map[MAX_IN_STREAMS];  /* source stream -> link stream, -1 */
    int              want_key;     /* drop until a video keyframe */

    AVFormatContext *oc;           /* the link, NULL while down */
    AVIOContext     *pb;
    AVCodecParameters *link_par[LINK_NB];
    int              link_stream[LINK_NB];
    lr_backoff       link_retry;

    lr_timeline      tl;
    int64_t          nb_failovers, nb_link_reconnects, nb_dropped;
    int64_t          report_at, last_pkt_ns;
    int64_t          bytes, video_frames;  /* since the last report */
};

static int is_push(const char *src)
{
    return !strcmp(src, "push");
}

static int is_file(const char *src)
{
    return !strstr(src, "://");
}

/* ---- the link ---------------------------------------------------------- */

static void link_close(lr_lecture *l)
{
    if (l->oc && l->pb)
        av_write_trailer(l->oc);
    lr_ts_mux_free(&l->oc);
    lr_link_avio_close(&l->pb);
    for (int i = 0; i < LINK_NB; i++)
        avcodec_parameters_free(&l->link_par[i]);
}

/* Opens the link with the active source's video and audio. */
static int link_open(lr_lecture *l)
{
    const lr_config *c = l->conf;
    const AVFormatContext *ifmt = lr_source_format(l->src);
    lr_link_opts lo = { c->link.latency_ms, c->link.passphrase };
    char sid[128];
    int sock, ret;

    if ((ret = lr_streamid_format(sid, sizeof(sid), l->name, "publish")) < 0)
        return ret;
    if ((ret = lr_link_connect(c->ingest.link, sid, &lo, &l->stop, &sock)) < 0)
        return ret;
    if ((ret = lr_link_avio_open(sock, 1, &l->stop, 0, &l->pb)) < 0)
        return ret;
    if ((ret = lr_ts_mux_alloc(l->pb, &l->oc)) < 0)
        goto fail;
    for (int k = 0; k < LINK_NB; k++) {
        enum AVMediaType type = k == LINK_VIDEO ? AVMEDIA_TYPE_VIDEO : AVMEDIA_TYPE_AUDIO;
        int idx = av_find_best_stream((AVFormatContext *)ifmt, type, -1, -1, NULL, 0);
        AVStream *ost;
        l->link_stream[k] = -1;
        if (idx < 0)
            continue;
        if (!(ost = avformat_new_stream(l->oc, NULL)) ||
            !(l->link_par[k] = avcodec_parameters_alloc()) ||
            (ret = avcodec_parameters_copy(ost->codecpar, ifmt->streams[idx]->codecpar)) < 0 ||
            (ret = avcodec_parameters_copy(l->link_par[k], ifmt->streams[idx]->codecpar)) < 0) {
            ret = ret < 0 ? ret : AVERROR(ENOMEM);
            goto fail;
        }
        ost->codecpar->codec_tag = 0;
        ost->time_base = (AVRational){ 1, 90000 };
        l->link_stream[k] = ost->index;
    }
    if ((ret = lr_ts_mux_begin(l->oc)) < 0) {
        lr_error("lecture=%s cannot start the link's TS muxer: %s", l->name, av_err2str(ret));
        goto fail;
    }
    lr_info("lecture=%s link up to %s", l->name, c->ingest.link);
    lr_backoff_succeeded(&l->link_retry);
    l->want_key = 1;
    return 0;
fail:
    link_close(l);
    return ret;
}

/* A source whose codecs differ from what the link was opened with needs a
 * new link session: a TS stream can't change codec under the same PID, and
 * the muxer's bitstream filters are set up for the first source's packing
 * (H.264 in MP4/FLV is length-prefixed, in TS it has start codes). */
static int link_fits(lr_lecture *l)
{
    const AVFormatContext *ifmt = lr_source_format(l->src);
    for (int k = 0; k < LINK_NB; k++) {
        enum AVMediaType type = k == LINK_VIDEO ? AVMEDIA_TYPE_VIDEO : AVMEDIA_TYPE_AUDIO;
        int idx = av_find_best_stream((AVFormatContext *)ifmt, type, -1, -1, NULL, 0);
        const AVCodecParameters *want = idx >= 0 ? ifmt->streams[idx]->codecpar : NULL;
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

/* ---- sources ----------------------------------------------------------- */

static void map_streams(lr_lecture *l)
{
    const AVFormatContext *ifmt = lr_source_format(l->src);
    int vid = av_find_best_stream((AVFormatContext *)ifmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    int aud = av_find_best_stream((AVFormatContext *)ifmt, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);

    for (int i = 0; i < MAX_IN_STREAMS; i++)
        l->map[i] = i == vid ? LINK_VIDEO : i == aud ? LINK_AUDIO : -1;
    if (vid < 0 || aud < 0)
        lr_warn("lecture=%s source %s has no %s", l->name, lr_source_name(l->src),
                vid < 0 ? "video" : "audio");
}

static void source_failed(lr_lecture *l, int ret)
{
    int i = l->active;

    lr_backoff_failed(&l->retry[i], lr_now_ns());
    if (ret != AVERROR_EXIT)
        lr_warn("lecture=%s source %d (%s) lost: %s", l->name, i + 1,
                l->src ? lr_source_name(l->src) : l->sources[i], av_err2str(ret));
    lr_source_close(&l->src);
    if (is_push(l->sources[i]))
        atomic_store(&l->push_reading, 0);
    l->active = -1;
}

/* Opens the first usable source in order. Returns 0 with l->src set, or
 * AVERROR(EAGAIN) when none is usable now (and *wake_at says when to retry). */
static int open_source(lr_lecture *l, int64_t *wake_at)
{
    int64_t now = lr_now_ns();

    *wake_at = now + (int64_t)BACKOFF_MAX_MS * 1000000;
    for (int i = 0; i < l->nb_sources; i++) {
        const char *url = l->sources[i];
        int ret, sock = -1;
        char peer[64];

        if (is_push(url)) {
            /* Taking the push and re-arming `abandon` is one step under the
             * lock, so only a later offer can abandon this push. */
            pthread_mutex_lock(&l->lock);
            sock = l->pending_sock;
            l->pending_sock = -1;
            av_strlcpy(peer, l->pending_peer, sizeof(peer));
            if (sock >= 0) {
                lr_stop_reset(&l->abandon);
                atomic_store(&l->push_reading, 1);
            }
            pthread_mutex_unlock(&l->lock);
            if (sock < 0)
                continue;
            ret = lr_source_open_push(sock, peer, l->stall_ms, &l->abandon, &l->src);
            if (ret < 0)
                atomic_store(&l->push_reading, 0);
        } else {
            if (now < l->retry[i].retry_at) {
                *wake_at = FFMIN(*wake_at, l->retry[i].retry_at);
                continue;
            }
            lr_stop_reset(&l->abandon);
            ret = lr_source_open(url, is_file(url) && l->loop, is_file(url) && l->realtime,
                                 is_file(url) ? 0 : l->stall_ms, &l->abandon, &l->src);
        }
        if (lr_stop_requested(&l->stop))
            return AVERROR_EXIT;
        l->active = i;
        if (ret < 0) {
            source_failed(l, ret);
            *wake_at = FFMIN(*wake_at, l->retry[i].retry_at);
            continue;
        }
        lr_backoff_succeeded(&l->retry[i]);
        map_streams(l);
        lr_timeline_splice(&l->tl);
        l->want_key = 1;
        lr_info("lecture=%s now reading source %d: %s", l->name, i + 1, lr_source_name(l->src));
        if (l->oc && !link_fits(l)) {
            lr_info("lecture=%s source codecs changed: new link session", l->name);
            link_close(l);
        }
        return 0;
    }
    return AVERROR(EAGAIN);
}

/* A push arrived for a lecture now on a lower-priority source: go back to it. */
static int push_preferred(lr_lecture *l)
{
    int pending;

    pthread_mutex_lock(&l->lock);
    pending = l->pending_sock >= 0;
    pthread_mutex_unlock(&l->lock);
    if (!pending)
        return 0;
    for (int i = 0; i < l->active; i++)
        if (is_push(l->sources[i]))
            return 1;
    return is_push(l->sources[l->active]);  /* a takeover of the push itself */
}

/* ---- the packet path --------------------------------------------------- */

static void forward(lr_lecture *l, AVPacket *pkt)
{
    const AVFormatContext *ifmt = lr_source_format(l->src);
    int k = pkt->stream_index < MAX_IN_STREAMS ? l->map[pkt->stream_index] : -1;
    AVRational tb = ifmt->streams[pkt->stream_index]->time_base;
    int64_t offset;
    int ret;

    if (k < 0)
        return;
    if (!l->oc) {
        if (lr_now_ns() < l->link_retry.retry_at)
            goto drop;
        if (link_open(l) < 0) {
            lr_backoff_failed(&l->link_retry, lr_now_ns());
            l->nb_link_reconnects++;
            goto drop;
        }
        lr_source_repace(l->src);
    }
    if (l->link_stream[k] < 0)
        return;
    /* Receivers can only start at a keyframe: after a link (re)start or a
     * source change, wait for one (sources without video need no wait). */
    if (l->want_key && l->link_stream[LINK_VIDEO] >= 0) {
        if (k != LINK_VIDEO || !(pkt->flags & AV_PKT_FLAG_KEY))
            goto drop;
    }
    l->want_key = 0;
    av_packet_rescale_ts(pkt, tb, (AVRational){ 1, 90000 });
    if (pkt->dts == AV_NOPTS_VALUE)
        pkt->dts = pkt->pts;
    offset = lr_timeline_map(&l->tl, (unsigned)k, pkt->dts);
    if (offset == INT64_MIN)
        goto drop;
    pkt->dts += offset;
    if (pkt->pts != AV_NOPTS_VALUE)
        pkt->pts += offset;
    pkt->stream_index = l->link_stream[k];
    pkt->pos = -1;
    if ((ret = av_interleaved_write_frame(l->oc, pkt)) < 0) {
        if (ret != AVERROR_EXIT)
            lr_warn("lecture=%s link to %s broke: %s", l->name, l->conf->ingest.link,
                    av_err2str(ret));
        link_close(l);
        l->link_retry.retry_at = lr_now_ns() + BACKOFF_MIN_MS * 1000000LL;
    }
    return;
drop:
    l->nb_dropped++;
}

/* Once a minute: what an operator asks first about a lecture. */
static void report(lr_lecture *l)
{
    int64_t now = lr_now_ns();
    double secs;

    if (!l->report_at) {
        l->report_at = now + REPORT_NS;
        return;
    }
    if (now < l->report_at)
        return;
    secs = (now - l->report_at + REPORT_NS) / 1e9;
    lr_info("lecture=%s source %d (%s) %.0f kb/s %.1f fps, last packet %.0f ms ago, "
            "%" PRId64 " source changes, %" PRId64 " link reconnects, link %s",
            l->name, l->active + 1, l->src ? lr_source_name(l->src) : "-",
            l->bytes * 8 / secs / 1000, l->video_frames / secs,
            (now - l->last_pkt_ns) / 1e6, l->nb_failovers, l->nb_link_reconnects,
            l->oc ? "up" : "down");
    l->bytes = l->video_frames = 0;
    l->report_at = now + REPORT_NS;
}

static void *lecture_thread(void *arg)
{
    lr_lecture *l = arg;
    AVPacket *pkt = av_packet_alloc();

    while (pkt && !lr_stop_requested(&l->stop)) {
        int ret;

        if (!l->src) {
            int64_t wake_at;
            ret = open_source(l, &wake_at);
            if (ret == AVERROR_EXIT)
                break;
            if (ret < 0) {
                /* Nothing usable: wait for a push, a retry time, or stop. */
                struct timespec ts = { wake_at / 1000000000, wake_at % 1000000000 };
                pthread_mutex_lock(&l->lock);
                while (l->pending_sock < 0 && !lr_stop_requested(&l->stop) &&
                       pthread_cond_timedwait(&l->cond, &l->lock, &ts) != ETIMEDOUT)
                    ;
                pthread_mutex_unlock(&l->lock);
                continue;
            }
            if (l->tl.nb_splices > 0)
                l->nb_failovers++;
        }
        if (push_preferred(l)) {
            lr_info("lecture=%s switching to the lecturer's push", l->name);
            source_failed(l, AVERROR_EXIT);
            continue;
        }
        ret = lr_source_read(l->src, pkt);
        if (ret < 0) {
            if (lr_stop_requested(&l->stop))
                break;
            source_failed(l, ret == AVERROR_EXIT ? AVERROR(ECONNRESET) : ret);
            continue;
        }
        l->last_pkt_ns = lr_now_ns();
        l->bytes += pkt->size;
        l->video_frames += pkt->stream_index < MAX_IN_STREAMS &&
                           l->map[pkt->stream_index] == LINK_VIDEO;
        forward(l, pkt);
        av_packet_unref(pkt);
        report(l);
    }
    av_packet_free(&pkt);
    lr_source_close(&l->src);
    link_close(l);
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
    for (int i = 0; i < spec->nb_sources; i++)
        l->sources[i] = spec->sources[i];
    l->nb_sources = spec->nb_sources;
    l->loop = spec->loop;
    l->realtime = spec->realtime;
    l->stall_ms = spec->stall_ms;
    l->active = -1;
    l->pending_sock = -1;
    lr_timeline_init(&l->tl);
    for (int i = 0; i < LR_MAX_SOURCES; i++)
        lr_backoff_init(&l->retry[i], BACKOFF_MIN_MS, BACKOFF_MAX_MS, 1);
    lr_backoff_init(&l->link_retry, BACKOFF_MIN_MS, BACKOFF_MAX_MS, 1);
    lr_stop_init(&l->stop);
    lr_stop_init(&l->abandon);
    pthread_mutex_init(&l->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&l->cond, &attr);
    pthread_condattr_destroy(&attr);
    if ((ret = pthread_create(&l->thread, NULL, lecture_thread, l))) {
        lr_lecture_stop(&l);
        return AVERROR(ret);
    }
    l->thread_started = 1;
    *out = l;
    return 0;
}

void lr_lecture_stop(lr_lecture **pl)
{
    lr_lecture *l = *pl;

    if (!l)
        return;
    lr_stop_request(&l->stop);
    lr_stop_request(&l->abandon);
    pthread_mutex_lock(&l->lock);
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->lock);
    if (l->thread_started)
        pthread_join(l->thread, NULL);
    if (l->pending_sock >= 0)
        lr_link_close_socket(l->pending_sock);
    if (l->nb_failovers || l->nb_dropped)
        lr_info("lecture=%s ingest ends: %" PRId64 " source changes, %" PRId64
                " packets dropped while the link was down", l->name, l->nb_failovers,
                l->nb_dropped);
    pthread_cond_destroy(&l->cond);
    pthread_mutex_destroy(&l->lock);
    lr_stop_destroy(&l->abandon);
    lr_stop_destroy(&l->stop);
    av_freep(pl);
}

int lr_lecture_push_live(lr_lecture *l)
{
    int live;

    pthread_mutex_lock(&l->lock);
    live = l->pending_sock >= 0 || atomic_load(&l->push_reading);
    pthread_mutex_unlock(&l->lock);
    return live;
}

void lr_lecture_offer_push(lr_lecture *l, int sock, const char *peer)
{
    int old;

    pthread_mutex_lock(&l->lock);
    old = l->pending_sock;
    l->pending_sock = sock;
    av_strlcpy(l->pending_peer, peer, sizeof(l->pending_peer));
    /* A push being read (takeover) is abandoned at once; decided under the
     * lock, or the thread could already be reading this very push. */
    if (atomic_load(&l->push_reading))
        lr_stop_request(&l->abandon);
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->lock);
    if (old >= 0)
        lr_link_close_socket(old);
}
