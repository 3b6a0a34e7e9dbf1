/* ingest/feed.c — see feed.h. The thread opens the source (or waits for a
 * push), reads it, maps its best video and audio stream to the link's two
 * kinds in 1/90000, and queues the packets for the lecture's thread. A
 * session that ends cleanly (source.c decides) is not retried with backoff:
 * a file is done, a URL is watched every WATCH_MS for a new stream. */
#include "feed.h"

#include <errno.h>
#include <string.h>

#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/mem.h>

#include "common/backoff.h"
#include "common/link.h"
#include "common/log.h"
#include "common/pktq.h"
#include "common/stop.h"
#include "hls_state.h"
#include "source.h"

#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 2000                   /* a source that returns is back within ~3 s */
#define QUEUE_CAP      4096                   /* packets: a 10 s GOP at 60 fps with audio */
#define QUEUE_BYTES    (32 * 1024 * 1024)
#define AUDIO_ONLY_KEEP (90000 / 2)           /* standby without video: keep 0.5 s */
#define WATCH_MS       5000                   /* an ended URL is looked at this often */
#define PROBE_MS       10000                  /* fetching an HLS playlist may take this long */

struct lr_feed {
    lr_feed_spec     spec;
    pthread_mutex_t *lock;
    pthread_cond_t  *cond;
    lr_stop          stop;       /* the feed is stopping */
    lr_stop          abandon;    /* leave the current session (a takeover) */
    pthread_t        thread;
    int              thread_started;
    int              hls;            /* the URL has opened as HLS: probe it first */

    /* Under *lock from here. */
    int              pending_sock;   /* push feeds: an SRT push waiting, -1 none */
    lr_rtmp_conn    *pending_rtmp;   /* or an RTMP one, NULL none */
    char             pending_peer[64];
    int              push_reading;
    int              live;           /* a session is open */
    int              ended;          /* the last session ended cleanly; none since */
    char             end_why[96];
    int              on_link;
    int64_t          session;        /* sessions opened so far = the current one's number */
    int64_t          session_ns;     /* when it opened */
    AVCodecParameters *par[LR_FEED_NB];
    char             name[1100];
    int64_t          window_ns, window_bytes, window_frames;  /* for the rates */
    lr_pktq         *queue;          /* for the lecture: DROP_OLDEST, see enqueue */
    lr_feed_stats    stats;
};

static int is_push(const char *url)
{
    return !strncmp(url, "push", 4);  /* push, push-srt, push-rtmp */
}

static int is_file(const char *url)
{
    return !strstr(url, "://");
}

/* ---- the queue (lock held) --------------------------------------------- */

static const AVPacket *at(const lr_feed *f, int i)
{
    return lr_pktq_peek(f->queue, i);
}

static int is_key(const AVPacket *p)
{
    return p && p->stream_index == LR_FEED_VIDEO && (p->flags & AV_PKT_FLAG_KEY);
}

static int front_is_key(const lr_feed *f)
{
    return is_key(at(f, 0));
}

/* Off the link: what a switch to this feed would start with. */
static void trim_standby(lr_feed *f)
{
    int n = lr_pktq_count(f->queue);
    const AVPacket *last = at(f, n - 1);

    if (!last)
        return;
    if (f->par[LR_FEED_VIDEO]) {
        if (is_key(last))
            lr_pktq_drop(f->queue, n - 1);
        else if (!front_is_key(f))
            lr_pktq_flush(f->queue);  /* no keyframe yet: nothing to start on */
    } else {
        while (lr_pktq_count(f->queue) > 1 && last->dts - at(f, 0)->dts > AUDIO_ONLY_KEEP)
            lr_pktq_drop(f->queue, 1);
    }
}

/* Moves pkt's reference into the queue. Full, the oldest go: on the link
 * that means the link is stuck (counted); off it, a GOP too long to keep,
 * and trim_standby then waits for the next keyframe. */
static void enqueue(lr_feed *f, AVPacket *pkt)
{
    int dropped = lr_pktq_send(f->queue, pkt);

    if (dropped < 0) {  /* ENOMEM */
        av_packet_unref(pkt);
        return;
    }
    if (f->on_link)
        f->stats.dropped += dropped;
    else
        trim_standby(f);
}

