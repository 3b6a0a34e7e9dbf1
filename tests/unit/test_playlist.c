/* tests/unit/test_playlist.c — egress/playlist.c: the exact text of every
 * playlist form (live, fMP4, LL-HLS, delta update, EVENT/VOD recording,
 * master), the EXT-X-VERSION each needs, the inputs it refuses, and the cost
 * of rendering a 2-hour DVR window (printed, not asserted). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "egress/playlist.h"

/* Renders pl, checks *len, compares with the expected text. */
static void expect_media(const lr_media_playlist *pl, const char *expected)
{
    char *text = NULL;
    size_t len = 0;

    assert_int_equal(lr_playlist_render_media(pl, &text, &len), 0);
    assert_string_equal(text, expected);
    assert_int_equal(len, strlen(text));
    av_free(text);
}

static void expect_media_einval(const lr_media_playlist *pl)
{
    char *text = (char *)"untouched";
    size_t len = 0;

    assert_int_equal(lr_playlist_render_media(pl, &text, &len), AVERROR(EINVAL));
    assert_null(text);
}

static void expect_master(const lr_master *m, const char *expected)
{
    char *text = NULL;
    size_t len = 0;

    assert_int_equal(lr_playlist_render_master(m, &text, &len), 0);
    assert_string_equal(text, expected);
    assert_int_equal(len, strlen(text));
    av_free(text);
}

static void expect_master_einval(const lr_master *m)
{
    char *text = (char *)"untouched";
    size_t len = 0;

    assert_int_equal(lr_playlist_render_master(m, &text, &len), AVERROR(EINVAL));
    assert_null(text);
}

/* ---- plain live and recordings --------------------------------------- */

static void live_ts_version_3(void **state)
{
    lr_seg_info segs[] = { { .seq = 7, .duration = 2.0 }, { .seq = 8, .duration = 2.002 },
                           { .seq = 9, .duration = 1.968 } };
    lr_media_playlist pl = { .target_duration = 2, .segs = segs, .nb_segs = 3, .ext = "ts" };

    expect_media(&pl,
        "#EXTM3U\n"
        "#EXT-X-VERSION:3\n"
        "#EXT-X-TARGETDURATION:2\n"
        "#EXT-X-MEDIA-SEQUENCE:7\n"
        "#EXT-X-INDEPENDENT-SEGMENTS\n"
        "#EXTINF:2.000,\n7.ts\n"
        "#EXTINF:2.002,\n8.ts\n"
        "#EXTINF:1.968,\n9.ts\n");
}

static void fmp4_map_version_6_with_dates(void **state)
{
    lr_seg_info segs[] = {
        { .seq = 10, .duration = 2.0, .discontinuity = 1, .pdt_ms = 1795873620123 },
        { .seq = 11, .duration = 2.0, .pdt_ms = 1795873622123 },
        { .seq = 12, .duration = 1.5, .discontinuity = 1 },
        { .seq = 13, .duration = 2.0, .pdt_ms = 1709251199999 },
    };
    lr_media_playlist pl = { .target_duration = 2, .disc_sequence = 4, .segs = segs,
                             .nb_segs = 4, .ext = "m4s", .init_uri = "init.mp4" };

    expect_media(&pl,
        "#EXTM3U\n"
        "#EXT-X-VERSION:6\n"
        "#EXT-X-TARGETDURATION:2\n"
        "#EXT-X-MEDIA-SEQUENCE:10\n"
        "#EXT-X-DISCONTINUITY-SEQUENCE:4\n"
        "#EXT-X-INDEPENDENT-SEGMENTS\n"
        "#EXT-X-MAP:URI=\"init.mp4\"\n"
        "#EXT-X-DISCONTINUITY\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-28T13:47:00.123Z\n"
        "#EXTINF:2.000,\n10.m4s\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-28T13:47:02.123Z\n"
        "#EXTINF:2.000,\n11.m4s\n"
        "#EXT-X-DISCONTINUITY\n"
        "#EXTINF:1.500,\n12.m4s\n"
        "#EXT-X-PROGRAM-DATE-TIME:2024-02-29T23:59:59.999Z\n"
        "#EXTINF:2.000,\n13.m4s\n");
}

/* Dates across midnight (the date is worked out once per day), at the
 * epoch's first millisecond, and the last one with a four-digit year. */
