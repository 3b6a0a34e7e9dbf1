/* tests/unit/test_steering.c — egress/steering.c and the master with
 * pathways (playlist.c): address prefixes match as they should, the
 * priority puts the client's region first and stale or full nodes last,
 * the manifest has the specification's keys, and the master lists every
 * variant once per pathway with its own audio group, as in the Content
 * Steering specification's example. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "egress/playlist.h"
#include "egress/steering.h"

static void test_cidr(void **state)
{
    lr_cidr c;
    assert_int_equal(lr_cidr_parse("10.1.0.0/16", &c), 0);
    assert_true(lr_cidr_match(&c, "10.1.200.3"));
    assert_true(lr_cidr_match(&c, "::ffff:10.1.0.9"));
    assert_false(lr_cidr_match(&c, "10.2.0.1"));
    assert_false(lr_cidr_match(&c, "2001:db8::1"));
    assert_false(lr_cidr_match(&c, "not an address"));
    assert_int_equal(lr_cidr_parse("192.168.4.0/22", &c), 0);
    assert_true(lr_cidr_match(&c, "192.168.7.255"));
    assert_false(lr_cidr_match(&c, "192.168.8.0"));
    assert_int_equal(lr_cidr_parse("2001:db8::/32", &c), 0);
    assert_true(lr_cidr_match(&c, "2001:db8:ffff::1"));
    assert_false(lr_cidr_match(&c, "2001:db9::1"));
    assert_int_equal(lr_cidr_parse("0.0.0.0/0", &c), 0);
    assert_true(lr_cidr_match(&c, "203.0.113.9"));
    static const char *const bad[] = { "10.1.0.0", "10.1.0.0/33", "10.1.0.0/", "10.1.0.0/-1",
                                       "10.1.0.0/8x", "fe80::/129", "host/8", "/8" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(lr_cidr_parse(bad[i], &c), AVERROR(EINVAL));
}

static void order_of(const lr_pathway_state *p, int nb, const char *const *pref, int nb_pref,
                     char *out)
{
    int order[LR_STEERING_MAX_PATHWAYS];
    lr_steering_priority(p, nb, pref, nb_pref, order);
    out[0] = '\0';
    for (int i = 0; i < nb; i++)
        strcat(strcat(out, i ? "," : ""), p[order[i]].id);
}

static void test_priority(void **state)
{
    lr_pathway_state p[] = { { "bj", 1, 0 }, { "sh", 1, 0 }, { "gz", 1, 0 } };
    char got[64];
    static const char *const south[] = { "gz", "sh" };

    order_of(p, 3, NULL, 0, got);
    assert_string_equal(got, "bj,sh,gz");
    order_of(p, 3, south, 2, got);           /* a client in a mapped prefix */
    assert_string_equal(got, "gz,sh,bj");
    p[2].healthy = 0;                        /* gz is down: last, whatever the map says */
    order_of(p, 3, south, 2, got);
    assert_string_equal(got, "sh,bj,gz");
    p[1].over_capacity = 1;                  /* sh full: after those with room */
    order_of(p, 3, south, 2, got);
    assert_string_equal(got, "bj,sh,gz");
    p[0].healthy = 0;                        /* bj stale too: the full one first */
    order_of(p, 3, NULL, 0, got);
    assert_string_equal(got, "sh,bj,gz");
}

static void test_manifest(void **state)
{
    lr_pathway_state p[] = { { "bj", 1, 0 }, { "sh", 0, 0 } };
    int order[] = { 1, 0 };
    AVBPrint bp;
    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    assert_int_equal(lr_steering_manifest(10, "/steer/cs101.json", p, order, 2, &bp), 0);
    assert_string_equal(bp.str, "{\"VERSION\":1,\"TTL\":10,\"RELOAD-URI\":\"/steer/cs101.json\","
                                "\"PATHWAY-PRIORITY\":[\"sh\",\"bj\"]}\n");
    av_bprint_clear(&bp);
    assert_int_equal(lr_steering_manifest(0, NULL, p, order, 2, &bp), AVERROR(EINVAL));
    assert_int_equal(lr_steering_manifest(5, "a\"b", p, order, 2, &bp), AVERROR(EINVAL));
    av_bprint_finalize(&bp, NULL);
}

