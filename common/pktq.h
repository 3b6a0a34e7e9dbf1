/* common/pktq.h — a bounded FIFO of reference-counted AVPackets: the one
 * packet queue of every role. Used by an ingest source for its lecture
 * (ingest/feed.c), by each outbound link (common/outlinks.c) and for each
 * redundant feed's backlog at the egress (egress/feeds.c).
 *
 * Bound: max_pkts packets and, unless 0, max_bytes of payload; an empty queue
 * takes any one packet. Full policy, fixed where the queue is made:
 *   LR_PKTQ_BLOCK        the sender waits for room;
 *   LR_PKTQ_DROP_OLDEST  the oldest packets are freed until the new one fits;
 *   LR_PKTQ_DROP_TO_KEY  everything queued is freed, the new packet refused,
 *                        and every key stream waits for its next keyframe.
 * Key streams (bit s of key_streams: stream_index s, below 64) start only at
 * a keyframe: while one waits for it (from the start, after lr_pktq_resync,
 * lr_pktq_want_key or a DROP_TO_KEY overflow) its other packets are refused;
 * with gate_all the other streams' are too, so the queue starts at one.
 *
 * Ownership: a send moves pkt's reference into the queue (pkt is left blank);
 * on error pkt is untouched and still the caller's. A receive moves the
 * oldest reference into the caller's packet. lr_pktq_peek lends one, valid
 * until it leaves the queue.
 *
 * Threads: the queue has no lock of its own. Every call but alloc and free is
 * made holding the lock given to lr_pktq_alloc (its owner's, which guards the
 * owner's state too, so a decision and the queue's change are one step); the
 * calls that wait (a BLOCK send, a receive without LR_PKTQ_NONBLOCK) release
 * it while they wait, as pthread_cond_wait does. */
#ifndef LR_COMMON_PKTQ_H
#define LR_COMMON_PKTQ_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <libavcodec/packet.h>

typedef struct lr_pktq lr_pktq;

enum lr_pktq_full {
    LR_PKTQ_BLOCK,
    LR_PKTQ_DROP_OLDEST,
    LR_PKTQ_DROP_TO_KEY,
};

typedef struct lr_pktq_opts {
    int               max_pkts;  /* >= 1 */
    size_t            max_bytes; /* 0: no bound in bytes */
    enum lr_pktq_full full;
    uint64_t          key_streams; /* bit s: stream s starts only at a keyframe */
    int               gate_all;    /* while a key stream waits for one, the others wait too */
} lr_pktq_opts;

/* lock guards the queue (see above). Returns 0, AVERROR(EINVAL) (bad opts,
 * no lock) or AVERROR(ENOMEM). */
int lr_pktq_alloc(const lr_pktq_opts *o, pthread_mutex_t *lock, lr_pktq **out);
/* Frees what is left, once no other thread uses q; sets *q = NULL; accepts
 * NULL. */
void lr_pktq_free(lr_pktq **q);

/* Queues pkt. Returns, once queued, the number of older packets freed to make
 * room (DROP_OLDEST; else 0). Else pkt stays the caller's and it returns
 * AVERROR(EAGAIN) (pkt's stream waits for a keyframe), AVERROR(ENOBUFS) (full
 * under DROP_TO_KEY: the queue was emptied), AVERROR_EOF (closed) or
 * AVERROR(ENOMEM). */
int lr_pktq_send(lr_pktq *q, AVPacket *pkt);

#define LR_PKTQ_NONBLOCK 1
/* Moves the oldest packet's reference into pkt (blank), waiting while the
 * queue is empty unless flags has LR_PKTQ_NONBLOCK. Returns 0,
 * AVERROR(EAGAIN) (empty, NONBLOCK) or AVERROR_EOF (closed and drained). */
int lr_pktq_receive(lr_pktq *q, AVPacket *pkt, int flags);

/* Ends the queue: sends give AVERROR_EOF, a receive the packets left and then
 * AVERROR_EOF; whoever waits wakes. Closing twice is fine. */
void lr_pktq_close(lr_pktq *q);

int    lr_pktq_count(const lr_pktq *q);
size_t lr_pktq_bytes(const lr_pktq *q);
/* The i-th oldest packet (0 the oldest, count - 1 the newest), lent; NULL
 * out of range. */
const AVPacket *lr_pktq_peek(const lr_pktq *q, int i);
/* Frees the n oldest packets (at most all). Returns how many it freed. */
int lr_pktq_drop(lr_pktq *q, int n);
/* Frees every packet. Returns how many. */
int lr_pktq_flush(lr_pktq *q);

/* From now on the key streams are key_streams, each waiting for its next
 * keyframe (what is queued stays). */
void lr_pktq_resync(lr_pktq *q, uint64_t key_streams);
/* The key streams among streams wait for their next keyframe. */
void lr_pktq_want_key(lr_pktq *q, uint64_t streams);
/* 1 while stream waits for a keyframe. */
int lr_pktq_wants_key(const lr_pktq *q, int stream);

#endif
