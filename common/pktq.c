/* common/pktq.c — see pktq.h. A ring of AVPacket shells, allocated when a
 * slot is first used and kept: a send moves a reference in, nothing is
 * allocated per packet. */
#include "pktq.h"

#include <libavutil/error.h>
#include <libavutil/mem.h>

struct lr_pktq {
    lr_pktq_opts     o;
    pthread_mutex_t *lock; /* the owner's */
    pthread_cond_t   room; /* a packet left (a BLOCK sender waits) */
    pthread_cond_t   more; /* a packet came (a receiver waits) */
    AVPacket       **slots;
    int              head, count;
    size_t           bytes;
    uint64_t         waiting; /* key streams waiting for a keyframe */
    int              closed;
};

static uint64_t bit(int stream)
{
    return stream >= 0 && stream < 64 ? UINT64_C(1) << stream : 0;
}

static AVPacket *slot(const lr_pktq *q, int i)
{
    return q->slots[(q->head + i) % q->o.max_pkts];
}

int lr_pktq_alloc(const lr_pktq_opts *o, pthread_mutex_t *lock, lr_pktq **out)
{
    lr_pktq *q;

    if (o->max_pkts < 1 || !lock)
        return AVERROR(EINVAL);
    if (!(q = av_mallocz(sizeof(*q))) || !(q->slots = av_calloc(o->max_pkts, sizeof(*q->slots)))) {
        av_free(q);
        return AVERROR(ENOMEM);
    }
    q->o = *o;
    q->lock = lock;
    q->waiting = o->key_streams;
    pthread_cond_init(&q->room, NULL);
    pthread_cond_init(&q->more, NULL);
    *out = q;
    return 0;
}

void lr_pktq_free(lr_pktq **pq)
{
    lr_pktq *q = *pq;

    if (!q)
        return;
    for (int i = 0; i < q->o.max_pkts; i++)
        av_packet_free(&q->slots[i]);
    av_free(q->slots);
    pthread_cond_destroy(&q->room);
    pthread_cond_destroy(&q->more);
    av_freep(pq);
}

/* An empty queue takes any one packet, so a big one can't wedge it. */
static int fits(const lr_pktq *q, const AVPacket *pkt)
{
    if (!q->count)
        return 1;
    return q->count < q->o.max_pkts &&
           (!q->o.max_bytes || q->bytes + (size_t)pkt->size <= q->o.max_bytes);
}

/* Refused while its stream (or, with gate_all, any key stream) waits. */
static int gated(const lr_pktq *q, const AVPacket *pkt)
{
    uint64_t s = bit(pkt->stream_index);

    if (s & q->o.key_streams)
        return (q->waiting & s) && !(pkt->flags & AV_PKT_FLAG_KEY);
    return q->o.gate_all && q->waiting;
}

int lr_pktq_send(lr_pktq *q, AVPacket *pkt)
{
    AVPacket **to;
    int        dropped = 0;

    for (;;) {
        if (q->closed)
            return AVERROR_EOF;
        if (gated(q, pkt))
            return AVERROR(EAGAIN);
        if (fits(q, pkt))
            break;
        switch (q->o.full) {
        case LR_PKTQ_BLOCK:
            pthread_cond_wait(&q->room, q->lock);
            break;
        case LR_PKTQ_DROP_OLDEST:
            dropped += lr_pktq_drop(q, 1);
            break;
        case LR_PKTQ_DROP_TO_KEY:
            lr_pktq_flush(q);
            q->waiting = q->o.key_streams;
            return AVERROR(ENOBUFS);
        }
    }
    to = &q->slots[(q->head + q->count) % q->o.max_pkts];
    if (!*to && !(*to = av_packet_alloc()))
        return AVERROR(ENOMEM);
    av_packet_move_ref(*to, pkt);
    q->count++;
    q->bytes += (size_t)(*to)->size;
    q->waiting &= ~bit((*to)->stream_index);
    pthread_cond_signal(&q->more);
    return dropped;
}

int lr_pktq_receive(lr_pktq *q, AVPacket *pkt, int flags)
{
    AVPacket *p;

    while (!q->count) {
        if (q->closed)
            return AVERROR_EOF;
        if (flags & LR_PKTQ_NONBLOCK)
            return AVERROR(EAGAIN);
        pthread_cond_wait(&q->more, q->lock);
    }
    p = q->slots[q->head];
    q->bytes -= (size_t)p->size;
    av_packet_move_ref(pkt, p);
    q->head = (q->head + 1) % q->o.max_pkts;
    q->count--;
    pthread_cond_broadcast(&q->room);
    return 0;
}

void lr_pktq_close(lr_pktq *q)
{
    q->closed = 1;
    pthread_cond_broadcast(&q->room);
    pthread_cond_broadcast(&q->more);
}

int lr_pktq_count(const lr_pktq *q)
{
    return q->count;
}

size_t lr_pktq_bytes(const lr_pktq *q)
{
    return q->bytes;
}

const AVPacket *lr_pktq_peek(const lr_pktq *q, int i)
{
    return i >= 0 && i < q->count ? slot(q, i) : NULL;
}

int lr_pktq_drop(lr_pktq *q, int n)
{
    int done = 0;

    for (; done < n && q->count; done++) {
        AVPacket *p = q->slots[q->head];
        q->bytes -= (size_t)p->size;
        av_packet_unref(p);
        q->head = (q->head + 1) % q->o.max_pkts;
        q->count--;
    }
    if (done)
        pthread_cond_broadcast(&q->room);
    return done;
}

int lr_pktq_flush(lr_pktq *q)
{
    return lr_pktq_drop(q, q->count);
}

void lr_pktq_resync(lr_pktq *q, uint64_t key_streams)
{
    q->o.key_streams = key_streams;
    q->waiting = key_streams;
}

void lr_pktq_want_key(lr_pktq *q, uint64_t streams)
{
    q->waiting |= streams & q->o.key_streams;
}

int lr_pktq_wants_key(const lr_pktq *q, int stream)
{
    return !!(q->waiting & bit(stream));
}
