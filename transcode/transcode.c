/* transcode/transcode.c — the transcode role. Each lecture arriving on the
 * listener gets a pipeline thread: demux the link, decode video and audio
 * once, scale and encode every rung with libx264 (IDR frames forced on the
 * shared keyframe schedule), encode AAC once, and mux the whole ladder as one
 * MPEG-TS with a program per rung (service_name = rung name, the audio PID
 * shared) onto the link to the egress. Called through transcode.h. */
#include "transcode.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/avstring.h>
#include <libavutil/channel_layout.h>
#include <libavutil/mem.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>

#include "common/backoff.h"
#include "common/link.h"
#include "common/log.h"
#include "common/stop.h"
#include "common/ts_mux.h"
#include "common/workers.h"
#include "keyframes.h"
#include "ladder.h"

#define LINK_IDLE_MS   5000
#define AUDIO_RATE     48000
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 5000

typedef struct rung_enc {
    lr_rung            rung;
    AVCodecContext    *enc;
    struct SwsContext *sws;
    AVFrame           *frame;
    int                ost;     /* output stream index */
} rung_enc;

typedef struct pipeline pipeline;

struct lr_transcode {
    const lr_config  *conf;
    lr_stop           stop;
    lr_link_listener *listener;
    lr_workers        pipelines;
};

struct pipeline {
    lr_worker        worker;            /* first: the list of pipelines */
    lr_transcode    *t;
    char             lecture[LR_LECTURE_NAME_MAX + 1];
    AVIOContext     *in_pb;

    AVFormatContext *ifmt;
    int              vin, ain;          /* input stream indexes, -1 if none */
    AVCodecContext  *vdec, *adec;
    rung_enc         rungs[LR_MAX_RUNGS];
    int              nb_rungs;
    lr_kf_sched      kf;
    int              force_kf;          /* next frame is an IDR in every rung */

    AVCodecContext  *aenc;
    SwrContext      *swr;
    AVAudioFifo     *fifo;
    int64_t          audio_next_pts;    /* in 1/AUDIO_RATE */
    int              aost;

    AVFormatContext *oc;                /* NULL while the egress link is down */
    AVIOContext     *out_pb;
    lr_backoff       reconnect;         /* of the egress link */
    int64_t          dropped_pkts;
    AVPacket        *pkt;
};

static int open_decoder(pipeline *p, int idx, AVCodecContext **out)
{
    const AVStream *st = p->ifmt->streams[idx];
    const AVCodec *codec = avcodec_find_decoder(st->codecpar->codec_id);
    AVCodecContext *dec;
    int ret;

    if (!codec) {
        lr_error("lecture=%s no decoder for %s", p->lecture, avcodec_get_name(st->codecpar->codec_id));
        return AVERROR_DECODER_NOT_FOUND;
    }
    if (!(dec = avcodec_alloc_context3(codec)))
        return AVERROR(ENOMEM);
    if ((ret = avcodec_parameters_to_context(dec, st->codecpar)) < 0)
        goto fail;
    dec->pkt_timebase = st->time_base;
    dec->thread_count = 0;
    if ((ret = avcodec_open2(dec, codec, NULL)) < 0)
        goto fail;
    *out = dec;
    return 0;
fail:
    avcodec_free_context(&dec);
    return ret;
}

