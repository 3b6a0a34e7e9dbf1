/* tests/unit/test_pes_frames.c — the egress's PES packets as frames
 * (egress/pes_frames.h): keyframes found by their NAL units, ADTS PES split
 * into frames with their own timestamps, damage passed on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <libavcodec/codec_id.h>
#include <libavcodec/packet.h>

#include "common/annexb.h"
#include "egress/pes_frames.h"

static void h264_keyframes(void **state)
{
    /* AUD, SPS, PPS, IDR slice */
    static const uint8_t idr[] = { 0, 0, 0, 1, 0x09, 0xf0, 0, 0, 0, 1, 0x67, 0x42, 0, 0, 1, 0x68,
                                   0xce, 0, 0, 1, 0x65, 0x88, 0x84 };
    /* AUD, SEI, non-IDR slice */
    static const uint8_t p[] = { 0, 0, 0, 1, 0x09, 0xf0, 0, 0, 1, 0x06, 0x05, 0, 0, 1, 0x41,
                                 0x9a, 0x02 };
    static const uint8_t junk[] = { 0x12, 0x34, 0, 0, 0x01 };

    assert_true(lr_annexb_starts_gop(AV_CODEC_ID_H264, idr, sizeof(idr)));
    assert_false(lr_annexb_starts_gop(AV_CODEC_ID_H264, p, sizeof(p)));
    assert_false(lr_annexb_starts_gop(AV_CODEC_ID_H264, junk, sizeof(junk)));
    assert_false(lr_annexb_starts_gop(AV_CODEC_ID_H264, idr, 0));
    assert_false(lr_annexb_starts_gop(AV_CODEC_ID_MPEG2VIDEO, idr, sizeof(idr)));
}

static void hevc_keyframes(void **state)
{
    /* AUD (35), VPS (32), IDR_W_RADL (19) */
    static const uint8_t irap[] = { 0, 0, 1, 35 << 1, 1, 0x50, 0, 0, 1, 32 << 1, 1, 0x0c,
                                    0, 0, 1, 19 << 1, 1, 0xaf };
    /* AUD, TRAIL_R (1) */
    static const uint8_t trail[] = { 0, 0, 1, 35 << 1, 1, 0x50, 0, 0, 1, 1 << 1, 1, 0xd0, 0x11 };

    assert_true(lr_annexb_starts_gop(AV_CODEC_ID_HEVC, irap, sizeof(irap)));
    assert_false(lr_annexb_starts_gop(AV_CODEC_ID_HEVC, trail, sizeof(trail)));
}

/* An ADTS header for a frame of len bytes (header included), 48 kHz. */
static void adts(uint8_t *h, int len)
{
    h[0] = 0xff;
    h[1] = 0xf1;                      /* MPEG-4, no CRC */
    h[2] = (1 << 6) | (3 << 2) | 0;   /* AAC LC, 48000 Hz */
    h[3] = (2 << 6) | ((len >> 11) & 3);
    h[4] = (len >> 3) & 0xff;
    h[5] = ((len & 7) << 5) | 0x1f;
    h[6] = 0xfc;                      /* one raw data block */
}

typedef struct seen {
    int64_t pts[8], dts[8], duration[8];
    int size[8], flags[8], n;
} seen;

static void collect(void *opaque, const AVPacket *f)
{
    seen *s = opaque;
    if (s->n < 8) {
        s->pts[s->n] = f->pts;
        s->dts[s->n] = f->dts;
        s->duration[s->n] = f->duration;
        s->size[s->n] = f->size;
        s->flags[s->n] = f->flags;
    }
    s->n++;
}

static void adts_pes_split_into_frames(void **state)
{
    uint8_t data[300] = { 0 };
    AVPacket pes = { .data = data, .size = 100 + 120 + 30, .pts = 900000, .dts = 900000,
                     .pos = -1 };
    seen s = { .n = 0 };

    adts(data, 100);
    adts(data + 100, 120);
    adts(data + 220, 30);
    assert_int_equal(lr_pes_split_adts(&pes, collect, &s), 3);
    assert_int_equal(s.n, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(s.pts[i], 900000 + i * 1920);   /* 1024 samples at 48 kHz */
        assert_int_equal(s.dts[i], s.pts[i]);
        assert_int_equal(s.duration[i], 1920);
        assert_int_equal(s.flags[i], AV_PKT_FLAG_KEY);
    }
    assert_int_equal(s.size[0], 100);
    assert_int_equal(s.size[1], 120);
    assert_int_equal(s.size[2], 30);
}

static void a_damaged_pes_stays_damaged(void **state)
{
    uint8_t data[300] = { 0 };
    AVPacket pes = { .data = data, .size = 100 + 57, .pts = 1000, .dts = 1000,
                     .flags = AV_PKT_FLAG_CORRUPT, .pos = -1 };
    seen s = { .n = 0 };

    adts(data, 100);
    memset(data + 100, 0x5a, 57);   /* what followed the lost TS packets */
    assert_int_equal(lr_pes_split_adts(&pes, collect, &s), 2);
    assert_int_equal(s.size[0], 100);
    assert_int_equal(s.size[1], 57);
    assert_true(s.flags[0] & AV_PKT_FLAG_CORRUPT);
    assert_true(s.flags[1] & AV_PKT_FLAG_CORRUPT);
    assert_int_equal(s.pts[1], 1000 + 1920);
    /* a frame longer than the PES holds is no frame */
    adts(data, 200);
    s.n = 0;
    assert_int_equal(lr_pes_split_adts(&pes, collect, &s), 1);
    assert_int_equal(s.size[0], 157);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(h264_keyframes),
        cmocka_unit_test(hevc_keyframes),
        cmocka_unit_test(adts_pes_split_into_frames),
        cmocka_unit_test(a_damaged_pes_stays_damaged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
