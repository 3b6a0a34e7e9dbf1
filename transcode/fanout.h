/* transcode/fanout.h — one lecture's ladder to every egress in
 * transcode.link: each egress has its own thread, its own bounded queue, its
 * own MPEG-TS muxer and link, reconnected with backoff (common/outlinks.h),
 * and sheds rungs its path can't carry (shed.h). The encoders only ever
 * queue: a slow, dead or reconnecting egress loses packets (counted and
 * logged, resuming at the next keyframe of each rung), never stalls the
 * encoders or the other egress nodes. Called by transcode.c. */
#ifndef LR_TRANSCODE_FANOUT_H
#define LR_TRANSCODE_FANOUT_H

#include "common/config.h"
#include "common/stop.h"
#include "pipeline.h"

typedef struct lr_fanout lr_fanout;

/* Starts an output per c->transcode.links entry for the ladder of pipe
 * (which must outlive the fan-out). Returns 0 or a negative AVERROR. Each
 * output logs what it lost when it ends. */
int  lr_fanout_start(const lr_config *c, const char *lecture, lr_pipeline *pipe, lr_stop *stop,
                     lr_fanout **out);

/* lr_sink_fn: queues pkt for every output that is up (never blocks, apart
 * from a short lock). Unrefs pkt. Returns 0. */
int  lr_fanout_write(void *opaque, AVPacket *pkt, int stream, AVRational tb);

/* Ends the lecture: every output sends what it holds, closes its link
 * (lingering until the egress has it all) and stops; frees *f. */
void lr_fanout_finish(lr_fanout **f);
/* Rungs shed now on the link that sheds most, and sheds so far over all
 * links (shed.h). Any thread. */
int  lr_fanout_shed(lr_fanout *f, int64_t *sheds_total);

#endif
