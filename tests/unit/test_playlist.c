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
    lr_seg_info segs[] = { { 7, 2.0, 0, 1000 }, { 8, 2.002, 0, 1000 }, { 9, 1.968, 0, 900 } };
    lr_media_playlist pl = { 2, 0, segs, 3, "ts" };
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
    lr_seg_info segs[] = { { 10, 2.0, 1, 1 }, { 11, 2.0, 0, 1 }, { 12, 2.0, 1, 1 } };
    lr_media_playlist pl = { 2, 4, segs, 3, "ts" };
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
    lr_seg_info segs[] = { { 1, 2.4, 0, 1 }, { 2, 2.6, 0, 1 }, { 3, 1.0, 0, 1 } };
    assert_int_equal(lr_playlist_target_duration(segs, 3, 2), 3);
    assert_int_equal(lr_playlist_target_duration(segs, 1, 2), 2);
    assert_int_equal(lr_playlist_target_duration(segs, 3, 6), 6);
    assert_int_equal(lr_playlist_target_duration(segs, 0, 2), 2);
}

static void media_playlist_refuses_gaps(void **state)
{
    lr_seg_info segs[] = { { 1, 2.0, 0, 1 }, { 3, 2.0, 0, 1 } };
    lr_media_playlist pl = { 2, 0, segs, 2, "ts" };
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
        { "720p", 2900000, 1500000, 1280, 720, 30.0, "avc1.64001f,mp4a.40.2" },
        { "360p", 900000, 0, 640, 360, 0, "avc1.4d401e,mp4a.40.2" },
    };
    char *text;
    size_t len;

    assert_int_equal(lr_playlist_render_master(v, 2, &text, &len), 0);
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
    lr_variant v[] = { { "720p", 0, 0, 1280, 720, 30.0, "avc1.64001f" } };
    char *text = NULL;
    size_t len;
    assert_true(lr_playlist_render_master(v, 1, &text, &len) < 0);
    assert_true(lr_playlist_render_master(v, 0, &text, &len) < 0);
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
