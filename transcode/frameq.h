/* transcode/frameq.h — a bounded queue of reference-counted AVFrames from the
 * decoding thread to one rung's encoding thread. Full policy: the sender
 * waits (the slowest rung paces decoding). Used by pipeline.c and rung.c.
 * Packets have their own queue (common/pktq.h); frames stay here: they need
 * neither its byte bound nor its keyframe gate, and one queue of both would
 * need per-type callbacks (FFmpeg's ThreadQueue) for one user in one role. */
#ifndef LR_TRANSCODE_FRAMEQ_H
#define LR_TRANSCODE_FRAMEQ_H

#include <libavutil/frame.h>

typedef struct lr_frameq lr_frameq;

/* Returns 0 or AVERROR(ENOMEM)/AVERROR(EINVAL). */
int  lr_frameq_alloc(int max_frames, lr_frameq **out);
/* Unrefs what is left; sets *q = NULL; accepts NULL. */
void lr_frameq_free(lr_frameq **q);

/* Moves frame's reference into the queue (frame is left blank), waiting while
 * the queue is full. Returns 0, or AVERROR_EOF once the queue is closed (then
 * frame is still the caller's). */
int  lr_frameq_send(lr_frameq *q, AVFrame *frame);
/* Moves the oldest frame's reference into frame, waiting while empty.
 * Returns 0, or AVERROR_EOF once closed and drained. */
int  lr_frameq_receive(lr_frameq *q, AVFrame *frame);
/* Ends the queue: senders get AVERROR_EOF at once, the receiver after the
 * frames already queued. Either side may close; closing twice is fine. */
void lr_frameq_close(lr_frameq *q);
/* Frames waiting now. Any thread. */
int  lr_frameq_count(lr_frameq *q);

#endif
