/* common/outlinks.c — see outlinks.h. Each link's thread connects, opens the
 * caller's muxer and writes what its queue holds, under the one lock but
 * while it connects or writes. */
#include "outlinks.h"

#include <time.h>

#include <libavutil/avstring.h>
#include <libavutil/common.h>
#include <libavutil/mem.h>

#include "backoff.h"
#include "log.h"
#include "status.h"
#include "streamid.h"
#include "ts_mux.h"

typedef struct outlink {
    lr_outlink   pub;
    lr_outlinks *ol;
    pthread_t    thread;
    int          started;
    /* under ol->lock */
    pthread_cond_t   wake;
    lr_outlink_stats st;
} outlink;

struct lr_outlinks {
    lr_outlinks_opts       o;
    char                   lecture[LR_LECTURE_NAME_MAX + 1];
    const lr_outlinks_ops *ops;
    void                  *opaque;
    pthread_mutex_t        lock;
    AVPacket              *ref; /* the writer's: a reference on its way to a queue */
    /* under the lock */
    int64_t     run;      /* runs begun; 0: none yet */
    int         run_over; /* lr_outlinks_end_run: close, don't reconnect */
    uint64_t    key_streams;
    const char *begin_why, *end_why;
    int         ending; /* lr_outlinks_drain */
    int         drained;
    int         nb_links;
    outlink    *links;
};

static int others_up(const outlink *k)
{
    int n = 0;

    for (int i = 0; i < k->ol->nb_links; i++)
        n += &k->ol->links[i] != k && k->ol->links[i].pub.up;
    return n;
}

void lr_outlinks_write(lr_outlinks *ol, const AVPacket *pkt)
{
    pthread_mutex_lock(&ol->lock);
    for (int i = 0; i < ol->nb_links; i++) {
        outlink        *k = &ol->links[i];
        lr_pktq        *q = k->pub.queue;
        lr_outlink_take take = LR_OUTLINK_QUEUE;
        int             queued, ret;

        if (ol->drained) {
            k->st.lost_run++;
            continue;
        }
        if (!k->pub.up && !ol->o.keep_while_down) {
            k->st.lost_down++;
            continue;
        }
        if (ol->ops->admit)
            take = ol->ops->admit(ol->opaque, &k->pub, pkt);
        if (take == LR_OUTLINK_SKIP) {
            k->st.skipped++;
            continue;
        }
        if (take == LR_OUTLINK_REFUSE) {
            k->st.lost_key++;
            continue;
        }
        if (take == LR_OUTLINK_RESTART)
            k->st.lost_down += lr_pktq_flush(q);
        queued = lr_pktq_count(q);
        if ((ret = av_packet_ref(ol->ref, pkt)) >= 0 && (ret = lr_pktq_send(q, ol->ref)) >= 0) {
            pthread_cond_signal(&k->wake);
            continue;
        }
        av_packet_unref(ol->ref);
        if (ret == AVERROR(EAGAIN)) {
            k->st.lost_key++;
        } else if (ret == AVERROR(ENOBUFS)) {
            lr_warn("lecture=%s %s %s is not keeping up: its queue is full, %d packets dropped; "
                    "it resumes at the next keyframe",
                    ol->lecture, ol->o.peer, k->pub.url, queued + 1);
            k->st.lost_full += queued + 1;
        } else {
            k->st.lost_full++;
        }
    }
    pthread_mutex_unlock(&ol->lock);
}

/* Connects and starts the caller's TS on the link. Without the lock. */
static int open_session(outlink *k, AVIOContext **pb, AVFormatContext **oc)
{
    lr_outlinks *ol = k->ol;
    char         sid[128];
    int          sock, ret;

    if ((ret = lr_streamid_format(sid, sizeof(sid), ol->lecture, "publish")) < 0 ||
        (ret = lr_link_connect(k->pub.url, sid, &ol->o.link, ol->o.stop, &sock)) < 0 ||
        (ret = lr_link_avio_open(sock, LR_LINK_IO_WRITE, ol->o.stop, 0, pb)) < 0)
        return ret;
    if ((ret = ol->ops->open(ol->opaque, &k->pub, *pb, oc)) < 0)
        lr_link_avio_close(pb);
    return ret;
}

/* trailer: the session ends in order (the peer takes it as an end), and the
 * link lingers until its peer has it all. */
static void close_session(AVIOContext **pb, AVFormatContext **oc, int trailer)
{
    lr_ts_mux_end(oc, trailer);
    lr_link_avio_close(pb);
}

