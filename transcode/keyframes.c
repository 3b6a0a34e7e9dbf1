/* transcode/keyframes.c — see keyframes.h. */
#include "keyframes.h"

#include "common/ts_wall.h"

void lr_kf_sched_init(lr_kf_sched *s, int64_t period)
{
    s->period = period > 0 ? period : 1;
    s->last_slot = 0;
    s->started = 0;
}

int lr_kf_sched_due(lr_kf_sched *s, int64_t pts)
{
    int64_t slot = lr_floor_div(pts, s->period);
    int due = !s->started || slot != s->last_slot;

    s->started = 1;
    s->last_slot = slot;
    return due;
}