static void program_date_time_edges(void **state)
{
    lr_seg_info segs[] = {
        { .seq = 0, .duration = 1.0, .pdt_ms = 1709251199500 },  /* 2024-02-29T23:59:59.500 */
        { .seq = 1, .duration = 1.0, .pdt_ms = 1709251200500 },
        { .seq = 2, .duration = 1.0, .discontinuity = 1, .pdt_ms = 1 },
    };
    lr_media_playlist pl = { .target_duration = 1, .segs = segs, .nb_segs = 3, .ext = "ts" };
    char *text = NULL;

    expect_media(&pl,
        "#EXTM3U\n"
        "#EXT-X-VERSION:3\n"
        "#EXT-X-TARGETDURATION:1\n"
        "#EXT-X-MEDIA-SEQUENCE:0\n"
        "#EXT-X-INDEPENDENT-SEGMENTS\n"
        "#EXT-X-PROGRAM-DATE-TIME:2024-02-29T23:59:59.500Z\n"
        "#EXTINF:1.000,\n0.ts\n"
        "#EXT-X-PROGRAM-DATE-TIME:2024-03-01T00:00:00.500Z\n"
        "#EXTINF:1.000,\n1.ts\n"
        "#EXT-X-DISCONTINUITY\n"
        "#EXT-X-PROGRAM-DATE-TIME:1970-01-01T00:00:00.001Z\n"
        "#EXTINF:1.000,\n2.ts\n");
    segs[2].pdt_ms = INT64_C(253402300799999);
    assert_int_equal(lr_playlist_render_media(&pl, &text, NULL), 0);
    assert_non_null(strstr(text, "#EXT-X-PROGRAM-DATE-TIME:9999-12-31T23:59:59.999Z\n#EXTINF"));
    av_free(text);
    segs[2].pdt_ms = INT64_C(253402300800000);                /* year 10000 */
    expect_media_einval(&pl);
}

static void recording_event_and_vod(void **state)
{
    lr_seg_info segs[] = { { .seq = 0, .duration = 2.0 }, { .seq = 1, .duration = 0.8 } };
    lr_media_playlist pl = { .target_duration = 2, .segs = segs, .nb_segs = 2, .ext = "m4s",
                             .init_uri = "init.mp4", .playlist_type = "EVENT" };

    expect_media(&pl,
        "#EXTM3U\n"
        "#EXT-X-VERSION:6\n"
        "#EXT-X-TARGETDURATION:2\n"
        "#EXT-X-MEDIA-SEQUENCE:0\n"
        "#EXT-X-PLAYLIST-TYPE:EVENT\n"
        "#EXT-X-INDEPENDENT-SEGMENTS\n"
        "#EXT-X-MAP:URI=\"init.mp4\"\n"
        "#EXTINF:2.000,\n0.m4s\n"
        "#EXTINF:0.800,\n1.m4s\n");
    pl.playlist_type = "VOD";
    pl.endlist = 1;
    expect_media(&pl,
        "#EXTM3U\n"
        "#EXT-X-VERSION:6\n"
        "#EXT-X-TARGETDURATION:2\n"
        "#EXT-X-MEDIA-SEQUENCE:0\n"
        "#EXT-X-PLAYLIST-TYPE:VOD\n"
        "#EXT-X-INDEPENDENT-SEGMENTS\n"
        "#EXT-X-MAP:URI=\"init.mp4\"\n"
        "#EXTINF:2.000,\n0.m4s\n"
        "#EXTINF:0.800,\n1.m4s\n"
        "#EXT-X-ENDLIST\n");
}

static void target_duration_rounds(void **state)
{
    lr_seg_info segs[] = { { .seq = 1, .duration = 2.4 }, { .seq = 2, .duration = 2.6 },
                           { .seq = 3, .duration = 1.0 } };

    assert_int_equal(lr_playlist_target_duration(segs, 3, 2), 3);
    assert_int_equal(lr_playlist_target_duration(segs, 1, 2), 2);
    assert_int_equal(lr_playlist_target_duration(segs, 3, 6), 6);
    assert_int_equal(lr_playlist_target_duration(segs, 0, 2), 2);
}

/* ---- LL-HLS ------------------------------------------------------------ */

static const lr_part_info four_parts[] = { { 0.5, 1 }, { 0.5, 0 }, { 0.5, 0 }, { 0.5, 0 } };
static const lr_part_info open_two[] = { { 0.5, 1 }, { 0.5, 0 } };
static const lr_rendition_report reports[] = { { "../720p/index.m3u8", 103, 1 },
                                               { "../audio/index.m3u8", 102, -1 } };

static lr_media_playlist ll_playlist(lr_seg_info *segs, int nb)
{
    return (lr_media_playlist){
        .target_duration = 2, .segs = segs, .nb_segs = nb, .ext = "m4s",
        .init_uri = "init.mp4", .part_target = 0.5, .open_seq = segs[nb - 1].seq + 1,
        .open_parts = open_two, .nb_open_parts = 2, .preload_hint = 1,
        .hold_back = 6.0, .part_hold_back = 1.5, .reports = reports, .nb_reports = 2,
    };
}

