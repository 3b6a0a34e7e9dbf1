/* ingest/rtmp_session.c — see rtmp_session.h. Commands are answered the way
 * FMS/nginx-rtmp answer them, so FFmpeg, OBS (librtmp) and GStreamer's
 * rtmp2sink all go through; media messages become FLV tags unchanged, and
 * libavformat's flv demuxer does the codec work. */
#include "rtmp_session.h"

#include <string.h>

#include <libavutil/avstring.h>
#include <libavutil/bprint.h>
#include <libavutil/error.h>
#include <libavutil/intreadwrite.h>
#include <libavutil/mem.h>

#include "common/log.h"
#include "rtmp_amf.h"
#include "rtmp_chunk.h"
#include "rtmp_handshake.h"

#define MAX_ARGS        6
#define WINDOW_ACK      5000000
#define PEER_BANDWIDTH  5000000
#define OUT_CHUNK_SIZE  4096
#define CSID_COMMAND    3
#define CSID_STATUS     5
#define FLV_TAG_HEADER  11

enum state { HS_C0C1, HS_C2, CHUNKS };

struct lr_rtmp_session {
    char                  peer[64];
    lr_rtmp_admit_fn     *admit;
    void                 *opaque;
    enum state            state;
    uint8_t               hs[1 + LR_RTMP_HANDSHAKE_SIZE];
    unsigned              hs_len;
    lr_rtmp_chunk_reader *rd;
    lr_rtmp_chunk_writer  wr;
    AVFifo               *out, *flv;
    int                   connected, publishing, ended, failed;
    uint32_t              stream_id, nb_streams;
    char                 *app, *tc_url, *name, *key;
    lr_rtmp_publish       pub;
    int                   have_pub;
};

int lr_rtmp_session_alloc(const char *peer, lr_rtmp_admit_fn *admit, void *opaque,
                          lr_rtmp_session **out)
{
    lr_rtmp_session *s = av_mallocz(sizeof(*s));
    int ret;

    if (!s)
        return AVERROR(ENOMEM);
    av_strlcpy(s->peer, peer ? peer : "?", sizeof(s->peer));
    s->admit  = admit;
    s->opaque = opaque;
    lr_rtmp_chunk_writer_init(&s->wr);
    if ((ret = lr_rtmp_chunk_reader_alloc(&s->rd)) < 0)
        goto fail;
    s->out = av_fifo_alloc2(4096, 1, AV_FIFO_FLAG_AUTO_GROW);
    s->flv = av_fifo_alloc2(64 << 10, 1, AV_FIFO_FLAG_AUTO_GROW);
    if (!s->out || !s->flv) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    av_fifo_auto_grow_limit(s->out, LR_RTMP_MAX_OUT);
    av_fifo_auto_grow_limit(s->flv, LR_RTMP_MAX_FLV);
    *out = s;
    return 0;
fail:
    lr_rtmp_session_free(&s);
    return ret;
}

void lr_rtmp_session_free(lr_rtmp_session **ps)
{
    lr_rtmp_session *s = *ps;

    if (!s)
        return;
    lr_rtmp_chunk_reader_free(&s->rd);
    av_fifo_freep2(&s->out);
    av_fifo_freep2(&s->flv);
    av_freep(&s->app);
    av_freep(&s->tc_url);
    av_freep(&s->name);
    av_freep(&s->key);
    av_freep(ps);
}

AVFifo *lr_rtmp_session_out(lr_rtmp_session *s)
{
    return s->out;
}

AVFifo *lr_rtmp_session_flv(lr_rtmp_session *s)
{
    return s->flv;
}

int lr_rtmp_session_publishing(const lr_rtmp_session *s)
{
    return s->publishing;
}

int lr_rtmp_session_unpublished(const lr_rtmp_session *s)
{
    return s->ended;
}

const lr_rtmp_publish *lr_rtmp_session_publish(const lr_rtmp_session *s)
{
    return s->have_pub ? &s->pub : NULL;
}

/* ---- replies ---- */

static int send_amf(lr_rtmp_session *s, uint32_t csid, uint32_t stream_id, AVBPrint *b)
{
    lr_rtmp_msg m = { .csid = csid, .type = LR_RTMP_COMMAND_AMF0, .stream_id = stream_id,
                      .data = (const uint8_t *)b->str, .size = b->len };
    int ret;

    if (!av_bprint_is_complete(b))
        ret = AVERROR(ENOMEM);
    else
        ret = lr_rtmp_chunk_write(&s->wr, s->out, &m);
    av_bprint_finalize(b, NULL);
    return ret;
}

