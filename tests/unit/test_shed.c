/* tests/unit/test_shed.c — the adaptive shedding policy (transcode/shed.h):
 * delay says congested, loss alone doesn't; two strikes shed; calm restores
 * after the hold, which doubles when a restore fails and never sheds the
 * last rung. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "transcode/shed.h"

#define S(x) ((int64_t)(x) * 1000000000)
#define MS(x) ((int64_t)(x) * 1000000)

static const lr_link_health calm = { .rtt_ms = 200, .latency_ms = 1000, .send_buffer_ms = 250,
                                     .acks = -1 };
static const lr_link_health queued = { .rtt_ms = 380, .latency_ms = 1000, .send_buffer_ms = 500,
                                       .acks = -1 };

static int64_t acks;  /* a path that isn't dark acknowledges something between checks */
static int64_t sent, send_dropped;
static int     dropping;  /* packets the sender gives up per check */

static int check(lr_shed *s, const lr_link_health *h, int64_t t)
{
    lr_link_health live = *h;
    live.acks = ++acks;
    live.sent = sent += 150;  /* ~2.4 Mb/s in 500 ms */
    live.send_dropped = send_dropped += dropping;
    return lr_shed_check(s, &live, t);
}

/* Feeds h every 500 ms from *t for secs; returns the sum of the changes. */
static int feed(lr_shed *s, const lr_link_health *h, int64_t *t, double secs)
{
    int sum = 0;
    for (int64_t end = *t + (int64_t)(secs * 1e9); *t < end; *t += MS(500))
        sum += check(s, h, *t);
    return sum;
}

static void delay_not_loss_is_congestion(void **state)
{
    lr_shed s;
    lr_link_health lossy = calm;
    int64_t t = S(1);

    lr_shed_init(&s, 3);
    feed(&s, &calm, &t, 3);
    lossy.send_buffer_ms = 700;       /* heavy random loss: RTT as ever */
    assert_false(lr_shed_congested(&s, &lossy));
    assert_true(lr_shed_congested(&s, &queued));
    lossy.send_buffer_ms = 1000;      /* 20 % loss: a packet lost thrice waits long */
    assert_false(lr_shed_congested(&s, &lossy));
    lossy.rtt_ms = 240;               /* ... and a busy host lifts the RTT */
    assert_false(lr_shed_congested(&s, &lossy));
    lossy.sent = s.sent + 150;        /* ... while the sender gives 1 packet in 20 up */
    lossy.send_dropped = s.send_dropped + 8;
    assert_true(lr_shed_congested(&s, &lossy));
    /* a busy host: the smoothed RTT up 84 ms, but nothing waits longer than
     * the path's own RTT (a CI run shed a rung on this) */
    lr_link_health busy = { .rtt_ms = 283, .latency_ms = 1000, .send_buffer_ms = 180,
                            .acks = 1 };
    assert_false(lr_shed_congested(&s, &busy));
    busy.send_buffer_ms = 731;  /* ... at 20 % loss too, and nothing given up (issue 25) */
    assert_false(lr_shed_congested(&s, &busy));
    busy.sent = s.sent + 150;   /* ... a shallow queue overflowing: the sender gives up */
    busy.send_dropped = s.send_dropped + 8;
    assert_true(lr_shed_congested(&s, &busy));
    busy.send_dropped = s.send_dropped + 3;  /* the odd packet: no narrow path */
    assert_false(lr_shed_congested(&s, &busy));
    busy.send_dropped = s.send_dropped + 8;
    assert_true(lr_shed_congested(&s, &busy));
    busy = (lr_link_health){ .rtt_ms = 330, .latency_ms = 1000, .send_buffer_ms = 500, .acks = 1 };
    assert_true(lr_shed_congested(&s, &busy));  /* 130 ms up: a deep queue by itself */
}

