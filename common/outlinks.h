/* common/outlinks.h — one lecture's outbound links: N peers, each sent the
 * same packets as MPEG-TS over its own SRT link. Used by the ingest towards
 * its transcoders (ingest/uplinks.c) and the transcoder towards every egress
 * (transcode/fanout.c), which keep only their policy, in hooks.
 *
 * Each link has its own thread, its own bounded queue (pktq.h, full policy
 * LR_PKTQ_DROP_TO_KEY), its own muxer on its link (link.h) and reconnects
 * with backoff (backoff.h), so a dead, slow or reconnecting peer never stalls
 * the writer or the other links:
 * - lr_outlinks_write queues a reference to a packet on every link whose
 *   admit hook takes it; it never blocks but for the lock.
 * - A full queue drops all it holds and the packet, logged once per overflow
 *   ("<peer> <url> is not keeping up"), and each of the run's key streams
 *   resumes at its next keyframe. A link that breaks drops its queue the same
 *   way, and reconnects after a backoff.
 * - Links carry runs: none connects before lr_outlinks_begin_run. A new run
 *   ends every open session in order (the TS trailer) and opens a new one;
 *   lr_outlinks_end_run lets each link send what it holds, close in order and
 *   stay closed (what comes is dropped) until the next run.
 * - At the end (lr_outlinks_drain) each link sends what it holds, writes the
 *   trailer and lingers until its peer has it all (lr_link_avio_close);
 *   stop requested, it closes at once.
 *
 * Locking: one lock (lr_outlinks_lock) guards the links' state and queues, and
 * whatever of the caller's policy its hooks share between threads. */
#ifndef LR_COMMON_OUTLINKS_H
#define LR_COMMON_OUTLINKS_H

#include <stdint.h>

#include <libavformat/avformat.h>

#include "link.h"
#include "pktq.h"
#include "stop.h"

typedef struct lr_outlinks lr_outlinks;

/* One link as the hooks see it. */
typedef struct lr_outlink {
    int         index; /* 0..nb_links - 1 */
    const char *url;
    /* under the lock */
    int      up;     /* connected, its muxer open */
    int      was_up; /* it has been up at least once */
    lr_pktq *queue;
} lr_outlink;

/* What admit decides for one link and one packet. */
typedef enum lr_outlink_take {
    LR_OUTLINK_QUEUE,   /* queue a reference */
    LR_OUTLINK_RESTART, /* drop what the queue holds (lost_down), then queue it */
    LR_OUTLINK_REFUSE,  /* not now: its stream resumes at a later keyframe (lost_key) */
    LR_OUTLINK_SKIP,    /* not for this link (skipped) */
} lr_outlink_take;

/* The caller's policy. Hooks get the opaque of lr_outlinks_start. */
typedef struct lr_outlinks_ops {
    /* The writer's thread, under the lock, for each link that is up (every
     * link with keep_while_down). NULL: every link takes every packet. */
    lr_outlink_take (*admit)(void *opaque, lr_outlink *l, const AVPacket *pkt);
    /* The link's thread, under the lock, before each connect: keeps what open
     * will need. Returns 0 or a negative AVERROR (this attempt fails). NULL:
     * nothing to keep. */
    int (*prepare)(void *opaque, lr_outlink *l);
    /* The link's thread, without the lock: allocates the muxer on pb (not
     * owned) and writes its header. Returns 0, or a negative AVERROR with
     * *oc NULL (logged). Required. */
    int (*open)(void *opaque, lr_outlink *l, AVIOContext *pb, AVFormatContext **oc);
    /* The link's thread, under the lock, once the link is up; others_up:
     * links up besides it. NULL: nothing to do. */
    void (*up)(void *opaque, lr_outlink *l, int others_up);
    /* The link's thread, without the lock: writes pkt (the thread's, unref'd
     * after) to oc. Returns >= 0, AVERROR(EINVAL) when the muxer refused the
     * packet (it logged why; the link goes on), or another negative AVERROR:
     * the link broke. Required. */
    int (*write)(void *opaque, lr_outlink *l, AVFormatContext *oc, AVIOContext *pb, AVPacket *pkt);
} lr_outlinks_ops;

typedef struct lr_outlinks_opts {
    const char        *lecture;  /* the stream id's resource, and logs; copied */
    const char *const *urls;     /* srt://host:port of each link; must outlive the links */
    int                nb_links; /* >= 0 */
    lr_link_opts       link;     /* latency and passphrase of every link; copied */
    lr_stop           *stop;     /* aborts connects and writes, and the end's linger */
    int                backoff_min_ms, backoff_max_ms;
    int                max_pkts; /* each link's queue */
    size_t             max_bytes;
    int                keep_while_down; /* a link that is down queues too (admit
                                           says what it keeps); else its packets
                                           are lost (lost_down) */
    int                gate_all;        /* pktq.h's: while a key stream waits for
                                           its keyframe, the others wait too */
    /* the words of the log lines; must outlive the links */
    const char *name;    /* "link": "<name> up to <url><up_note>", "<name> to <url> broke" */
    const char *peer;    /* "transcoder": "<peer> <url> is not keeping up" */
    const char *up_note; /* NULL or e.g. " (4 rungs)" */
} lr_outlinks_opts;

/* Starts a thread per link; none connects before lr_outlinks_begin_run.
 * Returns 0 or a negative AVERROR. */
int lr_outlinks_start(const lr_outlinks_opts *o, const lr_outlinks_ops *ops, void *opaque,
                      lr_outlinks **out);

/* Queues a reference to pkt (not consumed) on every link that takes it. */
void lr_outlinks_write(lr_outlinks *ol, const AVPacket *pkt);

/* The lock of the links and of the caller's policy state (see above). */
void lr_outlinks_lock(lr_outlinks *ol);
void lr_outlinks_unlock(lr_outlinks *ol);

/* With the lock held, so the caller changes what its hooks will give in the
 * same step. begin: a new run whose key streams (pktq.h) are key_streams;
 * every queue is dropped (lost_run) and waits for their keyframes; a session
 * still open ends with the line "<why>: new link session to <url>" (why must
 * outlive the run). end: each link sends what it holds, closes in order with
 * the line "<name> to <url> closed: <why>" and connects again only in the
 * next run. */
void lr_outlinks_begin_run(lr_outlinks *ol, uint64_t key_streams, const char *why);
void lr_outlinks_end_run(lr_outlinks *ol, const char *why);

typedef struct lr_outlink_stats {
    int     up;
    int64_t sent;       /* packets written (or refused by the muxer) */
    int64_t reconnects; /* failed attempts to open the link */
    int64_t lost_full;  /* dropped by its full queue, or not queued for want of memory */
    int64_t lost_key;   /* refused while their stream waited for a keyframe */
    int64_t lost_down;  /* the link down: not queued, queued (or being written) when it
                           broke, or before a newer keyframe (LR_OUTLINK_RESTART) */
    int64_t lost_run;   /* queued when a run began, or came between runs, or at the end */
    int64_t skipped;    /* LR_OUTLINK_SKIP */
} lr_outlink_stats;

int lr_outlinks_nb_links(const lr_outlinks *ol);
/* Any thread, without the lock; still valid after lr_outlinks_drain. */
void lr_outlinks_get_stats(lr_outlinks *ol, int link, lr_outlink_stats *st);

/* The end: each link sends what it holds and closes (see above); returns
 * once every link's thread has ended. Writes after it are dropped. */
void lr_outlinks_drain(lr_outlinks *ol);
/* Drains if not done, frees; sets *ol = NULL; accepts NULL. */
void lr_outlinks_free(lr_outlinks **ol);

#endif
