/* transcode/pipeline.c — see pipeline.h. The calling thread decodes and
 * encodes the audio; each rung has its own thread (scale + libx264), fed
 * through a bounded queue, so scaling and encoding of the rungs run in
 * parallel while decoding goes on. */
#include "pipeline.h"

#include <math.h>

#include <stdatomic.h>
#include <unistd.h>

#include <libavutil/avstring.h>
#include <libavutil/mem.h>

#include "common/annexb.h"
#include "common/log.h"
#include "common/stop.h"
#include "common/ts_wall.h"
#include "audio.h"
#include "cpu.h"
#include "encoder.h"
#include "keyframes.h"
#include "rung.h"

#define RUNG_QUEUE_FRAMES 8
#define IDR_RING          16  /* passed-through IDRs not yet decoded */

struct lr_pipeline {
    const lr_transcode_conf *tc;
    char             lecture[LR_LECTURE_NAME_MAX + 1];
    AVFormatContext *ifmt;
    int              vin, ain;          /* input stream indexes, -1 if none */
    int              live;              /* see lr_pipeline_open */
    AVCodecContext  *vdec, *adec;
    lr_rung          rungs[LR_MAX_RUNGS];
    lr_rung_worker  *workers[LR_MAX_RUNGS];
    int              nb_rungs;
    lr_audio        *audio;
    lr_kf_sched      kf;
    AVRational       kf_tb;             /* the schedule's time base */
    atomic_int       force_kf;          /* next frame is an IDR in every rung */
    /* passthrough (tc->passthrough): rung 0 is the source's own video, and
     * every other rung's IDRs go where the source has its IDRs. If the
     * source changes size, rung 0 is encoded from that IDR on (at its
     * planned size); the IDRs still follow the source's. */
    int              follow_idrs;       /* passthrough was chosen: keyframes are the source's */
    atomic_int       first_enc;         /* 1 while rung 0 is the source: it has no encoder
                                           (read by the fanout's threads too) */
    AVCodecParserContext *sps_parser;   /* the size in the source's IDRs */
    AVCodecContext  *sps_ctx;
    int64_t          switch_pts;        /* the IDR rung 0 is encoded from, or NOPTS */
    int64_t          pass_last_dts;     /* of the last packet passed through */
    int64_t          enc0_last_dts;     /* rung 0's thread only, once encoded */
    int64_t          idr_pts[IDR_RING]; /* the source's IDRs, a FIFO */
    int              idr_head, idr_count;
    int64_t          last_idr_pts;
    int              warned_gop;
    AVPacket        *pass_pkt;          /* what goes to the sink (which unrefs it) */
    lr_sink_fn      *sink;
    void            *opaque;
    AVFrame         *frame;
    int              last_w, last_h;    /* of the decoded video, for the log */
    int64_t          video_end;         /* of the last video frame, in its decoder's tb */
    AVRational       src_fps;           /* nominal, for the rungs' frame-rate caps */
    int              finished;

    /* where the CPU goes (cpu.h); threads are named lrd<id>: and lre<id>: */
    char             dec_name[16], enc_name[16];
    int64_t          start_ns, frames_in, audio_ns, audio_sink_ns;
    _Atomic int64_t  video_in, last_in_ns;   /* lr_pipeline_get_stats */
    atomic_int       in_send;                /* inside lr_pipeline_send_packet: decoding,
                                                or waiting for a rung's full queue */
};

static atomic_int pipeline_ids;

/* One frame of the source's nominal rate in its decoder's time base (0 if
 * unknown): the duration of a frame that came without one. */
static int64_t frame_ticks(const lr_pipeline *p)
{
    AVRational fr = p->ifmt->streams[p->vin]->avg_frame_rate;

    if (fr.num <= 0 || fr.den <= 0)
        return 0;
    return av_rescale_q(1, av_inv_q(fr), p->vdec->pkt_timebase);
}

static int open_decoder(lr_pipeline *p, int idx, AVCodecContext **out)
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
    if (p->live)
        dec->thread_type = FF_THREAD_SLICE;
    if ((ret = avcodec_open2(dec, codec, NULL)) < 0)
        goto fail;
    *out = dec;
    return 0;