static void low_latency_exact(void **state)
{
    lr_seg_info segs[] = {
        { .seq = 101, .duration = 2.0, .pdt_ms = 1795873620000 },
        { .seq = 102, .duration = 2.0, .pdt_ms = 1795873622000, .parts = four_parts, .nb_parts = 4 },
    };
    lr_media_playlist pl = ll_playlist(segs, 2);

    expect_media(&pl,
        "#EXTM3U\n"
        "#EXT-X-VERSION:6\n"
        "#EXT-X-TARGETDURATION:2\n"
        "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.500,HOLD-BACK=6.000\n"
        "#EXT-X-PART-INF:PART-TARGET=0.500\n"
        "#EXT-X-MEDIA-SEQUENCE:101\n"
        "#EXT-X-INDEPENDENT-SEGMENTS\n"
        "#EXT-X-MAP:URI=\"init.mp4\"\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-28T13:47:00.000Z\n"
        "#EXTINF:2.000,\n101.m4s\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-28T13:47:02.000Z\n"
        "#EXT-X-PART:DURATION=0.500,URI=\"102.0.m4s\",INDEPENDENT=YES\n"
        "#EXT-X-PART:DURATION=0.500,URI=\"102.1.m4s\"\n"
        "#EXT-X-PART:DURATION=0.500,URI=\"102.2.m4s\"\n"
        "#EXT-X-PART:DURATION=0.500,URI=\"102.3.m4s\"\n"
        "#EXTINF:2.000,\n102.m4s\n"
        "#EXT-X-PART:DURATION=0.500,URI=\"103.0.m4s\",INDEPENDENT=YES\n"
        "#EXT-X-PART:DURATION=0.500,URI=\"103.1.m4s\"\n"
        "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"103.2.m4s\"\n"
        "#EXT-X-RENDITION-REPORT:URI=\"../720p/index.m3u8\",LAST-MSN=103,LAST-PART=1\n"
        "#EXT-X-RENDITION-REPORT:URI=\"../audio/index.m3u8\",LAST-MSN=102\n");
}

/* Slots no segment came for (a break in the lecture, the node restarting)
 * keep their numbers as EXT-X-GAP, without parts or dates; the segment after
 * them follows a discontinuity. */
static void gaps_keep_their_numbers(void **state)
{
    lr_seg_info segs[] = {
        { .seq = 101, .duration = 2.0, .pdt_ms = 1795873620000 },
        { .seq = 102, .duration = 0.001, .gap = 1 },
        { .seq = 103, .duration = 0.001, .gap = 1 },
        { .seq = 104, .duration = 2.0, .pdt_ms = 1795873628000, .discontinuity = 1,
          .parts = four_parts, .nb_parts = 4 },
    };
    lr_media_playlist pl = ll_playlist(segs, 4);

    pl.nb_reports = 0;
    pl.open_seq = 105;
    expect_media(&pl,
        "#EXTM3U\n"
        "#EXT-X-VERSION:6\n"
        "#EXT-X-TARGETDURATION:2\n"
        "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.500,HOLD-BACK=6.000\n"
        "#EXT-X-PART-INF:PART-TARGET=0.500\n"
        "#EXT-X-MEDIA-SEQUENCE:101\n"
        "#EXT-X-INDEPENDENT-SEGMENTS\n"
        "#EXT-X-MAP:URI=\"init.mp4\"\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-28T13:47:00.000Z\n"
        "#EXTINF:2.000,\n101.m4s\n"
        "#EXT-X-GAP\n"
        "#EXTINF:0.001,\n102.m4s\n"
        "#EXT-X-GAP\n"
        "#EXTINF:0.001,\n103.m4s\n"
        "#EXT-X-DISCONTINUITY\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-28T13:47:08.000Z\n"
        "#EXT-X-PART:DURATION=0.500,URI=\"104.0.m4s\",INDEPENDENT=YES\n"
        "#EXT-X-PART:DURATION=0.500,URI=\"104.1.m4s\"\n"
        "#EXT-X-PART:DURATION=0.500,URI=\"104.2.m4s\"\n"
        "#EXT-X-PART:DURATION=0.500,URI=\"104.3.m4s\"\n"
        "#EXTINF:2.000,\n104.m4s\n"
        "#EXT-X-PART:DURATION=0.500,URI=\"105.0.m4s\",INDEPENDENT=YES\n"
        "#EXT-X-PART:DURATION=0.500,URI=\"105.1.m4s\"\n"
        "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"105.2.m4s\"\n");
}