/* ---- the session ------------------------------------------------------- */

/* ret: why the session ended (AVERROR_EXIT: stopping). was_live: it had
 * opened; a source that keeps failing to open is logged once, not per retry.
 * ended: not NULL when the source ended cleanly, why (then ret is not
 * counted as a failure, and the lecture may end). */
static void session_end(lr_feed *f, lr_source **src, int ret, int was_live, int quiet,
                        const char *ended)
{
    /* Said before the lecture can act on it, so the log reads in order. */
    if (ended)
        lr_info("lecture=%s source %d (%s) ended: %s%s", f->spec.lecture, f->spec.index + 1,
                *src ? lr_source_name(*src) : f->spec.url, ended,
                is_file(f->spec.url) ? "" : "; watching it every 5 s for a new stream");
    else if (ret != AVERROR_EXIT)
        lr_log(was_live ? LR_LOG_WARN : quiet ? LR_LOG_DEBUG : LR_LOG_WARN,
               "lecture=%s source %d (%s) %s: %s", f->spec.lecture, f->spec.index + 1,
               *src ? lr_source_name(*src) : f->spec.url,
               was_live ? "lost" : "unavailable, retrying", av_err2str(ret));
    pthread_mutex_lock(f->lock);
    f->live = 0;
    f->push_reading = 0;
    f->window_ns = 0;
    f->window_bytes = f->window_frames = 0;
    f->stats.failures += ret != AVERROR_EXIT && !ended;
    if (ended) {
        f->ended = 1;
        av_strlcpy(f->end_why, ended, sizeof(f->end_why));
    }
    for (int k = 0; k < LR_FEED_NB; k++)
        avcodec_parameters_free(&f->par[k]);
    pthread_cond_broadcast(f->cond);
    pthread_mutex_unlock(f->lock);
    lr_source_close(src);
}

/* Publishes a newly opened session; returns its stream -> kind map. */
/* The encoder a session names: the format's "encoder" tag (FLV's onMetaData,
 * MP4), else an MPEG-TS program's service provider (OBS, FFmpeg). */
static void encoder_of(const AVFormatContext *ifmt, char *out, size_t size)
{
    const AVDictionaryEntry *e = av_dict_get(ifmt->metadata, "encoder", NULL, 0);

    for (unsigned i = 0; !e && i < ifmt->nb_programs; i++)
        e = av_dict_get(ifmt->programs[i]->metadata, "service_provider", NULL, 0);
    av_strlcpy(out, e ? e->value : "", size);
}

static int feed_kind(const AVStream *st)
{
    enum AVMediaType t = st->codecpar->codec_type;

    return t == AVMEDIA_TYPE_VIDEO ? LR_FEED_VIDEO : t == AVMEDIA_TYPE_AUDIO ? LR_FEED_AUDIO : -1;
}

/* A packet of stream idx, which the session doesn't carry, while the stream
 * of its kind it does carry has been silent for MOVED_MS: the encoder moved
 * its media to new PIDs mid-stream (a new PMT: another codec, a reconfigured
 * encoder). The caller probes the connection afresh and begins a new
 * session on it. Two live video streams (a second program) move nothing. */
#define MOVED_MS 500
#define MAX_MAPPED 64  /* streams a session maps */
static int moved(const lr_feed *f, const AVFormatContext *ifmt, int idx,
                 const int64_t last_ns[])
{
    int k = idx < MAX_MAPPED ? feed_kind(ifmt->streams[idx]) : -1;
    int64_t now = lr_now_ns();

    if (k < 0 || ifmt->streams[idx]->codecpar->codec_id == AV_CODEC_ID_NONE ||
        now - last_ns[k] < MOVED_MS * INT64_C(1000000))
        return 0;
    lr_warn("lecture=%s source %d (%s): its %s moved to a new stream mid-stream (PID %d, %s, "
            "was %s): a new session on the same connection", f->spec.lecture,
            f->spec.index + 1, f->name, k == LR_FEED_VIDEO ? "video" : "audio",
            ifmt->streams[idx]->id, avcodec_get_name(ifmt->streams[idx]->codecpar->codec_id),
            f->par[k] ? avcodec_get_name(f->par[k]->codec_id) : "none");
    return 1;
}