fail:
    avcodec_free_context(&dec);
    return ret;
}

/* x264 threads of rung i: the machine's cores shared out by each rung's share
 * of the ladder's pixels, rounded up. The rungs already run in parallel, so
 * few threads suffice (x264's own choice, 3 threads + lookahead per rung,
 * measured 27 frames/s against 42 with one each), but a top rung with more
 * than half the pixels on one thread is the critical path: on 2 cores the
 * 1080p rung (57 %) with 2 threads and the others with 1 measured 44.7
 * against 41.2 frames/s with one each (bench/transcode --rate-control abr,
 * 3 runs each; it costs that rung one frame of latency). */
static int x264_threads(const lr_pipeline *p, int i)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    double all = 0, mine = (double)p->rungs[i].width * p->rungs[i].height;

    for (int k = 0; k < p->nb_rungs; k++)
        all += (double)p->rungs[k].width * p->rungs[k].height;
    if (cores < 1 || all <= 0)
        return 1;
    return FFMAX(1, (int)ceil(cores * mine / all - 1e-9));
}

/* Why the source can't be the top rung as is, or NULL if it can: an H.264
 * source (8-bit 4:2:0, what every player takes) the size of the top rung
 * planned for it, at a frame rate within the rung's cap. */
static const char *passthrough_refusal(const lr_pipeline *p, AVRational fps)
{
    const AVCodecParameters *par = p->ifmt->streams[p->vin]->codecpar;
    const lr_rung *top = &p->rungs[0];

    if (par->codec_id != AV_CODEC_ID_H264)
        return "the source is not H.264";
    if (par->format != AV_PIX_FMT_YUV420P && par->format != AV_PIX_FMT_YUVJ420P)
        return "the source is not 8-bit 4:2:0";
    if (par->extradata_size && par->extradata[0] == 1)  /* avcC: from a file, not a link */
        return "the source is not in Annex B (MPEG-TS) form";
    if (top->width != par->width || top->height != par->height)
        return "no rung has the source's size";
    if (top->fps > 0 && av_q2d(fps) > top->fps + 0.01)
        return "the top rung caps the frame rate below the source's";
    return NULL;
}

/* Rung 0 encoded after passing the source through: its first packets may
 * come with a DTS at or below the last one passed through (the encoder's
 * B-frame delay against the source's), which no muxer takes. They are
 * raised to just above it; the encoder's delay is a few frames, so a DTS
 * stays at or below its PTS. */
static int after_passthrough_sink(void *opaque, AVPacket *pkt, int stream, AVRational tb)
{
    lr_pipeline *p = opaque;

    if (pkt->dts != AV_NOPTS_VALUE) {
        if (pkt->dts <= p->enc0_last_dts)
            pkt->dts = p->enc0_last_dts + 1;
        p->enc0_last_dts = pkt->dts;
    }
    return p->sink(p->opaque, pkt, stream, tb);
}

/* Opens rung i's encoder and starts its thread. The calling thread wears
 * the encoders' name meanwhile, so the codec threads libx264 starts carry
 * it. Adds "name=WxH@fps/kbps" to desc. */
static int start_rung(lr_pipeline *p, int i, char *desc, size_t size)
{
    const AVStream *vst = p->ifmt->streams[p->vin];
    const lr_rung *r = &p->rungs[i];
    AVRational fps = lr_ladder_rung_fps(r, p->src_fps);
    lr_venc_params vp = { p->tc, *r, vst->time_base, fps, x264_threads(p, i) };
    int switched = p->switch_pts != AV_NOPTS_VALUE && i == 0;
    char name[32];
    int ret;

    snprintf(name, sizeof(name), "%s%d", p->enc_name, i);
    lr_cpu_name_thread(p->enc_name);
    ret = lr_rung_start(&vp, i, RUNG_QUEUE_FRAMES, switched ? after_passthrough_sink : p->sink,
                        switched ? (void *)p : p->opaque, name, &p->workers[i]);
    lr_cpu_name_thread(p->dec_name);
    if (ret >= 0)
        av_strlcatf(desc, size, "%s%s=%dx%d@%.4g/%dk", *desc ? " " : "", r->name, r->width,
                    r->height, av_q2d(fps), r->bitrate_kbps);
    return ret;
}