/* The first parts of a lecture (no complete segment yet), after a break. */
static void low_latency_open_segment_only(void **state)
{
    lr_media_playlist pl = {
        .target_duration = 2, .ext = "ts", .part_target = 0.5, .open_seq = 40,
        .open_discontinuity = 1, .open_parts = open_two, .nb_open_parts = 1,
        .preload_hint = 1, .part_hold_back = 1.0, .disc_sequence = 3,
    };

    expect_media(&pl,
        "#EXTM3U\n"
        "#EXT-X-VERSION:3\n"
        "#EXT-X-TARGETDURATION:2\n"
        "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.000\n"
        "#EXT-X-PART-INF:PART-TARGET=0.500\n"
        "#EXT-X-MEDIA-SEQUENCE:40\n"
        "#EXT-X-DISCONTINUITY-SEQUENCE:3\n"
        "#EXT-X-INDEPENDENT-SEGMENTS\n"
        "#EXT-X-DISCONTINUITY\n"
        "#EXT-X-PART:DURATION=0.500,URI=\"40.0.ts\",INDEPENDENT=YES\n"
        "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"40.1.ts\"\n");
    /* Just after a segment closed: the hint names part 0 of the next one. */
    lr_seg_info segs[] = { { .seq = 40, .duration = 1.0, .discontinuity = 1,
                             .parts = open_two, .nb_parts = 2 } };
    pl.segs = segs;
    pl.nb_segs = 1;
    pl.open_seq = 41;
    pl.nb_open_parts = 0;
    pl.open_discontinuity = 1; /* nothing to put it before yet: left out */
    expect_media(&pl,
        "#EXTM3U\n"
        "#EXT-X-VERSION:3\n"
        "#EXT-X-TARGETDURATION:2\n"
        "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.000\n"
        "#EXT-X-PART-INF:PART-TARGET=0.500\n"
        "#EXT-X-MEDIA-SEQUENCE:40\n"
        "#EXT-X-DISCONTINUITY-SEQUENCE:3\n"
        "#EXT-X-INDEPENDENT-SEGMENTS\n"
        "#EXT-X-DISCONTINUITY\n"
        "#EXT-X-PART:DURATION=0.500,URI=\"40.0.ts\",INDEPENDENT=YES\n"
        "#EXT-X-PART:DURATION=0.500,URI=\"40.1.ts\"\n"
        "#EXTINF:1.000,\n40.ts\n"
        "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"41.0.ts\"\n");
}

/* The end of a lecture: no hint after EXT-X-ENDLIST (rfc8216bis 4.4.5.3). */
static void low_latency_endlist_has_no_hint(void **state)
{
    lr_seg_info segs[] = { { .seq = 5, .duration = 1.0, .parts = open_two, .nb_parts = 2 } };
    lr_media_playlist pl = ll_playlist(segs, 1);

    pl.nb_open_parts = 0;
    pl.nb_reports = 0;
    pl.endlist = 1;
    pl.skip = 1;             /* ignored with ENDLIST */
    pl.can_skip_until = 12.0;
    expect_media(&pl,
        "#EXTM3U\n"
        "#EXT-X-VERSION:6\n"
        "#EXT-X-TARGETDURATION:2\n"
        "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.500,HOLD-BACK=6.000,"
        "CAN-SKIP-UNTIL=12.000\n"
        "#EXT-X-PART-INF:PART-TARGET=0.500\n"
        "#EXT-X-MEDIA-SEQUENCE:5\n"
        "#EXT-X-INDEPENDENT-SEGMENTS\n"
        "#EXT-X-MAP:URI=\"init.mp4\"\n"
        "#EXT-X-PART:DURATION=0.500,URI=\"5.0.m4s\",INDEPENDENT=YES\n"
        "#EXT-X-PART:DURATION=0.500,URI=\"5.1.m4s\"\n"
        "#EXTINF:1.000,\n5.m4s\n"
        "#EXT-X-ENDLIST\n");
}

/* Parts handed in without PART-TARGET are not written (no EXT-X-PART-INF). */
static void parts_need_low_latency_mode(void **state)
{
    lr_seg_info segs[] = { { .seq = 5, .duration = 1.0, .parts = open_two, .nb_parts = 2 } };
    lr_media_playlist pl = { .target_duration = 1, .segs = segs, .nb_segs = 1, .ext = "ts",
                             .open_parts = open_two, .nb_open_parts = 2, .preload_hint = 1 };

    expect_media(&pl,
        "#EXTM3U\n"
        "#EXT-X-VERSION:3\n"
        "#EXT-X-TARGETDURATION:1\n"
        "#EXT-X-MEDIA-SEQUENCE:5\n"
        "#EXT-X-INDEPENDENT-SEGMENTS\n"
        "#EXTINF:1.000,\n5.ts\n");
}

/* ---- delta updates ------------------------------------------------------ */

