/* ingest/timeline.c — see timeline.h. */
#include "timeline.h"

#include <libavutil/avutil.h>

#define JUMP_FORWARD  (10 * 90000)
#define JUMP_BACK     (2 * 90000)

void lr_timeline_init(lr_timeline *t)
{
    *t = (lr_timeline){ .origin = AV_NOPTS_VALUE, .offset = 0, .last_in = AV_NOPTS_VALUE, .max_out = AV_NOPTS_VALUE,
                        .gap = 3000, .splice_gap = 3000, .splice = 1 };
    for (int i = 0; i < LR_TIMELINE_STREAMS; i++)
        t->last_out[i] = AV_NOPTS_VALUE;
}

void lr_timeline_splice(lr_timeline *t, int64_t gap)
{
    t->splice = 1;
    t->splice_gap = gap > 0 ? gap : t->gap;
}

int64_t lr_timeline_map(lr_timeline *t, unsigned stream, int64_t dts)
{
    int64_t out;

    if (stream >= LR_TIMELINE_STREAMS || dts == AV_NOPTS_VALUE)
        return INT64_MIN;
    if (!t->splice && t->last_in != AV_NOPTS_VALUE &&
        (dts > t->last_in + JUMP_FORWARD || dts < t->last_in - JUMP_BACK)) {
        t->splice = 1;
        t->nb_breaks++;
    }
    if (t->splice) {
        /* The first session starts at the origin (or keeps the source's own
         * clock); later ones carry on one frame after the last packet sent. */
        if (t->max_out != AV_NOPTS_VALUE)
            t->offset = t->max_out + t->splice_gap - dts;
        else
            t->offset = t->origin == AV_NOPTS_VALUE ? 0 : t->origin - dts;
        t->splice = 0;
        t->splice_gap = t->gap;
        t->nb_splices++;
    }
    t->last_in = dts;
    out = dts + t->offset;
    if (t->last_out[stream] != AV_NOPTS_VALUE && out <= t->last_out[stream]) {
        if (out <= t->last_out[stream] - LR_TIMELINE_NUDGE || t->sent_in[stream] != t->nb_splices)
            return INT64_MIN;
        out = t->last_out[stream] + 1;
        t->nb_nudged++;
    }
    t->last_out[stream] = out;
    t->sent_in[stream] = t->nb_splices;
    if (t->max_out == AV_NOPTS_VALUE || out > t->max_out)
        t->max_out = out;
    return out;
}