static int open_video_encoder(pipeline *p, rung_enc *re, AVRational fps)
{
    const lr_transcode_conf *tc = &p->t->conf->transcode;
    const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
    int64_t bitrate = (int64_t)re->rung.bitrate_kbps * 1000;
    AVCodecContext *enc;
    int ret;

    if (!codec) {
        lr_error("libx264 encoder not available in this FFmpeg build");
        return AVERROR_ENCODER_NOT_FOUND;
    }
    if (!(enc = avcodec_alloc_context3(codec)))
        return AVERROR(ENOMEM);
    enc->width = re->rung.width;
    enc->height = re->rung.height;
    enc->pix_fmt = AV_PIX_FMT_YUV420P;
    enc->sample_aspect_ratio = (AVRational){ 1, 1 };
    enc->time_base = p->ifmt->streams[p->vin]->time_base;
    enc->framerate = fps;
    /* Keyframes come only from the schedule: no natural GOP end, no scene cuts. */
    enc->gop_size = (int)FFMIN(100000, 10 * tc->segment_duration * av_q2d(fps) + 1);
    enc->bit_rate = bitrate;
    enc->rc_max_rate = bitrate;
    enc->rc_buffer_size = (int)FFMIN(INT32_MAX, 2 * bitrate);
    av_opt_set(enc->priv_data, "preset", tc->preset, 0);
    av_opt_set(enc->priv_data, "profile", re->rung.height > 480 ? "high" : "main", 0);
    av_opt_set(enc->priv_data, "forced-idr", "1", 0);
    av_opt_set(enc->priv_data, "x264-params", "scenecut=0:open-gop=0:rc-lookahead=10", 0);
    if ((ret = avcodec_open2(enc, codec, NULL)) < 0) {
        lr_error("lecture=%s rung %s: cannot open libx264: %s", p->lecture, re->rung.name,
                 av_err2str(ret));
        avcodec_free_context(&enc);
        return ret;
    }
    re->enc = enc;
    if (!(re->frame = av_frame_alloc()))
        return AVERROR(ENOMEM);
    return 0;
}

static int open_audio_encoder(pipeline *p)
{
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_AAC);
    AVChannelLayout stereo = AV_CHANNEL_LAYOUT_STEREO;
    AVCodecContext *enc;
    int ret;

    if (!(enc = avcodec_alloc_context3(codec)))
        return AVERROR(ENOMEM);
    enc->sample_fmt = AV_SAMPLE_FMT_FLTP;
    enc->sample_rate = AUDIO_RATE;
    av_channel_layout_copy(&enc->ch_layout, &stereo);
    enc->bit_rate = (int64_t)p->t->conf->transcode.audio_bitrate_kbps * 1000;
    enc->time_base = (AVRational){ 1, AUDIO_RATE };
    enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if ((ret = avcodec_open2(enc, codec, NULL)) < 0) {
        avcodec_free_context(&enc);
        return ret;
    }
    p->aenc = enc;
    ret = swr_alloc_set_opts2(&p->swr, &enc->ch_layout, enc->sample_fmt, enc->sample_rate,
                              &p->adec->ch_layout, p->adec->sample_fmt, p->adec->sample_rate,
                              0, NULL);
    if (ret < 0 || (ret = swr_init(p->swr)) < 0)
        return ret;
    if (!(p->fifo = av_audio_fifo_alloc(enc->sample_fmt, enc->ch_layout.nb_channels,
                                        enc->frame_size * 4)))
        return AVERROR(ENOMEM);
    p->audio_next_pts = AV_NOPTS_VALUE;
    return 0;
}

