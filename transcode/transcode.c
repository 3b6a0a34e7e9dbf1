/* transcode/transcode.c — the transcode role. Each lecture arriving on the
 * listener gets a thread that demuxes the link and feeds the pipeline
 * (pipeline.c: decode once, every rung on its own thread, AAC once); the
 * ladder goes as one MPEG-TS (ladder_mux.c) over a link to each egress
 * (fanout.c), which reconnects with backoff while the encoders go on. Called
 * through transcode.h. */
#include "transcode.h"

#include <pthread.h>
#include <time.h>

#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/mem.h>

#include "common/heartbeat.h"
#include "common/link.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/stop.h"
#include "common/streamid.h"
#include "common/workers.h"
#include "fanout.h"
#include "pipeline.h"

#define LINK_IDLE_MS   5000
/* The speed against real time is measured over about this window, from
 * snapshots taken as the lecture's packets come in. */
#define SPEED_SNAPS    16
#define SPEED_STEP_NS  (INT64_C(500) * 1000000)
#define SPEED_WINDOW_NS (INT64_C(5) * 1000000000)

struct lr_transcode {
    /* the configuration lectures take as they start: a reload replaces it
     * (lr_transcode_reload); lectures running keep theirs */
    _Atomic(const lr_config *) conf;
    lr_stop           stop;
    lr_link_listener *listener;
    lr_workers        pipelines;
    int               metrics;          /* collector handle; 0 none */
};

typedef struct lecture {
    lr_worker        worker;            /* first: the list of lectures */
    lr_transcode    *t;
    const lr_config *conf;              /* the role's when the lecture came */
    char             name[LR_LECTURE_NAME_MAX + 1];
    AVIOContext     *in_pb;
    AVFormatContext *ifmt;
    lr_pipeline     *pipe;

    lr_fanout       *fan;               /* the ladder to every egress */
    lr_heartbeat     hb;                /* its reading loop runs (systemd's watchdog) */
    /* for admit(), from the listener's thread */
    atomic_int_fast64_t last_read_ns;   /* the link's newest message (or its start) */
    atomic_int       give_up;           /* taken over: its link reads end */
    /* for /metrics (collect), under stats_lock: the pipeline and fan-out
     * while they exist, and snapshots of the slowest rung's progress */
    pthread_mutex_t  stats_lock;
    int              stats_ready;
    int64_t          snap_ns[SPEED_SNAPS], snap_pts_us[SPEED_SNAPS];
    int              nb_snaps;
} lecture;

/* lr_sink_fn: from the rungs' threads and the lecture's own. The fan-out
 * exists before the first packet: it is started right after the pipeline. */
static int write_packet(void *opaque, AVPacket *pkt, int ost, AVRational tb)
{
    lecture *l = opaque;

    if (!l->fan) {
        av_packet_unref(pkt);
        return 0;
    }
    return lr_fanout_write(l->fan, pkt, ost, tb);
}

static int open_input(lecture *l)
{
    AVDictionary *opts = NULL;
    int ret;

    if (!(l->ifmt = avformat_alloc_context()))
        return AVERROR(ENOMEM);
    l->ifmt->pb = l->in_pb;
    l->ifmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    av_dict_set(&opts, "probesize", "4000000", 0);
    ret = avformat_open_input(&l->ifmt, NULL, av_find_input_format("mpegts"), &opts);
    av_dict_free(&opts);
    /* 0.7 s of the ingest's link tells the codecs and the frame rate (0.3 s
     * did, for the sample) */
    if (ret < 0 || (ret = lr_link_probe(&l->ifmt, 1, 700000, 3000000)) < 0) {
        lr_error("lecture=%s transcode: the link carries no readable MPEG-TS: %s", l->name,
                 av_err2str(ret));
        return ret;
    }
    return 0;
}

/* ---- what /metrics shows ----------------------------------------------- */

