/* transcode/offline.c — the same ladder from a file to a file, as fast as the
 * machine goes: no link, no pacing. For bench/transcode (the transcoder's own
 * throughput) and for making a ladder of a recording. Called through
 * transcode.h by app/main.c (`lecture-relay transcode-file`). */
#include "transcode.h"

#include <pthread.h>

#include <libavformat/avformat.h>

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

int lr_transcode_file(const lr_config *c, const char *input, const char *output)
{
    file_sink sink = { .oc = NULL };
    AVFormatContext *ifmt = NULL, *oc = NULL;
    AVIOContext *pb = NULL;
    lr_pipeline *p = NULL;
    AVPacket *pkt = av_packet_alloc();
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
    while ((ret = av_read_frame(ifmt, pkt)) >= 0) {
        ret = lr_pipeline_send_packet(p, pkt);
        av_packet_unref(pkt);
        if (ret < 0)
            goto fail;
    }
    if (ret != AVERROR_EOF)
        lr_warn("transcode-file: reading %s ended early: %s", input, av_err2str(ret));
    if ((ret = lr_pipeline_finish(p)) < 0)
        goto fail;
    ret = av_write_trailer(oc);
fail:
    lr_pipeline_free(&p);
    lr_ts_mux_free(&oc);
    avio_closep(&pb);
    avformat_close_input(&ifmt);
    av_packet_free(&pkt);
    pthread_mutex_destroy(&sink.lock);
    return ret;
}
