/* egress/feeds.c — see feeds.h. */
#include "feeds.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

#include <libavutil/avstring.h>
#include <libavutil/mem.h>

#include "common/log.h"
#include "common/pktq.h"
#include "common/stop.h"
#include "common/streamid.h"

#define MAX_STREAMS   32
#define BACKLOG_MAX   2048                    /* packets per feed and stream */
#define SWITCH_TICKS  ((int64_t)LR_FEED_SWITCH_MS * 90)
#define SILENT_NS     ((int64_t)LR_FEED_SILENT_MS * 1000000)
#define RESET_TICKS   (INT64_C(10) * 90000)   /* the followed feed's clock went back this far */
#define WRAP          (INT64_C(1) << 33)      /* MPEG-TS timestamps */
#define KEY_MAX       (LR_LECTURE_NAME_MAX + 3)

/* A stream of the ladder as the packager knows it (the first feed's index). */
typedef struct stream {
    char     key[KEY_MAX];     /* "v:<rendition>" or "audio" */
    int      codec_id, width, height;
    int      follow;           /* the feed it follows; -1 none yet */
    int64_t  last;             /* dts of the last packet published, 1/90000 */
    int64_t  step;             /* the last step between two published, 1/90000 */
    AVPacket *last_key;        /* video: the last whole keyframe published */
} stream;

/* A feed's backlog of one stream: dts ascending, on the ladder's clock. */
static const lr_pktq_opts backlog_opts = { .max_pkts = BACKLOG_MAX, .full = LR_PKTQ_DROP_OLDEST };

typedef struct feed {
    int        live;
    int        map[MAX_STREAMS];    /* its stream index -> ladder stream; -1 unused */
    lr_pktq   *queued[MAX_STREAMS]; /* its backlog by ladder stream; allocated when needed */
    int64_t    arrived[MAX_STREAMS]; /* by ladder stream: lr_now_ns() of its last packet */
} feed;

struct lr_feeds {
    pthread_mutex_t lock;
    lr_packager    *pk;
    char            lecture[LR_LECTURE_NAME_MAX + 1];
    int             max_feeds;
    int             nb_live;
    stream          streams[MAX_STREAMS];
    int             nb_streams;
    feed            feeds[LR_MAX_FEEDS];
    int64_t         switches;
    int64_t         logged_switch_ms;   /* one log line per switch, not per stream */
    int64_t         damaged[LR_DAMAGE_KINDS];
    int64_t         logged_damage_ms;
    AVPacket       *ref;                /* a reference on its way to a backlog */
};

/* ---- the ladder's streams ------------------------------------------------ */

/* The key of ifmt's stream v as the packager would use it, or "" when the
 * packager ignores it: video renditions by their service name, the one audio
 * stream it picks. */
static void stream_key(const AVFormatContext *ifmt, unsigned v, int audio, char *key)
{
    const AVCodecParameters *par = ifmt->streams[v]->codecpar;
    const char *sn;

    key[0] = 0;
    if ((int)v == audio)
        av_strlcpy(key, "audio", KEY_MAX);
    else if (par->codec_type == AVMEDIA_TYPE_VIDEO && par->width > 0) {
        if ((sn = lr_program_name(ifmt, v)) && lr_lecture_name_valid(sn))
            snprintf(key, KEY_MAX, "v:%s", sn);
        else
            snprintf(key, KEY_MAX, "v#%u", v);
    }
}