/* Twice a second at most: how far the slowest rung got, and when. */
static void snapshot(lecture *l)
{
    int64_t now = lr_now_ns();
    lr_pipeline_stats ps;

    if (l->nb_snaps && now - l->snap_ns[(l->nb_snaps - 1) % SPEED_SNAPS] < SPEED_STEP_NS)
        return;
    lr_pipeline_get_stats(l->pipe, &ps);
    if (ps.pts_us == AV_NOPTS_VALUE)
        return;
    pthread_mutex_lock(&l->stats_lock);
    l->snap_ns[l->nb_snaps % SPEED_SNAPS] = now;
    l->snap_pts_us[l->nb_snaps % SPEED_SNAPS] = ps.pts_us;
    l->nb_snaps++;
    pthread_mutex_unlock(&l->stats_lock);
}

/* Media time encoded per second of real time over the last few seconds
 * (stats_lock held); -1 when it can't be told: too soon, or no input for a
 * while (a lecture without a source is not a slow transcoder; one whose
 * reading waits for a full rung queue is, and has input). */
static double speed(const lecture *l, const lr_pipeline_stats *ps, int64_t now)
{
    int first = FFMAX(0, l->nb_snaps - SPEED_SNAPS), k = -1;

    if (ps->pts_us == AV_NOPTS_VALUE || !ps->last_in_ns ||
        (!ps->busy && now - ps->last_in_ns > 2000000000))
        return -1;
    /* the oldest snapshot within the window; or, when the reading thread
     * has waited longer than that (a starved transcoder), its last one */
    for (int i = first; i < l->nb_snaps; i++)
        if (now - l->snap_ns[i % SPEED_SNAPS] <= SPEED_WINDOW_NS) {
            k = i % SPEED_SNAPS;
            break;
        }
    if (k < 0 && l->nb_snaps)
        k = (l->nb_snaps - 1) % SPEED_SNAPS;
    if (k < 0 || now - l->snap_ns[k] < 1000000000)
        return -1;
    double v = (double)(ps->pts_us - l->snap_pts_us[k]) * 1000.0 / (double)(now - l->snap_ns[k]);
    return v >= 0 && v < 100 ? v : -1;  /* a timestamp break: no figure */
}

static void collect(void *opaque, AVBPrint *out)
{
    static const struct { const char *name, *type, *help; } fam[] = {
        { "lr_transcode_frames_total", "counter", "frames out of the rung's encoder (a rung "
          "passed through: the source's frames)" },
        { "lr_transcode_speed_ratio", "gauge", "media encoded per second of real time by the "
          "slowest rung, over the last 5 s (1 keeps up; absent without input)" },
        { "lr_transcode_queue_frames", "gauge", "decoded frames waiting for the busiest rung's "
          "encoder" },
        { "lr_transcode_rungs", "gauge", "rungs of the lecture's ladder" },
        { "lr_transcode_rungs_shed", "gauge", "top rungs not sent on the link that sheds most "
          "(its path can't carry them)" },
        { "lr_transcode_sheds_total", "counter", "rungs shed so far, over the links" },
    };
    lr_transcode *t = opaque;
    int64_t now = lr_now_ns();

    pthread_mutex_lock(&t->pipelines.lock);
    for (int f = 0; f < (int)FF_ARRAY_ELEMS(fam); f++) {
        lr_metrics_family(out, fam[f].name, fam[f].type, fam[f].help);
        for (lr_worker *w = t->pipelines.head; w; w = w->next) {
            lecture *l = (lecture *)w;
            lr_pipeline_stats ps;
            int64_t sheds = 0;
            double v;

            pthread_mutex_lock(&l->stats_lock);
            if (!l->stats_ready) {
                pthread_mutex_unlock(&l->stats_lock);
                continue;
            }
            lr_pipeline_get_stats(l->pipe, &ps);
            int shed = lr_fanout_shed(l->fan, &sheds);
            v = speed(l, &ps, now);
            pthread_mutex_unlock(&l->stats_lock);
            for (int r = 0; f == 0 && r < ps.nb_rungs; r++) {
                av_bprintf(out, "%s{lecture=\"", fam[f].name);
                lr_metrics_label(out, l->name);
                av_bprintf(out, "\",rung=\"");
                lr_metrics_label(out, ps.names[r]);
                av_bprintf(out, "\"} %" PRId64 "\n", ps.frames[r]);
            }
            if (f == 0 || (f == 1 && v < 0))
                continue;
            av_bprintf(out, "%s{lecture=\"", fam[f].name);
            lr_metrics_label(out, l->name);
            av_bprintf(out, "\"} %.4g\n", f == 1 ? v : f == 2 ? ps.queued : f == 3 ? ps.nb_rungs
                                           : f == 4 ? shed : (double)sheds);
        }
    }
    pthread_mutex_unlock(&t->pipelines.lock);
}