static void two_strikes_shed_one_rung_then_settle(void **state)
{
    lr_shed s;
    int64_t t = S(1);

    lr_shed_init(&s, 3);
    assert_int_equal(feed(&s, &calm, &t, 5), 0);
    assert_int_equal(check(&s, &queued, t), 0);   /* one strike */
    t += MS(500);
    assert_int_equal(check(&s, &queued, t), 1);   /* two: shed */
    assert_int_equal(s.shed, 1);
    /* still queued while the backlog drains: no judgement for 3 s */
    assert_int_equal(feed(&s, &queued, &t, 2.9), 0);
    /* still congested after: the next rung goes, never the last one */
    assert_int_equal(feed(&s, &queued, &t, 20), 1);
    assert_int_equal(s.shed, 2);
}

/* A modest rise with packets given up sheds only once it has held for 2 s;
 * without them it never does. */
static void a_modest_rise_must_last(void **state)
{
    lr_shed s;
    int64_t t = S(1);
    lr_link_health busy = { .rtt_ms = 290, .latency_ms = 1000, .send_buffer_ms = 500 };

    lr_shed_init(&s, 3);
    feed(&s, &calm, &t, 3);  /* past the warm-up */
    assert_int_equal(feed(&s, &busy, &t, 10), 0);    /* a busy host: nothing given up */
    dropping = 3;                                     /* the odd packet given up */
    assert_int_equal(feed(&s, &busy, &t, 10), 0);
    dropping = 8;
    assert_int_equal(feed(&s, &busy, &t, 1.5), 0);   /* three checks */
    assert_int_equal(feed(&s, &calm, &t, 5), 0);
    assert_int_equal(feed(&s, &busy, &t, 2), 1);     /* the fourth in a row */
    dropping = 0;
    assert_int_equal(s.shed, 1);
}

/* Issue 25's run: 20 % random loss at 200 ms RTT beside a busy browser, the
 * RTT up 40 ms over the path's own for seconds and what waits for its
 * acknowledgement near the latency; the sender gives nothing up, so no rung
 * goes. The same path narrower than the ladder (a shallow queue: the RTT
 * can't rise far) makes the sender give packets up, and a rung goes. */
static void loss_on_a_busy_host_is_no_narrow_path(void **state)
{
    static const struct { double rtt; int waiting; } run[] = {
        { 199, 420 }, { 205, 610 }, { 236, 840 }, { 241, 872 }, { 238, 905 },
        { 239, 856 }, { 244, 830 }, { 237, 918 }, { 232, 861 }, { 240, 884 },
    };
    lr_link_health h = { .latency_ms = 1010 };
    lr_shed s;
    int64_t t = S(1);

    lr_shed_init(&s, 3);
    h.rtt_ms = 199;
    h.send_buffer_ms = 400;
    feed(&s, &h, &t, 3);  /* past the warm-up: 199 ms is the path's own */
    for (int round = 0; round < 3; round++)
        for (size_t i = 0; i < sizeof(run) / sizeof(run[0]); i++, t += MS(500)) {
            h.rtt_ms = run[i].rtt;
            h.send_buffer_ms = run[i].waiting;
            assert_int_equal(check(&s, &h, t), 0);
        }
    assert_int_equal(s.shed, 0);

    dropping = 8;  /* the same readings, the sender giving 5 % up */
    assert_int_equal(feed(&s, &h, &t, 2), 1);
    dropping = 0;
    assert_int_equal(s.shed, 1);
}

/* Shed behind a narrow path, the rest of the ladder keeps the RTT a little
 * up without anything given up: not congested, and not calm either. */
static void a_modest_rise_is_no_calm(void **state)
{
    lr_shed s;
    int64_t t = S(1);
    lr_link_health uneasy = { .rtt_ms = 290, .latency_ms = 1000, .send_buffer_ms = 500 };

    lr_shed_init(&s, 3);
    feed(&s, &calm, &t, 3);  /* past the warm-up */
    feed(&s, &queued, &t, 1);
    assert_int_equal(s.shed, 1);
    assert_int_equal(feed(&s, &uneasy, &t, 30), 0);
    assert_int_equal(s.shed, 1);
    assert_int_equal(feed(&s, &calm, &t, 10.5), -1);
}

