/* ingest/source.c — see source.h. Loops shift every stream by the length of
 * the longest one, so each stream's timestamps stay strictly increasing;
 * pacing waits on the role's stop condition, never a blind sleep. How each
 * kind of source ends cleanly is decided in lr_source_ended. */
#include "source.h"

#include <errno.h>
#include <string.h>

#include <libavutil/avstring.h>
#include <libavutil/mem.h>

#include "common/link.h"
#include "common/log.h"
#include "hls_state.h"

#define OPEN_TIMEOUT_MS 10000
#define SRT_CLOSE_MS    1000   /* an SRT error this soon after data: the peer closed */

/* What a URL turned out to be once open: how it ends differs. */
enum kind { KIND_OTHER, KIND_FILE, KIND_HLS, KIND_RTMP, KIND_SRT, KIND_PUSH };

struct lr_source {
    AVFormatContext *fmt;
    AVIOContext     *pb_owned; /* a push's stream (SRT or RTMP), read by fmt */
    int              srt_push;  /* pb_owned is an SRT link */
    lr_rtmp_conn    *rtmp;      /* the RTMP publisher, when this source is one */
    lr_stop  *stop;
    int       stall_ms;
    int64_t   deadline_ns;     /* a blocking call past this is interrupted */
    char      url[1024];
    int       loop;
    int       realtime;
    enum kind kind;
    int64_t   last_bytes;      /* the demuxer's pb->bytes_read when last seen */
    int64_t   last_data_ns;    /* when bytes last arrived; 0: never */
    int64_t   offset_us;       /* added to every timestamp: the loops so far */
    int64_t   first_us;        /* lowest pts of the first pass, AV_TIME_BASE: where
                                  presentation starts (a first dts before it is
                                  B-frame delay, not time the loop lasts) */
    int64_t   end_us;          /* furthest pts + duration seen in this pass */
    int64_t   wall_start_ns;   /* wall clock at the first packet */
    int64_t   media_start_us;  /* media time at the first packet */
    int       nb_loops;
};

static int interrupt_cb(void *opaque)
{
    lr_source *s = opaque;
    return lr_stop_requested(s->stop) || (s->deadline_ns && lr_now_ns() > s->deadline_ns);
}

static void arm(lr_source *s, int ms)
{
    s->deadline_ns = ms > 0 ? lr_now_ns() + (int64_t)ms * 1000000 : 0;
}

static int scheme_is(const char *url, const char *prefix)
{
    return !av_strncasecmp(url, prefix, strlen(prefix));
}

static enum kind classify(const lr_source *s)
{
    const char *name = s->fmt->iformat->name;

    if (!strstr(s->url, "://"))
        return KIND_FILE;
    if (!strcmp(name, "hls"))
        return KIND_HLS;
    if (scheme_is(s->url, "rtmp") && strstr(name, "flv"))  /* rtmp, rtmps, rtmpt... */
        return KIND_RTMP;
    if (scheme_is(s->url, "srt://"))
        return KIND_SRT;
    return KIND_OTHER;
}

int lr_source_open(const char *url, int loop, int realtime, int stall_ms, int quiet,
                   lr_stop *stop, lr_source **out)
{
    enum lr_log_level level = quiet ? LR_LOG_DEBUG : LR_LOG_ERROR;
    lr_source *s;
    int ret;

    if (!(s = av_mallocz(sizeof(*s))))
        return AVERROR(ENOMEM);
    s->stop = stop;
    s->stall_ms = stall_ms;
    s->loop = loop;
    s->realtime = realtime;
    s->first_us = AV_NOPTS_VALUE;
    s->end_us = AV_NOPTS_VALUE;
    s->media_start_us = AV_NOPTS_VALUE;
    av_strlcpy(s->url, url, sizeof(s->url));
    if (!(s->fmt = avformat_alloc_context())) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    s->fmt->interrupt_callback.callback = interrupt_cb;
    s->fmt->interrupt_callback.opaque = s;
    arm(s, stall_ms ? OPEN_TIMEOUT_MS : 0);
    if ((ret = avformat_open_input(&s->fmt, url, NULL, NULL)) < 0) {
        lr_log(level, "source %s: cannot open: %s", url, av_err2str(ret));
        ret = ret == AVERROR_EOF ? AVERROR(EIO) : ret;  /* EOF: an ended playlist only */
        goto fail;
    }
    s->kind = classify(s);
    /* The hls demuxer gives a finished playlist (EXT-X-ENDLIST) a duration
     * and plays it from its first segment: a lecture that ended would start
     * over. Only a live playlist is read. */
    if (s->kind == KIND_HLS && s->fmt->duration != AV_NOPTS_VALUE) {
        ret = AVERROR_EOF;
        goto fail;
    }
    if ((ret = avformat_find_stream_info(s->fmt, NULL)) < 0) {
        lr_log(level, "source %s: cannot read stream info: %s", url, av_err2str(ret));
        ret = ret == AVERROR_EOF ? AVERROR(EIO) : ret;
        goto fail;
    }
    /* An HLS source delivers a whole segment at once, then nothing until the
     * next: read at the media's own speed from the buffer of segments it
     * starts with, or every gap between segments would look like a stall. */
    if (!strcmp(s->fmt->iformat->name, "hls"))
        s->realtime = 1;
    *out = s;
    return 0;
fail:
    lr_source_close(&s);
    return ret;
}