static void *lecture_thread(void *arg)
{
    lecture *l = arg;
    AVPacket *in = av_packet_alloc();
    int ret = in ? open_input(l) : AVERROR(ENOMEM);

    if (ret >= 0)
        ret = lr_pipeline_open(&l->conf->transcode, l->name, l->ifmt, 1, write_packet, l,
                               &l->pipe);
    if (ret >= 0)
        ret = lr_fanout_start(l->conf, l->name, l->pipe, &l->t->stop, &l->fan);
    /* A read waits LINK_IDLE_MS at most; handing a frame to a rung waits
     * while that rung's queue is full, so an encoder that hangs stops
     * this beat within a queue's length. */
    if (ret >= 0) {
        pthread_mutex_lock(&l->stats_lock);
        l->stats_ready = 1;
        pthread_mutex_unlock(&l->stats_lock);
    }
    char name[96];
    snprintf(name, sizeof(name), "transcoder's lecture %s", l->name);
    lr_heartbeat_register(&l->hb, name, 10000);
    while (ret >= 0 && !lr_stop_requested(&l->t->stop)) {
        lr_heartbeat_beat(&l->hb);
        if ((ret = lr_link_read_packet(l->ifmt, in)) < 0)
            break;
        ret = lr_pipeline_send_packet(l->pipe, in);
        av_packet_unref(in);
        snapshot(l);
    }
    lr_heartbeat_unregister(&l->hb);  /* the end's flush is not watched */
    if (l->pipe && ret != AVERROR_EXIT && !lr_stop_requested(&l->t->stop))
        lr_pipeline_finish(l->pipe);  /* the link ended: the last frames go out */
    if (ret < 0 && ret != AVERROR_EXIT)
        lr_info("lecture=%s transcode pipeline ended: %s", l->name, av_err2str(ret));
    av_packet_free(&in);
    pthread_mutex_lock(&l->stats_lock);
    l->stats_ready = 0;
    pthread_mutex_unlock(&l->stats_lock);
    lr_pipeline_join(l->pipe);        /* no more writes */
    lr_fanout_finish(&l->fan);        /* every egress gets what is queued */
    lr_pipeline_free(&l->pipe);
    avformat_close_input(&l->ifmt);
    lr_link_avio_close(&l->in_pb);
    lr_worker_done(&l->worker);
    return NULL;
}

/* A publisher whose link has carried nothing for this long is taken to be
 * dead (killed, its machine gone: SRT notices only after its peer idle
 * timeout) when another asks for the lecture: a live link carries frames
 * many times a second, and a restarted ingest should not wait seconds. */
#define TAKEOVER_SILENT_MS 1000

/* How long admit() waits for a given-up link's lecture to finish (its
 * pipeline flushes): the new publisher is then admitted at once rather than
 * at its next redial. Only the listener's thread reaps lectures, so the one
 * waited for stays listed. */
#define RELEASE_WAIT_MS 700