static void delta_update_skips_beyond_boundary(void **state)
{
    /* 10 segments of 2 s, CAN-SKIP-UNTIL 12: segments ending more than 12 s
     * before the end of 109 go, i.e. 100..102 (103 ends exactly 12 s before
     * the end: not further than the boundary, kept). */
    lr_seg_info segs[10];
    for (int i = 0; i < 10; i++)
        segs[i] = (lr_seg_info){ .seq = 100 + i, .duration = 2.0, .discontinuity = i == 1,
                                 .pdt_ms = 1795873620000 + 2000 * i };
    segs[9].parts = four_parts;
    segs[9].nb_parts = 4;
    lr_media_playlist pl = ll_playlist(segs, 10);
    pl.can_skip_until = 12.0;
    pl.skip = 1;
    pl.disc_sequence = 1;
    pl.nb_reports = 1;

    expect_media(&pl,
        "#EXTM3U\n"
        "#EXT-X-VERSION:9\n"
        "#EXT-X-TARGETDURATION:2\n"
        "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.500,HOLD-BACK=6.000,"
        "CAN-SKIP-UNTIL=12.000\n"
        "#EXT-X-PART-INF:PART-TARGET=0.500\n"
        "#EXT-X-MEDIA-SEQUENCE:100\n"
        "#EXT-X-DISCONTINUITY-SEQUENCE:1\n"
        "#EXT-X-INDEPENDENT-SEGMENTS\n"
        "#EXT-X-MAP:URI=\"init.mp4\"\n"
        "#EXT-X-SKIP:SKIPPED-SEGMENTS=3\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-28T13:47:06.000Z\n"
        "#EXTINF:2.000,\n103.m4s\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-28T13:47:08.000Z\n"
        "#EXTINF:2.000,\n104.m4s\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-28T13:47:10.000Z\n"
        "#EXTINF:2.000,\n105.m4s\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-28T13:47:12.000Z\n"
        "#EXTINF:2.000,\n106.m4s\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-28T13:47:14.000Z\n"
        "#EXTINF:2.000,\n107.m4s\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-28T13:47:16.000Z\n"
        "#EXTINF:2.000,\n108.m4s\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-28T13:47:18.000Z\n"
        "#EXT-X-PART:DURATION=0.500,URI=\"109.0.m4s\",INDEPENDENT=YES\n"
        "#EXT-X-PART:DURATION=0.500,URI=\"109.1.m4s\"\n"
        "#EXT-X-PART:DURATION=0.500,URI=\"109.2.m4s\"\n"
        "#EXT-X-PART:DURATION=0.500,URI=\"109.3.m4s\"\n"
        "#EXTINF:2.000,\n109.m4s\n"
        "#EXT-X-PART:DURATION=0.500,URI=\"110.0.m4s\",INDEPENDENT=YES\n"
        "#EXT-X-PART:DURATION=0.500,URI=\"110.1.m4s\"\n"
        "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"110.2.m4s\"\n"
        "#EXT-X-RENDITION-REPORT:URI=\"../720p/index.m3u8\",LAST-MSN=103,LAST-PART=1\n");

    /* A shorter window has nothing beyond the boundary: the full playlist,
     * without EXT-X-SKIP, at version 6. */
    pl.segs = &segs[3];
    pl.nb_segs = 7;
    char *text = NULL;
    size_t len;
    assert_int_equal(lr_playlist_render_media(&pl, &text, &len), 0);
    assert_null(strstr(text, "EXT-X-SKIP"));
    assert_non_null(strstr(text, "#EXT-X-VERSION:6\n"));
    assert_non_null(strstr(text, "#EXT-X-MEDIA-SEQUENCE:103\n#EXT-X-DISCONTINUITY-SEQUENCE:1\n"));
    assert_non_null(strstr(text, "#EXTINF:2.000,\n103.m4s\n"));
    av_free(text);

    /* Without CAN-SKIP-UNTIL, _HLS_skip is ignored. */
    pl.segs = segs;
    pl.nb_segs = 10;
    pl.can_skip_until = 0;
    assert_int_equal(lr_playlist_render_media(&pl, &text, &len), 0);
    assert_null(strstr(text, "EXT-X-SKIP"));
    assert_non_null(strstr(text, "\n100.m4s\n"));
    av_free(text);
}

/* ---- refused input -------------------------------------------------------- */

static void media_refuses_inconsistent_input(void **state)
{
    lr_seg_info gap[] = { { .seq = 1, .duration = 2.0 }, { .seq = 3, .duration = 2.0 } };
    lr_seg_info ok[] = { { .seq = 1, .duration = 2.0 }, { .seq = 2, .duration = 2.0 } };
    lr_media_playlist pl = { .target_duration = 2, .segs = gap, .nb_segs = 2, .ext = "ts" };
    char *text = NULL;

    expect_media_einval(&pl);                       /* non-consecutive */
    pl.segs = ok;
    pl.ext = NULL;
    expect_media_einval(&pl);                       /* no extension */
    pl.ext = "";
    expect_media_einval(&pl);
    pl.ext = "ts";
    pl.nb_segs = 0;
    expect_media_einval(&pl);                       /* nothing to list */
    pl.nb_segs = 2;
    pl.playlist_type = "LIVE";
    expect_media_einval(&pl);
    pl.playlist_type = NULL;
    pl.target_duration = 1;
    expect_media_einval(&pl);                       /* EXTINF rounds above target */
    pl.target_duration = 2;
    ok[1].duration = 2.5;                           /* rounds to 3 */
    expect_media_einval(&pl);
    ok[1].duration = 0;
    expect_media_einval(&pl);
    ok[1].duration = 2.0;
    ok[1].pdt_ms = -1;
    expect_media_einval(&pl);
    ok[1].pdt_ms = 0;
    pl.disc_sequence = -1;
    expect_media_einval(&pl);
    pl.disc_sequence = 0;
    assert_int_equal(lr_playlist_render_media(NULL, &text, NULL), AVERROR(EINVAL));
    assert_int_equal(lr_playlist_render_media(&pl, &text, NULL), 0); /* len optional */
    av_free(text);
}

