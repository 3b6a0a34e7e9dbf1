/* transcode/encoder.c — see encoder.h. */
#include "encoder.h"

#include <string.h>

#include <libavutil/opt.h>

#include "common/log.h"

int lr_venc_open(const lr_venc_params *vp, AVCodecContext **out)
{
    const lr_transcode_conf *tc = vp->tc;
    const lr_rung *r = &vp->rung;
    const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
    int64_t cap = (int64_t)r->bitrate_kbps * 1000;
    /* The VBV holds one segment at the cap: a segment never exceeds the cap
     * on average, however the bits are spread inside it. */
    int64_t bufsize = (int64_t)(cap * FFMAX(tc->segment_duration, 1.0));
    int cbr = !strcmp(tc->rate_control, "cbr"), abr = !strcmp(tc->rate_control, "abr");
    char params[160];
    AVCodecContext *enc;
    int ret;

    if (!codec) {
        lr_error("libx264 encoder not available in this FFmpeg build");
        return AVERROR_ENCODER_NOT_FOUND;
    }
    if (!(enc = avcodec_alloc_context3(codec)))
        return AVERROR(ENOMEM);
    enc->width = r->width;
    enc->height = r->height;
    enc->pix_fmt = AV_PIX_FMT_YUV420P;
    enc->sample_aspect_ratio = (AVRational){ 1, 1 };
    enc->time_base = vp->tb;
    enc->framerate = vp->fps;
    enc->thread_count = vp->threads;
    /* Keyframes come only from the schedule: no natural GOP end, no scene cuts. */
    enc->gop_size = (int)FFMIN(100000, 10 * tc->segment_duration * av_q2d(vp->fps) + 1);
    if (abr) {
        /* The ffmpeg CLI's -b:v: the bitrate on average, peaks unbounded.
         * For files (transcode-file) and like-for-like benchmarks. */
        enc->bit_rate = cap;
    } else if (cbr) {
        enc->bit_rate = cap;
        enc->rc_min_rate = enc->rc_max_rate = cap;
        enc->rc_buffer_size = (int)FFMIN(INT32_MAX, bufsize);
    } else {
        enc->rc_max_rate = cap;
        enc->rc_buffer_size = (int)FFMIN(INT32_MAX, bufsize);
        av_opt_set_double(enc->priv_data, "crf", r->crf > 0 ? r->crf : tc->crf, 0);
    }
    av_opt_set(enc->priv_data, "preset", tc->preset, 0);
    av_opt_set(enc->priv_data, "profile",
               r->profile[0] ? r->profile : r->height > 480 ? "high" : "main", 0);
    av_opt_set(enc->priv_data, "forced-idr", "1", 0);
    /* The lookahead is latency: each frame waits for lookahead_frames more
     * (x264 veryfast's own 10 is 333 ms at 30 fps; 5 measured 156 ms less
     * glass to glass, docs/latency.md). */
    snprintf(params, sizeof(params), "scenecut=0:open-gop=0:rc-lookahead=%d%s",
             tc->lookahead_frames, cbr ? ":nal-hrd=cbr:filler=1" : "");
    av_opt_set(enc->priv_data, "x264-params", params, 0);
    if ((ret = avcodec_open2(enc, codec, NULL)) < 0) {
        lr_error("rung %s: cannot open libx264: %s", r->name, av_err2str(ret));
        goto fail;
    }
    *out = enc;
    return 0;
fail:
    avcodec_free_context(&enc);
    return ret;
}