static void calm_restores_and_a_failed_restore_doubles_the_hold(void **state)
{
    lr_shed s;
    int64_t t = S(1);

    lr_shed_init(&s, 3);
    feed(&s, &calm, &t, 3);  /* past the warm-up */
    feed(&s, &queued, &t, 1);
    assert_int_equal(s.shed, 1);
    /* 10 s of calm (after settling) bring it back */
    assert_int_equal(feed(&s, &calm, &t, 9.5), 0);
    assert_int_equal(feed(&s, &calm, &t, 4), -1);
    assert_int_equal(s.shed, 0);
    /* too much again within 15 s: shed, and the next try waits 20 s */
    feed(&s, &calm, &t, 3);
    assert_int_equal(feed(&s, &queued, &t, 1), 1);
    assert_int_equal(feed(&s, &calm, &t, 15), 0);
    assert_int_equal(feed(&s, &calm, &t, 10), -1);
    /* a restore that lasts 15 s resets the hold to 10 s */
    assert_int_equal(feed(&s, &calm, &t, 16), 0);
    feed(&s, &queued, &t, 1);
    assert_int_equal(s.shed, 1);
    assert_int_equal(feed(&s, &calm, &t, 14), -1);
}

static void a_dark_path_is_not_narrow(void **state)
{
    lr_shed s;
    int64_t t = S(1);
    lr_link_health dark = queued;  /* a blackout: nothing acknowledged, the buffer grows */

    lr_shed_init(&s, 3);
    feed(&s, &calm, &t, 3);  /* past the warm-up */
    dark.acks = acks;
    dark.send_buffer_ms = 990;
    for (int i = 0; i < 20; i++, t += MS(500))
        assert_int_equal(lr_shed_check(&s, &dark, t), 0);
    assert_int_equal(s.shed, 0);
    /* and a blackout while shed is no calm: no restore during it */
    feed(&s, &queued, &t, 1);
    assert_int_equal(s.shed, 1);
    dark.acks = acks;
    for (int i = 0; i < 40; i++, t += MS(500))
        assert_int_equal(lr_shed_check(&s, &dark, t), 0);
    assert_int_equal(s.shed, 1);
}

static void a_new_link_warms_up_first(void **state)
{
    lr_shed s;
    int64_t t = S(1);
    lr_link_health unmeasured = calm;  /* SRT's RTT before its first sample */

    unmeasured.rtt_ms = 100;
    lr_shed_init(&s, 3);
    assert_int_equal(feed(&s, &unmeasured, &t, 1), 0);
    assert_int_equal(feed(&s, &calm, &t, 10), 0);  /* 200 ms is the path's own RTT */
    assert_int_equal(s.shed, 0);
}

static void one_rung_is_never_shed(void **state)
{
    lr_shed s;
    int64_t t = S(1);

    lr_shed_init(&s, 1);
    feed(&s, &calm, &t, 3);  /* past the warm-up */
    assert_int_equal(feed(&s, &queued, &t, 30), 0);
    assert_int_equal(s.shed, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(delay_not_loss_is_congestion),
        cmocka_unit_test(two_strikes_shed_one_rung_then_settle),
        cmocka_unit_test(a_modest_rise_must_last),
        cmocka_unit_test(loss_on_a_busy_host_is_no_narrow_path),
        cmocka_unit_test(a_modest_rise_is_no_calm),
        cmocka_unit_test(calm_restores_and_a_failed_restore_doubles_the_hold),
        cmocka_unit_test(a_dark_path_is_not_narrow),
        cmocka_unit_test(a_new_link_warms_up_first),
        cmocka_unit_test(one_rung_is_never_shed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