static void *link_thread(void *arg)
{
    outlink         *k = arg;
    lr_outlinks     *ol = k->ol;
    lr_pktq         *q = k->pub.queue;
    AVIOContext     *pb = NULL;
    AVFormatContext *oc = NULL;
    AVPacket        *pkt = av_packet_alloc();
    int64_t          run = 0; /* the session's */
    lr_backoff       backoff;

    lr_backoff_init(&backoff, ol->o.backoff_min_ms, ol->o.backoff_max_ms, 1);
    pthread_mutex_lock(&ol->lock);
    while (pkt && !lr_stop_requested(ol->o.stop)) {
        int ret;
        if (oc && run != ol->run) {
            k->pub.up = 0;
            pthread_mutex_unlock(&ol->lock);
            lr_info("lecture=%s %s: new link session to %s", ol->lecture, ol->begin_why,
                    k->pub.url);
            close_session(&pb, &oc, 1);
            pthread_mutex_lock(&ol->lock);
            continue;
        }
        if (!oc) {
            if (ol->ending)
                break;
            if (!ol->run || ol->run_over) { /* nothing to carry until the next run */
                k->st.lost_run += lr_pktq_flush(q);
                lr_cond_wait_until(&k->wake, &ol->lock, 0);
                continue;
            }
            if (lr_now_ns() < backoff.retry_at) {
                lr_cond_wait_until(&k->wake, &ol->lock, backoff.retry_at);
                continue;
            }
            run = ol->run;
            ret = ol->ops->prepare ? ol->ops->prepare(ol->opaque, &k->pub) : 0;
            pthread_mutex_unlock(&ol->lock);
            if (ret >= 0)
                ret = open_session(k, &pb, &oc);
            pthread_mutex_lock(&ol->lock);
            if (ret < 0) {
                k->st.reconnects++;
                lr_backoff_failed(&backoff, lr_now_ns());
                continue;
            }
            lr_backoff_succeeded(&backoff);
            k->pub.up = k->pub.was_up = 1;
            if (ol->ops->up)
                ol->ops->up(ol->opaque, &k->pub, others_up(k));
            lr_info("lecture=%s %s up to %s%s", ol->lecture, ol->o.name, k->pub.url,
                    ol->o.up_note ? ol->o.up_note : "");
            lr_status_event(ol->lecture, "link", "%s up to %s", ol->o.name, k->pub.url);
            continue;
        }
        if (!lr_pktq_count(q)) {
            if (ol->ending)
                break;
            if (ol->run_over) {
                /* Everything queued is sent: the trailer, then the close,
                 * which the peer takes as the end. */
                k->pub.up = 0;
                pthread_mutex_unlock(&ol->lock);
                close_session(&pb, &oc, 1);
                lr_info("lecture=%s %s to %s closed: %s", ol->lecture, ol->o.name, k->pub.url,
                        ol->end_why);
                pthread_mutex_lock(&ol->lock);
                lr_pktq_want_key(q, ol->key_streams);
                continue;
            }
            lr_cond_wait_until(&k->wake, &ol->lock, 0);
            continue;
        }
        lr_pktq_receive(q, pkt, LR_PKTQ_NONBLOCK);
        pthread_mutex_unlock(&ol->lock);

        ret = ol->ops->write(ol->opaque, &k->pub, oc, pb, pkt);
        av_packet_unref(pkt);

        pthread_mutex_lock(&ol->lock);
        if (ret >= 0 || ret == AVERROR(EINVAL)) {
            k->st.sent++;
            continue;
        }
        k->pub.up = 0;
        k->st.lost_down += 1 + lr_pktq_flush(q); /* the packet that failed too */
        lr_pktq_want_key(q, ol->key_streams);
        pthread_mutex_unlock(&ol->lock);
        if (ret != AVERROR_EXIT)
        {
            lr_warn("lecture=%s %s to %s broke: %s; reconnecting", ol->lecture, ol->o.name,
                    k->pub.url, av_err2str(ret));
            lr_status_event(ol->lecture, "link", "%s to %s broke: %s", ol->o.name, k->pub.url,
                            av_err2str(ret));
        }
        close_session(&pb, &oc, 0);
        pthread_mutex_lock(&ol->lock);
        lr_backoff_failed(&backoff, lr_now_ns());
    }
    k->pub.up = 0;
    k->st.lost_run += lr_pktq_flush(q);
    pthread_mutex_unlock(&ol->lock);
    close_session(&pb, &oc, 1);
    av_packet_free(&pkt);
    return NULL;
}

