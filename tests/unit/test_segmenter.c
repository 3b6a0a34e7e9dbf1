/* tests/unit/test_segmenter.c — how the egress's segmenter (egress/segmenter.h)
 * ends segments: at a link's end the open segment lasts until one frame after
 * its last video frame, whatever packet came last, and no segment or part is
 * ever listed as lasting 0 s (a playlist refuses that). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <libavformat/avformat.h>

#include "egress/segmenter.h"

#define MAX_OUT 64

typedef struct outputs {
    int          n;
    lr_seg_kind  kind[MAX_OUT];
    double       duration[MAX_OUT];
    int64_t      start_pts[MAX_OUT];
    int          gap_after[MAX_OUT];
} outputs;

static void collect(void *opaque, const lr_seg_output *o)
{
    outputs *out = opaque;

    assert_true(out->n < MAX_OUT);
    out->kind[out->n] = o->kind;
    out->duration[out->n] = o->duration;
    out->start_pts[out->n] = o->start_pts;
    out->gap_after[out->n] = o->gap_after;
    out->n++;
}

/* A 1/90000 H.264 stream and a 1/90000 AAC stream, as the egress's demuxer
 * gives them. */
static AVFormatContext *two_streams(void)
{
    AVFormatContext *ic = avformat_alloc_context();
    AVStream *v, *a;

    assert_non_null(ic);
    assert_non_null(v = avformat_new_stream(ic, NULL));
    assert_non_null(a = avformat_new_stream(ic, NULL));
    v->time_base = a->time_base = (AVRational){ 1, 90000 };
    v->codecpar->codec_type = AVMEDIA_TYPE_VIDEO;
    v->codecpar->codec_id = AV_CODEC_ID_H264;
    v->codecpar->width = 640;
    v->codecpar->height = 360;
    a->codecpar->codec_type = AVMEDIA_TYPE_AUDIO;
    a->codecpar->codec_id = AV_CODEC_ID_AAC;
    a->codecpar->sample_rate = 48000;
    av_channel_layout_default(&a->codecpar->ch_layout, 2);
    return ic;
}

/* MPEG-TS, video and audio muxed together, 1 s minimum segments, 0.5 s parts. */
static lr_segmenter *ts_segmenter(AVFormatContext *ic, outputs *out)
{
    lr_segmenter_opts opts = { .format = LR_SEG_TS, .min_duration = 1.0, .part_duration = 0.5 };
    lr_segmenter *s = NULL;

    assert_int_equal(lr_segmenter_alloc(ic->streams[0], ic->streams[1], &opts, collect, out, &s),
                     0);
    return s;
}

static void push(lr_segmenter *s, int is_video, int key, int64_t ts)
{
    /* AUD, then an IDR or non-IDR slice: enough for the TS muxer. */
    static const uint8_t idr[] = { 0, 0, 0, 1, 0x09, 0xf0, 0, 0, 1, 0x65, 0x88, 0x84, 0x21 };
    static const uint8_t p[] = { 0, 0, 0, 1, 0x09, 0xf0, 0, 0, 1, 0x41, 0x9a, 0x02, 0x11 };
    static const uint8_t aac[] = { 0xff, 0xf1, 0x4c, 0x80, 0x01, 0x3f, 0xfc, 0x21, 0x00 };
    AVPacket *pkt = av_packet_alloc();
    const uint8_t *d = is_video ? (key ? idr : p) : aac;
    size_t n = is_video ? sizeof(idr) : sizeof(aac);

    assert_non_null(pkt);
    assert_int_equal(av_new_packet(pkt, (int)n), 0);
    memcpy(pkt->data, d, n);
    pkt->pts = pkt->dts = ts;
    pkt->flags = key ? AV_PKT_FLAG_KEY : 0;
    assert_true(lr_segmenter_push(s, is_video, pkt) >= 0);
    av_packet_free(&pkt);
}

static double last_segment(const outputs *out, int64_t *start_pts)
{
    for (int i = out->n - 1; i >= 0; i--)
        if (out->kind[i] == LR_OUT_SEGMENT) {
            *start_pts = out->start_pts[i];
            return out->duration[i];
        }
    fail_msg("no segment emitted");
    return 0;
}

/* TS writes audio beside the video as it comes, which writes the held video
 * frame: a link that ends on an audio packet holds nothing. The last segment
 * still ends a frame after its last video frame, not where it began. */