static int best_audio(const AVFormatContext *ifmt)
{
    return av_find_best_stream((AVFormatContext *)ifmt, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
}

static void feed_reset(feed *fd)
{
    for (int s = 0; s < MAX_STREAMS; s++) {
        lr_pktq_free(&fd->queued[s]);
        fd->map[s] = -1;
        fd->arrived[s] = 0;
    }
    fd->live = 0;
}

static void free_keys(lr_feeds *f)
{
    for (int s = 0; s < MAX_STREAMS; s++)
        av_packet_free(&f->streams[s].last_key);
}

/* The first feed of a link: its streams become the ladder's. */
static void adopt_ladder(lr_feeds *f, const AVFormatContext *ifmt)
{
    int audio = best_audio(ifmt);

    free_keys(f);
    f->nb_streams = 0;
    memset(f->streams, 0, sizeof(f->streams));
    for (unsigned v = 0; v < ifmt->nb_streams && v < MAX_STREAMS; v++) {
        const AVCodecParameters *par = ifmt->streams[v]->codecpar;
        stream *st = &f->streams[v];
        stream_key(ifmt, v, audio, st->key);
        st->codec_id = par->codec_id;
        st->width = par->width;
        st->height = par->height;
        st->follow = -1;
        st->last = AV_NOPTS_VALUE;
        f->nb_streams = (int)v + 1;
    }
}

/* Maps a joining feed's streams onto the ladder's; NULL, or why not. */
static const char *map_feed(lr_feeds *f, feed *fd, const AVFormatContext *ifmt)
{
    int audio = best_audio(ifmt), matched = 0, wanted = 0;
    char key[KEY_MAX];

    for (int s = 0; s < MAX_STREAMS; s++)
        fd->map[s] = -1;
    for (unsigned v = 0; v < ifmt->nb_streams; v++) {
        const AVCodecParameters *par = ifmt->streams[v]->codecpar;
        stream_key(ifmt, v, audio, key);
        if (!key[0] || v >= MAX_STREAMS)
            continue;
        if (av_cmp_q(ifmt->streams[v]->time_base, (AVRational){ 1, 90000 }))
            return "its timestamps are not MPEG-TS ones";
        for (int s = 0; s < f->nb_streams; s++) {
            const stream *st = &f->streams[s];
            if (strcmp(st->key, key))
                continue;
            if (st->codec_id != (int)par->codec_id || st->width != par->width ||
                st->height != par->height)
                return "a rendition's codec or size differs from the live feed's";
            fd->map[v] = s;
            matched++;
        }
        if (fd->map[v] < 0)
            return "it carries a rendition the live feed does not";
    }
    for (int s = 0; s < f->nb_streams; s++)
        wanted += f->streams[s].key[0] != 0;
    return matched == wanted ? NULL : "it lacks a rendition the live feed carries";
}

int lr_feeds_join(lr_feeds *f, const AVFormatContext *ifmt, int *nb_renditions,
                  const char **why)
{
    int id = -1, ret = 0;

    *why = NULL;
    pthread_mutex_lock(&f->lock);
    for (int i = 0; i < f->max_feeds && id < 0; i++)
        if (!f->feeds[i].live)
            id = i;
    if (id < 0) {
        ret = AVERROR(EBUSY);
        goto out;
    }
    feed *fd = &f->feeds[id];
    feed_reset(fd);
    if (!f->nb_live) {
        if ((ret = lr_packager_link_start(f->pk, ifmt)) <= 0) {
            *why = ret < 0 ? NULL : "no video";
            ret = ret < 0 ? ret : AVERROR_INVALIDDATA;
            goto out;
        }
        *nb_renditions = ret;
        adopt_ladder(f, ifmt);
    } else {
        int nb = 0;
        for (int s = 0; s < f->nb_streams; s++)
            nb += !strncmp(f->streams[s].key, "v", 1);
        *nb_renditions = nb;
    }
    if ((*why = map_feed(f, fd, ifmt))) {
        ret = AVERROR(EINVAL);
        if (!f->nb_live)
            lr_packager_link_end(f->pk);
        goto out;
    }
    fd->live = 1;
    f->nb_live++;
    ret = id;
out:
    pthread_mutex_unlock(&f->lock);
    return ret;
}

/* ---- merging --------------------------------------------------------------- */

static void publish(lr_feeds *f, int s, const AVPacket *pkt, int64_t dts90, int64_t shift)
{
    AVPacket out = *pkt;  /* shallow: the packager reads it and keeps its own reference */

    out.stream_index = s;
    if (out.dts != AV_NOPTS_VALUE)
        out.dts += shift;
    if (out.pts != AV_NOPTS_VALUE)
        out.pts += shift;
    lr_packager_packet(f->pk, &out);
    if (f->streams[s].last != AV_NOPTS_VALUE && dts90 > f->streams[s].last)
        f->streams[s].step = FFMIN(dts90 - f->streams[s].last, 90000);
    f->streams[s].last = dts90;
}

/* How long the followed feed may deliver nothing of stream s before another
 * that brings what comes next takes over: LR_FEED_SILENT_MS, or two frame
 * intervals of a stream slower than 8 frames a second (slides at 5 fps). */
static int64_t silent_ns(const stream *st)
{
    return FFMAX(SILENT_NS, 2 * st->step * 100000 / 9);
}

static void log_switch(lr_feeds *f, int s, int from, int to, const char *why)
{
    int64_t now = lr_now_ns() / 1000000;

    f->switches++;
    if (now - f->logged_switch_ms < 2000) {
        lr_debug("lecture=%s stream %s: feed %d -> %d (%s)", f->lecture, f->streams[s].key,
                 from, to, why);
        return;
    }
    f->logged_switch_ms = now;
    lr_info("lecture=%s feed %d %s: following feed %d (stream %s first)", f->lecture, from, why,
            to, f->streams[s].key);
}

/* A frame the link lost part of: SRT gave up a packet of it, which the
 * demuxer's continuity check flags. */
static int damaged(const AVPacket *pkt)
{
    return pkt->flags & AV_PKT_FLAG_CORRUPT;
}

/* Another live feed's whole copy of stream s's frame at dts d, if it came
 * already (a feed ahead keeps what it delivers in its backlog). */
static const AVPacket *whole_copy(lr_feeds *f, int s, int except, int64_t d)
{
    for (int k = 0; k < f->max_feeds; k++) {
        const lr_pktq *b = f->feeds[k].queued[s];
        const AVPacket *q;
        if (k == except || !f->feeds[k].live || !b)
            continue;
        for (int i = 0; (q = lr_pktq_peek(b, i)); i++) {
            if (q->dts == d && !damaged(q))
                return q;
            if (q->dts > d)
                break;
        }
    }
    return NULL;
}

static void count_damage(lr_feeds *f, int s, enum lr_damage kind, int64_t dts)
{
    static const char *const what[LR_DAMAGE_KINDS] = {
        [LR_DAMAGE_REPLACED]  = "replaced by another feed's whole copy",
        [LR_DAMAGE_DROPPED]   = "left out",
        [LR_DAMAGE_CONCEALED] = "a keyframe, replaced by the last whole one",
        [LR_DAMAGE_KEPT]      = "kept (a keyframe, and no whole one yet)",
    };
    int64_t now = lr_now_ns() / 1000000;

    f->damaged[kind]++;
    if (now - f->logged_damage_ms < 10000)
        return;
    f->logged_damage_ms = now;
    lr_info("lecture=%s stream %s: frame at %.3f s arrived damaged (the link gave up part of "
            "it): %s; so far %" PRId64 " replaced, %" PRId64 " left out, %" PRId64
            " keyframes concealed, %" PRId64 " kept", f->lecture, f->streams[s].key,
            dts / 90000.0, what[kind], f->damaged[LR_DAMAGE_REPLACED],
            f->damaged[LR_DAMAGE_DROPPED], f->damaged[LR_DAMAGE_CONCEALED],
            f->damaged[LR_DAMAGE_KEPT]);
}

/* Publishes pkt unless it is damaged: then another feed's whole copy goes
 * instead, or, when none came, it is left out, unless it is a video
 * keyframe (a segment starts with it): that one is replaced by the last
 * whole keyframe, at its time. Chrome takes a damaged frame as a decode
 * error, and hls.js resets the player or gives up; a missing frame a
 * decoder bridges by showing the one before it (ffmpeg, Chrome), and an
 * older keyframe is a valid picture the GOP's frames change, off where the
 * picture moved since (a lecture's slides hardly do) until the next one. An
 * audio frame left out is 21 ms of silence. */
static void publish_whole(lr_feeds *f, int s, int id, const AVPacket *pkt, int64_t d,
                          int64_t shift)
{
    stream *st = &f->streams[s];
    const AVPacket *copy;
    int video_key = st->key[0] == 'v' && (pkt->flags & AV_PKT_FLAG_KEY);

    if (!damaged(pkt)) {
        publish(f, s, pkt, d, shift);
    } else if ((copy = whole_copy(f, s, id, d))) {
        count_damage(f, s, LR_DAMAGE_REPLACED, d);
        publish(f, s, copy, d, 0);   /* queued copies are on the ladder's clock */
        pkt = copy;
    } else if (video_key && st->last_key) {
        AVPacket older = *st->last_key;   /* shallow, at pkt's time */
        count_damage(f, s, LR_DAMAGE_CONCEALED, d);
        older.dts = pkt->dts;
        older.pts = pkt->pts;
        older.flags = AV_PKT_FLAG_KEY;
        publish(f, s, &older, d, shift);
        return;
    } else if (video_key) {
        count_damage(f, s, LR_DAMAGE_KEPT, d);
        publish(f, s, pkt, d, shift);
        return;
    } else {
        count_damage(f, s, LR_DAMAGE_DROPPED, d);
        return;
    }
    if (video_key) {   /* pkt is whole here */
        av_packet_free(&st->last_key);
        st->last_key = av_packet_clone(pkt);
    }
}

/* Publishes a feed's backlog of stream s that follows what was published. */
static void drain(lr_feeds *f, int s, feed *fd)
{
    lr_pktq *b = fd->queued[s];
    const AVPacket *q;

    while (b && (q = lr_pktq_peek(b, 0))) {
        int64_t d = q->dts;   /* unwrapped when queued */
        if (f->streams[s].last == AV_NOPTS_VALUE || d > f->streams[s].last)
            publish_whole(f, s, fd - f->feeds, q, d, 0);
        lr_pktq_drop(b, 1);
    }
}

static void follow(lr_feeds *f, int s, int to, const char *why)
{
    stream *st = &f->streams[s];

    if (st->follow >= 0 && st->follow != to)
        log_switch(f, s, st->follow, to, why);
    st->follow = to;
    drain(f, s, &f->feeds[to]);
}

static void enqueue(lr_feeds *f, int s, feed *fd, const AVPacket *pkt, int64_t d, int64_t shift)
{
    lr_pktq *b = fd->queued[s];
    const AVPacket *first;

    if (!b && lr_pktq_alloc(&backlog_opts, &f->lock, &fd->queued[s]) < 0)
        return;
    b = fd->queued[s];
    /* what the followed feed published since is of no more use */
    while ((first = lr_pktq_peek(b, 0)) && first->dts <= f->streams[s].last)
        lr_pktq_drop(b, 1);
    if (av_packet_ref(f->ref, pkt) < 0)
        return;
    f->ref->dts = d;  /* unwrapped like what was published */
    if (f->ref->pts != AV_NOPTS_VALUE)
        f->ref->pts += shift;
    if (lr_pktq_send(b, f->ref) < 0)  /* full: the oldest goes */
        av_packet_unref(f->ref);
}

void lr_feeds_packet(lr_feeds *f, int id, const AVPacket *pkt)
{
    feed *fd = &f->feeds[id];
    int64_t d, last, shift = 0, now = lr_now_ns();
    stream *st;
    int s;

    if (pkt->stream_index < 0 || pkt->stream_index >= MAX_STREAMS || pkt->dts == AV_NOPTS_VALUE)
        return;
    pthread_mutex_lock(&f->lock);
    if ((s = fd->map[pkt->stream_index]) < 0)
        goto out;
    st = &f->streams[s];
    fd->arrived[s] = now;
    d = pkt->dts;   /* 1/90000: every link is MPEG-TS (map_feed) */
    last = st->last;
    if (last != AV_NOPTS_VALUE) {
        /* Each link's demuxer unwraps the 33-bit clock from its own start:
         * put this one's on the ladder's. */
        shift = llround((double)(last - d) / WRAP) * WRAP;
        d += shift;
    }
    if (st->follow < 0 || !f->feeds[st->follow].live)
        st->follow = id;
    if (st->follow == id) {
        if (last == AV_NOPTS_VALUE || d > last || d < last - RESET_TICKS)
            publish_whole(f, s, id, pkt, d, shift);
        goto out;
    }
    if (last != AV_NOPTS_VALUE && d <= last)
        goto out;   /* published already, from the followed feed */
    enqueue(f, s, fd, pkt, d, shift);
    if (last == AV_NOPTS_VALUE)
        goto out;
    /* Here this feed brings what the followed one has not yet. A followed
     * feed that died is noticed by its silence long before its receiver
     * times out; one whose path merely runs late, by how far behind it is. */
    if (now - f->feeds[st->follow].arrived[s] > silent_ns(st))
        follow(f, s, id, "went silent");
    else if (d - last > SWITCH_TICKS)
        follow(f, s, id, "fell behind");
out:
    pthread_mutex_unlock(&f->lock);
}

void lr_feeds_leave(lr_feeds *f, int id)
{
    feed *fd = &f->feeds[id];

    pthread_mutex_lock(&f->lock);
    if (!fd->live) {
        pthread_mutex_unlock(&f->lock);
        return;
    }
    fd->live = 0;
    f->nb_live--;
    for (int s = 0; s < f->nb_streams; s++) {
        int next = -1, ahead = -1;
        if (f->streams[s].follow != id)
            continue;
        /* the live feed furthest ahead: the longest backlog */
        for (int k = 0; k < f->max_feeds; k++) {
            const lr_pktq *b = f->feeds[k].queued[s];
            int n = b ? lr_pktq_count(b) : 0;
            if (f->feeds[k].live && n > ahead) {
                next = k;
                ahead = n;
            }
        }
        if (next >= 0)
            follow(f, s, next, "ended");
        else
            f->streams[s].follow = -1;
    }
    feed_reset(fd);
    if (!f->nb_live)
        lr_packager_link_end(f->pk);
    pthread_mutex_unlock(&f->lock);
}

int lr_feeds_live(lr_feeds *f)
{
    int n;

    pthread_mutex_lock(&f->lock);
    n = f->nb_live;
    pthread_mutex_unlock(&f->lock);
    return n;
}

int64_t lr_feeds_damaged(lr_feeds *f, enum lr_damage kind)
{
    int64_t n;

    pthread_mutex_lock(&f->lock);
    n = f->damaged[kind];
    pthread_mutex_unlock(&f->lock);
    return n;
}

int64_t lr_feeds_switches(lr_feeds *f)
{
    int64_t n;

    pthread_mutex_lock(&f->lock);
    n = f->switches;
    pthread_mutex_unlock(&f->lock);
    return n;
}

int lr_feeds_alloc(lr_packager *pk, const char *lecture, int max_feeds, lr_feeds **out)
{
    lr_feeds *f = av_mallocz(sizeof(*f));

    if (!f || !(f->ref = av_packet_alloc())) {
        av_free(f);
        return AVERROR(ENOMEM);
    }
    pthread_mutex_init(&f->lock, NULL);
    f->pk = pk;
    av_strlcpy(f->lecture, lecture, sizeof(f->lecture));
    f->max_feeds = FFMAX(1, FFMIN(max_feeds, LR_MAX_FEEDS));
    for (int i = 0; i < LR_MAX_FEEDS; i++)
        feed_reset(&f->feeds[i]);
    *out = f;
    return 0;
}

void lr_feeds_free(lr_feeds **pf)
{
    lr_feeds *f = *pf;

    if (!f)
        return;
    for (int i = 0; i < LR_MAX_FEEDS; i++)
        feed_reset(&f->feeds[i]);
    free_keys(f);
    av_packet_free(&f->ref);
    pthread_mutex_destroy(&f->lock);
    av_freep(pf);
}
