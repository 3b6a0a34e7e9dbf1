/* transcode/offline.c — the same ladder from a file to a file, as fast as the
 * machine goes: no link, no pacing. For bench/transcode (the transcoder's own
 * throughput) and for making a ladder of a recording. Called through
 * transcode.h by app/main.c (`lecture-relay transcode-file`). On a terminal,
 * a progress line on stderr says how far it is and how long is left. */
#include "transcode.h"

#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <libavformat/avformat.h>
#include <libavutil/bprint.h>

#include "common/log.h"
#include "common/ts_mux.h"
#include "ladder_mux.h"
#include "pipeline.h"

typedef struct file_sink {
    pthread_mutex_t  lock;
    AVFormatContext *oc;   /* NULL until the ladder is planned */
} file_sink;

static int write_packet(void *opaque, AVPacket *pkt, int ost, AVRational tb)
{
    file_sink *s = opaque;
    int ret;

    pthread_mutex_lock(&s->lock);
    if (!s->oc) {          /* cannot happen: no frame is encoded before the header */
        av_packet_unref(pkt);
        ret = AVERROR_BUG;
    } else {
        pkt->stream_index = ost;
        av_packet_rescale_ts(pkt, tb, s->oc->streams[ost]->time_base);
        ret = av_interleaved_write_frame(s->oc, pkt);
        if (ret == AVERROR(EINVAL))    /* the muxer refused this packet, logged */
            ret = 0;
    }
    pthread_mutex_unlock(&s->lock);
    return ret;
}

/* The progress line: drawn over itself with \r, only when stderr is a
 * terminal (a log or a pipe gets the summary lines alone). It follows the
 * reading of the input, which the rungs' bounded queues keep within a few
 * frames of the encoders. */
typedef struct progress {
    int     on;
    int     video; /* the input's video stream, or -1: any stream */
    int64_t start_ns, drawn_ns;
    int64_t frames;     /* video packets read */
    double  position;   /* seconds of the input read */
    double  duration;   /* seconds, 0 if the input doesn't say */
    double  start_time; /* the input's first timestamp, seconds */
} progress;

#define PROGRESS_EVERY_NS 250000000

static int64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void progress_init(progress *p, AVFormatContext *ifmt)
{
    *p = (progress){ .on = isatty(STDERR_FILENO), .start_ns = mono_ns() };
    p->video = av_find_best_stream(ifmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (ifmt->duration > 0)
        p->duration = ifmt->duration / (double)AV_TIME_BASE;
    if (ifmt->start_time != AV_NOPTS_VALUE)
        p->start_time = ifmt->start_time / (double)AV_TIME_BASE;
}

static void put_clock(AVBPrint *b, double seconds, int tenths)
{
    int64_t t = (int64_t)(FFMAX(seconds, 0) * 10);

    av_bprintf(b, "%02d:%02d:%02d", (int)(t / 36000), (int)(t / 600 % 60), (int)(t / 10 % 60));
    if (tenths)
        av_bprintf(b, ".%d", (int)(t % 10));
}

/* "00:00:12.3 of 00:01:00.0  34.1 frames/s  1.15x real time  00:00:41 left" */
static void progress_draw(progress *p, int64_t now)
{
    double   elapsed = (now - p->start_ns) / 1e9;
    double   speed = elapsed > 0 ? p->position / elapsed : 0;
    AVBPrint b;

    av_bprint_init(&b, 0, AV_BPRINT_SIZE_AUTOMATIC);
    av_bprintf(&b, "\rtranscode-file: ");
    put_clock(&b, p->position, 1);
    if (p->duration > 0) {
        av_bprintf(&b, " of ");
        put_clock(&b, p->duration, 1);
    }
    av_bprintf(&b, "  %.1f frames/s  %.2fx real time  ", elapsed > 0 ? p->frames / elapsed : 0,
               speed);
    if (p->duration > 0 && speed > 0) {
        put_clock(&b, (p->duration - p->position) / speed, 0);
        av_bprintf(&b, " left");
    } else {
        av_bprintf(&b, "time left unknown");
    }
    av_bprintf(&b, "\033[K"); /* what a longer line before left */
    fputs(b.str, stderr);
    fflush(stderr);
    av_bprint_finalize(&b, NULL);
    p->drawn_ns = now;
}

static void progress_packet(progress *p, AVFormatContext *ifmt, const AVPacket *pkt)
{
    int64_t ts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;

    if (!p->on || (p->video >= 0 && pkt->stream_index != p->video))
        return;
    p->frames++;
    if (ts != AV_NOPTS_VALUE) {
        double t = ts * av_q2d(ifmt->streams[pkt->stream_index]->time_base) - p->start_time;
        p->position = FFMAX(p->position, t);
    }
    int64_t now = mono_ns();
    if (now - p->drawn_ns >= PROGRESS_EVERY_NS)
        progress_draw(p, now);
}

/* The last state of the line and the newline that ends it, before the
 * pipeline's summary is logged (or an error). */
static void progress_end(progress *p, int whole)
{
    if (!p->on)
        return;
    if (whole && p->duration > 0)
        p->position = FFMAX(p->position, p->duration);
    progress_draw(p, mono_ns());
    fputc('\n', stderr);
    p->on = 0;
}

int lr_transcode_file(const lr_config *c, const char *input, const char *output)
{
    file_sink sink = { .oc = NULL };
    AVFormatContext *ifmt = NULL, *oc = NULL;
    AVIOContext *pb = NULL;
    lr_pipeline *p = NULL;
    AVPacket *pkt = av_packet_alloc();
    progress prog = { .on = 0 };
    int ret;

    pthread_mutex_init(&sink.lock, NULL);
    if (!pkt) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    if ((ret = avformat_open_input(&ifmt, input, NULL, NULL)) < 0 ||
        (ret = avformat_find_stream_info(ifmt, NULL)) < 0) {
        lr_error("transcode-file: cannot read %s: %s", input, av_err2str(ret));
        goto fail;
    }
    if ((ret = lr_pipeline_open(&c->transcode, c->lecture, ifmt, 0, write_packet, &sink, &p)) < 0)
        goto fail;
    if ((ret = avio_open(&pb, output, AVIO_FLAG_WRITE)) < 0) {
        lr_error("transcode-file: cannot write %s: %s", output, av_err2str(ret));
        goto fail;
    }
    if ((ret = lr_ladder_mux_open(pb, p, c->transcode.audio_only, &oc)) < 0)
        goto fail;
    pthread_mutex_lock(&sink.lock);
    sink.oc = oc;
    pthread_mutex_unlock(&sink.lock);
    progress_init(&prog, ifmt);
    while ((ret = av_read_frame(ifmt, pkt)) >= 0) {
        progress_packet(&prog, ifmt, pkt);
        ret = lr_pipeline_send_packet(p, pkt);
        av_packet_unref(pkt);
        if (ret < 0)
            goto fail;
    }
    progress_end(&prog, ret == AVERROR_EOF);
    if (ret != AVERROR_EOF)
        lr_warn("transcode-file: reading %s ended early: %s", input, av_err2str(ret));
    if ((ret = lr_pipeline_finish(p)) < 0)
        goto fail;
    ret = av_write_trailer(oc);
fail:
    progress_end(&prog, 0);
    lr_pipeline_free(&p);
    lr_ts_mux_free(&oc);
    avio_closep(&pb);
    avformat_close_input(&ifmt);
    av_packet_free(&pkt);
    pthread_mutex_destroy(&sink.lock);
    return ret;
}
