/* common/link.h — the link between roles: MPEG-TS in SRT live mode, 7 TS
 * packets (1316 bytes) per SRT message, the lecture named by the stream id.
 * The caller side connects out; the listener side admits links at the
 * handshake and hands each accepted socket to its role. Both ends are seen by
 * libavformat as an AVIOContext. Used by ingest, transcode and egress. */
#ifndef LR_COMMON_LINK_H
#define LR_COMMON_LINK_H

#include <stdatomic.h>
#include <stddef.h>

#include <libavformat/avformat.h>
#include <libavformat/avio.h>

#include "link_settings.h"
#include "stop.h"
#include "streamid.h"

#define LR_LINK_PAYLOAD 1316 /* 7 TS packets */

/* What one link asks for. The links between roles ask for the settings'
 * own (lr_link_opts_of); the ingest's push listener for no passphrase, since
 * each lecture brings its own at the handshake (lr_link_admission). */
typedef struct lr_link_opts {
    int         latency_ms;  /* ms, or LR_LINK_LATENCY_AUTO */
    const char *passphrase;  /* NULL or "": no encryption */
} lr_link_opts;

static inline lr_link_opts lr_link_opts_of(const lr_link_settings *s)
{
    return (lr_link_opts){ .latency_ms = s->latency_ms, .passphrase = s->passphrase };
}

/* Calls SRT once at process start and end. init also registers the links'
 * metrics collector and starts the stats thread. */
int  lr_link_global_init(void);
void lr_link_global_uninit(void);

/* Sets what every link opened from now on shares: all of s (copied) but
 * latency_ms and passphrase, which each link gives in its lr_link_opts. Each
 * role calls it at its start with its configuration's settings; until then
 * the links use LR_LINK_SETTINGS_DEFAULTS. Loading a configuration doesn't. */
void lr_link_configure(const lr_link_settings *s);

/* The stream id of a round-trip probe: a link listener refuses it at the
 * handshake, so the caller learns the RTT from the handshake's two round
 * trips without starting a link. */
#define LR_LINK_PROBE_STREAMID "#!::m=rtt-probe"

/* Measures the RTT to url with a few refused handshakes at once (the
 * fastest counts). Returns the RTT in ms (>= 0) or a negative AVERROR. */
int lr_link_probe_rtt(const char *url, lr_stop *stop);

/* Splits "srt://host:port" (host may be [v6]). Returns 0 or AVERROR(EINVAL). */
int lr_link_parse_url(const char *url, char *host, size_t host_size, int *port);

/* Connects to url with the given stream id. Blocks until connected, refused
 * (AVERROR(ECONNREFUSED), the reject reason logged), or stop requested
 * (AVERROR_EXIT). On success *sock is a connected SRT socket the caller owns. */
int lr_link_connect(const char *url, const char *streamid, const lr_link_opts *o,
                    lr_stop *stop, int *sock);

typedef struct lr_link_listener lr_link_listener;

/* What an admit callback decides besides yes or no. */
typedef struct lr_link_admission {
    const char *reason;      /* on refusal: why, for the log line */
    const char *passphrase;  /* on admission: this link's own passphrase (NULL: the listener's) */
} lr_link_admission;

/* Called at the handshake, in libsrt's thread: return 0 to admit, or a
 * negative AVERROR to reject: ENOENT (unknown lecture), EACCES (bad key),
 * EBUSY (already live), else EINVAL; the listener logs it with ad->reason
 * and tells the caller through the SRT reject reason. Must be quick and must
 * not call into the listener. */
typedef int lr_link_admit_fn(void *opaque, const lr_streamid *sid, const char *peer,
                             lr_link_admission *ad);
/* Called in the listener's thread for each accepted link. On return 0 the
 * callee owns sock; on error the listener closes it. */
typedef int lr_link_accept_fn(void *opaque, int sock, const lr_streamid *sid,
                              const char *peer);

/* Binds url and starts the accept thread. Returns 0 or a negative AVERROR
 * (bind errors logged). */
int  lr_link_listen(const char *url, const lr_link_opts *o, const char *role,
                    lr_link_admit_fn *admit, lr_link_accept_fn *accept, void *opaque,
                    lr_link_listener **out);
