/* tests/unit/test_playlist.c — media and master playlist text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include <libavutil/mem.h>

#include "egress/playlist.h"

static void media_playlist_exact(void **state)
{
    lr_seg_info segs[] = { { .seq = 7, .duration = 2.0, .discontinuity = 0, .bytes = 1000 }, { .seq = 8, .duration = 2.002, .discontinuity = 0, .bytes = 1000 }, { .seq = 9, .duration = 1.968, .discontinuity = 0, .bytes = 900 } };
    lr_media_playlist pl = { .target_duration = 2, .disc_sequence = 0, .segs = segs,
                              .nb_segs = 3, .ext = "ts" };
    char *text;
    size_t len;

    assert_int_equal(lr_playlist_render_media(&pl, &text, &len), 0);
    assert_string_equal(text,
        "#EXTM3U\n"
        "#EXT-X-VERSION:3\n"
        "#EXT-X-TARGETDURATION:2\n"
        "#EXT-X-MEDIA-SEQUENCE:7\n"
        "#EXT-X-INDEPENDENT-SEGMENTS\n"
        "#EXTINF:2.000,\n7.ts\n"
        "#EXTINF:2.002,\n8.ts\n"
        "#EXTINF:1.968,\n9.ts\n");
    assert_int_equal(len, strlen(text));
    av_free(text);
}

static void discontinuity_tags(void **state)
{
    lr_seg_info segs[] = { { .seq = 10, .duration = 2.0, .discontinuity = 1, .bytes = 1 }, { .seq = 11, .duration = 2.0, .discontinuity = 0, .bytes = 1 }, { .seq = 12, .duration = 2.0, .discontinuity = 1, .bytes = 1 } };
    lr_media_playlist pl = { .target_duration = 2, .disc_sequence = 4, .segs = segs,
                              .nb_segs = 3, .ext = "ts" };
    char *text;
    size_t len;

    assert_int_equal(lr_playlist_render_media(&pl, &text, &len), 0);
    assert_non_null(strstr(text, "#EXT-X-DISCONTINUITY-SEQUENCE:4\n"));
    assert_non_null(strstr(text, "#EXT-X-DISCONTINUITY\n#EXTINF:2.000,\n10.ts\n"));
    assert_non_null(strstr(text, "11.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:2.000,\n12.ts\n"));
    av_free(text);
}

static void target_duration_rounds(void **state)
{
    lr_seg_info segs[] = { { .seq = 1, .duration = 2.4, .discontinuity = 0, .bytes = 1 }, { .seq = 2, .duration = 2.6, .discontinuity = 0, .bytes = 1 }, { .seq = 3, .duration = 1.0, .discontinuity = 0, .bytes = 1 } };
    assert_int_equal(lr_playlist_target_duration(segs, 3, 2), 3);
    assert_int_equal(lr_playlist_target_duration(segs, 1, 2), 2);
    assert_int_equal(lr_playlist_target_duration(segs, 3, 6), 6);
    assert_int_equal(lr_playlist_target_duration(segs, 0, 2), 2);
}

static void media_playlist_refuses_gaps(void **state)
{
    lr_seg_info segs[] = { { .seq = 1, .duration = 2.0, .discontinuity = 0, .bytes = 1 }, { .seq = 3, .duration = 2.0, .discontinuity = 0, .bytes = 1 } };
    lr_media_playlist pl = { .target_duration = 2, .disc_sequence = 0, .segs = segs,
                              .nb_segs = 2, .ext = "ts" };
    char *text = NULL;
    size_t len;

    assert_true(lr_playlist_render_media(&pl, &text, &len) < 0);
    pl.nb_segs = 0;
    assert_true(lr_playlist_render_media(&pl, &text, &len) < 0);
    assert_null(text);
}

static void master_playlist_exact(void **state)
{
    lr_variant v[] = {
        { .name = "720p", .bandwidth = 2900000, .avg_bandwidth = 1500000, .width = 1280,
          .height = 720, .frame_rate = 30.0, .codecs = "avc1.64001f,mp4a.40.2" },
        { .name = "360p", .bandwidth = 900000, .width = 640, .height = 360,
          .codecs = "avc1.4d401e,mp4a.40.2" },
    };
    char *text;
    size_t len;

    assert_int_equal(lr_playlist_render_master(&(lr_master){ .variants = v, .nb_variants = 2 }, &text, &len), 0);
    assert_string_equal(text,
        "#EXTM3U\n"
        "#EXT-X-VERSION:3\n"
        "#EXT-X-INDEPENDENT-SEGMENTS\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=2900000,AVERAGE-BANDWIDTH=1500000,"
        "CODECS=\"avc1.64001f,mp4a.40.2\",RESOLUTION=1280x720,FRAME-RATE=30.000\n"
        "720p/index.m3u8\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=900000,CODECS=\"avc1.4d401e,mp4a.40.2\","
        "RESOLUTION=640x360\n"
        "360p/index.m3u8\n");
    av_free(text);
}

static void master_needs_bandwidth(void **state)
{
    lr_variant v[] = { { .name = "720p", .width = 1280, .height = 720, .frame_rate = 30.0,
                         .codecs = "avc1.64001f" } };
    char *text = NULL;
    size_t len;
    assert_true(lr_playlist_render_master(&(lr_master){ .variants = v, .nb_variants = 1 }, &text, &len) < 0);
    assert_true(lr_playlist_render_master(&(lr_master){ .variants = v, .nb_variants = 0 }, &text, &len) < 0);
    assert_null(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(media_playlist_exact),
        cmocka_unit_test(discontinuity_tags),
        cmocka_unit_test(target_duration_rounds),
        cmocka_unit_test(media_playlist_refuses_gaps),
        cmocka_unit_test(master_playlist_exact),
        cmocka_unit_test(master_needs_bandwidth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
