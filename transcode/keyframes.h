/* transcode/keyframes.h — the keyframe schedule shared by every rung: a frame
 * is a keyframe when it is the first at or after a multiple of the segment
 * duration on the timeline it is given (live: the wall-clock axis of
 * common/ts_wall.h, where each egress node numbers a segment by its slot).
 * The schedule depends only on timestamps, so every rung (and every
 * transcoder fed the same lecture) puts its IDR frames on the same frames.
 * Pure; called by pipeline.c. */
#ifndef LR_TRANSCODE_KEYFRAMES_H
#define LR_TRANSCODE_KEYFRAMES_H

#include <stdint.h>

typedef struct lr_kf_sched {
    int64_t period;     /* segment duration in timestamp units */
    int64_t last_slot;  /* slot of the last frame seen */
    int     started;
} lr_kf_sched;

void lr_kf_sched_init(lr_kf_sched *s, int64_t period);
/* Returns 1 if the frame at pts must be a keyframe: the first frame, the
 * first frame of each new slot, and the first frame after timestamps go back. */
int  lr_kf_sched_due(lr_kf_sched *s, int64_t pts);

#endif