/* The UDP port actually bound. */
int  lr_link_listener_port(const lr_link_listener *l);
/* Stops accepting, joins the thread, closes the socket; NULLs *l. */
void lr_link_listener_free(lr_link_listener **l);

enum lr_link_io {
    LR_LINK_IO_READ,         /* a link between our roles: every message is whole TS
                                packets, and one that isn't ends the link (a stray
                                sender, a wrong port) */
    LR_LINK_IO_WRITE,        /* 1316-byte messages */
    LR_LINK_IO_READ_STREAM,  /* a lecturer's encoder: a byte stream in messages of any
                                size (srt-live-transmit sends 1456 bytes); what isn't TS
                                is the demuxer's to skip, so garbage mid-stream doesn't
                                end the lecture */
};

/* Wraps a connected socket in an AVIOContext (reads: one message per read).
 * The context owns the socket from then on, even on error. Reads give
 * AVERROR_EXIT once stop is requested and AVERROR(ETIMEDOUT) after idle_ms
 * without data (0: no limit). */
int  lr_link_avio_open(int sock, enum lr_link_io mode, lr_stop *stop, int idle_ms,
                       AVIOContext **pb);
/* Flushes, closes the socket, frees; NULLs *pb. */
void lr_link_avio_close(AVIOContext **pb);
/* avformat_find_stream_info() on a link's demuxer (opened on custom I/O),
 * quick when it can be: a TS demuxer reads to its analysis limit whatever it
 * has found (its streams may come at any time), and that limit is what a
 * viewer waits for when a link comes back. A sender that names itself ours
 * in the SDT (from_ingest: the ingest's link; else the transcoder's) is
 * probed for quick_us of media; if a stream is still unknown then (it began
 * between keyframes), *ifmt is replaced by a fresh demuxer on the same I/O
 * probed for full_us. Anyone else's TS: full_us at once. On error *ifmt may
 * be NULL. */
int  lr_link_probe(AVFormatContext **ifmt, int from_ingest, int64_t quick_us, int64_t full_us);

/* Reads the next packet of a link's demuxer. Damaged data inside a sound
 * link (a corrupted PES from a bad source) is skipped, up to 100 times in a
 * row; the link's own errors (closed, stopped, not TS) end the read. */
int  lr_link_read_packet(AVFormatContext *ifmt, AVPacket *pkt);

/* Bytes moved through the context so far. */
int64_t lr_link_avio_bytes(AVIOContext *pb);

/* A reading link, watched from other threads through the owner's own
 * variables (they must outlive the context): once *abort is set, reads give
 * AVERROR(ECONNRESET) within a read slice (the owner gives the link up: a
 * silent publisher taken over); *last_data_ns gets lr_now_ns() of each
 * message. Either may be NULL. */
void lr_link_avio_watch(AVIOContext *pb, const atomic_int *abort,
                        atomic_int_fast64_t *last_data_ns);

/* 1 when a reading link ended after LR_LINK_SILENT_END_MS without data (it
 * broke: a blackout, a dead sender) rather than at its sender's close, which
 * comes within about 1.5 RTT of the last data (drain_send_buffer). What was
 * in flight when it broke may be cut short. */
#define LR_LINK_SILENT_END_MS 1000
int  lr_link_avio_broke(AVIOContext *pb);

/* How a sending link is doing, for a sender that adapts to the path. */
typedef struct lr_link_health {
    double  rtt_ms;          /* SRT's smoothed RTT */
    int     latency_ms;      /* the peer's (SRTO_PEERLATENCY) */
    int     send_buffer_ms;  /* span of what waits for an acknowledgement */
    int64_t acks;            /* acknowledgements received, in total */
    int64_t sent;            /* data packets sent, in total (first sends and again) */
    int64_t send_dropped;    /* packets the sender gave up as too late, in total */
} lr_link_health;
int  lr_link_avio_health(AVIOContext *pb, lr_link_health *h);

/* Paces a sending link at most at cap_kbps (SRTO_MAXBW, and link.maxbw_kbps
 * if lower); 0: back to the links' usual pacing (set_common_opts). */
int  lr_link_avio_pace(AVIOContext *pb, int64_t cap_kbps);

/* Closes a socket that was never wrapped in an AVIOContext. */
void lr_link_close_socket(int sock);

/* Converts libsrt's last error into an AVERROR and logs it with what. */
int  lr_srt_error(const char *what);

#endif