static void ts_segment_ending_on_audio_keeps_its_duration(void **state)
{
    AVFormatContext *ic = two_streams();
    outputs out = { 0 };
    lr_segmenter *s = ts_segmenter(ic, &out);
    int64_t start = -1;

    /* 25 fps: 3600 ticks a frame; a keyframe every 2 s; 2.6 s in all. */
    for (int f = 0; f < 65; f++) {
        push(s, 1, f % 50 == 0, 900000 + (int64_t)f * 3600);
        push(s, 0, 1, 900000 + (int64_t)f * 3600 + 100);
    }
    lr_segmenter_flush(s);
    /* The second segment: frames 50..64, ending at frame 65. */
    assert_float_equal(last_segment(&out, &start), 15 * 3600 / 90000.0, 1e-9);
    assert_int_equal(start, 900000 + 50 * 3600);
    for (int i = 0; i < out.n; i++)
        if (out.kind[i] != LR_OUT_INIT)
            assert_true(out.duration[i] > 0);
    lr_segmenter_free(&s);
    avformat_free_context(ic);
}

/* A segment whose keyframe is its only frame, ended by the link right after
 * it, lasts one frame interval. */
static void a_one_frame_segment_lasts_a_frame(void **state)
{
    AVFormatContext *ic = two_streams();
    outputs out = { 0 };
    lr_segmenter *s = ts_segmenter(ic, &out);
    int64_t start = -1;

    for (int f = 0; f <= 50; f++)
        push(s, 1, f % 50 == 0, (int64_t)f * 3600);
    push(s, 0, 1, 50 * 3600 + 100);
    lr_segmenter_flush(s);
    assert_float_equal(last_segment(&out, &start), 3600 / 90000.0, 1e-9);
    assert_int_equal(start, 50 * 3600);
    lr_segmenter_free(&s);
    avformat_free_context(ic);
}

/* 40 frames at 25 fps, audio beside each, a keyframe every 20; the second
 * half `hole` ticks later than the first ends. */
static void push_with_hole(lr_segmenter *s, int64_t hole)
{
    for (int f = 0; f < 40; f++) {
        int64_t t = (int64_t)f * 3600 + (f >= 20 ? hole : 0);
        push(s, 1, f % 20 == 0, t);
        push(s, 0, 1, t + 100);
    }
}

/* A hole of 1.6 s in video and audio alike, the keyframe after it on the
 * same clock (a failover to a backup on one clock, or packets a link gave
 * up): no break. The segment before runs to that keyframe, hole included,
 * and nothing is marked. (Holes over 1 s were breaks: a discontinuity, and
 * an audio segment that could go missing.) */
static void ts_hole_under_a_gop_is_no_break(void **state)
{
    AVFormatContext *ic = two_streams();
    outputs out = { 0 };
    lr_segmenter *s = ts_segmenter(ic, &out);
    int segs = 0;

    push_with_hole(s, 144000);
    lr_segmenter_flush(s);
    for (int i = 0; i < out.n; i++) {
        if (out.kind[i] != LR_OUT_SEGMENT)
            continue;
        assert_false(out.gap_after[i]);
        if (segs++ == 0)
            assert_float_equal(out.duration[i], (20 * 3600 + 144000) / 90000.0, 1e-9);
        else
            assert_int_equal(out.start_pts[i], 20 * 3600 + 144000);
    }
    assert_int_equal(segs, 2);
    lr_segmenter_free(&s);
    avformat_free_context(ic);
}

/* Video that breaks off for 3 s, with audio written between its frames:
 * the segment before the break is marked (a discontinuity follows) and ends
 * a frame after its last frame, not at the frame after the break. */
static void ts_break_with_audio_between_frames_is_a_gap(void **state)
{
    AVFormatContext *ic = two_streams();
    outputs out = { 0 };
    lr_segmenter *s = ts_segmenter(ic, &out);
    int segs = 0;

    push_with_hole(s, 270000);
    lr_segmenter_flush(s);
    for (int i = 0; i < out.n; i++) {
        if (out.kind[i] != LR_OUT_SEGMENT)
            continue;
        if (segs++ == 0) {
            assert_true(out.gap_after[i]);
            assert_float_equal(out.duration[i], 20 * 3600 / 90000.0, 1e-9);
        } else {
            assert_false(out.gap_after[i]);
            assert_int_equal(out.start_pts[i], 20 * 3600 + 270000);
        }
    }
    assert_int_equal(segs, 2);
    lr_segmenter_free(&s);
    avformat_free_context(ic);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ts_segment_ending_on_audio_keeps_its_duration),
        cmocka_unit_test(a_one_frame_segment_lasts_a_frame),
        cmocka_unit_test(ts_hole_under_a_gop_is_no_break),
        cmocka_unit_test(ts_break_with_audio_between_frames_is_a_gap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
