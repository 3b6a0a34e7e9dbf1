/* ingest/uplinks.h — one lecture's links to its transcoders (ingest.link: one
 * URL, or a list for redundant transcoders). Each link has its own thread,
 * bounded queue, MPEG-TS muxer and reconnects with backoff
 * (common/outlinks.h), so a dead, slow or reconnecting transcoder never
 * stalls the lecture or the other links. While a link is down it keeps only
 * what it needs to start again: the packets from the newest video keyframe
 * on. Called by lecture.c. */
#ifndef LR_INGEST_UPLINKS_H
#define LR_INGEST_UPLINKS_H

#include <stdint.h>

#include <libavcodec/avcodec.h>

#include "common/config.h"
#include "common/stop.h"
#include "feed.h"

typedef struct lr_uplinks lr_uplinks;

/* One link per c->ingest.links entry; none connects before the first
 * lr_uplinks_set_params. stop aborts connects and writes. */
int  lr_uplinks_start(const lr_config *c, const char *lecture, lr_stop *stop,
                      lr_uplinks **out);

/* The streams every link carries from now on (par[LR_FEED_VIDEO],
 * par[LR_FEED_AUDIO]; NULL: none), copied. A TS link can't change codec
 * under the same PID, so links open with other parameters start a new link
 * session; what they had queued is dropped. */
int  lr_uplinks_set_params(lr_uplinks *u, const AVCodecParameters *const par[LR_FEED_NB]);

/* Queues a reference to pkt on every link. pkt->stream_index is LR_FEED_VIDEO
 * or LR_FEED_AUDIO; timestamps are the link's, in 1/90000. Never blocks but
 * for a short lock. */
void lr_uplinks_write(lr_uplinks *u, const AVPacket *pkt);

/* The lecture ended: each link sends what it holds, writes the TS trailer
 * and closes (the transcoder flushes and ends the lecture); none connects
 * again until the next lr_uplinks_set_params, which starts a new run.
 * Returns at once. */
void lr_uplinks_end(lr_uplinks *u);

typedef struct lr_uplinks_stats {
    int     up;          /* links connected */
    int     nb_links;
    int64_t reconnects;  /* failed attempts to (re)open a link */
    int64_t dropped;     /* packets a link lost: down past a keyframe, or its queue full */
} lr_uplinks_stats;
/* Any thread. */
void lr_uplinks_get_stats(lr_uplinks *u, lr_uplinks_stats *st);

/* Each link sends what it holds, closes (lingering until its transcoder has
 * it all, unless stop was requested) and ends; frees *u. */
void lr_uplinks_free(lr_uplinks **u);

#endif
