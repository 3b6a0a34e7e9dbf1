/* tests/unit/test_ladder.c — ladder planning: never above the source, in
 * size or frame rate; a rung's profile and frame-rate cap carried along. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "transcode/ladder.h"

static lr_rung_conf conf4[] = {
    { "1080p", 1920, 1080, 5000, "", 0, 0 }, { "360p", 640, 360, 800, "baseline", 15, 0 },
    { "720p", 1280, 720, 2800, "", 0, 0 },   { "480p", 854, 480, 1400, "main", 0, 26.5 },
};

static void full_ladder_from_1080p(void **state)
{
    lr_rung out[LR_MAX_RUNGS];
    int n = lr_ladder_plan(conf4, 4, 1920, 1080, out, LR_MAX_RUNGS);
    assert_int_equal(n, 4);
    assert_string_equal(out[0].name, "1080p");
    assert_string_equal(out[1].name, "720p");
    assert_string_equal(out[2].name, "480p");
    assert_string_equal(out[3].name, "360p");
    assert_int_equal(out[2].width, 854);
    assert_int_equal(out[2].height, 480);
    assert_true(out[2].crf == 26.5);  /* its own CRF, carried to the encoder */
    assert_true(out[1].crf == 0);
    for (int i = 0; i < n; i++) {
        assert_int_equal(out[i].width % 2, 0);
        assert_int_equal(out[i].height % 2, 0);
    }
}

static void no_upscale_from_720p(void **state)
{
    lr_rung out[LR_MAX_RUNGS];
    int n = lr_ladder_plan(conf4, 4, 1280, 720, out, LR_MAX_RUNGS);
    assert_int_equal(n, 3);
    assert_string_equal(out[0].name, "720p");
    assert_int_equal(out[0].width, 1280);
    assert_int_equal(out[0].height, 720);
}

static void tiny_source_keeps_one_rung_at_its_size(void **state)
{
    lr_rung out[LR_MAX_RUNGS];
    int n = lr_ladder_plan(conf4, 4, 320, 241, out, LR_MAX_RUNGS);
    assert_int_equal(n, 1);
    assert_string_equal(out[0].name, "360p");
    assert_int_equal(out[0].width, 320);
    assert_int_equal(out[0].height, 240);
}

static void four_by_three_source(void **state)
{
    lr_rung out[LR_MAX_RUNGS];
    int n = lr_ladder_plan(conf4, 4, 1440, 1080, out, LR_MAX_RUNGS);
    assert_int_equal(n, 4);
    assert_int_equal(out[0].width, 1440);
    assert_int_equal(out[1].width, 960);
    assert_int_equal(out[1].height, 720);
}

static void ultrawide_source_bounded_by_width(void **state)
{
    lr_rung out[LR_MAX_RUNGS];
    int n = lr_ladder_plan(conf4, 4, 3840, 1080, out, LR_MAX_RUNGS);
    assert_true(n >= 1);
    assert_int_equal(out[0].width, 1920);
    assert_int_equal(out[0].height, 540);
}

static void a_360p_source_gets_one_360p_rung(void **state)
{
    lr_rung out[LR_MAX_RUNGS];
    int n = lr_ladder_plan(conf4, 4, 640, 360, out, LR_MAX_RUNGS);
    assert_int_equal(n, 1);
    assert_string_equal(out[0].name, "360p");
    assert_int_equal(out[0].width, 640);
    assert_int_equal(out[0].height, 360);
    assert_string_equal(out[0].profile, "baseline");
    assert_true(out[0].fps == 15);
}

static void frame_rate_never_above_the_source(void **state)
{
    lr_rung r = { .fps = 0 };
    AVRational q;

    q = lr_ladder_rung_fps(&r, (AVRational){ 30000, 1001 });   /* no cap: the source's */
    assert_int_equal(q.num, 30000);
    assert_int_equal(q.den, 1001);
    r.fps = 15;                                                /* a cap below it */
    q = lr_ladder_rung_fps(&r, (AVRational){ 30, 1 });
    assert_true(av_cmp_q(q, (AVRational){ 15, 1 }) == 0);
    r.fps = 60;                                                /* a cap above: the source's */
    q = lr_ladder_rung_fps(&r, (AVRational){ 25, 1 });
    assert_true(av_cmp_q(q, (AVRational){ 25, 1 }) == 0);
    r.fps = 29.97;
    q = lr_ladder_rung_fps(&r, (AVRational){ 50, 1 });
    assert_true(fabs(av_q2d(q) - 29.97) < 1e-6);
}

static void bad_input(void **state)
{
    lr_rung out[LR_MAX_RUNGS];
    assert_true(lr_ladder_plan(conf4, 4, 0, 1080, out, LR_MAX_RUNGS) < 0);
    assert_true(lr_ladder_plan(conf4, 0, 1920, 1080, out, LR_MAX_RUNGS) < 0);
    assert_true(lr_ladder_plan(conf4, 4, 1920, 1080, out, 0) < 0);
    assert_int_equal(lr_ladder_plan(conf4, 4, 1920, 1080, out, 2), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_ladder_from_1080p),
        cmocka_unit_test(no_upscale_from_720p),
        cmocka_unit_test(tiny_source_keeps_one_rung_at_its_size),
        cmocka_unit_test(four_by_three_source),
        cmocka_unit_test(ultrawide_source_bounded_by_width),
        cmocka_unit_test(a_360p_source_gets_one_360p_rung),
        cmocka_unit_test(frame_rate_never_above_the_source),
        cmocka_unit_test(bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
