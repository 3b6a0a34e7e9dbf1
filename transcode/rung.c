/* transcode/rung.c — see rung.h. */
#include "rung.h"

#include <pthread.h>
#include <stdatomic.h>

#include <libavutil/mem.h>
#include <libswscale/swscale.h>

#include "common/log.h"
#include "cpu.h"
#include "frameq.h"

struct lr_rung_worker {
    lr_venc_params     vp;          /* the rung, and what opens its encoder */
    AVCodecContext    *enc;
    AVCodecParameters *par;         /* of the first encoder, for the muxer */
    int64_t            last_pts;    /* of the last frame in, AV_NOPTS_VALUE: none */
    int                stream;
    lr_sink_fn        *sink;
    void              *opaque;
    char               name[16];
    lr_frameq         *q;
    pthread_t          thread;
    int                started, joined;
    atomic_int         abort;
    atomic_int         result;

    struct SwsContext *sws;
    AVFrame           *canvas;      /* the scaled picture, reused */
    AVPacket          *pkt;
    double             interval;    /* frame-rate cap: min pts step, 0 none */
    double             next_due;
    int                have_due;
    int                src_w, src_h, src_fmt;
    lr_rung_cpu        cpu;
    _Atomic int64_t    out_frames, out_pts_us;  /* lr_rung_progress_get */
};

static int drain(lr_rung_worker *w)
{
    int ret;

    while ((ret = avcodec_receive_packet(w->enc, w->pkt)) >= 0) {
        int64_t t0 = lr_cpu_thread_ns();
        atomic_fetch_add(&w->out_frames, 1);
        if (w->pkt->pts != AV_NOPTS_VALUE)
            atomic_store(&w->out_pts_us,
                         av_rescale_q(w->pkt->pts, w->enc->time_base, AV_TIME_BASE_Q));
        ret = w->sink(w->opaque, w->pkt, w->stream, w->enc->time_base);
        w->cpu.sink_ns += lr_cpu_thread_ns() - t0;
        if (ret < 0)
            return ret;
    }
    return ret == AVERROR(EAGAIN) || ret == AVERROR_EOF ? 0 : ret;
}

/* The frame-rate cap: keeps a frame once at least one interval after the last
 * kept one (drift-free); keyframes always, so every rung keeps the same IDRs. */
static int capped_out(lr_rung_worker *w, const AVFrame *f, int key)
{
    double pts = (double)f->pts;

    if (w->interval <= 0)
        return 0;
    if (!key && w->have_due && pts < w->next_due - w->interval / 8)
        return 1;
    w->next_due = w->have_due && pts < w->next_due + w->interval ? w->next_due + w->interval
                                                                 : pts + w->interval;
    w->have_due = 1;
    return 0;
}

static int scale(lr_rung_worker *w, AVFrame *src, AVFrame *out)
{
    int64_t t0 = lr_cpu_thread_ns();
    int ret;

    if (src->width != w->src_w || src->height != w->src_h || src->format != w->src_fmt) {
        w->sws = sws_getCachedContext(w->sws, src->width, src->height, src->format,
                                      w->enc->width, w->enc->height, w->enc->pix_fmt,
                                      SWS_BICUBIC, NULL, NULL, NULL);
        if (!w->sws)
            return AVERROR(EINVAL);
        w->src_w = src->width;
        w->src_h = src->height;
        w->src_fmt = src->format;
    }
    if ((ret = av_frame_make_writable(w->canvas)) < 0 ||
        (ret = av_frame_ref(out, w->canvas)) < 0)
        return ret;
    sws_scale(w->sws, (const uint8_t *const *)src->data, src->linesize, 0, src->height,
              out->data, out->linesize);
    if ((ret = av_frame_copy_props(out, src)) < 0)  /* pts, captions, side data */
        return ret;
    w->cpu.scale_ns += lr_cpu_thread_ns() - t0;
    return 0;
}

/* Flushes the encoder (its last packets go to the sink) and opens a new one:
 * the frames after a break start a fresh GOP on a fresh decode clock. */
static int restart_encoder(lr_rung_worker *w)
{
    AVCodecContext *enc = NULL;
    int ret = avcodec_send_frame(w->enc, NULL);

    if (ret >= 0)
        ret = drain(w);
    if (ret < 0)
        return ret;
    if ((ret = lr_venc_open(&w->vp, &enc)) < 0)
        return ret;
    avcodec_free_context(&w->enc);
    w->enc = enc;
    w->have_due = 0;
    return 0;
}

static int encode(lr_rung_worker *w, AVFrame *src, AVFrame *scaled)
{
    int key = src->pict_type == AV_PICTURE_TYPE_I;
    int64_t break_ticks = (int64_t)(LR_RUNG_BREAK_S / av_q2d(w->enc->time_base));
    AVFrame *f = src;
    int ret;

    if (w->last_pts != AV_NOPTS_VALUE &&
        (src->pts <= w->last_pts || src->pts - w->last_pts >= break_ticks)) {
        if (w->stream == 0)
            lr_info("rung %s: the timestamps break (%+.3f s): its GOP ends, a new encoder "
                    "starts the next", w->vp.rung.name,
                    (double)(src->pts - w->last_pts) * av_q2d(w->enc->time_base));
        if ((ret = restart_encoder(w)) < 0)
            return ret;
        key = 1;
    }
    w->last_pts = src->pts;
    if (capped_out(w, src, key)) {
        w->cpu.capped++;
        return 0;
    }
    if (src->width != w->enc->width || src->height != w->enc->height ||
        src->format != w->enc->pix_fmt) {
        if ((ret = scale(w, src, scaled)) < 0)
            return ret;
        f = scaled;
    }
    f->pict_type = key ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
    ret = avcodec_send_frame(w->enc, f);
    av_frame_unref(scaled);
    if (ret < 0)
        return ret;
    w->cpu.frames++;
    return drain(w);
}