static int admit(void *opaque, const lr_streamid *sid, const char *peer, lr_link_admission *ad)
{
    lr_transcode *t = opaque;
    lr_worker *busy = NULL;
    int64_t now = lr_now_ns(), silent_ms = 0;

    if (strcmp(sid->mode, "publish")) {
        ad->reason = "stream id mode must be publish";
        return AVERROR(EINVAL);
    }
    pthread_mutex_lock(&t->pipelines.lock);
    for (lr_worker *w = t->pipelines.head; w; w = w->next) {
        lecture *l = (lecture *)w;
        if (!atomic_load(&w->done) && !strcmp(l->name, sid->resource)) {
            busy = w;
            silent_ms = (now - atomic_load(&l->last_read_ns)) / 1000000;
            if (silent_ms >= TAKEOVER_SILENT_MS && !atomic_exchange(&l->give_up, 1))
                lr_warn("lecture=%s its link has carried nothing for %" PRId64 " ms and %s "
                        "asks for the lecture: the silent link is given up", l->name,
                        silent_ms, peer);
        }
    }
    pthread_mutex_unlock(&t->pipelines.lock);
    if (busy && silent_ms >= TAKEOVER_SILENT_MS) {
        for (int64_t end = now + RELEASE_WAIT_MS * INT64_C(1000000);
             !atomic_load(&busy->done) && lr_now_ns() < end && !lr_stop_requested(&t->stop);)
            nanosleep(&(struct timespec){ .tv_nsec = 20000000 }, NULL);
        if (atomic_load(&busy->done))
            return 0;
        ad->reason = "lecture's silent publisher is being released: try again";
        return AVERROR(EBUSY);
    }
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
    l->conf = atomic_load(&t->conf);
    pthread_mutex_init(&l->stats_lock, NULL);
    av_strlcpy(l->name, sid->resource, sizeof(l->name));
    atomic_init(&l->last_read_ns, lr_now_ns());
    atomic_init(&l->give_up, 0);
    if ((ret = lr_link_avio_open(sock, LR_LINK_IO_READ, &t->stop, LINK_IDLE_MS, &l->in_pb)) < 0) {
        av_free(l);
        return 0;  /* the socket is already closed */
    }
    lr_link_avio_watch(l->in_pb, &l->give_up, &l->last_read_ns);
    if ((ret = lr_workers_start(&t->pipelines, &l->worker, lecture_thread)) < 0) {
        lr_link_avio_close(&l->in_pb);
        av_free(l);
    }
    return 0;  /* the socket is the lecture's, or closed */
}

int lr_transcode_start(const lr_config *c, lr_transcode **out)
{
    lr_link_opts lo = lr_link_opts_of(&c->link);
    lr_transcode *t;
    int ret;

    lr_link_configure(&c->link);
    if (!(t = av_mallocz(sizeof(*t))))
        return AVERROR(ENOMEM);
    atomic_init(&t->conf, c);
    if ((ret = lr_stop_init(&t->stop)) < 0) {
        av_free(t);
        return ret;
    }
    lr_workers_init(&t->pipelines);
    if ((ret = lr_metrics_register(collect, t)) < 0) {
        lr_transcode_stop(&t);
        return ret;
    }
    t->metrics = ret;
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
    lr_metrics_unregister(t->metrics);
    lr_link_listener_free(&t->listener);
    lr_workers_destroy(&t->pipelines);
    lr_stop_destroy(&t->stop);
    av_freep(pt);
}

void lr_transcode_reload(lr_transcode *t, const lr_config *c)
{
    if (!c || c == atomic_load(&t->conf))
        return;
    atomic_store(&t->conf, c);
    lr_info("transcode: lectures that arrive from now on take the reloaded ladder and links");
}

int lr_transcode_applies(const char *key)
{
    return !strncmp(key, "transcode.", 10) && strcmp(key, "transcode.listen");
}