static void session_begin(lr_feed *f, lr_source *src, int map[], int nb_map)
{
    const AVFormatContext *ifmt = lr_source_format(src);
    int best[LR_FEED_NB] = {
        av_find_best_stream((AVFormatContext *)ifmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0),
        av_find_best_stream((AVFormatContext *)ifmt, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0),
    };
    int was_ended;

    for (int i = 0; i < nb_map; i++)
        map[i] = i == best[LR_FEED_VIDEO] ? LR_FEED_VIDEO : i == best[LR_FEED_AUDIO] ? LR_FEED_AUDIO : -1;
    pthread_mutex_lock(f->lock);
    lr_pktq_flush(f->queue);
    for (int k = 0; k < LR_FEED_NB; k++) {
        avcodec_parameters_free(&f->par[k]);
        if (best[k] >= 0 && (f->par[k] = avcodec_parameters_alloc()) &&
            avcodec_parameters_copy(f->par[k], ifmt->streams[best[k]]->codecpar) < 0)
            avcodec_parameters_free(&f->par[k]);
    }
    av_strlcpy(f->name, lr_source_name(src), sizeof(f->name));
    encoder_of(ifmt, f->stats.encoder, sizeof(f->stats.encoder));
    was_ended = f->ended;
    f->ended = 0;
    f->session++;
    f->stats.sessions++;
    f->session_ns = lr_now_ns();
    f->live = 1;
    pthread_cond_broadcast(f->cond);
    pthread_mutex_unlock(f->lock);
    if (was_ended)
        lr_info("lecture=%s source %d (%s) is live again after its end", f->spec.lecture,
                f->spec.index + 1, lr_source_name(src));
    lr_info("lecture=%s source %d up: %s", f->spec.lecture, f->spec.index + 1,
            lr_source_name(src));
    if (best[LR_FEED_VIDEO] < 0 || best[LR_FEED_AUDIO] < 0)
        lr_warn("lecture=%s source %d (%s) has no %s", f->spec.lecture, f->spec.index + 1,
                lr_source_name(src), best[LR_FEED_VIDEO] < 0 ? "video" : "audio");
}

/* Counts a packet read (lock held); the rates cover whole seconds. */
static void count(lr_feed *f, int size, int video, int64_t now)
{
    f->stats.bytes += size;
    f->stats.video_frames += video;
    f->stats.last_pkt_ns = now;
    if (!f->window_ns)
        f->window_ns = now;
    f->window_bytes += size;
    f->window_frames += video;
    if (now - f->window_ns >= INT64_C(1000000000)) {
        double secs = (now - f->window_ns) / 1e9;
        f->stats.bitrate_bps = f->window_bytes * 8 / secs;
        f->stats.fps = f->window_frames / secs;
        f->window_ns = now;
        f->window_bytes = f->window_frames = 0;
    }
}

/* Waits for a push (or stop) and opens it. */
static int open_push(lr_feed *f, lr_source **src)
{
    lr_rtmp_conn *rtmp;
    char peer[64];
    int sock;

    pthread_mutex_lock(f->lock);
    while (f->pending_sock < 0 && !f->pending_rtmp && !lr_stop_requested(&f->stop))
        pthread_cond_wait(f->cond, f->lock);
    sock = f->pending_sock;
    rtmp = f->pending_rtmp;
    f->pending_sock = -1;
    f->pending_rtmp = NULL;
    av_strlcpy(peer, f->pending_peer, sizeof(peer));
    if (sock >= 0 || rtmp) {
        /* Taking the push and re-arming `abandon` is one step under the
         * lock, so only a later offer can abandon this push. */
        lr_stop_reset(&f->abandon);
        f->push_reading = 1;
    }
    pthread_mutex_unlock(f->lock);
    if (rtmp)
        return lr_source_open_rtmp(rtmp, f->spec.stall_ms, &f->abandon, src);
    if (sock >= 0)
        return lr_source_open_push(sock, peer, f->spec.stall_ms, &f->abandon, src);
    return AVERROR_EXIT;
}

