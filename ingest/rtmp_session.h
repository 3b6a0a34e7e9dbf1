/* ingest/rtmp_session.h — one RTMP publisher's protocol state over a byte
 * stream: handshake, connect, createStream, publish (admitted or refused by
 * the caller), then its media as an FLV byte stream. No I/O of its own:
 * rtmp_listener.c feeds it socket bytes and sends what it answers. */
#ifndef LR_INGEST_RTMP_SESSION_H
#define LR_INGEST_RTMP_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include <libavutil/fifo.h>

/* What a publisher asked for, as handed to the admit callback. */
typedef struct lr_rtmp_publish {
    const char *app;     /* connect's app, without a query ("live") */
    const char *name;    /* publish's stream name, without a query: the lecture */
    const char *key;     /* key= from the name's query, else from tcUrl's or app's; NULL if none */
    const char *tc_url;  /* connect's tcUrl, "" if none */
    const char *peer;    /* "IP:PORT" */
    /* the lecture it publishes to, for log lines: set by the admit callback
     * (a configured name), NULL until then. The stream name is not logged:
     * with a Zoom-style setup it is the publish key itself. */
    const char *lecture;
} lr_rtmp_publish;

/* Decides a publish. Returns 0 to admit, or AVERROR(ENOENT) (no such
 * lecture), AVERROR(EACCES) (wrong or missing key), AVERROR(EBUSY) (the
 * lecture is already live) or another negative AVERROR; *reason may then
 * point to a static or long-lived text for the log and the client
 * ("wrong key"); it sets p->lecture when it knows the lecture. Called on
 * the connection's thread. */
typedef int lr_rtmp_admit_fn(void *opaque, lr_rtmp_publish *p, const char **reason);

/* Bytes we keep for the peer and for the FLV reader at most. */
#define LR_RTMP_MAX_OUT (1 << 20)
#define LR_RTMP_MAX_FLV (32 << 20)

typedef struct lr_rtmp_session lr_rtmp_session;

/* peer: "IP:PORT", for log lines. admit may be NULL (admit everything). */
int  lr_rtmp_session_alloc(const char *peer, lr_rtmp_admit_fn *admit, void *opaque,
                           lr_rtmp_session **out);
void lr_rtmp_session_free(lr_rtmp_session **s);

/* Feeds bytes received from the peer; answers accumulate in
 * lr_rtmp_session_out(), media in lr_rtmp_session_flv(). Returns 0 while
 * the session goes on; AVERROR_EOF once the publisher unpublished
 * (FCUnpublish, deleteStream, closeStream); the admit callback's error
 * after a refusal (the onStatus error is then waiting in out: send it
 * before closing); AVERROR_INVALIDDATA on a protocol violation or a bound
 * crossed (logged with the peer); AVERROR(ENOMEM). Every error is sticky. */
int  lr_rtmp_session_feed(lr_rtmp_session *s, const uint8_t *buf, size_t size);

/* Bytes to send to the peer, and the FLV byte stream (header first) of an
 * admitted publish; the caller drains both (av_fifo_read...). */
AVFifo *lr_rtmp_session_out(lr_rtmp_session *s);
AVFifo *lr_rtmp_session_flv(lr_rtmp_session *s);

/* 1 once a publish was admitted (and stays 1 after it ended). */
int  lr_rtmp_session_publishing(const lr_rtmp_session *s);
/* 1 once an admitted publish was ended by the publisher (FCUnpublish...). */
int  lr_rtmp_session_unpublished(const lr_rtmp_session *s);
/* The admitted (or last refused) publish; NULL before any publish. */
const lr_rtmp_publish *lr_rtmp_session_publish(const lr_rtmp_session *s);

#endif
