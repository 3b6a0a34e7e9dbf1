/* transcode/audio.c — see audio.h. */
#include "audio.h"

#include <libavutil/audio_fifo.h>
#include <libavutil/channel_layout.h>
#include <libavutil/mem.h>
#include <libavutil/samplefmt.h>
#include <libswresample/swresample.h>

#define AUDIO_RATE 48000

struct lr_audio {
    AVCodecContext *enc;
    SwrContext     *swr;
    AVAudioFifo    *fifo;
    AVRational      in_tb;
    int64_t         next_pts;    /* in 1/AUDIO_RATE */
    AVPacket       *pkt;
};

int lr_audio_open(const AVCodecContext *dec, int bitrate_kbps, lr_audio **out)
{
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_AAC);
    AVChannelLayout stereo = AV_CHANNEL_LAYOUT_STEREO, in_layout = { 0 };
    AVCodecContext *enc;
    lr_audio *a;
    int ret;

    if (!(a = av_mallocz(sizeof(*a))))
        return AVERROR(ENOMEM);
    a->in_tb = dec->pkt_timebase;
    a->next_pts = AV_NOPTS_VALUE;
    if (!(a->pkt = av_packet_alloc()) || !(enc = a->enc = avcodec_alloc_context3(codec))) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    enc->sample_fmt = AV_SAMPLE_FMT_FLTP;
    enc->sample_rate = AUDIO_RATE;
    av_channel_layout_copy(&enc->ch_layout, &stereo);
    enc->bit_rate = (int64_t)bitrate_kbps * 1000;
    enc->time_base = (AVRational){ 1, AUDIO_RATE };
    enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if ((ret = avcodec_open2(enc, codec, NULL)) < 0)
        goto fail;
    if ((ret = av_channel_layout_copy(&in_layout, &dec->ch_layout)) < 0)
        goto fail;
    ret = swr_alloc_set_opts2(&a->swr, &enc->ch_layout, enc->sample_fmt, enc->sample_rate,
                              &in_layout, dec->sample_fmt, dec->sample_rate, 0, NULL);
    if (ret < 0 || (ret = swr_init(a->swr)) < 0)
        goto fail;
    if (!(a->fifo = av_audio_fifo_alloc(enc->sample_fmt, enc->ch_layout.nb_channels,
                                        enc->frame_size * 4))) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    av_channel_layout_uninit(&in_layout);
    *out = a;
    return 0;
fail:
    av_channel_layout_uninit(&in_layout);
    lr_audio_free(&a);
    return ret;
}

void lr_audio_free(lr_audio **pa)
{
    lr_audio *a = *pa;

    if (!a)
        return;
    avcodec_free_context(&a->enc);
    swr_free(&a->swr);
    if (a->fifo)
        av_audio_fifo_free(a->fifo);
    av_packet_free(&a->pkt);
    av_freep(pa);
}

const AVCodecContext *lr_audio_encoder(const lr_audio *a)
{
    return a->enc;
}

static int drain(lr_audio *a, lr_sink_fn *sink, void *opaque, int stream)
{
    int ret;

    while ((ret = avcodec_receive_packet(a->enc, a->pkt)) >= 0) {
        if ((ret = sink(opaque, a->pkt, stream, a->enc->time_base)) < 0)
            return ret;
    }
    return ret == AVERROR(EAGAIN) || ret == AVERROR_EOF ? 0 : ret;
}

/* Whole encoder frames from the FIFO to the encoder. */
static int encode_fifo(lr_audio *a, lr_sink_fn *sink, void *opaque, int stream)
{
    AVCodecContext *enc = a->enc;
    int ret;

    while (av_audio_fifo_size(a->fifo) >= enc->frame_size) {
        AVFrame *f = av_frame_alloc();
        if (!f)
            return AVERROR(ENOMEM);
        f->nb_samples = enc->frame_size;
        f->format = enc->sample_fmt;
        f->sample_rate = enc->sample_rate;
        av_channel_layout_copy(&f->ch_layout, &enc->ch_layout);
        if ((ret = av_frame_get_buffer(f, 0)) < 0 ||
            (ret = av_audio_fifo_read(a->fifo, (void **)f->data, enc->frame_size)) < 0) {
            av_frame_free(&f);
            return ret;
        }
        f->pts = a->next_pts;
        a->next_pts += enc->frame_size;
        ret = avcodec_send_frame(enc, f);
        av_frame_free(&f);
        if (ret < 0 || (ret = drain(a, sink, opaque, stream)) < 0)
            return ret;
    }
    return 0;
}

