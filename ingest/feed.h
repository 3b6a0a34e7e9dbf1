/* ingest/feed.h — one configured source of a lecture (the lecturer's push, a
 * URL or a file), read all the time by its own thread: it reconnects with
 * backoff, and while it is not the one on the link it keeps its packets from
 * the latest keyframe on, so a failover or a switch back starts at once on a
 * keyframe (hot standby). A source that ends cleanly (source.h) is not
 * reconnected: a file stays ended, a URL is looked at every 5 s until it is
 * live again (an HLS playlist only by fetching the playlist, so an ended one
 * is never replayed). Owned and read by lecture.c. */
#ifndef LR_INGEST_FEED_H
#define LR_INGEST_FEED_H

#include <pthread.h>
#include <stdint.h>

#include <libavcodec/codec_par.h>
#include <libavcodec/packet.h>

#include "rtmp_listener.h"

enum { LR_FEED_VIDEO, LR_FEED_AUDIO, LR_FEED_NB };

typedef struct lr_feed lr_feed;

typedef struct lr_feed_spec {
    const char *lecture;   /* for logs */
    int         index;     /* 0-based position in the lecture's list */
    const char *url;       /* "push", "push-srt", "push-rtmp", a URL or a file path */
    int         loop;      /* files: loop */
    int         realtime;  /* files: pace */
    int         stall_ms;  /* silence that ends a session */
} lr_feed_spec;

/* What the feed has done, for the lecture's report and metrics. */
typedef struct lr_feed_stats {
    int64_t sessions;       /* sessions opened */
    int64_t failures;       /* sessions lost or failed to open */
    int64_t bytes;          /* media bytes read, all sessions */
    int64_t video_frames;
    int64_t dropped;        /* queue overflow while on the link */
    int64_t last_pkt_ns;    /* CLOCK_MONOTONIC; 0: never */
    double  bitrate_bps;    /* over the last full second */
    double  fps;
    int     live;           /* a session is open */
    int     ended;          /* the last session ended cleanly, none opened since */
    char    encoder[64];    /* what the session's metadata names as its encoder
                               (RTMP's onMetaData, a container's tag, an MPEG-TS
                               service provider); "" unknown */
} lr_feed_stats;

/* Starts the feed's thread. The feed signals `cond` (with `lock`, both the
 * lecture's) whenever it has something new; every lr_feed_* call below but
 * start, stop and offer_push must be made with `lock` held. spec's strings
 * must outlive the feed. */
int  lr_feed_start(const lr_feed_spec *spec, pthread_mutex_t *lock, pthread_cond_t *cond,
                   lr_feed **out);
/* Stops and joins the thread (call without the lock); NULLs *f. */
void lr_feed_stop(lr_feed **f);

/* Hands over an accepted SRT push. With takeover it is always taken (a
 * push already being read is abandoned for it); without, it is not taken
 * when a push is live (decided under the lock: AVERROR(EBUSY), the socket
 * stays the caller's). Returns 0 when taken. Push feeds only; call without
 * the lock. */
int  lr_feed_offer_push(lr_feed *f, int sock, const char *peer, int takeover);
/* The same for an admitted RTMP publisher. */
int  lr_feed_offer_rtmp(lr_feed *f, lr_rtmp_conn *conn, int takeover);
/* 1 while a push is being read or waits to be. With the lock held. */
int  lr_feed_push_live(const lr_feed *f);

/* 1 once the last session ended cleanly (end of file, EXT-X-ENDLIST, the
 * RTMP server's end of stream, the SRT peer's close) and until a new one
 * opens; why, for logs ("" if not ended). With the lock held. */
int  lr_feed_ended(const lr_feed *f);
const char *lr_feed_end_reason(const lr_feed *f);
/* Packets queued for the lecture. */
int  lr_feed_queued(const lr_feed *f);
/* 1 when a session delivered within stall_ms and its queue starts on a
 * video keyframe (or the session has no video). */
int  lr_feed_ready(const lr_feed *f, int64_t now_ns, int stall_ms);
/* The queue's span in 1/90000 (last dts - first dts), 0 if empty: how old
 * the keyframe it starts on is. */
int64_t lr_feed_queue_span(const lr_feed *f);
/* dts of the newest queued packet (the one that arrived last), 1/90000;
 * AV_NOPTS_VALUE if the queue is empty. */
int64_t lr_feed_queue_last_dts(const lr_feed *f);
/* ns since the current session opened, or -1 without a session. */
int64_t lr_feed_session_age(const lr_feed *f, int64_t now_ns);
/* On the link: queue everything (bounded, oldest dropped when full). Off
 * it: keep only the packets from the latest keyframe on. */
void lr_feed_set_on_link(lr_feed *f, int on);
/* Drops queued packets before the first video keyframe whose dts is in
 * (after, after + window]; returns 1 if there was one (the queue now starts
 * on it), else 0 and nothing is dropped. Times in 1/90000. */
int  lr_feed_seek_key_after(lr_feed *f, int64_t after, int64_t window);
/* Next queued packet: stream_index is LR_FEED_VIDEO or LR_FEED_AUDIO,
 * timestamps in 1/90000, pos the session number. 0, or AVERROR(EAGAIN). */
int  lr_feed_take(lr_feed *f, AVPacket *pkt);
/* The session's codec parameters (NULL where it has no such stream) and its
 * name for logs; valid until the lock is released. */
const AVCodecParameters *lr_feed_codecpar(const lr_feed *f, int kind);
const char *lr_feed_name(const lr_feed *f);
int64_t lr_feed_session(const lr_feed *f);
void lr_feed_get_stats(const lr_feed *f, lr_feed_stats *st);

#endif