/* _result(txid, null, undefined|number) */
static int send_result(lr_rtmp_session *s, double txid, int with_number, double number)
{
    AVBPrint b;

    av_bprint_init(&b, 0, AV_BPRINT_SIZE_UNLIMITED);
    lr_amf_put_string(&b, "_result");
    lr_amf_put_number(&b, txid);
    lr_amf_put_null(&b);
    if (with_number)
        lr_amf_put_number(&b, number);
    else
        lr_amf_put_undefined(&b);
    return send_amf(s, CSID_COMMAND, 0, &b);
}

static int send_status(lr_rtmp_session *s, uint32_t stream_id, const char *level,
                       const char *code, const char *description)
{
    AVBPrint b;

    av_bprint_init(&b, 0, AV_BPRINT_SIZE_UNLIMITED);
    lr_amf_put_string(&b, "onStatus");
    lr_amf_put_number(&b, 0);
    lr_amf_put_null(&b);
    lr_amf_put_object_start(&b);
    lr_amf_put_name(&b, "level");
    lr_amf_put_string(&b, level);
    lr_amf_put_name(&b, "code");
    lr_amf_put_string(&b, code);
    lr_amf_put_name(&b, "description");
    lr_amf_put_string(&b, description);
    if (s->name) {
        lr_amf_put_name(&b, "details");
        lr_amf_put_string(&b, s->name);
    }
    lr_amf_put_object_end(&b);
    return send_amf(s, CSID_STATUS, stream_id, &b);
}

static int answer_connect(lr_rtmp_session *s, double txid)
{
    AVBPrint b;
    int ret;

    if ((ret = lr_rtmp_chunk_write_control(&s->wr, s->out, LR_RTMP_WINDOW_ACK_SIZE, WINDOW_ACK)) < 0 ||
        (ret = lr_rtmp_chunk_write_peer_bandwidth(&s->wr, s->out, PEER_BANDWIDTH, 2)) < 0 ||
        (ret = lr_rtmp_chunk_write_control(&s->wr, s->out, LR_RTMP_SET_CHUNK_SIZE, OUT_CHUNK_SIZE)) < 0)
        return ret;
    av_bprint_init(&b, 0, AV_BPRINT_SIZE_UNLIMITED);
    lr_amf_put_string(&b, "_result");
    lr_amf_put_number(&b, txid);
    lr_amf_put_object_start(&b);
    lr_amf_put_name(&b, "fmsVer");
    lr_amf_put_string(&b, "FMS/3,5,1,525");
    lr_amf_put_name(&b, "capabilities");
    lr_amf_put_number(&b, 31);
    lr_amf_put_name(&b, "mode");
    lr_amf_put_number(&b, 1);
    lr_amf_put_object_end(&b);
    lr_amf_put_object_start(&b);
    lr_amf_put_name(&b, "level");
    lr_amf_put_string(&b, "status");
    lr_amf_put_name(&b, "code");
    lr_amf_put_string(&b, "NetConnection.Connect.Success");
    lr_amf_put_name(&b, "description");
    lr_amf_put_string(&b, "Connection succeeded.");
    lr_amf_put_name(&b, "objectEncoding");
    lr_amf_put_number(&b, 0);
    lr_amf_put_object_end(&b);
    return send_amf(s, CSID_COMMAND, 0, &b);
}

/* ---- FLV output ---- */

static int flv_write_header(lr_rtmp_session *s)
{
    static const uint8_t hdr[13] = { 'F', 'L', 'V', 1, 0x05, 0, 0, 0, 9, 0, 0, 0, 0 };
    return av_fifo_write(s->flv, hdr, sizeof(hdr));
}

static int flv_write_tag(lr_rtmp_session *s, uint8_t type, uint32_t ts,
                         const uint8_t *data, uint32_t size)
{
    uint8_t h[FLV_TAG_HEADER], t[4];
    int ret;

    if (size > 0xFFFFFF)
        return AVERROR_INVALIDDATA;
    h[0] = type;
    AV_WB24(h + 1, size);
    AV_WB24(h + 4, ts & 0xFFFFFF);
    h[7] = ts >> 24;
    AV_WB24(h + 8, 0);
    AV_WB32(t, FLV_TAG_HEADER + size);
    if ((ret = av_fifo_write(s->flv, h, sizeof(h))) < 0 ||
        (ret = av_fifo_write(s->flv, data, size)) < 0 ||
        (ret = av_fifo_write(s->flv, t, sizeof(t))) < 0)
        return ret;
    return 0;
}