/* Opens the demuxer over a pushed stream's AVIOContext (s->pb_owned). */
static int open_pushed(lr_source *s, const char *format)
{
    AVDictionary *opts = NULL;
    int ret;

    if (!(s->fmt = avformat_alloc_context()))
        return AVERROR(ENOMEM);
    s->fmt->pb = s->pb_owned;
    s->fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    s->fmt->interrupt_callback.callback = interrupt_cb;
    s->fmt->interrupt_callback.opaque = s;
    av_dict_set(&opts, "analyzeduration", "1500000", 0);
    av_dict_set(&opts, "probesize", "2000000", 0);
    ret = avformat_open_input(&s->fmt, NULL, av_find_input_format(format), &opts);
    av_dict_free(&opts);
    if (ret < 0 || (ret = avformat_find_stream_info(s->fmt, NULL)) < 0)
        lr_warn("source %s: no readable %s: %s", s->url, format, av_err2str(ret));
    return ret;
}

int lr_source_can_reprobe(const lr_source *s)
{
    return s->srt_push;
}

int lr_source_reprobe(lr_source *s)
{
    if (!s->srt_push)
        return AVERROR(ENOSYS);
    avformat_close_input(&s->fmt);  /* (custom I/O: the connection stays) */
    return open_pushed(s, "mpegts");
}

static lr_source *alloc_pushed(lr_stop *stop, int stall_ms)
{
    lr_source *s = av_mallocz(sizeof(*s));

    if (s) {
        s->stop = stop;
        s->stall_ms = stall_ms;
        s->kind = KIND_PUSH;
        s->first_us = s->end_us = s->media_start_us = AV_NOPTS_VALUE;
    }
    return s;
}

int lr_source_open_push(int sock, const char *peer, int stall_ms, lr_stop *stop,
                        lr_source **out)
{
    lr_source *s = alloc_pushed(stop, stall_ms);
    int ret;

    if (!s) {
        lr_link_close_socket(sock);
        return AVERROR(ENOMEM);
    }
    s->srt_push = 1;
    snprintf(s->url, sizeof(s->url), "push from %s", peer);
    if ((ret = lr_link_avio_open(sock, LR_LINK_IO_READ_STREAM, stop, stall_ms, &s->pb_owned)) < 0 ||
        (ret = open_pushed(s, "mpegts")) < 0)
        goto fail;
    *out = s;
    return 0;
fail:
    lr_source_close(&s);
    return ret;
}

int lr_source_open_rtmp(lr_rtmp_conn *conn, int stall_ms, lr_stop *stop, lr_source **out)
{
    lr_source *s = alloc_pushed(stop, stall_ms);
    int ret;

    if (!s) {
        lr_rtmp_conn_free(&conn);
        return AVERROR(ENOMEM);
    }
    s->rtmp = conn;
    snprintf(s->url, sizeof(s->url), "RTMP push from %s", lr_rtmp_conn_publish(conn)->peer);
    if ((ret = lr_rtmp_conn_avio_open(conn, stop, stall_ms, &s->pb_owned)) < 0 ||
        (ret = open_pushed(s, "flv")) < 0)
        goto fail;
    *out = s;
    return 0;
fail:
    lr_source_close(&s);
    return ret;
}

const char *lr_source_name(const lr_source *s)
{
    return s->url;
}

const AVFormatContext *lr_source_format(const lr_source *s)
{
    return s->fmt;
}

static int restart(lr_source *s)
{
    int ret;

    if (s->end_us == AV_NOPTS_VALUE || s->first_us == AV_NOPTS_VALUE) {
        lr_error("source %s: nothing to loop over", s->url);
        return AVERROR_INVALIDDATA;
    }
    /* The container's start time is where presentation starts; an AAC
     * encoder's priming packet sits before it, trimmed by the edit list. */
    s->offset_us += s->end_us - (s->fmt->start_time != AV_NOPTS_VALUE ? s->fmt->start_time
                                                                       : s->first_us);
    s->end_us = AV_NOPTS_VALUE;
    s->nb_loops++;
    if ((ret = avformat_seek_file(s->fmt, -1, INT64_MIN, s->fmt->start_time == AV_NOPTS_VALUE
                                  ? 0 : s->fmt->start_time, INT64_MAX, 0)) < 0) {
        lr_error("source %s: cannot seek back to loop: %s", s->url, av_err2str(ret));
        return ret;
    }
    lr_debug("source %s: loop %d starts at media time %.3f s", s->url, s->nb_loops,
             s->offset_us / 1e6);
    return 0;
}

