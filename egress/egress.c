/* egress/egress.c — the egress role. Every link that arrives gets a receiver
 * thread: it demuxes the ladder (one program per rendition, named by its
 * service_name) and hands the packets to the lecture's feeds (feeds.c: one
 * link, or up to egress.feeds_per_lecture redundant ones merged), which drive
 * its packager: segments, parts and playlists published to the store the HTTP
 * server reads. A lecture outlives its links, so a reconnect continues the
 * same playlists; a janitor thread ends its recording once every link has
 * been gone for the grace time. */
#include "egress.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/statvfs.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/mem.h>

#include "common/annexb.h"
#include "common/heartbeat.h"
#include "common/link.h"
#include "common/log.h"
#include "common/stop.h"
#include "common/workers.h"
#include "common/metrics.h"
#include "common/status.h"
#include "feeds.h"
#include "pes_frames.h"
#include "http.h"
#include "packager.h"
#include "recorder.h"
#include "store.h"

#define LINK_IDLE_MS      5000
#define SWEEP_INTERVAL_S  300
#define FREE_CHECK_INTERVAL_S 10  /* the disk's free space (recordings_min_free_pct) */

typedef struct lecture lecture;
struct lecture {
    lecture     *next;
    char         name[LR_LECTURE_NAME_MAX + 1];
    int          links;            /* receivers feeding it (egress lock) */
    lr_packager *pk;               /* driven through feeds */
    lr_feeds    *feeds;
    int64_t      gone_since_ms;    /* the last link ended then; 0 live or ended */
};

typedef struct receiver receiver;

struct lr_egress {
    const lr_config  *conf;
    lr_stop           stop;
    lr_store         *store;
    lr_http          *http;
    lr_link_listener *listener;
    pthread_mutex_t   lock;
    lecture          *lectures;    /* guarded by lock */
    lr_workers        receivers;
    pthread_t         janitor;
    int               janitor_started;
    int               metrics;     /* collector handle; 0 none */
};