static void test_master_with_pathways(void **state)
{
    const lr_variant v[] = {
        { .name = "720p", .bandwidth = 3000000, .codecs = "avc1.64001f,mp4a.40.2",
          .width = 1280, .height = 720, .frame_rate = 30, .audio_group = "aud" },
        { .name = "audio", .bandwidth = 130000, .codecs = "mp4a.40.2" },
    };
    const lr_media_entry m[] = {
        { .type = "AUDIO", .group = "aud", .name = "lecture", .uri = "audio/index.m3u8",
          .channels = 2, .is_default = 1 },
        { .type = "CLOSED-CAPTIONS", .group = "cc", .name = "captions", .instream_id = "CC1",
          .is_default = 1 },
    };
    const lr_pathway paths[] = { { "bj", "" }, { "sh", "https://sh.example.cn/live/cs101/" } };
    lr_master master = { .variants = v, .nb_variants = 2, .media = m, .nb_media = 2,
                         .steering_uri = "/steer/cs101.json", .pathways = paths,
                         .nb_pathways = 2 };
    char *text;
    size_t len;

    assert_int_equal(lr_playlist_render_master(&master, &text, &len), 0);
    static const char want[] =
        "#EXTM3U\n#EXT-X-VERSION:1\n#EXT-X-INDEPENDENT-SEGMENTS\n"
        "#EXT-X-CONTENT-STEERING:SERVER-URI=\"/steer/cs101.json\",PATHWAY-ID=\"bj\"\n"
        "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"lecture\",DEFAULT=YES,AUTOSELECT=YES,"
        "CHANNELS=\"2\",STABLE-RENDITION-ID=\"lecture\",URI=\"audio/index.m3u8\"\n"
        "#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID=\"cc\",NAME=\"captions\",DEFAULT=YES,"
        "AUTOSELECT=YES,INSTREAM-ID=\"CC1\",STABLE-RENDITION-ID=\"captions\"\n"
        "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud-sh\",NAME=\"lecture\",DEFAULT=YES,AUTOSELECT=YES,"
        "CHANNELS=\"2\",STABLE-RENDITION-ID=\"lecture\","
        "URI=\"https://sh.example.cn/live/cs101/audio/index.m3u8\"\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=3000000,CODECS=\"avc1.64001f,mp4a.40.2\",RESOLUTION=1280x720,"
        "FRAME-RATE=30.000,AUDIO=\"aud\",PATHWAY-ID=\"bj\",STABLE-VARIANT-ID=\"720p\"\n"
        "720p/index.m3u8\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=130000,CODECS=\"mp4a.40.2\",PATHWAY-ID=\"bj\","
        "STABLE-VARIANT-ID=\"audio\"\naudio/index.m3u8\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=3000000,CODECS=\"avc1.64001f,mp4a.40.2\",RESOLUTION=1280x720,"
        "FRAME-RATE=30.000,AUDIO=\"aud-sh\",PATHWAY-ID=\"sh\",STABLE-VARIANT-ID=\"720p\"\n"
        "https://sh.example.cn/live/cs101/720p/index.m3u8\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=130000,CODECS=\"mp4a.40.2\",PATHWAY-ID=\"sh\","
        "STABLE-VARIANT-ID=\"audio\"\nhttps://sh.example.cn/live/cs101/audio/index.m3u8\n";
    assert_string_equal(text, want);
    av_free(text);

    /* ids as the specification allows them, once each; this node's first */
    const lr_pathway dup[] = { { "bj", "" }, { "bj", "https://x/" } };
    master.pathways = dup;
    assert_int_equal(lr_playlist_render_master(&master, &text, &len), AVERROR(EINVAL));
    const lr_pathway quote[] = { { "b\"j", "" } };
    master.pathways = quote;
    master.nb_pathways = 1;
    assert_int_equal(lr_playlist_render_master(&master, &text, &len), AVERROR(EINVAL));
    const lr_pathway peer_first[] = { { "sh", "https://x/" } };
    master.pathways = peer_first;
    assert_int_equal(lr_playlist_render_master(&master, &text, &len), AVERROR(EINVAL));
    master.nb_pathways = 0;
    assert_int_equal(lr_playlist_render_master(&master, &text, &len), AVERROR(EINVAL));
    master.steering_uri = NULL;  /* no steering: as before */
    assert_int_equal(lr_playlist_render_master(&master, &text, &len), 0);
    assert_null(strstr(text, "PATHWAY"));
    assert_null(strstr(text, "STABLE-"));
    av_free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cidr),
        cmocka_unit_test(test_priority),
        cmocka_unit_test(test_manifest),
        cmocka_unit_test(test_master_with_pathways),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