/* Opens demuxer, decoders, the ladder's encoders. */
static int setup(pipeline *p)
{
    const lr_config *c = p->t->conf;
    AVDictionary *opts = NULL;
    AVRational fps;
    const AVStream *vst;
    int ret;

    if (!(p->ifmt = avformat_alloc_context()))
        return AVERROR(ENOMEM);
    p->ifmt->pb = p->in_pb;
    p->ifmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    av_dict_set(&opts, "analyzeduration", "3000000", 0);
    av_dict_set(&opts, "probesize", "4000000", 0);
    ret = avformat_open_input(&p->ifmt, NULL, av_find_input_format("mpegts"), &opts);
    av_dict_free(&opts);
    if (ret < 0 || (ret = avformat_find_stream_info(p->ifmt, NULL)) < 0) {
        lr_error("lecture=%s transcode: the link carries no readable MPEG-TS: %s", p->lecture,
                 av_err2str(ret));
        return ret;
    }
    p->vin = av_find_best_stream(p->ifmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    p->ain = av_find_best_stream(p->ifmt, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
    if (p->vin < 0) {
        lr_error("lecture=%s transcode: the link carries no video", p->lecture);
        return AVERROR_STREAM_NOT_FOUND;
    }
    vst = p->ifmt->streams[p->vin];
    if (vst->codecpar->width < 2 || vst->codecpar->height < 2) {
        lr_error("lecture=%s transcode: video size unknown", p->lecture);
        return AVERROR_INVALIDDATA;
    }
    if ((ret = open_decoder(p, p->vin, &p->vdec)) < 0)
        return ret;
    if (p->ain >= 0 && (ret = open_decoder(p, p->ain, &p->adec)) < 0)
        return ret;
    if (p->ain < 0)
        lr_warn("lecture=%s transcode: the source has no audio; the ladder is video only",
                p->lecture);
    fps = vst->avg_frame_rate.num ? vst->avg_frame_rate : vst->r_frame_rate;
    if (!fps.num || !fps.den)
        fps = (AVRational){ 30, 1 };
    {
        lr_rung planned[LR_MAX_RUNGS];
        char desc[256] = "";
        p->nb_rungs = lr_ladder_plan(c->transcode.rungs, c->transcode.nb_rungs,
                                     vst->codecpar->width, vst->codecpar->height, planned,
                                     LR_MAX_RUNGS);
        if (p->nb_rungs < 0)
            return p->nb_rungs;
        for (int i = 0; i < p->nb_rungs; i++) {
            p->rungs[i].rung = planned[i];
            if ((ret = open_video_encoder(p, &p->rungs[i], fps)) < 0)
                return ret;
            av_strlcatf(desc, sizeof(desc), "%s%s=%dx%d@%dk", i ? " " : "", planned[i].name,
                        planned[i].width, planned[i].height, planned[i].bitrate_kbps);
        }
        lr_info("lecture=%s source %dx%d %.2f fps %s%s; ladder: %s", p->lecture,
                vst->codecpar->width, vst->codecpar->height, av_q2d(fps),
                avcodec_get_name(vst->codecpar->codec_id), p->ain >= 0 ? " + audio" : "", desc);
    }
    if (p->adec && (ret = open_audio_encoder(p)) < 0) {
        lr_error("lecture=%s cannot open the AAC encoder: %s", p->lecture, av_err2str(ret));
        return ret;
    }
    lr_kf_sched_init(&p->kf, av_rescale_q((int64_t)(c->transcode.segment_duration * 1000000),
                                          AV_TIME_BASE_Q, vst->time_base));
    if (!(p->pkt = av_packet_alloc()))
        return AVERROR(ENOMEM);
    return 0;
}

static void close_output(pipeline *p)
{
    if (p->oc && p->out_pb)
        av_write_trailer(p->oc);
    lr_ts_mux_free(&p->oc);
    lr_link_avio_close(&p->out_pb);
}

/* Connects the egress link and starts the ladder's TS: one program per rung. */
static int open_output(pipeline *p)
{
    const lr_config *c = p->t->conf;
    lr_link_opts lo = { c->link.latency_ms, c->link.passphrase };
    AVStream *ast = NULL;
    char sid[128];
    int sock, ret;

    if ((ret = lr_streamid_format(sid, sizeof(sid), p->lecture, "publish")) < 0)
        return ret;
    if ((ret = lr_link_connect(c->transcode.link, sid, &lo, &p->t->stop, &sock)) < 0)
        return ret;
    if ((ret = lr_link_avio_open(sock, 1, &p->t->stop, 0, &p->out_pb)) < 0)
        return ret;
    if ((ret = lr_ts_mux_alloc(p->out_pb, &p->oc)) < 0)
        goto fail;
    for (int i = 0; i < p->nb_rungs; i++) {
        AVStream *st = avformat_new_stream(p->oc, NULL);
        if (!st || (ret = avcodec_parameters_from_context(st->codecpar, p->rungs[i].enc)) < 0) {
            ret = st ? ret : AVERROR(ENOMEM);
            goto fail;
        }
        st->time_base = (AVRational){ 1, 90000 };
        p->rungs[i].ost = st->index;
    }
    if (p->aenc) {
        if (!(ast = avformat_new_stream(p->oc, NULL)) ||
            (ret = avcodec_parameters_from_context(ast->codecpar, p->aenc)) < 0) {
            ret = ast ? ret : AVERROR(ENOMEM);
            goto fail;
        }
        ast->time_base = (AVRational){ 1, 90000 };
        p->aost = ast->index;
    }
    for (int i = 0; i < p->nb_rungs; i++) {
        AVProgram *prog = av_new_program(p->oc, i + 1);
        if (!prog) {
            ret = AVERROR(ENOMEM);
            goto fail;
        }
        av_dict_set(&prog->metadata, "service_name", p->rungs[i].rung.name, 0);
        av_dict_set(&prog->metadata, "service_provider", "lecture-relay", 0);
        av_program_add_stream_index(p->oc, i + 1, p->rungs[i].ost);
        if (ast)
            av_program_add_stream_index(p->oc, i + 1, ast->index);
    }
    if ((ret = lr_ts_mux_begin(p->oc)) < 0)
        goto fail;
    p->force_kf = 1;  /* the egress can only start at a keyframe */
    lr_info("lecture=%s ladder link up to %s (%d rungs)", p->lecture, c->transcode.link,
            p->nb_rungs);
    return 0;
fail:
    lr_error("lecture=%s cannot start the ladder link: %s", p->lecture, av_err2str(ret));
    close_output(p);
    return ret;
}

/* Keeps the egress link up without stalling the encoders: while it is down,
 * encoded packets are dropped (counted) and reconnects back off. */
static void ensure_output(pipeline *p)
{
    int ret;

    if (p->oc || lr_now_ns() < p->reconnect.retry_at)
        return;
    ret = open_output(p);
    if (ret >= 0)
        lr_backoff_succeeded(&p->reconnect);
    else
        lr_backoff_failed(&p->reconnect, lr_now_ns());
}

static int write_packet(pipeline *p, AVPacket *pkt, int ost, AVRational tb)
{
    int ret;

    if (!p->oc) {
        p->dropped_pkts++;
        av_packet_unref(pkt);
        return 0;
    }
    pkt->stream_index = ost;
    av_packet_rescale_ts(pkt, tb, p->oc->streams[ost]->time_base);
    ret = av_interleaved_write_frame(p->oc, pkt);
    if (ret < 0) {
        if (ret == AVERROR_EXIT)
            return ret;
        lr_warn("lecture=%s ladder link broke: %s; reconnecting", p->lecture, av_err2str(ret));
        close_output(p);
        p->reconnect.retry_at = lr_now_ns() + BACKOFF_MIN_MS * 1000000LL;
    }
    return 0;
}

static int drain_encoder(pipeline *p, AVCodecContext *enc, int ost)
{
    int ret;

    while ((ret = avcodec_receive_packet(enc, p->pkt)) >= 0) {
        if ((ret = write_packet(p, p->pkt, ost, enc->time_base)) < 0)
            return ret;
    }
    return ret == AVERROR(EAGAIN) || ret == AVERROR_EOF ? 0 : ret;
}

static int encode_video(pipeline *p, AVFrame *src)
{
    int64_t pts = src->best_effort_timestamp != AV_NOPTS_VALUE ? src->best_effort_timestamp
                                                                : src->pts;
    int key, ret;

    if (pts == AV_NOPTS_VALUE)
        return 0;
    key = lr_kf_sched_due(&p->kf, pts) || p->force_kf;
    p->force_kf = 0;
    for (int i = 0; i < p->nb_rungs; i++) {
        rung_enc *re = &p->rungs[i];
        AVFrame *f = re->frame;

        av_frame_unref(f);
        f->format = re->enc->pix_fmt;
        f->width = re->enc->width;
        f->height = re->enc->height;
        if ((ret = av_frame_get_buffer(f, 0)) < 0)
            return ret;
        re->sws = sws_getCachedContext(re->sws, src->width, src->height, src->format,
                                       f->width, f->height, f->format, SWS_BICUBIC,
                                       NULL, NULL, NULL);
        if (!re->sws)
            return AVERROR(EINVAL);
        sws_scale(re->sws, (const uint8_t *const *)src->data, src->linesize, 0, src->height,
                  f->data, f->linesize);
        f->pts = pts;
        f->pict_type = key ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
        if ((ret = avcodec_send_frame(re->enc, f)) < 0)
            return ret;
        if ((ret = drain_encoder(p, re->enc, re->ost)) < 0)
            return ret;
    }
    return 0;
}

static int encode_audio(pipeline *p, AVFrame *src)
{
    AVCodecContext *enc = p->aenc;
    int64_t in_pts = src->pts != AV_NOPTS_VALUE
                   ? av_rescale_q(src->pts, p->adec->pkt_timebase, enc->time_base)
                   : AV_NOPTS_VALUE;
    int64_t expected = p->audio_next_pts + av_audio_fifo_size(p->fifo);
    uint8_t **out = NULL;
    int nb_out, ret;

    /* Start, or resync after a gap larger than a tenth of a second. */
    if (in_pts != AV_NOPTS_VALUE &&
        (p->audio_next_pts == AV_NOPTS_VALUE || FFABS(in_pts - expected) > AUDIO_RATE / 10)) {
        av_audio_fifo_reset(p->fifo);
        p->audio_next_pts = in_pts;
    }
    if (p->audio_next_pts == AV_NOPTS_VALUE)
        return 0;
    nb_out = swr_get_out_samples(p->swr, src->nb_samples);
    if ((ret = av_samples_alloc_array_and_samples(&out, NULL, enc->ch_layout.nb_channels,
                                                  nb_out, enc->sample_fmt, 0)) < 0)
        return ret;
    nb_out = swr_convert(p->swr, out, nb_out, (const uint8_t **)src->extended_data,
                         src->nb_samples);
    if (nb_out > 0)
        ret = av_audio_fifo_write(p->fifo, (void **)out, nb_out);
    av_freep(&out[0]);
    av_freep(&out);
    if (ret < 0 || nb_out < 0)
        return ret < 0 ? ret : nb_out;

    while (av_audio_fifo_size(p->fifo) >= enc->frame_size) {
        AVFrame *f = av_frame_alloc();
        if (!f)
            return AVERROR(ENOMEM);
        f->nb_samples = enc->frame_size;
        f->format = enc->sample_fmt;
        f->sample_rate = enc->sample_rate;
        av_channel_layout_copy(&f->ch_layout, &enc->ch_layout);
        if ((ret = av_frame_get_buffer(f, 0)) < 0 ||
            (ret = av_audio_fifo_read(p->fifo, (void **)f->data, enc->frame_size)) < 0) {
            av_frame_free(&f);
            return ret;
        }
        f->pts = p->audio_next_pts;
        p->audio_next_pts += enc->frame_size;
        ret = avcodec_send_frame(enc, f);
        av_frame_free(&f);
        if (ret < 0 || (ret = drain_encoder(p, enc, p->aost)) < 0)
            return ret;
    }
    return 0;
}

static int decode_packet(pipeline *p, AVCodecContext *dec, AVPacket *pkt, AVFrame *frame)
{
    int ret = avcodec_send_packet(dec, pkt);

    if (ret < 0 && ret != AVERROR(EAGAIN)) {
        lr_debug("lecture=%s decode error: %s", p->lecture, av_err2str(ret));
        return 0;  /* a damaged packet costs a frame, not the lecture */
    }
    while ((ret = avcodec_receive_frame(dec, frame)) >= 0) {
        ret = dec == p->vdec ? encode_video(p, frame) : encode_audio(p, frame);
        av_frame_unref(frame);
        if (ret < 0)
            return ret;
    }
    /* A threaded decoder reports a damaged frame here, not at send. */
    if (ret != AVERROR(EAGAIN) && ret != AVERROR_EOF)
        lr_debug("lecture=%s decode error: %s", p->lecture, av_err2str(ret));
    return 0;
}

static void pipeline_cleanup(pipeline *p)
{
    close_output(p);
    for (int i = 0; i < p->nb_rungs; i++) {
        avcodec_free_context(&p->rungs[i].enc);
        sws_freeContext(p->rungs[i].sws);
        av_frame_free(&p->rungs[i].frame);
    }
    avcodec_free_context(&p->aenc);
    avcodec_free_context(&p->vdec);
    avcodec_free_context(&p->adec);
    swr_free(&p->swr);
    if (p->fifo)
        av_audio_fifo_free(p->fifo);
    p->fifo = NULL;
    av_packet_free(&p->pkt);
    avformat_close_input(&p->ifmt);
    lr_link_avio_close(&p->in_pb);
}

static void *pipeline_thread(void *arg)
{
    pipeline *p = arg;
    AVPacket *in = av_packet_alloc();
    AVFrame *frame = av_frame_alloc();
    int ret = in && frame ? setup(p) : AVERROR(ENOMEM);

    while (ret >= 0 && !lr_stop_requested(&p->t->stop)) {
        ensure_output(p);
        if ((ret = lr_link_read_packet(p->ifmt, in)) < 0)
            break;
        if (in->stream_index == p->vin)
            ret = decode_packet(p, p->vdec, in, frame);
        else if (in->stream_index == p->ain && p->adec)
            ret = decode_packet(p, p->adec, in, frame);
        av_packet_unref(in);
    }
    if (ret < 0 && ret != AVERROR_EXIT)
        lr_info("lecture=%s transcode pipeline ended: %s (%" PRId64 " packets dropped while "
                "the ladder link was down)", p->lecture, av_err2str(ret), p->dropped_pkts);
    av_packet_free(&in);
    av_frame_free(&frame);
    pipeline_cleanup(p);
    lr_worker_done(&p->worker);
    return NULL;
}

static int admit(void *opaque, const lr_streamid *sid, const char *peer, lr_link_admission *ad)
{
    lr_transcode *t = opaque;
    int busy = 0;

    if (strcmp(sid->mode, "publish")) {
        ad->reason = "stream id mode must be publish";
        return AVERROR(EINVAL);
    }
    pthread_mutex_lock(&t->pipelines.lock);
    for (lr_worker *w = t->pipelines.head; w; w = w->next)
        busy |= !atomic_load(&w->done) && !strcmp(((pipeline *)w)->lecture, sid->resource);
    pthread_mutex_unlock(&t->pipelines.lock);
    if (busy) {
        ad->reason = "lecture already has a live publisher";
        return AVERROR(EBUSY);
    }
    return 0;
}

static int accept_link(void *opaque, int sock, const lr_streamid *sid, const char *peer)
{
    lr_transcode *t = opaque;
    pipeline *p;
    int ret;

    lr_workers_reap(&t->pipelines, 0);
    if (!(p = av_mallocz(sizeof(*p))))
        return AVERROR(ENOMEM);
    p->t = t;
    p->vin = p->ain = -1;
    lr_backoff_init(&p->reconnect, BACKOFF_MIN_MS, BACKOFF_MAX_MS, 0);
    av_strlcpy(p->lecture, sid->resource, sizeof(p->lecture));
    if ((ret = lr_link_avio_open(sock, 0, &t->stop, LINK_IDLE_MS, &p->in_pb)) < 0) {
        av_free(p);
        return 0;  /* the socket is already closed */
    }
    if ((ret = lr_workers_start(&t->pipelines, &p->worker, pipeline_thread)) < 0) {
        lr_link_avio_close(&p->in_pb);
        av_free(p);
    }
    return 0;  /* the socket is the pipeline's, or closed */
}

int lr_transcode_start(const lr_config *c, lr_transcode **out)
{
    lr_link_opts lo = { c->link.latency_ms, c->link.passphrase };
    lr_transcode *t;
    int ret;

    if (!(t = av_mallocz(sizeof(*t))))
        return AVERROR(ENOMEM);
    t->conf = c;
    if ((ret = lr_stop_init(&t->stop)) < 0) {
        av_free(t);
        return ret;
    }
    lr_workers_init(&t->pipelines);
    if ((ret = lr_link_listen(c->transcode.listen, &lo, "transcode", admit, accept_link, t,
                              &t->listener)) < 0) {
        lr_transcode_stop(&t);
        return ret;
    }
    *out = t;
    return 0;
}

void lr_transcode_stop(lr_transcode **pt)
{
    lr_transcode *t = *pt;

    if (!t)
        return;
    lr_stop_request(&t->stop);
    lr_link_listener_free(&t->listener);
    lr_workers_destroy(&t->pipelines);
    lr_stop_destroy(&t->stop);
    av_freep(pt);
}