struct receiver {
    lr_worker        worker;       /* first: the list of receivers */
    lr_egress       *e;
    lecture         *lec;
    char             peer[64];
    int              feed;         /* its id in lec->feeds; -1 not joined */
    AVIOContext     *pb;
    AVFormatContext *ifmt;
    lr_heartbeat     hb;           /* the receiving loop runs (systemd's watchdog) */
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static lecture *find_lecture(lr_egress *e, const char *name)
{
    for (lecture *l = e->lectures; l; l = l->next)
        if (!strcmp(l->name, name))
            return l;
    return NULL;
}

/* One link of lec is gone; the last one dates the lecture's absence. */
static void link_gone(lr_egress *e, lecture *lec)
{
    pthread_mutex_lock(&e->lock);
    if (!--lec->links)
        lec->gone_since_ms = mono_ms();
    pthread_mutex_unlock(&e->lock);
}

static void deliver_frame(void *opaque, const AVPacket *frame)
{
    receiver *rc = opaque;

    lr_feeds_packet(rc->lec->feeds, rc->feed, frame);
}

/* One PES of the link to the feeds, as frames (pes_frames.h). */
static void deliver_pes(receiver *rc, AVPacket *pkt)
{
    const AVCodecParameters *par;

    if (pkt->stream_index < 0 || pkt->stream_index >= (int)rc->ifmt->nb_streams)
        return;
    par = rc->ifmt->streams[pkt->stream_index]->codecpar;
    if (par->codec_type == AVMEDIA_TYPE_AUDIO && par->codec_id == AV_CODEC_ID_AAC) {
        lr_pes_split_adts(pkt, deliver_frame, rc);
        return;
    }
    if (par->codec_type != AVMEDIA_TYPE_VIDEO ||
        lr_annexb_starts_gop(par->codec_id, pkt->data, pkt->size))
        pkt->flags |= AV_PKT_FLAG_KEY;
    else
        pkt->flags &= ~AV_PKT_FLAG_KEY;
    deliver_frame(rc, pkt);
}

static int receive(receiver *rc)
{
    lecture *lec = rc->lec;
    AVDictionary *opts = NULL;
    AVPacket *pkt = NULL;
    const char *why = NULL;
    int ret, nb = 0;

    if (!(rc->ifmt = avformat_alloc_context()))
        return AVERROR(ENOMEM);
    rc->ifmt->pb = rc->pb;
    /* packets as the PES they came in, damage flagged exactly (pes_frames.h) */
    rc->ifmt->flags |= AVFMT_FLAG_CUSTOM_IO | AVFMT_FLAG_NOPARSE | AVFMT_FLAG_NOFILLIN;
    av_dict_set(&opts, "probesize", "2000000", 0);
    ret = avformat_open_input(&rc->ifmt, NULL, av_find_input_format("mpegts"), &opts);
    av_dict_free(&opts);
    /* a ladder link that came up alone starts at a keyframe of every rung: 0.5 s
     * tells all; one that joined others waits for each rung's next keyframe */
    if (ret < 0 || (ret = lr_link_probe(&rc->ifmt, 0, 500000, 3000000)) < 0) {
        lr_warn("lecture=%s egress link from %s: not a readable MPEG-TS ladder (%s); closing",
                lec->name, rc->peer, av_err2str(ret));
        return ret;
    }
    if ((ret = lr_feeds_join(lec->feeds, rc->ifmt, &nb, &why)) < 0) {
        if (ret == AVERROR(EBUSY))
            lr_warn("lecture=%s egress link from %s: the lecture has %d live links already; "
                    "closing", lec->name, rc->peer, lr_feeds_live(lec->feeds));
        else
            lr_warn("lecture=%s egress link from %s: not a ladder this lecture can take (%s); "
                    "closing", lec->name, rc->peer, why ? why : av_err2str(ret));
        return AVERROR_EXIT;  /* said why already */
    }
    rc->feed = ret;
    lr_info("lecture=%s egress receiving %d rendition(s) from %s%s", lec->name, nb, rc->peer,
            lr_feeds_live(lec->feeds) > 1 ? " (a redundant feed)" : "");
    lr_status_event(lec->name, "link", "receiving %d rendition(s) from %s%s", nb, rc->peer,
                    lr_feeds_live(lec->feeds) > 1 ? " (a redundant feed)" : "");
    if (!(pkt = av_packet_alloc()))
        ret = AVERROR(ENOMEM);
    /* a read waits LINK_IDLE_MS at most; a packet handed on can wait for
     * the packager's lock, never for a viewer */
    char name[192];
    snprintf(name, sizeof(name), "egress's link receiver of %s from %s", lec->name, rc->peer);
    lr_heartbeat_register(&rc->hb, name, 10000);
    while (pkt && (ret = lr_link_read_packet(rc->ifmt, pkt)) >= 0) {
        lr_heartbeat_beat(&rc->hb);
        /* Past a broken link's end the demuxer hands over the PES it was in
         * the middle of. A video PES has no length, so one the break cut
         * short would pass as whole, and Chrome takes a cut frame as a
         * decode error that ends hls.js's playback: it counts as damaged
         * (feeds.c leaves it out, or conceals a keyframe). At the sender's
         * close nothing was cut. */
        if (rc->ifmt->pb->eof_reached && lr_link_avio_broke(rc->ifmt->pb))
            pkt->flags |= AV_PKT_FLAG_CORRUPT;
        deliver_pes(rc, pkt);
        av_packet_unref(pkt);
    }
    lr_heartbeat_unregister(&rc->hb);
    av_packet_free(&pkt);
    lr_feeds_leave(lec->feeds, rc->feed);
    return ret;
}

static void *receiver_thread(void *arg)
{
    receiver *rc = arg;
    int ret = receive(rc);

    if (ret != AVERROR_EXIT) {
        lr_info("lecture=%s egress link from %s ended: %s", rc->lec->name, rc->peer,
                av_err2str(ret));
        lr_status_event(rc->lec->name, "link", "link from %s ended: %s", rc->peer,
                        av_err2str(ret));
    }
    avformat_close_input(&rc->ifmt);
    lr_link_avio_close(&rc->pb);
    link_gone(rc->e, rc->lec);
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
    busy = lec && lec->links >= e->conf->egress.feeds_per_lecture;
    pthread_mutex_unlock(&e->lock);
    if (busy) {
        ad->reason = e->conf->egress.feeds_per_lecture > 1
                   ? "lecture already has egress.feeds_per_lecture live links"
                   : "lecture already has a live link";
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
        if (lr_packager_alloc(&e->conf->egress, e->store, lec->name, &lec->pk) < 0 ||
            lr_feeds_alloc(lec->pk, lec->name, e->conf->egress.feeds_per_lecture,
                           &lec->feeds) < 0) {
            lr_packager_free(&lec->pk);
            av_freep(&lec);
        } else {
            lec->next = e->lectures;
            e->lectures = lec;
        }
    }
    if (!lec || lec->links >= e->conf->egress.feeds_per_lecture ||
        !(rc = av_mallocz(sizeof(*rc)))) {
        pthread_mutex_unlock(&e->lock);
        return lec ? AVERROR(EBUSY) : AVERROR(ENOMEM);
    }
    lec->links++;
    lec->gone_since_ms = 0;
    pthread_mutex_unlock(&e->lock);

    rc->e = e;
    rc->lec = lec;
    rc->feed = -1;
    av_strlcpy(rc->peer, peer, sizeof(rc->peer));
    if (lr_link_avio_open(sock, LR_LINK_IO_READ, &e->stop, LINK_IDLE_MS, &rc->pb) < 0)
        goto fail;  /* the socket is closed already */
    if ((ret = lr_workers_start(&e->receivers, &rc->worker, receiver_thread)) < 0) {
        lr_link_avio_close(&rc->pb);
        goto fail;
    }
    return 0;
fail:
    link_gone(e, lec);
    av_free(rc);
    return 0;
}

static const char *const damage_fate[LR_DAMAGE_KINDS] = {
    [LR_DAMAGE_REPLACED] = "replaced", [LR_DAMAGE_DROPPED] = "dropped",
    [LR_DAMAGE_CONCEALED] = "concealed", [LR_DAMAGE_KEPT] = "kept",
};

/* How fresh each rendition is, and the recordings (egress lock held). */
static void collect_packaging(lr_egress *e, AVBPrint *out)
{
    static const struct { const char *name, *help; } fam[] = {
        { "lr_egress_segment_age_seconds",
          "time since the rendition's newest segment was published (renditions neither "
          "shed nor ended)" },
        { "lr_egress_part_age_seconds",
          "time since the rendition's newest part (or segment) was published" },
        { "lr_egress_target_duration_seconds", "the lecture's EXT-X-TARGETDURATION" },
        { "lr_recording_active", "1 while the lecture is being recorded" },
        { "lr_recording_bytes", "media bytes written to the lecture's current (or last) "
          "recording" },
        { "lr_recording_failing", "1 while the recording's writes fail (a full disk...): it "
          "is paused and retried with every segment; live playback goes on" },
        { "lr_recording_lost_segments", "segments the current (or last) recording lost to "
          "disk errors or a full write queue" },
    };
    int64_t now = lr_now_ns();
    int nb = 0;

    for (lecture *l = e->lectures; l; l = l->next)
        nb++;
    lr_packager_stats *st = nb ? av_malloc_array((size_t)nb, sizeof(*st)) : NULL;
    if (!st)
        return;
    nb = 0;
    for (lecture *l = e->lectures; l; l = l->next)
        lr_packager_get_stats(l->pk, &st[nb++]);
    for (int f = 0; f < (int)FF_ARRAY_ELEMS(fam); f++) {
        lr_metrics_family(out, fam[f].name, "gauge", fam[f].help);
        int k = 0;
        for (lecture *l = e->lectures; l; l = l->next, k++) {
            const lr_packager_stats *s = &st[k];
            if (f < 2) {
                for (int r = 0; r < s->nb_rends; r++) {
                    const lr_packager_rend_stats *rs = &s->rends[r];
                    int64_t at = f == 0 ? rs->segment_ns : rs->part_ns;
                    if (!rs->live || !at)
                        continue;
                    av_bprintf(out, "%s{lecture=\"", fam[f].name);
                    lr_metrics_label(out, l->name);
                    av_bprintf(out, "\",rendition=\"");
                    lr_metrics_label(out, rs->name);
                    av_bprintf(out, "\"} %.3f\n", (double)(now - at) / 1e9);
                }
                continue;
            }
            if (f == 2 && !s->target_duration)
                continue;
            av_bprintf(out, "%s{lecture=\"", fam[f].name);
            lr_metrics_label(out, l->name);
            int64_t v = f == 2 ? s->target_duration : f == 3 ? s->recording
                      : f == 4 ? s->recording_bytes : f == 5 ? s->recording_failing
                      : s->recording_lost;
            av_bprintf(out, "\"} %" PRId64 "\n", v);
        }
    }
    av_free(st);
}

/* The recordings' filesystem, as the janitor judges it (recorder.c). */
static void collect_disk(lr_egress *e, AVBPrint *out)
{
    const char *root = e->conf->egress.recordings_dir;
    struct statvfs sv;

    if (!root[0] || statvfs(root, &sv) < 0 || !sv.f_blocks)
        return;
    lr_metrics_family(out, "lr_recordings_disk_used_ratio", "gauge",
                      "share of the recordings filesystem in use (as df: blocks not available "
                      "to the service)");
    av_bprintf(out, "lr_recordings_disk_used_ratio %.4f\n",
               1.0 - (double)sv.f_bavail / (double)sv.f_blocks);
    lr_metrics_family(out, "lr_recordings_disk_free_bytes", "gauge",
                      "bytes of the recordings filesystem available to the service");
    av_bprintf(out, "lr_recordings_disk_free_bytes %.0f\n",
               (double)sv.f_bavail * (double)sv.f_frsize);
}

/* /metrics: the links feeding each lecture, the switches between them, and
 * the frames that arrived damaged. */
static void collect(void *opaque, AVBPrint *out)
{
    lr_egress *e = opaque;

    pthread_mutex_lock(&e->lock);
    lr_metrics_family(out, "lr_egress_feeds", "gauge",
                      "links feeding the lecture's ladder (redundant feeds when above 1)");
    for (lecture *l = e->lectures; l; l = l->next) {
        av_bprintf(out, "lr_egress_feeds{lecture=\"");
        lr_metrics_label(out, l->name);
        av_bprintf(out, "\"} %d\n", lr_feeds_live(l->feeds));
    }
    lr_metrics_family(out, "lr_egress_feed_switches_total", "counter",
                      "times a stream of the lecture moved to another feed");
    for (lecture *l = e->lectures; l; l = l->next) {
        av_bprintf(out, "lr_egress_feed_switches_total{lecture=\"");
        lr_metrics_label(out, l->name);
        av_bprintf(out, "\"} %" PRId64 "\n", lr_feeds_switches(l->feeds));
    }
    lr_metrics_family(out, "lr_egress_damaged_frames_total", "counter",
                      "frames that arrived damaged (the link gave up part of them), by what "
                      "became of them");
    for (lecture *l = e->lectures; l; l = l->next)
        for (int k = 0; k < LR_DAMAGE_KINDS; k++) {
            av_bprintf(out, "lr_egress_damaged_frames_total{lecture=\"");
            lr_metrics_label(out, l->name);
            av_bprintf(out, "\",fate=\"%s\"} %" PRId64 "\n", damage_fate[k],
                       lr_feeds_damaged(l->feeds, k));
        }
    collect_packaging(e, out);
    pthread_mutex_unlock(&e->lock);
    collect_disk(e, out);
}

/* Ends the recordings of lectures whose link has been gone for the grace
 * time, applies the recordings' retention now and then, and keeps their disk
 * from filling up. */
static void *janitor_thread(void *arg)
{
    lr_egress *e = arg;
    const lr_egress_conf *ec = &e->conf->egress;
    lr_recorder_conf rc = { .root = ec->recordings_dir, .retention_days = ec->retention_days,
                            .quota_bytes = (int64_t)ec->recordings_quota_mb << 20,
                            .min_free_pct = ec->recordings_min_free_pct };
    int64_t next_sweep = 0, next_free_check = 0;

    while (!lr_stop_wait_until(&e->stop, lr_now_ns() + 500 * INT64_C(1000000))) {
        int64_t now = mono_ms();
        pthread_mutex_lock(&e->lock);
        for (lecture *l = e->lectures; l; l = l->next) {
            if (l->links || !l->gone_since_ms ||
                now - l->gone_since_ms < ec->recording_grace * 1000)
                continue;
            l->gone_since_ms = 0;
            lr_packager_end(l->pk);  /* no receiver drives it while not live */
        }
        pthread_mutex_unlock(&e->lock);
        if (rc.root[0] && now >= next_sweep) {
            lr_recordings_sweep(&rc);
            next_sweep = now + SWEEP_INTERVAL_S * 1000;
        }
        if (rc.root[0] && now >= next_free_check) {  /* a statvfs: cheap */
            lr_recordings_keep_free(&rc);
            next_free_check = now + FREE_CHECK_INTERVAL_S * 1000;
        }
    }
    return NULL;
}

int lr_egress_start(const lr_config *c, lr_egress **out)
{
    lr_link_opts lo = lr_link_opts_of(&c->link);
    lr_egress *e;
    int ret;

    lr_link_configure(&c->link);
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
    if (c->egress.recordings_dir[0]) {
        lr_recorder_conf rc = { .root = c->egress.recordings_dir };
        if (lr_recordings_make_root(&rc) == 0)
            lr_recordings_finish_stale(&rc, c->egress.recording_grace);
    }
    if ((ret = lr_http_start(&c->egress, e->store, &e->http)) < 0)
        goto fail;
    if ((ret = pthread_create(&e->janitor, NULL, janitor_thread, e)) != 0) {
        ret = AVERROR(ret);
        goto fail;
    }
    e->janitor_started = 1;
    if ((ret = lr_metrics_register(collect, e)) < 0)
        goto fail;
    e->metrics = ret;
    if ((ret = lr_link_listen(c->egress.listen, &lo, "egress", admit, accept_link, e,
                              &e->listener)) < 0)
        goto fail;
    *out = e;
    return 0;
fail:
    lr_egress_stop(&e);
    return ret;
}

void lr_egress_reload(lr_egress *e, const lr_config *c)
{
    lr_http_reload(e->http, c ? &c->egress : NULL);
}

int lr_egress_applies(const char *key)
{
    static const char *const live[] = { "egress.token_secrets", "egress.require_token",
                                        "egress.metrics_token", "egress.tls_cert",
                                        "egress.tls_key", NULL };
    for (int i = 0; live[i]; i++)
        if (!strcmp(key, live[i]))
            return 1;
    return 0;
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
    if (e->metrics > 0)
        lr_metrics_unregister(e->metrics);
    if (e->janitor_started)
        pthread_join(e->janitor, NULL);
    lr_http_stop(&e->http);
    while (e->lectures) {
        lecture *lec = e->lectures;
        e->lectures = lec->next;
        lr_feeds_free(&lec->feeds);
        lr_packager_free(&lec->pk);
        av_free(lec);
    }
    lr_store_free(&e->store);
    pthread_mutex_destroy(&e->lock);
    lr_stop_destroy(&e->stop);
    av_freep(pe);
}