/* Opens the next session. AVERROR_EOF: the URL is an HLS playlist that has
 * ended (EXT-X-ENDLIST), which is never played again from its start. An HLS
 * URL is probed before it is opened, so watching an ended one costs one
 * playlist request, not a demuxer reading segments. */
static int open_session(lr_feed *f, int quiet, lr_source **src)
{
    const char *url = f->spec.url;
    int ret;

    if (is_push(url))
        return open_push(f, src);
    lr_stop_reset(&f->abandon);
    if (!is_file(url) && (f->hls || lr_hls_state_likely(url))) {
        ret = lr_hls_state_probe(url, &f->abandon, PROBE_MS);
        if (ret == LR_HLS_ENDED)
            return AVERROR_EOF;
        if (ret == AVERROR_EXIT)
            return AVERROR(ETIMEDOUT);
        if (ret < 0 && ret != AVERROR_INVALIDDATA)  /* no playlist: let the demuxer say */
            return ret;
    }
    ret = lr_source_open(url, is_file(url) && f->spec.loop, is_file(url) && f->spec.realtime,
                         is_file(url) ? 0 : f->spec.stall_ms, quiet, &f->abandon, src);
    if ((ret >= 0 && lr_source_is_hls(*src)) || ret == AVERROR_EOF)
        f->hls = 1;  /* EOF: an ended playlist; watched by its playlist from now on */
    return ret;
}

/* The URL ended and no session has opened since: it is only looked at. */
static int watching(lr_feed *f)
{
    int ended;

    pthread_mutex_lock(f->lock);
    ended = f->ended;
    pthread_mutex_unlock(f->lock);
    return ended;
}

static void *feed_thread(void *arg)
{
    lr_feed *f = arg;
    AVPacket *pkt = av_packet_alloc();
    lr_backoff retry;
    int failing = 0;  /* opens failed in a row */

    lr_backoff_init(&retry, BACKOFF_MIN_MS, BACKOFF_MAX_MS, 1);
    while (pkt && !lr_stop_requested(&f->stop)) {
        lr_source *src = NULL;
        char why[96];
        int map[MAX_MAPPED], ret, ended;
        int64_t last_ns[LR_FEED_NB];  /* the newest packet of each kind read */

        /* A push comes when the lecturer starts: no reason to make it wait. */
        if (!is_push(f->spec.url) && lr_stop_wait_until(&f->stop, retry.retry_at))
            break;
        if ((ret = open_session(f, failing > 0 || watching(f), &src)) < 0) {
            if (lr_stop_requested(&f->stop))
                break;
            if (ret == AVERROR_EOF && !watching(f))
                session_end(f, &src, ret, 0, 0, "the playlist has ended (EXT-X-ENDLIST)");
            else if (watching(f))
                lr_debug("lecture=%s source %d (%s) still not live: %s", f->spec.lecture,
                         f->spec.index + 1, f->spec.url, av_err2str(ret));
            else
                session_end(f, &src, ret == AVERROR_EXIT ? AVERROR(ETIMEDOUT) : ret, 0,
                            failing++ > 0, NULL);
            if (watching(f))
                retry.retry_at = lr_now_ns() + WATCH_MS * INT64_C(1000000);
            else
                lr_backoff_failed(&retry, lr_now_ns());
            continue;
        }
        failing = 0;
        lr_backoff_succeeded(&retry);
        session_begin(f, src, map, FF_ARRAY_ELEMS(map));
        last_ns[0] = last_ns[1] = lr_now_ns();
        while ((ret = lr_source_read(src, pkt)) >= 0) {
            const AVFormatContext *ifmt = lr_source_format(src);
            int k = pkt->stream_index < (int)FF_ARRAY_ELEMS(map) ? map[pkt->stream_index] : -1;

            if (k >= 0) {
                last_ns[k] = lr_now_ns();
            } else if (lr_source_can_reprobe(src) && moved(f, ifmt, pkt->stream_index, last_ns)) {
                av_packet_unref(pkt);
                if ((ret = lr_source_reprobe(src)) < 0)
                    break;
                session_begin(f, src, map, FF_ARRAY_ELEMS(map));
                last_ns[0] = last_ns[1] = lr_now_ns();
                continue;
            }
            if (k < 0) {
                av_packet_unref(pkt);
                continue;
            }
            av_packet_rescale_ts(pkt, ifmt->streams[pkt->stream_index]->time_base,
                                 (AVRational){ 1, 90000 });
            pkt->stream_index = k;
            pthread_mutex_lock(f->lock);
            pkt->pos = f->session;
            count(f, pkt->size, k == LR_FEED_VIDEO, lr_now_ns());
            enqueue(f, pkt);
            pthread_cond_broadcast(f->cond);
            pthread_mutex_unlock(f->lock);
        }
        if (lr_stop_requested(&f->stop))
            ret = AVERROR_EXIT;
        else if (ret == AVERROR_EXIT)
            ret = AVERROR(ECONNRESET);  /* abandoned for a newer push */
        ended = ret != AVERROR_EXIT && ret != AVERROR(ECONNRESET) &&
                lr_source_ended(src, ret, why, sizeof(why));
        session_end(f, &src, ret, 1, 0, ended ? why : NULL);
        if (ended && is_file(f->spec.url))
            break;  /* a file that ended is done; the thread waits to be joined */
        if (ended)
            retry.retry_at = lr_now_ns() + WATCH_MS * INT64_C(1000000);
        else if (ret != AVERROR(ECONNRESET))
            lr_backoff_failed(&retry, lr_now_ns());
    }
    av_packet_free(&pkt);
    return NULL;
}

