/* transcode/shed.h — adaptive shedding: when a ladder link's path can't carry
 * the whole ladder, its sender drops the top rung(s) from that link, keeping
 * the lower rungs whole, and brings them back when the path has room again.
 * Pure policy (no I/O), fed the link's health twice a second; fanout.c acts.
 *
 * Congestion is read from delay, not loss: a bottleneck that can't keep up
 * queues, so SRT's smoothed RTT rises above the path's own (the lowest seen
 * on this link), or begins to rise while the send buffer nears the latency
 * (packets about to be given up). A path that acknowledged nothing since the
 * last check is dark (a blackout), not narrow: it is neither congested nor
 * calm. Random loss, however heavy, doesn't raise the RTT much (though it
 * fills the send buffer), and shedding would not cure it; a busy host lifts
 * the smoothed RTT a little for seconds. So a rise of twice the allowance
 * (a deep queue) is congestion by itself, a smaller one only while the
 * sender is giving packets up as too late (a shallow queue overflowing),
 * which a wide enough path with random loss almost never makes it do. Two
 * congested checks in a row shed one rung if the RTT rose by twice what is
 * allowed, four (2 s) if less. A rung comes back after the path
 * has been calm for the hold time (10 s), which doubles (up to 2 minutes)
 * each time a restored rung has to go again within 15 s, and is forgotten
 * after a restore that lasts. */
#ifndef LR_TRANSCODE_SHED_H
#define LR_TRANSCODE_SHED_H

#include <stdint.h>

#include "common/link.h"

#define LR_SHED_CHECK_NS    (INT64_C(500) * 1000000)

typedef struct lr_shed {
    int      nb_video;      /* rungs of the ladder; the last one is never shed */
    int      shed;          /* top rungs not sent */
    double   min_rtt;       /* the path's own RTT: the lowest seen; 0 none yet */
    int64_t  acks;          /* acknowledgements at the last check */
    int64_t  sent, send_dropped;  /* the link's totals at the last check */
    int      checks;        /* so far: the first ones only warm up */
    int      strikes;       /* congested checks in a row */
    int64_t  calm_since;    /* first calm check since the last congested one; 0 none */
    int64_t  judge_after;   /* after a change, the queue drains first */
    int64_t  restored_at;   /* the last restore; 0 none pending judgement */
    int64_t  hold_ns;       /* calm needed before a restore */
} lr_shed;

void lr_shed_init(lr_shed *s, int nb_video);
/* Whether h says the path is congested, given what s has seen (a dark path
 * is not). */
int  lr_shed_congested(const lr_shed *s, const lr_link_health *h);
/* One check at now_ns: returns +1 when a rung was shed (s->shed grew), -1
 * when one was restored, 0 otherwise. */
int  lr_shed_check(lr_shed *s, const lr_link_health *h, int64_t now_ns);

#endif