/* @setDataFrame("onMetaData", {...}) becomes the script tag onMetaData({...}). */
static int data_message(lr_rtmp_session *s, const lr_rtmp_msg *m)
{
    const uint8_t *p = m->data;
    size_t size = m->size, used;
    lr_amf_value first;
    const char *name;
    int ret;

    if (m->type == LR_RTMP_DATA_AMF3 && size && !p[0]) {
        p++;
        size--;
    }
    if (lr_amf_decode(p, size, &first, &used) < 0)
        return 0;  /* not AMF0: nothing the flv demuxer could use */
    name = lr_amf_str(&first);
    if (name && !strcmp(name, "@clearDataFrame")) {
        ret = 0;
    } else if (name && !strcmp(name, "@setDataFrame")) {
        /* at time 0 whenever it comes: the flv demuxer reads it as metadata
         * then, not as a packet of an extra data stream (GStreamer repeats it) */
        ret = size > used ? flv_write_tag(s, 18, 0, p + used, (uint32_t)(size - used)) : 0;
    } else if (name && !strcmp(name, "onMetaData")) {
        ret = flv_write_tag(s, 18, 0, p, (uint32_t)size);
    } else {
        ret = flv_write_tag(s, 18, m->timestamp, p, (uint32_t)size);
    }
    lr_amf_value_free(&first);
    return ret;
}

/* An aggregate message is a run of FLV tags; their timestamps are relative
 * to the first one, which the message's own timestamp replaces. */
static int aggregate_message(lr_rtmp_session *s, const lr_rtmp_msg *m)
{
    const uint8_t *p = m->data, *end = m->data + m->size;
    uint32_t base = 0;
    int first = 1, ret;

    while (end - p >= FLV_TAG_HEADER) {
        uint8_t type = p[0];
        uint32_t size = AV_RB24(p + 1);
        uint32_t ts = AV_RB24(p + 4) | (uint32_t)p[7] << 24;

        if ((size_t)(end - p) < FLV_TAG_HEADER + (size_t)size) {
            lr_warn("rtmp: peer=%s aggregate message truncated: dropped its rest", s->peer);
            return 0;
        }
        if (first)
            base = ts;
        first = 0;
        if ((type == LR_RTMP_AUDIO || type == LR_RTMP_VIDEO || type == LR_RTMP_DATA_AMF0) && size &&
            (ret = flv_write_tag(s, type, m->timestamp + (ts - base), p + FLV_TAG_HEADER, size)) < 0)
            return ret;
        p += FLV_TAG_HEADER + size;
        p += FFMIN(4, end - p);  /* back pointer */
    }
    return 0;
}

/* ---- commands ---- */

/* The value of key= in a query ("a=1&key=SECRET"), copied; NULL if absent. */
static char *query_key(const char *q)
{
    while (q && *q) {
        size_t len = strcspn(q, "&");
        if (len > 4 && !strncmp(q, "key=", 4))
            return av_strndup(q + 4, len - 4);
        q += len;
        if (*q == '&')
            q++;
    }
    return NULL;
}

static const char *status_code(int err)
{
    return err == AVERROR(EACCES) ? "NetStream.Publish.Unauthorized" : "NetStream.Publish.BadName";
}

static const char *default_reason(int err)
{
    if (err == AVERROR(EACCES))
        return "wrong key";
    if (err == AVERROR(ENOENT))
        return "unknown lecture";
    if (err == AVERROR(EBUSY))
        return "already live";
    return "refused";
}

static int cmd_connect(lr_rtmp_session *s, double txid, const lr_amf_value *args, int nb)
{
    const char *app = nb > 0 ? lr_amf_str(lr_amf_get(&args[0], "app")) : NULL;
    const char *tc = nb > 0 ? lr_amf_str(lr_amf_get(&args[0], "tcUrl")) : NULL;

    if (s->connected) {
        lr_warn("rtmp: peer=%s dropped: connect sent twice", s->peer);
        return AVERROR_INVALIDDATA;
    }
    s->connected = 1;
    s->app = av_strndup(app ? app : "", app ? strcspn(app, "?") : 0);
    s->tc_url = av_strdup(tc ? tc : "");
    if (!s->app || !s->tc_url)
        return AVERROR(ENOMEM);
    /* a key in the connect URL (rtmp://host/live?key=K) */
    if (tc && strchr(tc, '?'))
        s->key = query_key(strchr(tc, '?') + 1);
    if (!s->key && app && strchr(app, '?'))
        s->key = query_key(strchr(app, '?') + 1);
    lr_debug("rtmp: peer=%s connect app=%s tcUrl=%s", s->peer, s->app, s->tc_url);
    return answer_connect(s, txid);
}

