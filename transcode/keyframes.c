/* transcode/keyframes.c — see keyframes.h. */
#include "keyframes.h"

void lr_kf_sched_init(lr_kf_sched *s, int64_t period)
{
    s->period = period > 0 ? period : 1;
    s->last_slot = 0;
    s->started = 0;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int lr_kf_sched_due(lr_kf_sched *s, int64_t pts)
{
    int64_t slot = floor_div(pts, s->period);
    int due = !s->started || slot != s->last_slot;

    s->started = 1;
    s->last_slot = slot;
    return due;
}
