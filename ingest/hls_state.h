/* ingest/hls_state.h — has a pulled HLS stream ended? Fetches its playlist
 * (a master playlist is followed to its first variant) and looks for
 * EXT-X-ENDLIST or EXT-X-PLAYLIST-TYPE:VOD. Called by source.c at the end of
 * a session and by feed.c while it watches an ended URL for a new stream. */
#ifndef LR_INGEST_HLS_STATE_H
#define LR_INGEST_HLS_STATE_H

#include <stddef.h>

#include "common/stop.h"

/* What a playlist says of its stream. */
enum {
    LR_HLS_LIVE  = 0,   /* more segments may come */
    LR_HLS_ENDED = 1,   /* EXT-X-ENDLIST, or EXT-X-PLAYLIST-TYPE:VOD */
    LR_HLS_MASTER = 2,  /* a master playlist: see its variant (parse only) */
};

/* Why libavformat's hls demuxer is not asked: it returns AVERROR_EOF both at
 * EXT-X-ENDLIST and after some playlist reload errors (a 404 or 5xx on a
 * live playlist), so its EOF alone does not prove that the stream ended. */

/* Fetches url's playlist (and its first variant's, for a master) within
 * timeout_ms; every blocking call is cancelled by stop. Returns LR_HLS_LIVE,
 * LR_HLS_ENDED, or a negative AVERROR: it could not be fetched (network,
 * HTTP 404 or 5xx: AVERROR_HTTP_*), AVERROR_INVALIDDATA if it is no
 * playlist, AVERROR_EXIT on stop or timeout. Logs nothing above debug. */
int lr_hls_state_probe(const char *url, lr_stop *stop, int timeout_ms);

/* The parse on its own, of a whole playlist's text: LR_HLS_LIVE,
 * LR_HLS_ENDED, or LR_HLS_MASTER with its first variant's URI (as written)
 * in variant; AVERROR_INVALIDDATA if text is no playlist (no #EXTM3U) or a
 * master without a variant, AVERROR(ENAMETOOLONG) if the URI does not fit. */
int lr_hls_state_parse(const char *text, char *variant, size_t variant_size);

/* ref resolved against base (RFC 3986 section 5.2, enough of it for
 * playlists: a URI with a scheme, //authority, /absolute-path, or a path
 * relative to base's folder, with . and .. segments removed). base may be a
 * URL or a file path. Returns 0, or AVERROR(ENAMETOOLONG). */
int lr_hls_state_resolve(const char *base, const char *ref, char *out, size_t size);

/* 1 if url names an HLS playlist by its path (.m3u8 or .m3u, before any
 * query), so it can be probed before it is opened. */
int lr_hls_state_likely(const char *url);

#endif