int lr_audio_pad_to(lr_audio *a, int64_t end, AVRational tb, lr_sink_fn *sink, void *opaque,
                    int stream)
{
    AVCodecContext *enc = a->enc;
    int64_t target, n;
    uint8_t **silence = NULL;
    int ret;

    if (a->next_pts == AV_NOPTS_VALUE || end == AV_NOPTS_VALUE)
        return 0;
    /* To 100 ms past end: measured at the egress, the track otherwise still
     * ended up to 60 ms before the video (encoder priming, frame timing), and
     * a hole under 0.1 s keeps hls.js from ending a recording. next_pts is
     * what the encoder has; the FIFO's less than a frame reaches it only
     * once completed. */
    target = av_rescale_q_rnd(end, tb, enc->time_base, AV_ROUND_UP) + AUDIO_RATE / 10;
    if (target <= a->next_pts || target - a->next_pts > 3 * AUDIO_RATE)
        return 0;
    n = (target - a->next_pts + enc->frame_size - 1) / enc->frame_size * enc->frame_size -
        av_audio_fifo_size(a->fifo);
    if (n <= 0)
        return 0;
    if ((ret = av_samples_alloc_array_and_samples(&silence, NULL, enc->ch_layout.nb_channels,
                                                  (int)n, enc->sample_fmt, 0)) < 0)
        return ret;
    av_samples_set_silence(silence, 0, (int)n, enc->ch_layout.nb_channels, enc->sample_fmt);
    ret = av_audio_fifo_write(a->fifo, (void **)silence, (int)n);
    av_freep(&silence[0]);
    av_freep(&silence);
    if (ret < 0 || (ret = encode_fifo(a, sink, opaque, stream)) < 0)
        return ret;
    return (int)n;
}

int lr_audio_send(lr_audio *a, const AVFrame *src, lr_sink_fn *sink, void *opaque, int stream)
{
    AVCodecContext *enc = a->enc;
    int64_t in_pts, expected;
    uint8_t **out = NULL;
    int nb_out, ret = 0;

    if (!src) {
        if (a->next_pts == AV_NOPTS_VALUE)
            return 0;
        if ((ret = avcodec_send_frame(enc, NULL)) < 0)
            return ret;
        return drain(a, sink, opaque, stream);
    }
    in_pts = src->pts != AV_NOPTS_VALUE ? av_rescale_q(src->pts, a->in_tb, enc->time_base)
                                        : AV_NOPTS_VALUE;
    expected = a->next_pts + av_audio_fifo_size(a->fifo);
    /* Start, or resync after a gap larger than a tenth of a second. Never
     * back: overlapping input (spliced sources, AAC priming) keeps our own
     * clock, so the track's timestamps only rise. */
    if (in_pts != AV_NOPTS_VALUE &&
        (a->next_pts == AV_NOPTS_VALUE || in_pts - expected > AUDIO_RATE / 10)) {
        av_audio_fifo_reset(a->fifo);
        a->next_pts = in_pts;
    }
    if (a->next_pts == AV_NOPTS_VALUE)
        return 0;
    nb_out = swr_get_out_samples(a->swr, src->nb_samples);
    if ((ret = av_samples_alloc_array_and_samples(&out, NULL, enc->ch_layout.nb_channels,
                                                  nb_out, enc->sample_fmt, 0)) < 0)
        return ret;
    nb_out = swr_convert(a->swr, out, nb_out, (const uint8_t **)src->extended_data,
                         src->nb_samples);
    if (nb_out > 0)
        ret = av_audio_fifo_write(a->fifo, (void **)out, nb_out);
    av_freep(&out[0]);
    av_freep(&out);
    if (ret < 0 || nb_out < 0)
        return ret < 0 ? ret : nb_out;
    return encode_fifo(a, sink, opaque, stream);
}
