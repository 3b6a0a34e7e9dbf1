/* transcode/shed.c — see shed.h. */
#include "shed.h"

#define NS(ms)        ((int64_t)(ms) * 1000000)
#define SETTLE_NS     NS(3000)     /* after a change, before judging again */
#define HOLD_MIN_NS   NS(10000)
#define HOLD_MAX_NS   NS(120000)
#define RESTORE_OK_NS NS(15000)    /* a restore that lasts this long was right */
/* SRT's RTT reads 100 ms until its first measurement: a new link's first
 * checks (2 s) set nothing, or 100 ms would pass for the path's own RTT. */
#define WARMUP_CHECKS 4
/* Congested checks in a row that shed a rung: a queue behind a bottleneck
 * stays and keeps growing (the test's path: +64, +200, +274 ms in 1.5 s),
 * while a busy or stalled host lifts the smoothed RTT for a moment (in an
 * official CI run at 10 % loss hls.js got 404 for the top rung's playlist:
 * a shed for nothing, and pacing the lossy path to the rest of the ladder
 * then gave 8 packets up and stalled the player). So a rise of
 * twice the allowance sheds at the second check, a smaller one with the
 * sender giving packets up only once that has held for 2 s. */
#define GIVE_UP_MIN    5
#define GIVE_UP_PCT    5
#define STRIKES_STRONG 2
#define STRIKES_WEAK   4

void lr_shed_init(lr_shed *s, int nb_video)
{
    *s = (lr_shed){ .nb_video = nb_video, .hold_ns = HOLD_MIN_NS };
}

/* How far the RTT may rise over the path's own before it means a queue. */
static double allowed_rise(const lr_shed *s)
{
    return s->min_rtt / 4 > 60 ? s->min_rtt / 4 : 60;
}

/* How far the RTT stands above the path's own (0 until that is known). */
static double rtt_rise(const lr_shed *s, const lr_link_health *h)
{
    return s->min_rtt > 0 ? h->rtt_ms - s->min_rtt : 0;
}

/* Whether the sender gave up, since the last check, more than random loss
 * or a busy host make it give up now and then: 5 % of what it sent, 5
 * packets at least. A path narrower than the ladder by a tenth makes it
 * give up a tenth for as long as it lasts; 20 % loss beside a busy browser
 * made it give up 22 packets in 10 s (1.3 %), in bursts. */
static int giving_up(const lr_shed *s, const lr_link_health *h)
{
    int64_t dropped = h->send_dropped - s->send_dropped, sent = h->sent - s->sent;

    return dropped >= GIVE_UP_MIN && dropped * 100 >= sent * GIVE_UP_PCT;
}

/* Calm is more than not congested (hysteresis): a rung comes back only while
 * the RTT is within the allowance, or nothing waits longer than the path's
 * own RTT. Between the two (a modest rise, nothing given up) a rung is
 * neither shed nor restored: behind the narrow path a shed rung leaves, the
 * paced rest of the ladder keeps the RTT 60-120 ms up, and calling that calm
 * brought the rung back every 10 s into the same narrow path. */
static int uneasy(const lr_shed *s, const lr_link_health *h)
{
    double rise = rtt_rise(s, h), allowed = allowed_rise(s);

    return h->send_buffer_ms > s->min_rtt + allowed / 2 &&
           (rise > allowed ||
            (rise > allowed / 2 && h->latency_ms > 0 && h->send_buffer_ms > h->latency_ms * 8 / 10));
}

int lr_shed_congested(const lr_shed *s, const lr_link_health *h)
{
    double rise = rtt_rise(s, h);
    double allowed = allowed_rise(s);

    if (h->acks == s->acks)
        return 0;  /* dark: shedding would not help, and the RTT isn't measured */
    /* A rising RTT means a queue only if what was sent waits for its
     * acknowledgement longer than the path's own RTT too: SRT's smoothed
     * RTT also rises when a host is busy (a CI run: 283 ms against 199 on
     * its own, while nothing waited more than 180 ms, and a rung was shed
     * for nothing); behind a bottleneck it waited 1006-1026 ms.
     * A full send buffer alone is no sign either: heavy random loss keeps
     * packets waiting for their retransmission (20 % loss at 200 ms RTT:
     * 300-1025 ms of a 1010 ms latency, the RTT flat within 4 ms). It tips
     * the scale only once the RTT has begun to rise too. */
    if (h->send_buffer_ms <= s->min_rtt + allowed / 2)
        return 0;
    /* Twice the allowance is a queue by itself: a busy host's smoothed RTT
     * doesn't stand that high for long. Below it, a rise means a queue only
     * while the sender is giving packets up too, which a path narrower than
     * the ladder soon makes it do (a shallow queue overflows) and a path
     * wide enough, however lossy, almost never does: at 20 % random loss
     * beside a busy browser the RTT stood 40 ms up (239 ms against 199) with
     * 856 ms of 1010 waiting, and 78 ms up (273 against 195) with 731 ms
     * waiting, for 2 s, and a rung was shed for each (issue 25). */
    return rise > 2 * allowed || (rise > allowed / 2 && giving_up(s, h));
}

/* The link's totals as of this check: the next one counts from them. */
static void remember(lr_shed *s, const lr_link_health *h)
{
    s->acks = h->acks;
    s->sent = h->sent;
    s->send_dropped = h->send_dropped;
}

int lr_shed_check(lr_shed *s, const lr_link_health *h, int64_t now)
{
    int congested, strong, calm, dark = h->acks == s->acks;

    if (++s->checks <= WARMUP_CHECKS) {
        remember(s, h);
        return 0;
    }
    if (h->rtt_ms > 0 && (s->min_rtt <= 0 || h->rtt_ms < s->min_rtt))
        s->min_rtt = h->rtt_ms;
    congested = lr_shed_congested(s, h);
    strong = congested && rtt_rise(s, h) > 2 * allowed_rise(s);
    calm = !dark && !uneasy(s, h);
    remember(s, h);
    s->strikes = congested ? s->strikes + 1 : 0;
    if (!calm)
        s->calm_since = 0;
    else if (!s->calm_since)
        s->calm_since = now;
    if (s->restored_at && now - s->restored_at >= RESTORE_OK_NS) {
        s->restored_at = 0;
        s->hold_ns = HOLD_MIN_NS;
    }
    if (now < s->judge_after)
        return 0;
    if ((s->strikes >= STRIKES_WEAK || (s->strikes >= STRIKES_STRONG && strong)) &&
        s->shed < s->nb_video - 1) {
        if (s->restored_at) {   /* the rung we brought back was one too many */
            s->hold_ns = s->hold_ns * 2 > HOLD_MAX_NS ? HOLD_MAX_NS : s->hold_ns * 2;
            s->restored_at = 0;
        }
        s->shed++;
        s->strikes = 0;
        s->judge_after = now + SETTLE_NS;
        return 1;
    }
    if (s->shed > 0 && s->calm_since && now - s->calm_since >= s->hold_ns) {
        s->shed--;
        s->restored_at = now;
        s->calm_since = now;
        s->judge_after = now + SETTLE_NS;
        return -1;
    }
    return 0;
}
