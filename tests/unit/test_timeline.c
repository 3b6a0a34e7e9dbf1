/* tests/unit/test_timeline.c — the link's timestamps across source changes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ingest/timeline.h"

#define V 0
#define A 1

static int64_t out(lr_timeline *t, unsigned s, int64_t dts)
{
    return lr_timeline_map(t, s, dts);
}

static void first_session_keeps_source_clock(void **state)
{
    lr_timeline t;
    lr_timeline_init(&t);
    assert_int_equal(out(&t, V, 126000), 126000);
    assert_int_equal(out(&t, A, 125000), 125000);
    assert_int_equal(out(&t, V, 129000), 129000);
}

static void failover_continues_one_frame_later(void **state)
{
    lr_timeline t;
    lr_timeline_init(&t);
    for (int64_t d = 0; d <= 90000; d += 3000)
        out(&t, V, d);
    /* the backup's clock is somewhere else entirely */
    lr_timeline_splice(&t, 0);
    assert_int_equal(out(&t, V, 5000000), 93000);
    assert_int_equal(out(&t, V, 5003000), 96000);
    assert_int_equal(t.nb_splices, 2);
    assert_int_equal(t.nb_breaks, 0);
}

static void never_backwards_per_stream(void **state)
{
    lr_timeline t;
    lr_timeline_init(&t);
    assert_int_equal(out(&t, A, 90000), 90000);
    assert_int_equal(out(&t, V, 100000), 100000);
    lr_timeline_splice(&t, 0);
    /* new session starts at video 100000+3000; its audio came 0.5 s earlier
     * than its video in source time: that would go back on the audio stream
     * only if below 90000, which it isn't here. */
    assert_int_equal(out(&t, V, 0), 103000);
    assert_int_equal(out(&t, A, -45000), INT64_MIN);  /* 58000 < 90000 sent */
    assert_int_equal(out(&t, A, 3000), 106000);
    /* a repeated dts on a stream is kept, one tick later */
    assert_int_equal(out(&t, A, 3000), 106001);
    assert_int_equal(t.nb_nudged, 1);
}

static void overlap_after_splice_is_dropped_not_nudged(void **state)
{
    lr_timeline t;
    lr_timeline_init(&t);
    assert_int_equal(out(&t, A, 90000), 90000);
    assert_int_equal(out(&t, V, 93000), 93000);
    lr_timeline_splice(&t, 0);
    /* the new session's video lands at 96000; its first audio 50 ms before
     * the audio already sent is the sessions' overlap: dropped */
    assert_int_equal(out(&t, V, 10000), 96000);
    assert_int_equal(out(&t, A, 10000 - 10500), INT64_MIN);
    assert_int_equal(t.nb_nudged, 0);
    /* once the stream sent in this session, a small step back is jitter */
    assert_int_equal(out(&t, A, 10000), 96000);
    assert_int_equal(out(&t, A, 9900), 96001);
    assert_int_equal(t.nb_nudged, 1);
}

static void jitter_is_kept_in_order(void **state)
{
    /* GStreamer's flvmux under load: video timestamps repeat and step back a
     * little. Every frame is kept (a dropped one would break those after it). */
    static const int64_t src[] = { 0, 2070, 2070, 6300, 4230, 8370, 8370, 8370 };
    static const int64_t want[] = { 0, 2070, 2071, 6300, 6301, 8370, 8371, 8372 };
    lr_timeline t;
    lr_timeline_init(&t);
    for (int i = 0; i < 8; i++)
        assert_int_equal(out(&t, V, src[i]), want[i]);
    assert_int_equal(t.nb_nudged, 4);
    assert_int_equal(t.nb_breaks, 0);
    /* further back than LR_TIMELINE_NUDGE: an overlap, dropped */
    assert_int_equal(out(&t, V, 8372 - LR_TIMELINE_NUDGE), INT64_MIN);
    assert_int_equal(t.nb_nudged, 4);
}

static void jump_inside_session_is_a_break(void **state)
{
    lr_timeline t;
    lr_timeline_init(&t);
    out(&t, V, 3600000);
    out(&t, V, 3603000);
    /* the source restarted its clock: 40 s back */
    assert_int_equal(out(&t, V, 1000), 3606000);
    assert_int_equal(t.nb_breaks, 1);
    /* a small step back is not a break: jitter, kept one tick on */
    assert_int_equal(out(&t, V, 500), 3606001);
    assert_int_equal(t.nb_breaks, 1);
    /* forward by an hour (spliced one frame after the highest sent) */
    assert_int_equal(out(&t, V, 1000 + INT64_C(3600) * 90000), 3609001);
    assert_int_equal(t.nb_breaks, 2);
    /* ordinary spacing is not a break */
    assert_int_equal(out(&t, V, 1000 + INT64_C(3600) * 90000 + 9000), 3618001);
    assert_int_equal(t.nb_breaks, 2);
}

static void mpegts_wrap(void **state)
{
    /* 33-bit timestamps wrap at 2^33; libavformat usually unwraps them, and
     * if a source's clock wraps anyway the link carries on forward. */
    const int64_t wrap = INT64_C(1) << 33;
    lr_timeline t;
    lr_timeline_init(&t);
    assert_int_equal(out(&t, V, wrap - 6000), wrap - 6000);
    assert_int_equal(out(&t, V, wrap - 3000), wrap - 3000);
    assert_int_equal(out(&t, V, 0), wrap);
    assert_int_equal(out(&t, V, 3000), wrap + 3000);
}

static void bad_input(void **state)
{
    lr_timeline t;
    lr_timeline_init(&t);
    assert_int_equal(lr_timeline_map(&t, LR_TIMELINE_STREAMS, 0), INT64_MIN);
    assert_int_equal(lr_timeline_map(&t, 0, INT64_MIN + 0), INT64_MIN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(first_session_keeps_source_clock),
        cmocka_unit_test(failover_continues_one_frame_later),
        cmocka_unit_test(never_backwards_per_stream),
        cmocka_unit_test(jitter_is_kept_in_order),
        cmocka_unit_test(overlap_after_splice_is_dropped_not_nudged),
        cmocka_unit_test(jump_inside_session_is_a_break),
        cmocka_unit_test(mpegts_wrap),
        cmocka_unit_test(bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