/* Opens every rung's encoder and starts its thread. */
static int open_rungs(lr_pipeline *p)
{
    char desc[320] = "";
    int ret = 0;

    if (p->first_enc)
        av_strlcatf(desc, sizeof(desc), "%s=%dx%d source (passthrough)", p->rungs[0].name,
                    p->rungs[0].width, p->rungs[0].height);
    for (int i = p->first_enc; i < p->nb_rungs && ret >= 0; i++)
        ret = start_rung(p, i, desc, sizeof(desc));
    if (ret >= 0)
        lr_info("lecture=%s ladder (%s, x264 %s): %s%s", p->lecture,
                !strcmp(p->tc->rate_control, "cbr")   ? "CBR"
                : !strcmp(p->tc->rate_control, "abr") ? "ABR" : "capped CRF", p->tc->preset,
                desc, p->tc->audio_only && p->ain >= 0 ? " + audio only" : "");
    return ret;
}

int lr_pipeline_open(const lr_transcode_conf *tc, const char *lecture, AVFormatContext *ifmt,
                     int live, lr_sink_fn *sink, void *opaque, lr_pipeline **out)
{
    lr_rung planned[LR_MAX_RUNGS];
    const AVStream *vst;
    AVRational fps;
    lr_pipeline *p;
    int id, ret;

    if (!(p = av_mallocz(sizeof(*p))))
        return AVERROR(ENOMEM);
    p->tc = tc;
    p->ifmt = ifmt;
    p->live = live;
    p->video_end = AV_NOPTS_VALUE;
    p->sink = sink;
    p->opaque = opaque;
    p->start_ns = lr_now_ns();
    av_strlcpy(p->lecture, lecture, sizeof(p->lecture));
    id = atomic_fetch_add(&pipeline_ids, 1) + 1;
    snprintf(p->dec_name, sizeof(p->dec_name), "lrd%d:", id);
    snprintf(p->enc_name, sizeof(p->enc_name), "lre%d:", id);
    lr_cpu_name_thread(p->dec_name);
    if (!(p->frame = av_frame_alloc())) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    p->vin = av_find_best_stream(ifmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    p->ain = av_find_best_stream(ifmt, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
    if (p->vin < 0) {
        lr_error("lecture=%s transcode: the source carries no video", p->lecture);
        ret = AVERROR_STREAM_NOT_FOUND;
        goto fail;
    }
    vst = ifmt->streams[p->vin];
    if (vst->codecpar->width < 2 || vst->codecpar->height < 2) {
        lr_error("lecture=%s transcode: video size unknown", p->lecture);
        ret = AVERROR_INVALIDDATA;
        goto fail;
    }
    if ((ret = open_decoder(p, p->vin, &p->vdec)) < 0)
        goto fail;
    if (p->ain >= 0 && (ret = open_decoder(p, p->ain, &p->adec)) < 0)
        goto fail;
    if (p->ain < 0)
        lr_warn("lecture=%s transcode: the source has no audio; the ladder is video only",
                p->lecture);
    fps = vst->avg_frame_rate.num ? vst->avg_frame_rate : vst->r_frame_rate;
    if (!fps.num || !fps.den || av_q2d(fps) > 240)
        fps = (AVRational){ 30, 1 };
    p->last_w = vst->codecpar->width;
    p->last_h = vst->codecpar->height;
    lr_info("lecture=%s source %dx%d %.4g fps %s%s", p->lecture, p->last_w, p->last_h,
            av_q2d(fps), avcodec_get_name(vst->codecpar->codec_id),
            p->ain >= 0 ? " + audio" : "");
    if ((ret = p->nb_rungs = lr_ladder_plan(tc->rungs, tc->nb_rungs, p->last_w, p->last_h,
                                            planned, LR_MAX_RUNGS)) < 0)
        goto fail;
    memcpy(p->rungs, planned, sizeof(planned[0]) * p->nb_rungs);
    p->src_fps = fps;
    p->switch_pts = p->pass_last_dts = AV_NOPTS_VALUE;
    if (tc->passthrough) {
        const char *why = passthrough_refusal(p, fps);
        p->first_enc = p->follow_idrs = !why;
        if (why)
            lr_warn("lecture=%s passthrough not used: %s; every rung is encoded", p->lecture,
                    why);
        else
            lr_info("lecture=%s rung %s is the source itself (passthrough); every rung's "
                    "keyframes follow the source's IDRs", p->lecture, p->rungs[0].name);
    }
    p->last_idr_pts = AV_NOPTS_VALUE;
    if (p->first_enc &&
        (!(p->pass_pkt = av_packet_alloc()) || !(p->sps_parser = av_parser_init(AV_CODEC_ID_H264)) ||
         !(p->sps_ctx = avcodec_alloc_context3(NULL)))) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    if (p->sps_parser)
        p->sps_parser->flags |= PARSER_FLAG_COMPLETE_FRAMES;
    if ((ret = open_rungs(p)) < 0)
        goto fail;
    if (p->adec && (ret = lr_audio_open(p->adec, tc->audio_bitrate_kbps, &p->audio)) < 0) {
        lr_error("lecture=%s cannot open the AAC encoder: %s", p->lecture, av_err2str(ret));
        goto fail;
    }
    /* Live, the schedule counts in 1/90000 on the wall-clock axis
     * (common/ts_wall.h), where every egress node numbers segments by it. */
    p->kf_tb = live ? (AVRational){ 1, 90000 } : vst->time_base;
    lr_kf_sched_init(&p->kf, av_rescale_q((int64_t)(tc->segment_duration * 1000000),
                                          AV_TIME_BASE_Q, p->kf_tb));
    atomic_store(&p->force_kf, 0);
    *out = p;
    return 0;
fail:
    lr_pipeline_free(&p);
    return ret;
}

/* Whether the decoded frame at pts was one of the source's IDRs (frames
 * come out in presentation order; an IDR whose frame never came is passed). */
static int source_idr(lr_pipeline *p, int64_t pts)
{
    while (p->idr_count && p->idr_pts[p->idr_head] <= pts) {
        int64_t idr = p->idr_pts[p->idr_head];
        p->idr_head = (p->idr_head + 1) % IDR_RING;
        p->idr_count--;
        if (idr == pts)
            return 1;
    }
    return 0;
}

/* A frame's timestamp on the keyframe schedule's axis. */
static int64_t schedule_ts(const lr_pipeline *p, int64_t pts)
{
    const AVRational tb = p->ifmt->streams[p->vin]->time_base;

    return p->live ? lr_ts_wall(av_rescale_q(pts, tb, p->kf_tb)) : pts;
}

static int send_video(lr_pipeline *p, AVFrame *src)
{
    int64_t pts = src->best_effort_timestamp != AV_NOPTS_VALUE ? src->best_effort_timestamp
                                                                : src->pts;
    int key, ret;

    if (pts == AV_NOPTS_VALUE)
        return 0;
    if (src->width != p->last_w || src->height != p->last_h) {
        lr_info("lecture=%s the source changed size %dx%d -> %dx%d; the ladder keeps its "
                "sizes", p->lecture, p->last_w, p->last_h, src->width, src->height);
        p->last_w = src->width;
        p->last_h = src->height;
    }
    p->video_end = pts + (src->pkt_duration > 0 ? src->pkt_duration : frame_ticks(p));
    key = p->follow_idrs ? source_idr(p, pts)
                         : lr_kf_sched_due(&p->kf, schedule_ts(p, pts)) |
                               atomic_exchange(&p->force_kf, 0);
    if (p->first_enc && p->switch_pts != AV_NOPTS_VALUE && pts >= p->switch_pts) {
        /* the first picture passthrough left: rung 0's encoder starts on it,
         * an IDR in every rung (the source's, unless that one was lost) */
        char desc[64] = "";
        if ((ret = start_rung(p, 0, desc, sizeof(desc))) < 0)
            return ret;
        p->first_enc = 0;
        key = 1;
        lr_info("lecture=%s rung %s encoded from here (%s)", p->lecture, p->rungs[0].name, desc);
    }
    src->pts = pts;
    src->pict_type = key ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
    p->frames_in++;
    for (int i = p->first_enc; i < p->nb_rungs; i++) {
        AVFrame *ref = i + 1 < p->nb_rungs ? av_frame_clone(src) : src;
        if (!ref)
            return AVERROR(ENOMEM);
        ret = lr_rung_send(p->workers[i], ref);
        if (ref != src)
            av_frame_free(&ref);
        if (ret < 0)
            return ret;
    }
    return 0;
}

/* Counts the audio stage's own CPU and the sink's share of it. */
static int audio_sink(void *opaque, AVPacket *pkt, int stream, AVRational tb)
{
    lr_pipeline *p = opaque;
    int64_t t0 = lr_cpu_thread_ns();
    int ret = p->sink(p->opaque, pkt, stream, tb);

    p->audio_sink_ns += lr_cpu_thread_ns() - t0;
    return ret;
}

static int send_audio(lr_pipeline *p, const AVFrame *f)
{
    int64_t t0 = lr_cpu_thread_ns();
    int ret = lr_audio_send(p->audio, f, audio_sink, p, p->nb_rungs);

    p->audio_ns += lr_cpu_thread_ns() - t0;
    return ret;
}

static int decode(lr_pipeline *p, AVCodecContext *dec, const AVPacket *pkt)
{
    int ret = avcodec_send_packet(dec, pkt);

    if (ret < 0 && ret != AVERROR(EAGAIN) && ret != AVERROR_EOF) {
        lr_debug("lecture=%s decode error: %s", p->lecture, av_err2str(ret));
        return 0;  /* a damaged packet costs a frame, not the lecture */
    }
    while ((ret = avcodec_receive_frame(dec, p->frame)) >= 0) {
        ret = dec == p->vdec ? send_video(p, p->frame) : send_audio(p, p->frame);
        av_frame_unref(p->frame);
        if (ret < 0)
            return ret;
    }
    /* A threaded decoder reports a damaged frame here, not at send. */
    if (ret != AVERROR(EAGAIN) && ret != AVERROR_EOF)
        lr_debug("lecture=%s decode error: %s", p->lecture, av_err2str(ret));
    return 0;
}

/* Whether the source's IDR in pkt is of another size than rung 0 (its SPS,
 * read by libavcodec's H.264 parser): passthrough can't go on, since the
 * egress and the players have rung 0's first size. Logs what happens. */
static int source_resized(lr_pipeline *p, const AVPacket *pkt)
{
    uint8_t *data;
    int size, w, h;

    av_parser_parse2(p->sps_parser, p->sps_ctx, &data, &size, pkt->data, pkt->size, pkt->pts,
                     pkt->dts, pkt->pos);
    w = p->sps_parser->width;
    h = p->sps_parser->height;
    if (w <= 0 || h <= 0 || (w == p->rungs[0].width && h == p->rungs[0].height))
        return 0;
    lr_warn("lecture=%s the source changed size %dx%d -> %dx%d: rung %s can't be the source "
            "passed through any more, so from this keyframe on it is encoded at %dx%d; the "
            "ladder keeps its sizes", p->lecture, p->rungs[0].width, p->rungs[0].height, w, h,
            p->rungs[0].name, p->rungs[0].width, p->rungs[0].height);
    return 1;
}

/* Passthrough: the source's video packet goes out as rung 0, flagged key
 * exactly when it is an IDR (the egress cuts segments there), and its IDR
 * becomes every encoded rung's. */
static int pass_through(lr_pipeline *p, const AVPacket *pkt)
{
    const AVStream *vst = p->ifmt->streams[p->vin];
    int idr = lr_annexb_starts_gop(AV_CODEC_ID_H264, pkt->data, pkt->size);
    int64_t pts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
    AVPacket *out = p->pass_pkt;
    int ret;

    if (idr && p->first_enc && p->switch_pts == AV_NOPTS_VALUE && source_resized(p, pkt)) {
        p->switch_pts = pts != AV_NOPTS_VALUE ? pts : INT64_MIN;
        p->enc0_last_dts = p->pass_last_dts;
    }
    if (idr && pts != AV_NOPTS_VALUE) {
        double gap = p->last_idr_pts == AV_NOPTS_VALUE ? 0
                   : (pts - p->last_idr_pts) * av_q2d(vst->time_base);
        if (gap > 1.5 * p->tc->segment_duration && !p->warned_gop) {
            p->warned_gop = 1;
            lr_warn("lecture=%s the source's keyframes are %.1f s apart: with passthrough the "
                    "segments follow them, longer than segment_duration %.1f s (set the "
                    "encoder's keyframe interval to %g s, or turn passthrough off)",
                    p->lecture, gap, p->tc->segment_duration, p->tc->segment_duration);
        }
        p->last_idr_pts = pts;
        if (p->idr_count == IDR_RING) {  /* the decoder lost many: forget the oldest */
            p->idr_head = (p->idr_head + 1) % IDR_RING;
            p->idr_count--;
        }
        p->idr_pts[(p->idr_head + p->idr_count++) % IDR_RING] = pts;
    }
    if (p->switch_pts != AV_NOPTS_VALUE)
        return 0;  /* rung 0 is encoded now (or from the next decoded picture) */
    if ((ret = av_packet_ref(out, pkt)) < 0)
        return ret;
    if (idr)
        out->flags |= AV_PKT_FLAG_KEY;
    else
        out->flags &= ~AV_PKT_FLAG_KEY;
    if (pkt->dts != AV_NOPTS_VALUE)
        p->pass_last_dts = pkt->dts;
    return p->sink(p->opaque, out, 0, vst->time_base);
}

static int send_packet(lr_pipeline *p, AVPacket *pkt);

int lr_pipeline_send_packet(lr_pipeline *p, AVPacket *pkt)
{
    atomic_fetch_add(&p->in_send, 1);
    int ret = send_packet(p, pkt);
    atomic_fetch_sub(&p->in_send, 1);
    return ret;
}

static int send_packet(lr_pipeline *p, AVPacket *pkt)
{
    int ret;

    if (pkt->stream_index == p->vin) {
        atomic_fetch_add(&p->video_in, 1);
        atomic_store(&p->last_in_ns, lr_now_ns());
    }
    if (pkt->stream_index == p->vin && p->follow_idrs && (ret = pass_through(p, pkt)) < 0)
        return ret;
    if (pkt->stream_index == p->vin)
        return decode(p, p->vdec, pkt);
    if (pkt->stream_index == p->ain && p->audio)
        return decode(p, p->adec, pkt);
    return 0;
}

void lr_pipeline_force_keyframe(lr_pipeline *p)
{
    atomic_store(&p->force_kf, 1);
}

static void log_cpu(lr_pipeline *p)
{
    int64_t dec = lr_cpu_threads_ns(p->dec_name), enc = lr_cpu_threads_ns(p->enc_name);
    int64_t scale = 0, sink = p->audio_sink_ns, frames = 0, capped = 0;
    double wall = (lr_now_ns() - p->start_ns) / 1e9;

    for (int i = p->first_enc; i < p->nb_rungs; i++) {
        lr_rung_cpu c;
        lr_rung_cpu_get(p->workers[i], &c);
        scale += c.scale_ns;
        sink += c.sink_ns;
        enc += c.thread_ns;     /* the rung's thread has ended: not in /proc */
        frames += c.frames;
        capped += c.capped;
    }
    /* decode: the decoding threads less the audio (which includes its muxing);
     * encode: the encoding threads less scaling and their muxing. */
    lr_info("lecture=%s cpu: decode %.2f s, scale %.2f s, encode %.2f s, audio %.2f s, "
            "mux %.2f s; %" PRId64 " frames in, %" PRId64 " encoded (%" PRId64 " left out "
            "by frame-rate caps), %.2f s wall, %.1f frames/s",
            p->lecture, (dec - p->audio_ns) / 1e9, scale / 1e9,
            (enc - scale - (sink - p->audio_sink_ns)) / 1e9,
            (p->audio_ns - p->audio_sink_ns) / 1e9, sink / 1e9, p->frames_in, frames, capped,
            wall, wall > 0 ? p->frames_in / wall : 0);
}

int lr_pipeline_finish(lr_pipeline *p)
{
    int ret, err = 0;

    if (p->finished)
        return 0;
    p->finished = 1;
    if ((ret = decode(p, p->vdec, NULL)) < 0)
        err = ret;
    if (p->audio && (ret = decode(p, p->adec, NULL)) >= 0) {
        /* the audio ends with the video (audio.h: lr_audio_pad_to) */
        ret = p->vdec ? lr_audio_pad_to(p->audio, p->video_end, p->vdec->pkt_timebase,
                                        audio_sink, p, p->nb_rungs) : 0;
        if (ret > 0)
            lr_debug("lecture=%s %d samples of silence end the audio with the video",
                     p->lecture, ret);
        if (ret >= 0)
            ret = send_audio(p, NULL);
    }
    if (ret < 0 && !err)
        err = ret;
    for (int i = p->first_enc; i < p->nb_rungs; i++)
        if ((ret = lr_rung_finish(p->workers[i], err < 0)) < 0 && !err)
            err = ret;
    log_cpu(p);
    return err;
}

void lr_pipeline_join(lr_pipeline *p)
{
    for (int i = p ? p->first_enc : 0; p && i < p->nb_rungs; i++)
        lr_rung_finish(p->workers[i], 1);
}

void lr_pipeline_free(lr_pipeline **pp)
{
    lr_pipeline *p = *pp;

    if (!p)
        return;
    for (int i = 0; i < LR_MAX_RUNGS; i++)
        lr_rung_free(&p->workers[i]);
    lr_audio_free(&p->audio);
    avcodec_free_context(&p->vdec);
    avcodec_free_context(&p->adec);
    av_frame_free(&p->frame);
    av_packet_free(&p->pass_pkt);
    av_parser_close(p->sps_parser);
    avcodec_free_context(&p->sps_ctx);
    av_freep(pp);
}

int lr_pipeline_passthrough(const lr_pipeline *p)
{
    return atomic_load(&p->first_enc);
}

void lr_pipeline_get_stats(lr_pipeline *p, lr_pipeline_stats *out)
{
    int first = atomic_load(&p->first_enc);

    *out = (lr_pipeline_stats){ .nb_rungs = p->nb_rungs, .pts_us = AV_NOPTS_VALUE,
                                .last_in_ns = atomic_load(&p->last_in_ns),
                                .busy = atomic_load(&p->in_send) > 0 };
    for (int i = 0; i < p->nb_rungs; i++) {
        lr_rung_progress g;
        out->names[i] = p->rungs[i].name;
        if (i < first) {  /* passed through: the source's frames */
            out->frames[i] = atomic_load(&p->video_in);
            continue;
        }
        lr_rung_progress_get(p->workers[i], &g);
        out->frames[i] = g.frames;
        out->queued = FFMAX(out->queued, g.queued);
        if (g.pts_us != AV_NOPTS_VALUE &&
            (out->pts_us == AV_NOPTS_VALUE || g.pts_us < out->pts_us))
            out->pts_us = g.pts_us;
    }
}

int lr_pipeline_nb_rungs(const lr_pipeline *p)
{
    return p->nb_rungs;
}

const lr_rung *lr_pipeline_rung(const lr_pipeline *p, int i)
{
    return &p->rungs[i];
}

const AVCodecParameters *lr_pipeline_video_codecpar(const lr_pipeline *p, int i)
{
    if (i < p->first_enc)
        return p->ifmt->streams[p->vin]->codecpar;
    return lr_rung_codecpar(p->workers[i]);
}

const AVCodecContext *lr_pipeline_audio_encoder(const lr_pipeline *p)
{
    return p->audio ? lr_audio_encoder(p->audio) : NULL;
}

int64_t lr_pipeline_keyframe_period(const lr_pipeline *p)
{
    return p->live && !p->follow_idrs ? p->kf.period : 0;
}
