/* ingest/ingest.c — the ingest role: one thread per lecture reads the source
 * and remuxes it (no decoding) into MPEG-TS on the link, reconnecting with
 * backoff when the link breaks. Called by app/roles.c. */
#include "ingest.h"

#include <libavutil/mem.h>

#include "common/link.h"
#include "common/log.h"
#include "common/stop.h"
#include "common/ts_mux.h"
#include "source.h"

#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 5000

struct lr_ingest {
    const lr_config *conf;
    lr_stop          stop;
    pthread_t        thread;
    int              thread_started;
};

/* One link session: from connect to the first write error. Returns
 * AVERROR_EXIT on stop, AVERROR_EOF when the source ended, else the error
 * that broke the link. */
static int run_link(lr_ingest *in, lr_source *src, int64_t *nb_sent)
{
    const lr_config *c = in->conf;
    const AVFormatContext *ifmt = lr_source_format(src);
    lr_link_opts lo = { c->link.latency_ms, c->link.passphrase };
    AVFormatContext *oc = NULL;
    AVIOContext *pb = NULL;
    AVPacket *pkt = NULL;
    int map[64], sock, ret, nb_out = 0, video_out = -1, started;
    char sid[128];

    if ((ret = lr_streamid_format(sid, sizeof(sid), c->lecture, "publish")) < 0)
        return ret;
    if ((ret = lr_link_connect(c->ingest.link, sid, &lo, &in->stop, &sock)) < 0)
        return ret;
    if ((ret = lr_link_avio_open(sock, 1, &in->stop, 0, &pb)) < 0)
        return ret;
    if ((ret = lr_ts_mux_alloc(pb, &oc)) < 0)
        goto end;
    for (unsigned i = 0; i < ifmt->nb_streams && i < 64; i++) {
        const AVCodecParameters *par = ifmt->streams[i]->codecpar;
        AVStream *ost;
        map[i] = -1;
        if (par->codec_type != AVMEDIA_TYPE_VIDEO && par->codec_type != AVMEDIA_TYPE_AUDIO)
            continue;
        if (!(ost = avformat_new_stream(oc, NULL)) ||
            (ret = avcodec_parameters_copy(ost->codecpar, par)) < 0) {
            ret = ret < 0 ? ret : AVERROR(ENOMEM);
            goto end;
        }
        ost->codecpar->codec_tag = 0;
        ost->time_base = (AVRational){ 1, 90000 };
        if (par->codec_type == AVMEDIA_TYPE_VIDEO && video_out < 0)
            video_out = nb_out;
        map[i] = nb_out++;
    }
    if ((ret = lr_ts_mux_begin(oc)) < 0) {
        lr_error("lecture=%s cannot start the link's TS muxer: %s", c->lecture, av_err2str(ret));
        goto end;
    }
    lr_info("lecture=%s ingest link up to %s", c->lecture, c->ingest.link);
    lr_source_repace(src);
    if (!(pkt = av_packet_alloc())) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    /* A receiver can only start decoding at a keyframe. */
    started = video_out < 0;
    while ((ret = lr_source_read(src, pkt)) >= 0) {
        int out = pkt->stream_index < 64 ? map[pkt->stream_index] : -1;
        if (out < 0 || (!started && (out != video_out || !(pkt->flags & AV_PKT_FLAG_KEY)))) {
            av_packet_unref(pkt);
            continue;
        }
        started = 1;
        av_packet_rescale_ts(pkt, ifmt->streams[pkt->stream_index]->time_base,
                             oc->streams[out]->time_base);
        pkt->stream_index = out;
        pkt->pos = -1;
        if ((ret = av_interleaved_write_frame(oc, pkt)) < 0) {
            if (ret != AVERROR_EXIT)
                lr_warn("lecture=%s ingest link to %s broke: %s", c->lecture,
                        c->ingest.link, av_err2str(ret));
            break;
        }
        (*nb_sent)++;
    }
end:
    av_packet_free(&pkt);
    lr_ts_mux_free(&oc);
    lr_link_avio_close(&pb);
    return ret;
}

static void *ingest_thread(void *arg)
{
    lr_ingest *in = arg;
    const lr_config *c = in->conf;
    lr_source *src = NULL;
    int backoff_ms = BACKOFF_MIN_MS;

    while (!lr_stop_requested(&in->stop)) {
        int64_t nb_sent = 0;
        int ret;

        if (!src && lr_source_open(c->ingest.source, c->ingest.loop, c->ingest.realtime,
                                   &in->stop, &src) < 0)
            goto retry;
        ret = run_link(in, src, &nb_sent);
        if (ret == AVERROR_EXIT)
            break;
        if (ret == AVERROR_EOF) {
            lr_info("lecture=%s source %s ended", c->lecture, c->ingest.source);
            lr_source_close(&src);
        }
        if (nb_sent > 0)
            backoff_ms = BACKOFF_MIN_MS;
    retry:
        lr_debug("lecture=%s ingest retrying in %d ms", c->lecture, backoff_ms);
        if (lr_stop_wait_until(&in->stop, lr_now_ns() + (int64_t)backoff_ms * 1000000))
            break;
        backoff_ms = FFMIN(backoff_ms * 2, BACKOFF_MAX_MS);
    }
    lr_source_close(&src);
    return NULL;
}

int lr_ingest_start(const lr_config *c, lr_ingest **out)
{
    lr_ingest *in;
    int ret;

    if (!(in = av_mallocz(sizeof(*in))))
        return AVERROR(ENOMEM);
    in->conf = c;
    if ((ret = lr_stop_init(&in->stop)) < 0) {
        av_free(in);
        return ret;
    }
    if ((ret = pthread_create(&in->thread, NULL, ingest_thread, in))) {
        lr_stop_destroy(&in->stop);
        av_free(in);
        return AVERROR(ret);
    }
    in->thread_started = 1;
    lr_info("lecture=%s ingest reading %s", c->lecture, c->ingest.source);
    *out = in;
    return 0;
}

void lr_ingest_stop(lr_ingest **pin)
{
    lr_ingest *in = *pin;

    if (!in)
        return;
    lr_stop_request(&in->stop);
    if (in->thread_started)
        pthread_join(in->thread, NULL);
    lr_stop_destroy(&in->stop);
    av_freep(pin);
}
