/* tests/unit/test_ts_wall.c — timestamps on the wall-clock axis, and the
 * keyframe period the link names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/ts_wall.h"

/* Two processes that unwrapped the same frame differently (by 2^33) get one
 * value next to the same clock, also across the wrap. */
static void unwrap_near_the_clock(void **state)
{
    int64_t now = INT64_C(160000000000000);  /* ~2026 in 1/90000 */
    int64_t full = now - 90000;               /* a frame a second old */
    int64_t mod = full % LR_TS_WRAP;

    assert_int_equal(lr_ts_unwrap_near(mod, now), full);
    assert_int_equal(lr_ts_unwrap_near(mod + LR_TS_WRAP, now), full);
    assert_int_equal(lr_ts_unwrap_near(mod + 5 * LR_TS_WRAP, now), full);
    /* the clock just past a wrap, the frame just before it */
    int64_t wrap_at = (now / LR_TS_WRAP + 1) * LR_TS_WRAP;
    assert_int_equal(lr_ts_unwrap_near((wrap_at - 9000) % LR_TS_WRAP, wrap_at + 9000),
                     wrap_at - 9000);
    /* and a frame just after it, seen by a clock just before it */
    assert_int_equal(lr_ts_unwrap_near(9000, wrap_at - 9000), wrap_at + 9000);
    /* negative inputs and references */
    assert_int_equal(lr_ts_unwrap_near(-1, 0), -1);
    assert_int_equal(lr_ts_unwrap_near(LR_TS_WRAP - 1, 0), -1);
}

static void floor_division(void **state)
{
    assert_int_equal(lr_floor_div(7, 2), 3);
    assert_int_equal(lr_floor_div(-7, 2), -4);
    assert_int_equal(lr_floor_div(-8, 2), -4);
    assert_int_equal(lr_floor_div(0, 5), 0);
}

/* A slot computed now from a 33-bit timestamp is the slot of the unwrapped
 * one, whatever multiple of 2^33 a demuxer added. */
static void slot_of_wrapped_timestamp(void **state)
{
    int64_t now = lr_ts_wall_now();
    int64_t period = 180000;
    int64_t ts = now - 3 * 90000;
    int64_t slot = lr_floor_div(ts, period);

    assert_int_equal(lr_ts_slot(ts % LR_TS_WRAP, period), slot);
    assert_int_equal(lr_ts_slot(ts % LR_TS_WRAP + 2 * LR_TS_WRAP, period), slot);
}

static void provider_names_the_period(void **state)
{
    char name[64];

    lr_ts_provider_name(name, sizeof(name), 180000);
    assert_string_equal(name, "lecture-relay keyframe-period=180000");
    assert_int_equal(lr_ts_provider_period(name), 180000);
    lr_ts_provider_name(name, sizeof(name), 0);
    assert_string_equal(name, "lecture-relay");
    assert_int_equal(lr_ts_provider_period(name), 0);
    assert_int_equal(lr_ts_provider_period(NULL), 0);
    assert_int_equal(lr_ts_provider_period("FFmpeg"), 0);
    assert_int_equal(lr_ts_provider_period("lecture-relay keyframe-period="), 0);
    assert_int_equal(lr_ts_provider_period("lecture-relay keyframe-period=0"), 0);
    assert_int_equal(lr_ts_provider_period("lecture-relay keyframe-period=-5"), 0);
    assert_int_equal(lr_ts_provider_period("lecture-relay keyframe-period=18x"), 0);
    assert_int_equal(lr_ts_provider_period("lecture-relay keyframe-period=99999999999999999999"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unwrap_near_the_clock),
        cmocka_unit_test(floor_division),
        cmocka_unit_test(slot_of_wrapped_timestamp),
        cmocka_unit_test(provider_names_the_period),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
