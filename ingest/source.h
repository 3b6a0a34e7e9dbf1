/* ingest/source.h — one lecture source read as a live stream: a file (paced
 * at real time, looped with timestamps that keep rising) or any URL
 * libavformat opens (every blocking call interruptible by the role's stop).
 * Called by feed.c. */
#ifndef LR_INGEST_SOURCE_H
#define LR_INGEST_SOURCE_H

#include <libavformat/avformat.h>

#include "common/stop.h"
#include "rtmp_listener.h"

typedef struct lr_source lr_source;

/* Opens a file or URL. stall_ms > 0: a read that brings nothing for that
 * long fails with AVERROR(ETIMEDOUT) (opening may take up to 10 s). quiet:
 * a failure to open is logged at debug level only (a retry of one that
 * failed before). AVERROR_EOF: an HLS playlist that has ended already
 * (libavformat would play it from its first segment), not logged. */
int  lr_source_open(const char *url, int loop, int realtime, int stall_ms, int quiet,
                    lr_stop *stop, lr_source **out);
/* Opens a lecturer's SRT push (an accepted socket, owned from now on, even on
 * error) as a source of MPEG-TS; silence for stall_ms fails it. */
int  lr_source_open_push(int sock, const char *peer, int stall_ms, lr_stop *stop,
                         lr_source **out);
/* Opens an admitted RTMP publisher (owned from now on, even on error) as a
 * source of FLV; silence for stall_ms fails it. */
int  lr_source_open_rtmp(lr_rtmp_conn *conn, int stall_ms, lr_stop *stop, lr_source **out);
/* "push from 1.2.3.4:5" or the URL, for logs. */
const char *lr_source_name(const lr_source *s);
/* The demuxer, for stream parameters; packets come only from lr_source_read. */
const AVFormatContext *lr_source_format(const lr_source *s);
/* Next packet, due now; timestamps continue across loops. Returns 0,
 * AVERROR_EOF at the end (no loop), AVERROR_EXIT on stop, or an error. */
int  lr_source_read(lr_source *s, AVPacket *pkt);
/* After lr_source_read returned ret < 0: 1 if the source ended cleanly, with
 * the reason for logs in why; 0 if it was lost (or is stopping). A clean end
 * is: a file's end (no loop) without a read error; an RTMP server's end of
 * stream (AVERROR_EOF, no I/O error); an HLS playlist whose EXT-X-ENDLIST
 * (or PLAYLIST-TYPE:VOD) is confirmed by fetching it (may block up to 10 s,
 * cancelled by stop); an SRT peer that closed within 1 s of its last data.
 * Anything else, a stall included, is a loss. */
int  lr_source_ended(lr_source *s, int ret, char *why, size_t size);
/* 1 if the source turned out to be an HLS playlist. */
int  lr_source_is_hls(const lr_source *s);
/* Restarts real-time pacing from now (after a pause such as a link
 * reconnect), so the backlog is not sent in a burst. */
void lr_source_repace(lr_source *s);
/* An SRT push only: the demuxer opened afresh on the same connection, which
 * reads on from where the last one stopped and learns the streams anew (an
 * encoder that moved its media to new PIDs mid-stream: a demuxer keeps a
 * stream's first codec, and knows nothing of a new stream's parameters
 * until it has probed it). Returns 0, AVERROR(ENOSYS) for other sources, or
 * the demuxer's error (the source is then only good for closing). */
int  lr_source_reprobe(lr_source *s);
int  lr_source_can_reprobe(const lr_source *s);
void lr_source_close(lr_source **s);

#endif
