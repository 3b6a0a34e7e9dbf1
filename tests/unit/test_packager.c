/* tests/unit/test_packager.c — the packager's playlists (egress/packager.h)
 * across a link that breaks and comes back: a rendition the break caught
 * one segment behind the others lists the numbers it missed as gaps, and
 * its playlist keeps being published. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <libavformat/avformat.h>
#include <libavutil/mem.h>

#include "common/ts_wall.h"
#include "egress/packager.h"
#include "egress/store.h"

#define PERIOD (2 * 90000)  /* 2 s slots, as the transcoder's default */
#define FPS    10
#define FRAME  (90000 / FPS)
#define GOP    (FPS * PERIOD / 90000)

/* Two video renditions in programs named as a ladder link names them,
 * "hi" and "lo", with the keyframe schedule's period in the SDT. */
static AVFormatContext *ladder(void)
{
    static const char *const names[] = { "hi", "lo" };
    AVFormatContext *ic = avformat_alloc_context();
    char provider[64];

    assert_non_null(ic);
    lr_ts_provider_name(provider, sizeof(provider), PERIOD);
    for (int i = 0; i < 2; i++) {
        AVStream *v = avformat_new_stream(ic, NULL);
        AVProgram *prog = av_new_program(ic, i + 1);

        assert_non_null(v);
        assert_non_null(prog);
        v->time_base = (AVRational){ 1, 90000 };
        v->avg_frame_rate = (AVRational){ FPS, 1 };
        v->codecpar->codec_type = AVMEDIA_TYPE_VIDEO;
        v->codecpar->codec_id = AV_CODEC_ID_H264;
        v->codecpar->width = i ? 426 : 640;
        v->codecpar->height = i ? 240 : 360;
        av_program_add_stream_index(ic, prog->id, (unsigned)i);
        av_dict_set(&prog->metadata, "service_name", names[i], 0);
        av_dict_set(&prog->metadata, "service_provider", provider, 0);
    }
    return ic;
}

static void frame(lr_packager *p, int stream, int key, int64_t ts)
{
    /* AUD, then an IDR or non-IDR slice: enough for the TS muxer. */
    static const uint8_t idr[] = { 0, 0, 0, 1, 0x09, 0xf0, 0, 0, 1, 0x65, 0x88, 0x84, 0x21 };
    static const uint8_t pic[] = { 0, 0, 0, 1, 0x09, 0xf0, 0, 0, 1, 0x41, 0x9a, 0x02, 0x11 };
    AVPacket *pkt = av_packet_alloc();

    assert_non_null(pkt);
    assert_int_equal(av_new_packet(pkt, sizeof(idr)), 0);
    memcpy(pkt->data, key ? idr : pic, sizeof(idr));
    pkt->pts = pkt->dts = ts;
    pkt->stream_index = stream;
    pkt->flags = key ? AV_PKT_FLAG_KEY : 0;
    lr_packager_packet(p, pkt);
    av_packet_free(&pkt);
}

/* Frames [from, to) of both renditions, each frame time hi then lo (the
 * order a TS link interleaves them in), a keyframe at every slot's start. */
static void frames(lr_packager *p, int64_t base, int from, int to)
{
    for (int k = from; k < to; k++)
        for (int s = 0; s < 2; s++)
            frame(p, s, k % GOP == 0, base + (int64_t)k * FRAME);
}

static char *playlist(lr_store *st, const char *rend)
{
    char path[64];
    lr_store_obj o;
    char *text;

    snprintf(path, sizeof(path), "cs101/%s/index.m3u8", rend);
    if (lr_store_get(st, path, strlen(path), &o) < 0)
        return NULL;
    text = av_strndup((const char *)o.data->data, o.data->size);
    lr_store_obj_unref(&o);
    return text;
}

/* The numbers a playlist lists, from its EXT-X-MEDIA-SEQUENCE: 1 if they
 * are the n consecutive ones ending at last (gaps included). */
static int lists_up_to(const char *text, int64_t last)
{
    const char *m = strstr(text, "#EXT-X-MEDIA-SEQUENCE:");
    int64_t first, n = 0;

    if (!m || sscanf(m, "#EXT-X-MEDIA-SEQUENCE:%" SCNd64, &first) != 1)
        return 0;
    for (const char *q = text; (q = strstr(q, "#EXTINF:")); q++)
        n++;
    return first + n - 1 == last;
}

/* The link breaks just after hi's first frame of slot S (hi's segment S-1
 * done, lo's not): hi reached S + 1, lo S. The link comes back 3 slots
 * later. Every rendition then continues from S + 1 + 3 - 1, lo listing its
 * S as a gap too; before, lo listed gaps from S + 1 and never S, its
 * playlist was refused as not consecutive and players kept the old one. */
static void a_rendition_behind_at_the_break_lists_its_missed_number_as_a_gap(void **state)
{
    lr_egress_conf ec = { .playlist_segments = 10, .keep_segments = 10,
                          .segment_format = "ts", .recordings_dir = "" };
    AVFormatContext *ic = ladder();
    lr_store *st = lr_store_alloc();
    lr_packager *p = NULL;
    /* a link's clock is the wall clock: slots 20 before now */
    int64_t base = (lr_ts_wall_now() / PERIOD - 20) * PERIOD;
    int64_t s0 = lr_ts_slot(base, PERIOD), last;
    char *hi, *lo;

    (void)state;
    assert_non_null(st);
    assert_int_equal(lr_packager_alloc(&ec, st, "cs101", &p), 0);
    assert_int_equal(lr_packager_link_start(p, ic), 2);
    frames(p, base, 0, 5 * GOP);
    frame(p, 0, 1, base + 5 * GOP * (int64_t)FRAME);  /* hi's keyframe of slot s0 + 5 only */
    lr_packager_link_end(p);

    assert_int_equal(lr_packager_link_start(p, ic), 2);
    frames(p, base, 8 * GOP, 12 * GOP + 1);  /* slots s0 + 8 .. s0 + 11 done */
    last = s0 + 11;
    assert_non_null(hi = playlist(st, "hi"));
    assert_non_null(lo = playlist(st, "lo"));
    if (!lists_up_to(hi, last) || !lists_up_to(lo, last))
        fail_msg("expected both to list up to %" PRId64 "\nhi:\n%s\nlo:\n%s", last, hi, lo);
    assert_non_null(strstr(lo, "#EXT-X-GAP"));
    av_free(hi);
    av_free(lo);
    lr_packager_end(p);
    lr_packager_free(&p);
    lr_store_free(&st);
    avformat_free_context(ic);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_rendition_behind_at_the_break_lists_its_missed_number_as_a_gap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