static void low_latency_refuses_inconsistent_input(void **state)
{
    lr_part_info long_part[] = { { 0.501, 1 }, { 0.499, 0 } };
    lr_part_info short_sum[] = { { 0.5, 1 }, { 0.4, 0 } };
    lr_rendition_report no_uri[] = { { NULL, 8, 0 } };
    lr_seg_info segs[] = { { .seq = 8, .duration = 1.0, .parts = open_two, .nb_parts = 2 } };
    lr_media_playlist good = ll_playlist(segs, 1), pl;
    char *text = NULL;
    size_t len;

    assert_int_equal(lr_playlist_render_media(&good, &text, &len), 0);
    av_free(text);
    pl = good; segs[0].parts = long_part;              /* part above PART-TARGET */
    expect_media_einval(&pl);
    pl = good; segs[0].parts = short_sum;              /* parts don't add up */
    expect_media_einval(&pl);
    segs[0].parts = open_two;
    pl = good; pl.open_parts = long_part;
    expect_media_einval(&pl);
    pl = good; pl.open_parts = NULL;
    expect_media_einval(&pl);
    pl = good; pl.part_hold_back = 0.999;              /* < 2 x PART-TARGET */
    expect_media_einval(&pl);
    pl = good; pl.hold_back = 5.999;                   /* < 3 x TARGETDURATION */
    expect_media_einval(&pl);
    pl = good; pl.can_skip_until = 11.9;               /* < 6 x TARGETDURATION */
    expect_media_einval(&pl);
    pl = good; pl.part_target = 2.5;                   /* longer than a segment */
    expect_media_einval(&pl);
    pl = good; pl.open_seq = 10;                       /* not last seq + 1 */
    expect_media_einval(&pl);
    pl = good; pl.endlist = 1;                         /* finished, yet parts open */
    expect_media_einval(&pl);
    pl = good; pl.reports = no_uri; pl.nb_reports = 1;
    expect_media_einval(&pl);
    pl = good; pl.nb_segs = 0; pl.nb_open_parts = 0; pl.open_seq = 9;
    expect_media_einval(&pl);                          /* nothing at all */
    pl = good; pl.hold_back = 0;                       /* HOLD-BACK is optional */
    assert_int_equal(lr_playlist_render_media(&pl, &text, &len), 0);
    assert_null(strstr(text, "HOLD-BACK=6"));
    av_free(text);
}

/* ---- master --------------------------------------------------------------- */

static const lr_media_entry lecture_media[] = {
    { .type = "AUDIO", .group = "audio", .name = "audio", .uri = "audio/index.m3u8",
      .language = "en", .channels = 2, .is_default = 1 },
    { .type = "CLOSED-CAPTIONS", .group = "cc", .name = "English", .instream_id = "CC1",
      .language = "en", .is_default = 1 },
};

static void master_with_audio_group_and_captions(void **state)
{
    lr_variant v[] = {
        { .name = "720p", .bandwidth = 2900000, .avg_bandwidth = 1500000, .width = 1280,
          .height = 720, .frame_rate = 30.0, .codecs = "avc1.64001f,mp4a.40.2",
          .audio_group = "audio", .closed_captions = "cc" },
        { .name = "360p", .bandwidth = 900000, .width = 640, .height = 360,
          .codecs = "avc1.4d401e,mp4a.40.2", .audio_group = "audio", .closed_captions = "cc" },
        { .name = "audio", .bandwidth = 140000, .avg_bandwidth = 130000,
          .frame_rate = 30.0, .codecs = "mp4a.40.2", .audio_group = "audio" },
    };
    lr_master m = { .variants = v, .nb_variants = 3, .media = lecture_media, .nb_media = 2 };

    expect_master(&m,
        "#EXTM3U\n"
        "#EXT-X-VERSION:1\n"
        "#EXT-X-INDEPENDENT-SEGMENTS\n"
        "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"audio\",LANGUAGE=\"en\","
        "DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"2\",URI=\"audio/index.m3u8\"\n"
        "#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID=\"cc\",NAME=\"English\",LANGUAGE=\"en\","
        "DEFAULT=YES,AUTOSELECT=YES,INSTREAM-ID=\"CC1\"\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=2900000,AVERAGE-BANDWIDTH=1500000,"
        "CODECS=\"avc1.64001f,mp4a.40.2\",RESOLUTION=1280x720,FRAME-RATE=30.000,"
        "AUDIO=\"audio\",CLOSED-CAPTIONS=\"cc\"\n"
        "720p/index.m3u8\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=900000,CODECS=\"avc1.4d401e,mp4a.40.2\","
        "RESOLUTION=640x360,AUDIO=\"audio\",CLOSED-CAPTIONS=\"cc\"\n"
        "360p/index.m3u8\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=140000,AVERAGE-BANDWIDTH=130000,CODECS=\"mp4a.40.2\","
        "AUDIO=\"audio\"\n"
        "audio/index.m3u8\n");
}

