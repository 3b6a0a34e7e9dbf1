/* ingest/rtmp_chunk.c — see rtmp_chunk.h. A header (at most 18 bytes) is
 * gathered whole before it is read; payload bytes go straight into their
 * message's buffer, which grows with what arrived, not with what the header
 * declared. */
#include "rtmp_chunk.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <libavutil/common.h>
#include <libavutil/error.h>
#include <libavutil/intreadwrite.h>
#include <libavutil/mem.h>

#define MAX_HEADER     18          /* basic 3 + message 11 + extended timestamp 4 */
#define EXT_TS         0xFFFFFF
#define KEEP_BUF_MAX   (64 << 10)  /* a finished message's buffer above this is freed */
#define MAX_MSG_FIELD  0xFFFFFF    /* the 24-bit length field */

typedef struct cstream {
    uint32_t csid;
    uint32_t timestamp;  /* of the message being (or last) assembled */
    uint32_t delta;      /* last timestamp delta: a type 3 new message repeats it */
    uint32_t length;
    uint32_t stream_id;
    uint8_t  type;
    uint8_t  ext;        /* the last type 0-2 header had an extended timestamp */
    uint8_t  started;    /* a message is being assembled */
    uint8_t *buf;
    uint32_t cap, filled;
} cstream;

struct lr_rtmp_chunk_reader {
    uint32_t chunk_size;
    cstream  streams[LR_RTMP_MAX_CHUNK_STREAMS];
    unsigned nb_streams;
    uint8_t  hdr[MAX_HEADER];
    unsigned hlen;
    cstream *cur;         /* non-NULL while a chunk's payload is being read */
    uint32_t chunk_left;  /* payload bytes of that chunk still to come */
    size_t   pending;     /* bytes allocated for messages, all streams */
    uint32_t bytes_in, last_ack, window;
    int      failed;      /* the error that stopped the reader, or 0 */
    char     err[160];
};

int lr_rtmp_chunk_reader_alloc(lr_rtmp_chunk_reader **out)
{
    lr_rtmp_chunk_reader *r = av_mallocz(sizeof(*r));

    if (!r)
        return AVERROR(ENOMEM);
    r->chunk_size = LR_RTMP_DEFAULT_CHUNK_SIZE;
    *out = r;
    return 0;
}

void lr_rtmp_chunk_reader_free(lr_rtmp_chunk_reader **pr)
{
    lr_rtmp_chunk_reader *r = *pr;

    if (!r)
        return;
    for (unsigned i = 0; i < r->nb_streams; i++)
        av_freep(&r->streams[i].buf);
    av_freep(pr);
}

const char *lr_rtmp_chunk_reader_error(const lr_rtmp_chunk_reader *r)
{
    return r->err;
}

uint32_t lr_rtmp_chunk_reader_chunk_size(const lr_rtmp_chunk_reader *r)
{
    return r->chunk_size;
}

int lr_rtmp_chunk_ack_due(lr_rtmp_chunk_reader *r, uint32_t *seq)
{
    if (!r->window || r->bytes_in - r->last_ack < r->window)
        return 0;
    r->last_ack = r->bytes_in;
    *seq = r->bytes_in;
    return 1;
}