/* The lecture for log lines: the one admitted, never the stream name (it
 * may be the publish key). */
static const char *shown_lecture(const lr_rtmp_session *s)
{
    return s->pub.lecture ? s->pub.lecture : "?";
}

static int cmd_publish(lr_rtmp_session *s, const lr_rtmp_msg *m, const lr_amf_value *args, int nb)
{
    const char *full = nb > 1 ? lr_amf_str(&args[1]) : NULL;
    const char *q, *reason = NULL;
    int ret;

    if (!s->connected || s->publishing || s->have_pub) {
        lr_warn("rtmp: peer=%s dropped: publish %s", s->peer,
                s->connected ? "sent twice" : "before connect");
        return AVERROR_INVALIDDATA;
    }
    if (!full)
        full = "";
    q = strchr(full, '?');
    if (!(s->name = av_strndup(full, q ? (size_t)(q - full) : strlen(full))))
        return AVERROR(ENOMEM);
    if (q) {
        char *k = query_key(q + 1);
        if (k) {
            av_free(s->key);
            s->key = k;
        }
    }
    s->stream_id = m->stream_id;
    s->pub = (lr_rtmp_publish){ .app = s->app, .name = s->name, .key = s->key,
                                .tc_url = s->tc_url, .peer = s->peer };
    s->have_pub = 1;
    ret = s->admit ? s->admit(s->opaque, &s->pub, &reason) : 0;
    if (ret < 0) {
        int err;
        if (!reason)
            reason = default_reason(ret);
        lr_warn("rtmp: lecture=%s peer=%s refused: %s", shown_lecture(s), s->peer, reason);
        if ((err = send_status(s, m->stream_id, "error", status_code(ret), reason)) < 0)
            return err;
        return ret;
    }
    if ((ret = lr_rtmp_chunk_write_user_control(&s->wr, s->out, 0, m->stream_id)) < 0 ||
        (ret = send_status(s, m->stream_id, "status", "NetStream.Publish.Start", "Publishing.")) < 0 ||
        (ret = flv_write_header(s)) < 0)
        return ret;
    s->publishing = 1;
    lr_debug("rtmp: peer=%s publishing (app=%s)", s->peer, s->app);  /* the name may be a key */
    return 0;
}

static int command(lr_rtmp_session *s, const lr_rtmp_msg *m)
{
    lr_amf_value v[MAX_ARGS + 2];
    const uint8_t *p = m->data;
    size_t size = m->size, used;
    const char *name;
    double txid = 0;
    int nb = 0, ret = 0;

    if (m->type == LR_RTMP_COMMAND_AMF3 && size && !p[0]) {
        p++;
        size--;
    }
    /* values past the first MAX_ARGS + 2 are ignored; a bad one before is fatal */
    while (nb < MAX_ARGS + 2 && size && (ret = lr_amf_decode(p, size, &v[nb], &used)) == 0) {
        nb++;
        p += used;
        size -= used;
    }
    if (ret == AVERROR(ENOMEM))
        goto end;
    if (ret < 0 || nb < 2 || !(name = lr_amf_str(&v[0])) || v[1].type != LR_AMF_NUMBER) {
        lr_warn("rtmp: peer=%s dropped: a command message that is not AMF0 "
                "(name, transaction id, ...)", s->peer);
        ret = AVERROR_INVALIDDATA;
        goto end;
    }
    txid = v[1].number;
    if (!strcmp(name, "connect")) {
        ret = cmd_connect(s, txid, v + 2, nb - 2);
    } else if (!strcmp(name, "createStream")) {
        if (s->nb_streams >= 16) {
            lr_warn("rtmp: peer=%s dropped: createStream called more than 16 times", s->peer);
            ret = AVERROR_INVALIDDATA;
        } else {
            ret = send_result(s, txid, 1, ++s->nb_streams);
        }
    } else if (!strcmp(name, "publish")) {
        ret = cmd_publish(s, m, v + 2, nb - 2);
    } else if (!strcmp(name, "FCUnpublish") || !strcmp(name, "deleteStream") ||
               !strcmp(name, "closeStream")) {
        if (s->publishing) {
            lr_info("rtmp: lecture=%s peer=%s unpublished (%s)", shown_lecture(s), s->peer, name);
            s->ended = 1;
            if ((ret = send_status(s, s->stream_id, "status", "NetStream.Unpublish.Success",
                                   "Stopped publishing.")) >= 0)
                ret = AVERROR_EOF;
        } else if (txid) {
            ret = send_result(s, txid, 0, 0);
        }
    } else if (txid) {
        /* releaseStream, FCPublish, getStreamLength...: a plain _result */
        lr_debug("rtmp: peer=%s %s answered with a plain _result", s->peer, name);
        ret = send_result(s, txid, 0, 0);
    }
end:
    for (int i = 0; i < nb; i++)
        lr_amf_value_free(&v[i]);
    return ret;
}