static void master_plain_and_service_captions(void **state)
{
    lr_variant v[] = { { .name = "360p", .bandwidth = 900000, .width = 640, .height = 360,
                         .frame_rate = 29.97, .codecs = "avc1.4d401e,mp4a.40.2" } };
    lr_media_entry svc[] = { { .type = "CLOSED-CAPTIONS", .group = "cc", .name = "708",
                               .instream_id = "SERVICE1" } };
    lr_master m = { .variants = v, .nb_variants = 1 };

    expect_master(&m,
        "#EXTM3U\n"
        "#EXT-X-VERSION:1\n"
        "#EXT-X-INDEPENDENT-SEGMENTS\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=900000,CODECS=\"avc1.4d401e,mp4a.40.2\","
        "RESOLUTION=640x360,FRAME-RATE=29.970\n"
        "360p/index.m3u8\n");
    v[0].closed_captions = "cc";
    m.media = svc;
    m.nb_media = 1;
    expect_master(&m,
        "#EXTM3U\n"
        "#EXT-X-VERSION:7\n"
        "#EXT-X-INDEPENDENT-SEGMENTS\n"
        "#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID=\"cc\",NAME=\"708\","
        "DEFAULT=NO,AUTOSELECT=YES,INSTREAM-ID=\"SERVICE1\"\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=900000,CODECS=\"avc1.4d401e,mp4a.40.2\","
        "RESOLUTION=640x360,FRAME-RATE=29.970,CLOSED-CAPTIONS=\"cc\"\n"
        "360p/index.m3u8\n");
}

static void master_without_audio_only_for_vlc(void **state)
{
    static const char in[] =
        "#EXTM3U\n#EXT-X-VERSION:1\n#EXT-X-INDEPENDENT-SEGMENTS\n"
        "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"lecture\",URI=\"audio/index.m3u8\"\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=900000,CODECS=\"avc1.64001f,mp4a.40.2\","
        "RESOLUTION=1280x720,AUDIO=\"aud\"\n720p/index.m3u8\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=110000,CODECS=\"mp4a.40.2\"\naudio/index.m3u8\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=400000,CODECS=\"avc1.4d401e,mp4a.40.2\","
        "RESOLUTION=640x360,AUDIO=\"aud\"\n360p/index.m3u8\n";
    char *out = NULL;
    size_t len = 0;

    (void)state;
    assert_int_equal(lr_playlist_master_without_audio_only(in, sizeof(in) - 1, &out, &len), 0);
    assert_int_equal(strlen(out), len);
    assert_null(strstr(out, "BANDWIDTH=110000"));
    assert_non_null(strstr(out, "URI=\"audio/index.m3u8\""));  /* the rendition stays */
    assert_null(strstr(out, "\naudio/index.m3u8\n"));          /* the variant goes */
    assert_non_null(strstr(out, "RESOLUTION=1280x720,AUDIO=\"aud\"\n720p/index.m3u8\n"));
    assert_non_null(strstr(out, "RESOLUTION=640x360,AUDIO=\"aud\"\n360p/index.m3u8\n"));
    assert_int_equal(len, sizeof(in) - 1 - strlen("#EXT-X-STREAM-INF:BANDWIDTH=110000,"
                                                  "CODECS=\"mp4a.40.2\"\naudio/index.m3u8\n"));
    av_free(out);
}

static void master_refuses_inconsistent_input(void **state)
{
    lr_variant v[] = { { .name = "720p", .bandwidth = 2900000, .width = 1280, .height = 720,
                         .codecs = "avc1.64001f", .audio_group = "audio" } };
    lr_media_entry media[3];
    lr_master m = { .variants = v, .nb_variants = 1, .media = media, .nb_media = 1 };

    memcpy(media, lecture_media, sizeof(lecture_media));
    media[2] = media[0];
    expect_master_einval(&(lr_master){ .variants = v, .nb_variants = 1 }); /* no such group */
    v[0].bandwidth = 0;
    expect_master_einval(&m);                       /* BANDWIDTH is required */
    v[0].bandwidth = 2900000;
    v[0].codecs = NULL;
    expect_master_einval(&m);
    v[0].codecs = "avc1.64001f";
    m.nb_variants = 0;
    expect_master_einval(&m);
    m.nb_variants = 1;
    v[0].closed_captions = "cc";
    expect_master_einval(&m);                       /* CC group not in media */
    m.nb_media = 2;
    char *text = NULL;
    assert_int_equal(lr_playlist_render_master(&m, &text, NULL), 0);
    av_free(text);
    m.nb_media = 3;                                 /* same NAME twice in a group */
    expect_master_einval(&m);
    media[2].name = "audio 2";                      /* two DEFAULT=YES in a group */
    expect_master_einval(&m);
    media[2].is_default = 0;
    assert_int_equal(lr_playlist_render_master(&m, &text, NULL), 0);
    av_free(text);
    media[1].uri = "cc/index.m3u8";                 /* captions have no URI */
    expect_master_einval(&m);
    media[1].uri = NULL;
    media[1].instream_id = NULL;                    /* ... but need INSTREAM-ID */
    expect_master_einval(&m);
    media[1].instream_id = "CC1";
    media[0].type = "VIDEO";
    expect_master_einval(&m);
}