static int fail(lr_rtmp_chunk_reader *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int fail(lr_rtmp_chunk_reader *r, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(r->err, sizeof(r->err), fmt, ap);
    va_end(ap);
    r->failed = AVERROR_INVALIDDATA;
    return r->failed;
}

static void drop_message(lr_rtmp_chunk_reader *r, cstream *cs)
{
    cs->started = 0;
    cs->filled  = 0;
    if (cs->cap > KEEP_BUF_MAX) {
        r->pending -= cs->cap;
        av_freep(&cs->buf);
        cs->cap = 0;
    }
}

static cstream *find_stream(lr_rtmp_chunk_reader *r, uint32_t csid)
{
    for (unsigned i = 0; i < r->nb_streams; i++)
        if (r->streams[i].csid == csid)
            return &r->streams[i];
    return NULL;
}

/* The header bytes the current chunk needs, given the r->hlen gathered. */
static unsigned header_need(lr_rtmp_chunk_reader *r)
{
    static const unsigned msg_len[4] = { 11, 7, 3, 0 };
    unsigned basic, fmt, ext;

    if (r->hlen < 1)
        return 1;
    basic = (r->hdr[0] & 0x3F) == 0 ? 2 : (r->hdr[0] & 0x3F) == 1 ? 3 : 1;
    fmt = r->hdr[0] >> 6;
    if (r->hlen < basic + msg_len[fmt])
        return basic + msg_len[fmt];
    if (fmt < 3) {
        ext = AV_RB24(r->hdr + basic) == EXT_TS;
    } else {
        uint32_t csid = basic == 1 ? (r->hdr[0] & 0x3F) :
                        basic == 2 ? 64 + r->hdr[1] : 64 + r->hdr[1] + 256 * r->hdr[2];
        cstream *cs = find_stream(r, csid);
        ext = cs && cs->ext;
    }
    return basic + msg_len[fmt] + (ext ? 4 : 0);
}

/* Protocol control messages the reader itself obeys. */
static int control(lr_rtmp_chunk_reader *r, const cstream *cs)
{
    uint32_t v;

    if (cs->type != LR_RTMP_SET_CHUNK_SIZE && cs->type != LR_RTMP_ABORT &&
        cs->type != LR_RTMP_WINDOW_ACK_SIZE)
        return 0;
    if (cs->length < 4)
        return fail(r, "control message type %d is %u bytes, not 4", cs->type, cs->length);
    v = AV_RB32(cs->buf);
    switch (cs->type) {
    case LR_RTMP_SET_CHUNK_SIZE:
        if (v == 0)
            return fail(r, "peer set chunk size 0");
        if (v > LR_RTMP_MAX_CHUNK_SIZE)
            return fail(r, "peer set chunk size %u (the top bit must be 0)", v);
        r->chunk_size = v;
        break;
    case LR_RTMP_ABORT: {
        cstream *a = find_stream(r, v);
        if (a && a != cs)
            drop_message(r, a);
        break;
    }
    case LR_RTMP_WINDOW_ACK_SIZE:
        r->window = v;
        break;
    }
    return 0;
}

static int deliver(lr_rtmp_chunk_reader *r, cstream *cs, lr_rtmp_msg_fn *fn, void *opaque)
{
    static const uint8_t empty[1];
    lr_rtmp_msg m = {
        .csid = cs->csid, .type = cs->type, .stream_id = cs->stream_id,
        .timestamp = cs->timestamp, .data = cs->length ? cs->buf : empty, .size = cs->length,
    };
    int ret;

    if ((ret = control(r, cs)) < 0)
        return ret;
    ret = fn ? fn(opaque, &m) : 0;
    drop_message(r, cs);
    if (ret < 0)
        r->failed = ret;
    return ret;
}

/* Reads the complete header in r->hdr and sets up the chunk's payload. */
static int parse_header(lr_rtmp_chunk_reader *r, lr_rtmp_msg_fn *fn, void *opaque)
{
    const uint8_t *p = r->hdr;
    unsigned fmt = p[0] >> 6, basic = (p[0] & 0x3F) == 0 ? 2 : (p[0] & 0x3F) == 1 ? 3 : 1;
    uint32_t csid = basic == 1 ? (p[0] & 0x3F) :
                    basic == 2 ? 64 + p[1] : 64 + p[1] + 256 * p[2];
    uint32_t ts_field = 0;
    cstream *cs = find_stream(r, csid);

    p += basic;
    if (!cs) {
        if (fmt != 0)
            return fail(r, "chunk stream %u starts with a type %u header, not type 0", csid, fmt);
        if (r->nb_streams == LR_RTMP_MAX_CHUNK_STREAMS)
            return fail(r, "more than %d chunk streams", LR_RTMP_MAX_CHUNK_STREAMS);
        cs = &r->streams[r->nb_streams++];
        memset(cs, 0, sizeof(*cs));
        cs->csid = csid;
    }
    if (fmt < 3 && cs->started)
        return fail(r, "chunk stream %u: a new message header before the last %u-byte "
                    "message was complete", csid, cs->length);
    if (fmt < 3) {
        ts_field = AV_RB24(p);
        cs->ext = ts_field == EXT_TS;
        if (cs->ext)
            ts_field = AV_RB32(r->hdr + r->hlen - 4);
    }
    if (fmt <= 1) {
        uint32_t len = AV_RB24(p + 3);
        if (len > LR_RTMP_MAX_MESSAGE)
            return fail(r, "chunk stream %u: message length %u exceeds the limit of %d bytes",
                        csid, len, LR_RTMP_MAX_MESSAGE);
        cs->length = len;
        cs->type = p[6];
    }
    if (fmt == 0) {
        cs->stream_id = AV_RL32(p + 7);
        cs->timestamp = ts_field;
        cs->delta = 0;
    } else if (fmt < 3) {
        cs->delta = ts_field;
        cs->timestamp += ts_field;
    } else if (!cs->started) {
        cs->timestamp += cs->delta;  /* type 3 opening a new message */
    }
    cs->started = 1;
    r->chunk_left = FFMIN(r->chunk_size, cs->length - cs->filled);
    if (!r->chunk_left)
        return deliver(r, cs, fn, opaque);
    r->cur = cs;
    return 0;
}

static int grow(lr_rtmp_chunk_reader *r, cstream *cs, uint32_t need)
{
    uint32_t ncap;
    uint8_t *nb;

    if (need <= cs->cap)
        return 0;
    ncap = FFMIN(cs->length, FFMAX(need, FFMAX(cs->cap * 2, 4096u)));
    if (r->pending - cs->cap + ncap > LR_RTMP_MAX_PENDING)
        return fail(r, "unfinished messages would hold more than %d bytes", LR_RTMP_MAX_PENDING);
    if (!(nb = av_realloc(cs->buf, ncap)))
        return AVERROR(ENOMEM);
    r->pending += ncap - cs->cap;
    cs->buf = nb;
    cs->cap = ncap;
    return 0;
}

int lr_rtmp_chunk_read(lr_rtmp_chunk_reader *r, const uint8_t *buf, size_t size,
                       lr_rtmp_msg_fn *fn, void *opaque)
{
    const uint8_t *end = buf + size;
    int ret;

    if (r->failed)
        return r->failed;
    r->bytes_in += (uint32_t)size;
    while (buf < end) {
        if (!r->cur) {
            unsigned want = header_need(r);
            while (r->hlen < want && buf < end) {
                r->hdr[r->hlen++] = *buf++;
                want = header_need(r);
            }
            if (r->hlen < want)
                break;
            ret = parse_header(r, fn, opaque);
            r->hlen = 0;
            if (ret < 0)
                return ret;
        } else {
            cstream *cs = r->cur;
            uint32_t n = (uint32_t)FFMIN((size_t)(end - buf), r->chunk_left);

            if ((ret = grow(r, cs, cs->filled + n)) < 0)
                return ret;
            memcpy(cs->buf + cs->filled, buf, n);
            cs->filled += n;
            r->chunk_left -= n;
            buf += n;
            if (!r->chunk_left) {
                r->cur = NULL;
                if (cs->filled == cs->length && (ret = deliver(r, cs, fn, opaque)) < 0)
                    return ret;
            }
        }
    }
    return 0;
}

void lr_rtmp_chunk_writer_init(lr_rtmp_chunk_writer *w)
{
    w->chunk_size = LR_RTMP_DEFAULT_CHUNK_SIZE;
}

static unsigned put_basic(uint8_t *p, unsigned fmt, uint32_t csid)
{
    if (csid < 64) {
        p[0] = fmt << 6 | csid;
        return 1;
    }
    if (csid < 64 + 256) {
        p[0] = fmt << 6;
        p[1] = csid - 64;
        return 2;
    }
    p[0] = fmt << 6 | 1;
    p[1] = (csid - 64) & 0xFF;
    p[2] = (csid - 64) >> 8;
    return 3;
}

/* The bytes a message takes once cut into chunks: its first header (n0),
 * then one type 3 header per further chunk, each with the extended timestamp. */
static size_t encoded_size(uint32_t chunk_size, const lr_rtmp_msg *m, unsigned n0, int ext)
{
    size_t chunks = m->size ? (m->size + (size_t)chunk_size - 1) / chunk_size : 1;
    unsigned n3 = (m->csid < 64 ? 1 : m->csid < 64 + 256 ? 2 : 3) + (ext ? 4 : 0);

    return n0 + (ext ? 4 : 0) + (chunks - 1) * n3 + m->size;
}

/* Room for a whole message at once: an auto-growing AVFifo otherwise grows
 * by twice each write's shortfall, one realloc per chunk, which at small
 * chunk sizes is quadratic in the message. Grows at least by what it holds. */
static int reserve(AVFifo *out, size_t need)
{
    size_t can = av_fifo_can_write(out);

    if (need <= can)
        return 0;
    return av_fifo_grow2(out, FFMAX(need - can, av_fifo_can_read(out) + can));
}

int lr_rtmp_chunk_write(lr_rtmp_chunk_writer *w, AVFifo *out, const lr_rtmp_msg *m)
{
    uint8_t hdr[MAX_HEADER];
    int ext = m->timestamp >= EXT_TS;
    uint32_t done = 0;
    unsigned n;
    int ret;

    if (m->csid < 2 || m->csid > 65599 || m->size > MAX_MSG_FIELD)
        return AVERROR(EINVAL);
    n = put_basic(hdr, 0, m->csid);
    AV_WB24(hdr + n, ext ? EXT_TS : m->timestamp);
    AV_WB24(hdr + n + 3, m->size);
    hdr[n + 6] = m->type;
    AV_WL32(hdr + n + 7, m->stream_id);
    n += 11;
    if ((ret = reserve(out, encoded_size(w->chunk_size, m, n, ext))) < 0)
        return ret;
    do {
        uint32_t len = FFMIN(w->chunk_size, m->size - done);

        if (done)
            n = put_basic(hdr, 3, m->csid);
        if (ext) {
            AV_WB32(hdr + n, m->timestamp);
            n += 4;
        }
        if ((ret = av_fifo_write(out, hdr, n)) < 0 ||
            (len && (ret = av_fifo_write(out, m->data + done, len)) < 0))
            return ret;
        done += len;
    } while (done < m->size);
    if (m->type == LR_RTMP_SET_CHUNK_SIZE && m->size == 4) {
        uint32_t v = AV_RB32(m->data);
        if (v && v <= LR_RTMP_MAX_CHUNK_SIZE)
            w->chunk_size = v;
    }
    return 0;
}

int lr_rtmp_chunk_write_control(lr_rtmp_chunk_writer *w, AVFifo *out, uint8_t type, uint32_t value)
{
    uint8_t b[4];
    lr_rtmp_msg m = { .csid = 2, .type = type, .data = b, .size = 4 };

    AV_WB32(b, value);
    return lr_rtmp_chunk_write(w, out, &m);
}

int lr_rtmp_chunk_write_peer_bandwidth(lr_rtmp_chunk_writer *w, AVFifo *out,
                                       uint32_t window, uint8_t limit)
{
    uint8_t b[5];
    lr_rtmp_msg m = { .csid = 2, .type = LR_RTMP_SET_PEER_BANDWIDTH, .data = b, .size = 5 };

    AV_WB32(b, window);
    b[4] = limit;
    return lr_rtmp_chunk_write(w, out, &m);
}

int lr_rtmp_chunk_write_user_control(lr_rtmp_chunk_writer *w, AVFifo *out,
                                     uint16_t event, uint32_t value)
{
    uint8_t b[6];
    lr_rtmp_msg m = { .csid = 2, .type = LR_RTMP_USER_CONTROL, .data = b, .size = 6 };

    AV_WB16(b, event);
    AV_WB32(b + 2, value);
    return lr_rtmp_chunk_write(w, out, &m);
}
