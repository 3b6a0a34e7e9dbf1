/* tests/unit/test_keyframes.c — the shared keyframe schedule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "transcode/keyframes.h"

static void first_frame_is_key(void **state)
{
    lr_kf_sched s;
    lr_kf_sched_init(&s, 180000);
    assert_true(lr_kf_sched_due(&s, 123456));
    assert_false(lr_kf_sched_due(&s, 123456 + 3000));
}

/* 30 fps in 1/90000: one keyframe at the first frame of every 2 s slot. */
static void one_key_per_slot(void **state)
{
    lr_kf_sched s;
    int keys = 0;
    int64_t key_pts[8];

    lr_kf_sched_init(&s, 180000);
    for (int64_t pts = 0; pts < 10 * 90000; pts += 3000) {
        if (lr_kf_sched_due(&s, pts)) {
            assert_true(keys < 8);
            key_pts[keys++] = pts;
        }
    }
    assert_int_equal(keys, 5);
    for (int i = 0; i < keys; i++)
        assert_int_equal(key_pts[i], i * 180000);
}

/* Two rungs fed the same frames make the same decisions; a rung that joins
 * late still lands on the same slot boundaries. */
static void independent_schedules_agree(void **state)
{
    lr_kf_sched a, b;
    lr_kf_sched_init(&a, 180000);
    lr_kf_sched_init(&b, 180000);
    for (int64_t pts = 1001; pts < 20 * 90000; pts += 3003) {
        int ka = lr_kf_sched_due(&a, pts);
        if (pts < 5 * 90000)
            continue;
        int kb = lr_kf_sched_due(&b, pts);
        if (pts > 6 * 90000)
            assert_int_equal(ka, kb);
    }
}

static void jitter_does_not_add_keys(void **state)
{
    /* Variable frame spacing: still exactly one key per slot. */
    static const int64_t steps[] = { 2900, 3100, 2500, 3500, 3000 };
    lr_kf_sched s;
    int keys = 0;
    int64_t pts = 0;

    lr_kf_sched_init(&s, 180000);
    for (int i = 0; pts < 6 * 90000; i++) {
        keys += lr_kf_sched_due(&s, pts);
        pts += steps[i % 5];
    }
    assert_int_equal(keys, 3);
}

static void backwards_jump_is_key(void **state)
{
    lr_kf_sched s;
    lr_kf_sched_init(&s, 180000);
    assert_true(lr_kf_sched_due(&s, 900000));
    assert_false(lr_kf_sched_due(&s, 903000));
    assert_true(lr_kf_sched_due(&s, 3000));  /* source restarted */
    assert_false(lr_kf_sched_due(&s, 6000));
}

static void negative_timestamps(void **state)
{
    lr_kf_sched s;
    lr_kf_sched_init(&s, 180000);
    assert_true(lr_kf_sched_due(&s, -6000));
    assert_false(lr_kf_sched_due(&s, -3000));
    assert_true(lr_kf_sched_due(&s, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(first_frame_is_key),
        cmocka_unit_test(one_key_per_slot),
        cmocka_unit_test(independent_schedules_agree),
        cmocka_unit_test(jitter_does_not_add_keys),
        cmocka_unit_test(backwards_jump_is_key),
        cmocka_unit_test(negative_timestamps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