/* ---- the lecture's side ------------------------------------------------ */

int lr_feed_start(const lr_feed_spec *spec, pthread_mutex_t *lock, pthread_cond_t *cond,
                  lr_feed **out)
{
    const lr_pktq_opts qo = { .max_pkts = QUEUE_CAP, .max_bytes = QUEUE_BYTES,
                              .full = LR_PKTQ_DROP_OLDEST };
    lr_feed *f = av_mallocz(sizeof(*f));
    int ret;

    if (!f)
        return AVERROR(ENOMEM);
    f->spec = *spec;
    f->lock = lock;
    f->cond = cond;
    f->pending_sock = -1;
    lr_stop_init(&f->stop);
    lr_stop_init(&f->abandon);
    if ((ret = lr_pktq_alloc(&qo, lock, &f->queue)) < 0) {
        lr_feed_stop(&f);
        return ret;
    }
    if ((ret = pthread_create(&f->thread, NULL, feed_thread, f))) {
        lr_feed_stop(&f);
        return AVERROR(ret);
    }
    f->thread_started = 1;
    *out = f;
    return 0;
}

void lr_feed_stop(lr_feed **pf)
{
    lr_feed *f = *pf;

    if (!f)
        return;
    lr_stop_request(&f->stop);
    lr_stop_request(&f->abandon);
    pthread_mutex_lock(f->lock);
    pthread_cond_broadcast(f->cond);
    pthread_mutex_unlock(f->lock);
    if (f->thread_started)
        pthread_join(f->thread, NULL);
    if (f->pending_sock >= 0)
        lr_link_close_socket(f->pending_sock);
    lr_rtmp_conn_free(&f->pending_rtmp);
    lr_pktq_free(&f->queue);
    for (int k = 0; k < LR_FEED_NB; k++)
        avcodec_parameters_free(&f->par[k]);
    lr_stop_destroy(&f->abandon);
    lr_stop_destroy(&f->stop);
    av_freep(pf);
}

/* Takes an SRT socket or an RTMP publisher as the next push; a push being
 * read (a takeover) is abandoned at once, decided under the lock, or the
 * thread could already be reading this very push. */