static int on_message(void *opaque, const lr_rtmp_msg *m)
{
    lr_rtmp_session *s = opaque;
    int media = s->publishing && !s->ended && m->stream_id == s->stream_id;

    switch (m->type) {
    case LR_RTMP_COMMAND_AMF0:
    case LR_RTMP_COMMAND_AMF3:
        return command(s, m);
    case LR_RTMP_DATA_AMF0:
    case LR_RTMP_DATA_AMF3:
        return media ? data_message(s, m) : 0;
    case LR_RTMP_AUDIO:
    case LR_RTMP_VIDEO:
        return media && m->size ? flv_write_tag(s, m->type, m->timestamp, m->data, m->size) : 0;
    case LR_RTMP_AGGREGATE:
        return media ? aggregate_message(s, m) : 0;
    default:
        return 0;  /* acknowledgements, user control, peer bandwidth */
    }
}

static int feed_chunks(lr_rtmp_session *s, const uint8_t *buf, size_t size)
{
    uint32_t seq;
    int ret = lr_rtmp_chunk_read(s->rd, buf, size, on_message, s);

    if (ret == AVERROR_INVALIDDATA && *lr_rtmp_chunk_reader_error(s->rd))
        lr_warn("rtmp: %s%s%speer=%s dropped: %s", s->pub.lecture ? "lecture=" : "",
                s->pub.lecture ? s->pub.lecture : "", s->pub.lecture ? " " : "", s->peer,
                lr_rtmp_chunk_reader_error(s->rd));
    else if (ret == AVERROR(ENOSPC))
        lr_warn("rtmp: peer=%s dropped: output buffers full (%d bytes for the peer, "
                "%d for the reader)", s->peer, LR_RTMP_MAX_OUT, LR_RTMP_MAX_FLV);
    if (ret < 0)
        return ret;
    if (lr_rtmp_chunk_ack_due(s->rd, &seq))
        return lr_rtmp_chunk_write_control(&s->wr, s->out, LR_RTMP_ACK, seq);
    return 0;
}

int lr_rtmp_session_feed(lr_rtmp_session *s, const uint8_t *buf, size_t size)
{
    int ret = 0;

    if (s->failed)
        return s->failed;
    while (size && !ret) {
        if (s->state == HS_C0C1) {
            size_t n = FFMIN(size, sizeof(s->hs) - s->hs_len);
            memcpy(s->hs + s->hs_len, buf, n);
            s->hs_len += n;
            buf += n;
            size -= n;
            if (s->hs_len == sizeof(s->hs)) {
                uint8_t answer[1 + 2 * LR_RTMP_HANDSHAKE_SIZE];
                int scheme;

                if ((ret = lr_rtmp_handshake_answer(s->hs, answer, &scheme)) < 0) {
                    if (ret == AVERROR_INVALIDDATA)
                        lr_warn("rtmp: peer=%s dropped: handshake version %d, not 3",
                                s->peer, s->hs[0]);
                    break;
                }
                lr_debug("rtmp: peer=%s handshake (%s)", s->peer,
                         scheme < 0 ? "plain" : scheme ? "digest, scheme 1" : "digest, scheme 0");
                if ((ret = av_fifo_write(s->out, answer, sizeof(answer))) < 0)
                    break;
                s->state = HS_C2;
                s->hs_len = 0;
            }
        } else if (s->state == HS_C2) {
            /* C2 echoes S1; nothing in it matters to a publisher's server */
            size_t n = FFMIN(size, LR_RTMP_HANDSHAKE_SIZE - s->hs_len);
            s->hs_len += n;
            buf += n;
            size -= n;
            if (s->hs_len == LR_RTMP_HANDSHAKE_SIZE)
                s->state = CHUNKS;
        } else {
            ret = feed_chunks(s, buf, size);
            size = 0;
        }
    }
    if (ret < 0)
        s->failed = ret;
    return ret;
}