int lr_outlinks_start(const lr_outlinks_opts *o, const lr_outlinks_ops *ops, void *opaque,
                      lr_outlinks **out)
{
    lr_pktq_opts       qo = { .max_pkts = o->max_pkts,
                              .max_bytes = o->max_bytes,
                              .full = LR_PKTQ_DROP_TO_KEY,
                              .gate_all = o->gate_all };
    lr_outlinks       *ol;
    pthread_condattr_t attr;
    int                ret = 0;

    if (o->nb_links < 0 || !ops->open || !ops->write)
        return AVERROR(EINVAL);
    if (!(ol = av_mallocz(sizeof(*ol))))
        return AVERROR(ENOMEM);
    ol->o = *o;
    av_strlcpy(ol->lecture, o->lecture, sizeof(ol->lecture));
    ol->ops = ops;
    ol->opaque = opaque;
    pthread_mutex_init(&ol->lock, NULL);
    if (!(ol->ref = av_packet_alloc()) ||
        !(ol->links = av_calloc(FFMAX(o->nb_links, 1), sizeof(*ol->links)))) {
        lr_outlinks_free(&ol);
        return AVERROR(ENOMEM);
    }
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC); /* lr_now_ns's clock */
    for (int i = 0; i < o->nb_links && ret >= 0; i++) {
        outlink *k = &ol->links[i];
        if ((ret = lr_pktq_alloc(&qo, &ol->lock, &k->pub.queue)) < 0)
            break;
        k->pub.index = i;
        k->pub.url = o->urls[i];
        k->ol = ol;
        pthread_cond_init(&k->wake, &attr);
        ol->nb_links++;
    }
    pthread_condattr_destroy(&attr);
    for (int i = 0; i < ol->nb_links && ret >= 0; i++) {
        ret = AVERROR(pthread_create(&ol->links[i].thread, NULL, link_thread, &ol->links[i]));
        ol->links[i].started = ret >= 0;
    }
    if (ret < 0) {
        lr_outlinks_free(&ol);
        return ret;
    }
    *out = ol;
    return 0;
}

void lr_outlinks_lock(lr_outlinks *ol)
{
    pthread_mutex_lock(&ol->lock);
}

void lr_outlinks_unlock(lr_outlinks *ol)
{
    pthread_mutex_unlock(&ol->lock);
}

void lr_outlinks_begin_run(lr_outlinks *ol, uint64_t key_streams, const char *why)
{
    ol->run++;
    ol->run_over = 0;
    ol->key_streams = key_streams;
    ol->begin_why = why;
    for (int i = 0; i < ol->nb_links; i++) {
        outlink *k = &ol->links[i];
        k->st.lost_run += lr_pktq_flush(k->pub.queue);
        lr_pktq_resync(k->pub.queue, key_streams);
        pthread_cond_signal(&k->wake);
    }
}

void lr_outlinks_end_run(lr_outlinks *ol, const char *why)
{
    ol->run_over = 1;
    ol->end_why = why;
    for (int i = 0; i < ol->nb_links; i++)
        pthread_cond_signal(&ol->links[i].wake);
}

int lr_outlinks_nb_links(const lr_outlinks *ol)
{
    return ol->nb_links;
}

void lr_outlinks_get_stats(lr_outlinks *ol, int link, lr_outlink_stats *st)
{
    pthread_mutex_lock(&ol->lock);
    *st = ol->links[link].st;
    st->up = ol->links[link].pub.up;
    pthread_mutex_unlock(&ol->lock);
}

void lr_outlinks_drain(lr_outlinks *ol)
{
    pthread_mutex_lock(&ol->lock);
    ol->ending = 1;
    for (int i = 0; i < ol->nb_links; i++)
        pthread_cond_signal(&ol->links[i].wake);
    pthread_mutex_unlock(&ol->lock);
    for (int i = 0; i < ol->nb_links; i++) {
        if (ol->links[i].started)
            pthread_join(ol->links[i].thread, NULL);
        ol->links[i].started = 0;
    }
    pthread_mutex_lock(&ol->lock);
    ol->drained = 1;
    pthread_mutex_unlock(&ol->lock);
}

void lr_outlinks_free(lr_outlinks **pol)
{
    lr_outlinks *ol = *pol;

    if (!ol)
        return;
    lr_outlinks_drain(ol);
    for (int i = 0; i < ol->nb_links; i++) {
        lr_pktq_free(&ol->links[i].pub.queue);
        pthread_cond_destroy(&ol->links[i].wake);
    }
    av_free(ol->links);
    av_packet_free(&ol->ref);
    pthread_mutex_destroy(&ol->lock);
    av_freep(pol);
}