static int offer(lr_feed *f, int sock, lr_rtmp_conn *rtmp, const char *peer, int takeover)
{
    lr_rtmp_conn *old_rtmp;
    int old_sock;

    pthread_mutex_lock(f->lock);
    if (!takeover && lr_feed_push_live(f)) {  /* another came first: not taken */
        pthread_mutex_unlock(f->lock);
        return AVERROR(EBUSY);
    }
    old_sock = f->pending_sock;
    old_rtmp = f->pending_rtmp;
    f->pending_sock = sock;
    f->pending_rtmp = rtmp;
    av_strlcpy(f->pending_peer, peer, sizeof(f->pending_peer));
    if (f->push_reading)
        lr_stop_request(&f->abandon);
    pthread_cond_broadcast(f->cond);
    pthread_mutex_unlock(f->lock);
    if (old_sock >= 0)
        lr_link_close_socket(old_sock);
    lr_rtmp_conn_free(&old_rtmp);
    return 0;
}

int lr_feed_offer_push(lr_feed *f, int sock, const char *peer, int takeover)
{
    return offer(f, sock, NULL, peer, takeover);
}

int lr_feed_offer_rtmp(lr_feed *f, lr_rtmp_conn *conn, int takeover)
{
    char peer[64];

    av_strlcpy(peer, lr_rtmp_conn_publish(conn)->peer, sizeof(peer));
    return offer(f, -1, conn, peer, takeover);
}

int lr_feed_push_live(const lr_feed *f)
{
    return f->pending_sock >= 0 || f->pending_rtmp || f->push_reading;
}

int lr_feed_ended(const lr_feed *f)
{
    return f->ended;
}

const char *lr_feed_end_reason(const lr_feed *f)
{
    return f->ended ? f->end_why : "";
}

int lr_feed_queued(const lr_feed *f)
{
    return lr_pktq_count(f->queue);
}

int lr_feed_ready(const lr_feed *f, int64_t now_ns, int stall_ms)
{
    if (!f->live || !lr_pktq_count(f->queue) ||
        now_ns - f->stats.last_pkt_ns > (int64_t)stall_ms * 1000000)
        return 0;
    return !f->par[LR_FEED_VIDEO] || front_is_key(f);
}

int64_t lr_feed_queue_span(const lr_feed *f)
{
    int n = lr_pktq_count(f->queue);
    return n ? at(f, n - 1)->dts - at(f, 0)->dts : 0;
}

int64_t lr_feed_queue_last_dts(const lr_feed *f)
{
    int n = lr_pktq_count(f->queue);
    return n ? at(f, n - 1)->dts : AV_NOPTS_VALUE;
}

int64_t lr_feed_session_age(const lr_feed *f, int64_t now_ns)
{
    return f->live ? now_ns - f->session_ns : -1;
}

void lr_feed_set_on_link(lr_feed *f, int on)
{
    int n = lr_pktq_count(f->queue);

    f->on_link = on;
    if (!on && n) {
        /* Back to standby: keep from the latest keyframe. */
        int key = -1;
        for (int i = 0; i < n; i++)
            if (is_key(at(f, i)))
                key = i;
        if (f->par[LR_FEED_VIDEO])
            lr_pktq_drop(f->queue, key >= 0 ? key : n);
    }
}

int lr_feed_seek_key_after(lr_feed *f, int64_t after, int64_t window)
{
    for (int i = 0; i < lr_pktq_count(f->queue); i++) {
        const AVPacket *p = at(f, i);
        if (is_key(p) && p->dts > after && p->dts <= after + window) {
            lr_pktq_drop(f->queue, i);
            return 1;
        }
    }
    return 0;
}

int lr_feed_take(lr_feed *f, AVPacket *pkt)
{
    return lr_pktq_receive(f->queue, pkt, LR_PKTQ_NONBLOCK);
}

const AVCodecParameters *lr_feed_codecpar(const lr_feed *f, int kind)
{
    return kind >= 0 && kind < LR_FEED_NB ? f->par[kind] : NULL;
}

const char *lr_feed_name(const lr_feed *f)
{
    return f->live ? f->name : f->spec.url;
}

int64_t lr_feed_session(const lr_feed *f)
{
    return f->session;
}

void lr_feed_get_stats(const lr_feed *f, lr_feed_stats *st)
{
    *st = f->stats;
    st->live = f->live;
    st->ended = f->ended;
    /* A source gone quiet has no rate, whatever its last second was. */
    if (!f->live || lr_now_ns() - f->stats.last_pkt_ns > 2 * INT64_C(1000000000))
        st->bitrate_bps = st->fps = 0;
}