/* ---- cost of a 2-hour DVR window ------------------------------------------- */

static double now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* Renders pl RUNS times; returns the fastest render in microseconds (the
 * machine is shared: the minimum is the figure that means something). */
static double fastest_render_us(const lr_media_playlist *pl, size_t *len, const char *must_contain)
{
    enum { RUNS = 40 };
    double best = 1e30;

    for (int r = 0; r < RUNS; r++) {
        char *text = NULL;
        double t0 = now_us(), t;

        assert_int_equal(lr_playlist_render_media(pl, &text, len), 0);
        t = now_us() - t0;
        best = t < best ? t : best;
        assert_non_null(strstr(text, must_contain));
        av_free(text);
    }
    return best;
}

static void dvr_two_hours_render_cost(void **state)
{
    enum { NB = 3600 };
    lr_seg_info *segs = av_calloc(NB, sizeof(*segs));
    size_t len = 0;
    double us;

    assert_non_null(segs);
    for (int i = 0; i < NB; i++)
        segs[i] = (lr_seg_info){ .seq = 5000 + i, .duration = 2.0, .bytes = 500000,
                                 .pdt_ms = 1795873620000 + 2000LL * i };
    for (int i = NB - 3; i < NB; i++) {
        segs[i].parts = four_parts;
        segs[i].nb_parts = 4;
    }
    lr_media_playlist pl = ll_playlist(segs, NB);
    pl.can_skip_until = 12.0;

    us = fastest_render_us(&pl, &len, "\n8599.m4s\n#EXT-X-PART:DURATION=0.500,URI=\"8600.0.m4s\"");
    printf("[ info     ] 2 h DVR window, %d segments with dates: %zu bytes, %.0f us per render\n",
           NB, len, us);
    for (int i = 0; i < NB; i++)
        segs[i].pdt_ms = 0;
    us = fastest_render_us(&pl, &len, "\n8599.m4s\n");
    printf("[ info     ] the same without dates: %zu bytes, %.0f us per render\n", len, us);
    pl.skip = 1;
    us = fastest_render_us(&pl, &len, "#EXT-X-SKIP:SKIPPED-SEGMENTS=3593\n");
    printf("[ info     ] its delta update (_HLS_skip=YES): %zu bytes, %.0f us per render\n", len, us);
    av_free(segs);
}

/* The packager lists a segment with its parts only when they add up to it. */
static void parts_match_their_segment(void **state)
{
    const lr_part_info parts[] = { { 0.5, 1 }, { 0.5, 0 }, { 0.5, 0 }, { 0.48, 0 } };

    assert_true(lr_playlist_parts_match(parts, 4, 1.98));
    assert_true(lr_playlist_parts_match(parts, 4, 2.03));
    assert_false(lr_playlist_parts_match(parts, 4, 2.04));
    assert_false(lr_playlist_parts_match(parts, 4, 0));
    assert_false(lr_playlist_parts_match(parts, 3, 1.98));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(live_ts_version_3),
        cmocka_unit_test(fmp4_map_version_6_with_dates),
        cmocka_unit_test(program_date_time_edges),
        cmocka_unit_test(recording_event_and_vod),
        cmocka_unit_test(target_duration_rounds),
        cmocka_unit_test(low_latency_exact),
        cmocka_unit_test(gaps_keep_their_numbers),
        cmocka_unit_test(low_latency_open_segment_only),
        cmocka_unit_test(low_latency_endlist_has_no_hint),
        cmocka_unit_test(parts_need_low_latency_mode),
        cmocka_unit_test(delta_update_skips_beyond_boundary),
        cmocka_unit_test(media_refuses_inconsistent_input),
        cmocka_unit_test(low_latency_refuses_inconsistent_input),
        cmocka_unit_test(master_with_audio_group_and_captions),
        cmocka_unit_test(master_plain_and_service_captions),
        cmocka_unit_test(master_refuses_inconsistent_input),
        cmocka_unit_test(master_without_audio_only_for_vlc),
        cmocka_unit_test(dvr_two_hours_render_cost),
        cmocka_unit_test(parts_match_their_segment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
