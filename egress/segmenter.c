/* egress/segmenter.c — see segmenter.h. One short-lived mpegts muxer per
 * segment writing to a dynamic buffer: every segment starts with PAT/PMT and
 * a keyframe, so it decodes on its own. */
#include "segmenter.h"

#include <libavutil/mem.h>

#include "common/log.h"
#include "common/ts_mux.h"

struct lr_segmenter {
    AVCodecParameters *vpar, *apar;
    AVRational         vtb, atb;
    double             min_duration;
    AVFormatContext   *oc;          /* the open segment, NULL before the first keyframe */
    AVIOContext       *dyn;
    int64_t            start_pts;   /* 1/90000 */
    int64_t            max_pts;     /* latest video frame written, 1/90000 */
    int64_t            frame_ticks; /* the spacing of video frames */
    char               codec[16];
};

static const AVRational ts_tb = { 1, 90000 };

#define GAP_TICKS 90000  /* video missing for longer than this: a break */

int lr_segmenter_alloc(const AVStream *video, const AVStream *audio, double min_duration,
                       lr_segmenter **out)
{
    lr_segmenter *s = av_mallocz(sizeof(*s));

    if (!s)
        return AVERROR(ENOMEM);
    s->min_duration = min_duration;
    s->vtb = video->time_base;
    s->frame_ticks = 3000;
    if (!(s->vpar = avcodec_parameters_alloc()) ||
        avcodec_parameters_copy(s->vpar, video->codecpar) < 0)
        goto fail;
    if (audio) {
        s->atb = audio->time_base;
        if (!(s->apar = avcodec_parameters_alloc()) ||
            avcodec_parameters_copy(s->apar, audio->codecpar) < 0)
            goto fail;
    }
    *out = s;
    return 0;
fail:
    lr_segmenter_free(&s);
    return AVERROR(ENOMEM);
}

static void drop_open(lr_segmenter *s)
{
    uint8_t *buf = NULL;

    lr_ts_mux_free(&s->oc);
    if (s->dyn) {
        avio_close_dyn_buf(s->dyn, &buf);
        av_free(buf);
        s->dyn = NULL;
    }
}

void lr_segmenter_free(lr_segmenter **ps)
{
    lr_segmenter *s = *ps;

    if (!s)
        return;
    drop_open(s);
    avcodec_parameters_free(&s->vpar);
    avcodec_parameters_free(&s->apar);
    av_freep(ps);
}

static int add_stream(AVFormatContext *oc, const AVCodecParameters *par)
{
    AVStream *st = avformat_new_stream(oc, NULL);

    if (!st)
        return AVERROR(ENOMEM);
    st->time_base = ts_tb;
    return avcodec_parameters_copy(st->codecpar, par);
}

static int open_segment(lr_segmenter *s, int64_t start_pts)
{
    int ret;

    if ((ret = avio_open_dyn_buf(&s->dyn)) < 0)
        return ret;
    if ((ret = lr_ts_mux_alloc(s->dyn, &s->oc)) < 0 ||
        (ret = add_stream(s->oc, s->vpar)) < 0 ||
        (s->apar && (ret = add_stream(s->oc, s->apar)) < 0) ||
        (ret = lr_ts_mux_begin(s->oc)) < 0) {
        drop_open(s);
        return ret;
    }
    s->start_pts = start_pts;
    s->max_pts = AV_NOPTS_VALUE;
    return 0;
}

static void free_dyn(void *opaque, uint8_t *data)
{
    av_free(data);
}

static int close_segment(lr_segmenter *s, int64_t end_pts, lr_segment *done)
{
    uint8_t *buf = NULL;
    int size, ret;

    ret = av_write_trailer(s->oc);
    lr_ts_mux_free(&s->oc);
    size = avio_close_dyn_buf(s->dyn, &buf);
    s->dyn = NULL;
    if (ret < 0 || size <= 0) {
        av_free(buf);
        return ret < 0 ? ret : AVERROR_INVALIDDATA;
    }
    if (!(done->data = av_buffer_create(buf, size, free_dyn, NULL, AV_BUFFER_FLAG_READONLY))) {
        av_free(buf);
        return AVERROR(ENOMEM);
    }
    done->start_pts = s->start_pts;
    done->gap_after = 0;
    done->duration = (end_pts - s->start_pts) / 90000.0;
    return 1;
}

/* Finds the SPS in an Annex B keyframe and names the codec for CODECS=. */
static void sniff_codec(lr_segmenter *s, const uint8_t *p, int size)
{
    for (int i = 0; i + 7 < size; i++) {
        if (p[i] == 0 && p[i + 1] == 0 && p[i + 2] == 1 && (p[i + 3] & 0x1f) == 7) {
            snprintf(s->codec, sizeof(s->codec), "avc1.%02x%02x%02x", p[i + 4], p[i + 5],
                     p[i + 6]);
            return;
        }
    }
}

int lr_segmenter_push(lr_segmenter *s, int is_video, const AVPacket *in, lr_segment *done)
{
    AVPacket *pkt;
    int64_t pts;
    int ret = 0, closed = 0;

    if (is_video && (in->flags & AV_PKT_FLAG_KEY) && in->pts != AV_NOPTS_VALUE) {
        int gap;
        pts = av_rescale_q(in->pts, s->vtb, ts_tb);
        if (!s->codec[0] || s->vpar->codec_id == AV_CODEC_ID_H264)
            sniff_codec(s, in->data, in->size);
        /* A jump forward past the last frame (the lecture had no source for
         * a while) ends the segment at its own last frame, and the next one
         * follows a discontinuity; a jump back (a restarted source) cuts too. */
        gap = s->oc && s->max_pts != AV_NOPTS_VALUE && pts > s->max_pts + GAP_TICKS;
        if (s->oc && (gap || pts - s->start_pts >= s->min_duration * 90000 || pts < s->start_pts)) {
            if ((ret = close_segment(s, gap ? s->max_pts + s->frame_ticks : pts, done)) < 0)
                lr_warn("segment dropped: %s", av_err2str(ret));
            closed = ret > 0;
            if (closed)
                done->gap_after = gap;
        }
        if (!s->oc && (ret = open_segment(s, pts)) < 0)
            return ret;
    }
    if (!s->oc)
        return closed;
    if (!is_video && !s->apar)
        return closed;
    if (is_video && in->pts != AV_NOPTS_VALUE) {
        int64_t p = av_rescale_q(in->pts, s->vtb, ts_tb);
        if (p > s->max_pts) {
            if (s->max_pts != AV_NOPTS_VALUE && p - s->max_pts < GAP_TICKS)
                s->frame_ticks = p - s->max_pts;
            s->max_pts = p;
        }
    }
    if (!(pkt = av_packet_clone(in)))
        return AVERROR(ENOMEM);
    pkt->stream_index = is_video ? 0 : 1;
    av_packet_rescale_ts(pkt, is_video ? s->vtb : s->atb, ts_tb);
    pkt->pos = -1;
    ret = av_write_frame(s->oc, pkt);
    av_packet_free(&pkt);
    if (ret < 0)
        lr_debug("segment: packet not written: %s", av_err2str(ret));
    return closed;
}

const char *lr_segmenter_video_codec(const lr_segmenter *s)
{
    return s->codec;
}