int lr_source_read(lr_source *s, AVPacket *pkt)
{
    const AVStream *st;
    int64_t dts_us, pts_us, end_us, offset;
    int ret;

    for (;;) {
        arm(s, s->stall_ms);
        ret = s->srt_push ? lr_link_read_packet(s->fmt, pkt) : av_read_frame(s->fmt, pkt);
        if (s->fmt->pb && s->fmt->pb->bytes_read != s->last_bytes) {
            s->last_bytes = s->fmt->pb->bytes_read;
            s->last_data_ns = lr_now_ns();
        }
        if (ret == AVERROR_EOF && s->loop) {
            if ((ret = restart(s)) < 0)
                return ret;
            continue;
        }
        if (ret < 0) {
            if (lr_stop_requested(s->stop))
                return AVERROR_EXIT;
            return ret == AVERROR_EXIT ? AVERROR(ETIMEDOUT) : ret;  /* the stall deadline */
        }
        if (pkt->dts == AV_NOPTS_VALUE && pkt->pts == AV_NOPTS_VALUE) {
            av_packet_unref(pkt);
            continue;
        }
        break;
    }
    st = s->fmt->streams[pkt->stream_index];
    if (pkt->dts == AV_NOPTS_VALUE)
        pkt->dts = pkt->pts;
    dts_us = av_rescale_q(pkt->dts, st->time_base, AV_TIME_BASE_Q);
    pts_us = av_rescale_q(pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts, st->time_base,
                          AV_TIME_BASE_Q);
    end_us = pts_us + av_rescale_q(pkt->duration, st->time_base, AV_TIME_BASE_Q);
    if (!s->nb_loops && (s->first_us == AV_NOPTS_VALUE || pts_us < s->first_us))
        s->first_us = pts_us;
    if (s->end_us == AV_NOPTS_VALUE || end_us > s->end_us)
        s->end_us = end_us;

    offset = av_rescale_q(s->offset_us, AV_TIME_BASE_Q, st->time_base);
    pkt->dts += offset;
    if (pkt->pts != AV_NOPTS_VALUE)
        pkt->pts += offset;
    dts_us += s->offset_us;

    if (s->realtime) {
        if (s->media_start_us == AV_NOPTS_VALUE) {
            s->media_start_us = dts_us;
            s->wall_start_ns = lr_now_ns();
        }
        if (lr_stop_wait_until(s->stop, s->wall_start_ns +
                                        (dts_us - s->media_start_us) * 1000)) {
            av_packet_unref(pkt);
            return AVERROR_EXIT;
        }
    }
    return 0;
}

int lr_source_ended(lr_source *s, int ret, char *why, size_t size)
{
    int pb_error = s->fmt && s->fmt->pb ? s->fmt->pb->error : 0;
    int64_t quiet_ns;

    why[0] = '\0';
    if (ret >= 0 || ret == AVERROR_EXIT || ret == AVERROR(ETIMEDOUT))
        return 0;  /* stopping, or a stall: never an end */
    switch (s->kind) {
    case KIND_FILE:
        if (ret != AVERROR_EOF || pb_error)
            return 0;
        av_strlcpy(why, "end of file", size);
        return 1;
    case KIND_RTMP:
        /* NetStream.Play.Stop or Play.UnpublishNotify: libavformat's rtmp
         * protocol returns EOF; a dropped connection is an I/O error. */
        if (ret != AVERROR_EOF || pb_error)
            return 0;
        av_strlcpy(why, "the RTMP server ended the stream", size);
        return 1;
    case KIND_HLS:
        if (ret != AVERROR_EOF)
            return 0;
        arm(s, 0);
        if (lr_hls_state_probe(s->url, s->stop, OPEN_TIMEOUT_MS) != LR_HLS_ENDED)
            return 0;  /* EOF after reload errors, or a playlist gone: a loss */
        av_strlcpy(why, "the playlist ended (EXT-X-ENDLIST)", size);
        return 1;
    case KIND_SRT:
        /* A peer that closes sends a shutdown right after its last data; a
         * link that dies falls silent first (the stall deadline, or SRT's
         * peer idle timeout, comes long after the last data). */
        quiet_ns = lr_now_ns() - s->last_data_ns;
        if (!s->last_data_ns || quiet_ns > SRT_CLOSE_MS * INT64_C(1000000))
            return 0;
        av_strlcpy(why, "the SRT peer closed the stream", size);
        return 1;
    default:
        return 0;  /* RTSP, MPEG-TS over HTTP or UDP: no end we can tell from a loss */
    }
}

int lr_source_is_hls(const lr_source *s)
{
    return s->kind == KIND_HLS;
}

void lr_source_repace(lr_source *s)
{
    s->media_start_us = AV_NOPTS_VALUE;
}

void lr_source_close(lr_source **ps)
{
    lr_source *s = *ps;

    if (!s)
        return;
    avformat_close_input(&s->fmt);
    if (s->srt_push)
        lr_link_avio_close(&s->pb_owned);
    else
        lr_rtmp_conn_avio_close(&s->pb_owned);
    lr_rtmp_conn_free(&s->rtmp);
    av_freep(ps);
}