static void *rung_thread(void *arg)
{
    lr_rung_worker *w = arg;
    AVFrame *src = av_frame_alloc(), *scaled = av_frame_alloc();
    int ret = src && scaled ? 0 : AVERROR(ENOMEM);

    lr_cpu_name_thread(w->name);
    while (ret >= 0 && (ret = lr_frameq_receive(w->q, src)) >= 0) {
        if (!atomic_load(&w->abort))
            ret = encode(w, src, scaled);
        av_frame_unref(src);
    }
    if (ret == AVERROR_EOF && !atomic_load(&w->abort)) {
        ret = avcodec_send_frame(w->enc, NULL);
        if (ret >= 0)
            ret = drain(w);
    }
    if (ret == AVERROR_EOF)
        ret = 0;
    if (ret < 0 && ret != AVERROR_EXIT)
        lr_error("rung %s ended: %s", w->vp.rung.name, av_err2str(ret));
    w->cpu.thread_ns = lr_cpu_thread_ns();
    atomic_store(&w->result, ret);
    lr_frameq_close(w->q);  /* a sender waiting on a full queue gets EOF */
    av_frame_free(&src);
    av_frame_free(&scaled);
    return NULL;
}

int lr_rung_start(const lr_venc_params *vp, int stream, int queue_frames,
                  lr_sink_fn *sink, void *opaque, const char *thread_name,
                  lr_rung_worker **out)
{
    const lr_rung *r = &vp->rung;
    lr_rung_worker *w;
    AVCodecContext *enc;
    AVRational fps = vp->fps;
    int ret;

    if (!(w = av_mallocz(sizeof(*w))))
        return AVERROR(ENOMEM);
    w->vp = *vp;
    w->last_pts = AV_NOPTS_VALUE;
    atomic_init(&w->out_pts_us, AV_NOPTS_VALUE);
    if ((ret = lr_venc_open(vp, &w->enc)) < 0)
        goto fail;
    enc = w->enc;
    if (!(w->par = avcodec_parameters_alloc())) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    if ((ret = avcodec_parameters_from_context(w->par, enc)) < 0)
        goto fail;
    w->stream = stream;
    w->sink = sink;
    w->opaque = opaque;
    w->src_fmt = AV_PIX_FMT_NONE;
    snprintf(w->name, sizeof(w->name), "%s", thread_name);
    if (r->fps > 0 && fps.num > 0)
        w->interval = 1.0 / (av_q2d(fps) * av_q2d(enc->time_base));
    if ((ret = lr_frameq_alloc(queue_frames, &w->q)) < 0)
        goto fail;
    if (!(w->pkt = av_packet_alloc()) || !(w->canvas = av_frame_alloc())) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    w->canvas->format = enc->pix_fmt;
    w->canvas->width = enc->width;
    w->canvas->height = enc->height;
    if ((ret = av_frame_get_buffer(w->canvas, 0)) < 0)
        goto fail;
    if ((ret = pthread_create(&w->thread, NULL, rung_thread, w))) {
        ret = AVERROR(ret);
        goto fail;
    }
    w->started = 1;
    *out = w;
    return 0;
fail:
    lr_rung_free(&w);
    return ret;
}

int lr_rung_send(lr_rung_worker *w, AVFrame *frame)
{
    int ret = lr_frameq_send(w->q, frame);

    if (ret == AVERROR_EOF) {
        av_frame_unref(frame);
        ret = atomic_load(&w->result);
        return ret < 0 ? ret : AVERROR_EXTERNAL;
    }
    return ret;
}

int lr_rung_finish(lr_rung_worker *w, int abort)
{
    if (abort)
        atomic_store(&w->abort, 1);
    if (w->started && !w->joined) {
        lr_frameq_close(w->q);
        pthread_join(w->thread, NULL);
        w->joined = 1;
    }
    return atomic_load(&w->result);
}

void lr_rung_free(lr_rung_worker **pw)
{
    lr_rung_worker *w = *pw;

    if (!w)
        return;
    lr_rung_finish(w, 1);
    lr_frameq_free(&w->q);
    avcodec_free_context(&w->enc);
    avcodec_parameters_free(&w->par);
    sws_freeContext(w->sws);
    av_frame_free(&w->canvas);
    av_packet_free(&w->pkt);
    av_freep(pw);
}

const AVCodecParameters *lr_rung_codecpar(const lr_rung_worker *w)
{
    return w->par;
}

void lr_rung_progress_get(lr_rung_worker *w, lr_rung_progress *out)
{
    out->frames = atomic_load(&w->out_frames);
    out->pts_us = atomic_load(&w->out_pts_us);
    out->queued = lr_frameq_count(w->q);
}

void lr_rung_cpu_get(const lr_rung_worker *w, lr_rung_cpu *out)
{
    *out = w->cpu;
}
