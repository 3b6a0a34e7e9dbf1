/* egress/playlist.h — renders HLS playlists (RFC 8216) as text: the media
 * playlist of one rendition and the master (multivariant) playlist of a
 * lecture. Pure; called by egress.c, tested in tests/unit/test_playlist.c. */
#ifndef LR_EGRESS_PLAYLIST_H
#define LR_EGRESS_PLAYLIST_H

#include <stddef.h>
#include <stdint.h>

typedef struct lr_seg_info {
    int64_t seq;            /* media sequence number */
    double  duration;       /* seconds */
    int     discontinuity;  /* a real break in the media precedes it */
    int64_t bytes;
} lr_seg_info;

typedef struct lr_media_playlist {
    int                target_duration;  /* seconds, >= every rounded duration */
    int64_t            disc_sequence;    /* EXT-X-DISCONTINUITY-SEQUENCE */
    const lr_seg_info *segs;             /* consecutive seq numbers, oldest first */
    int                nb_segs;
    const char        *ext;              /* segment file extension, "ts" */
} lr_media_playlist;

typedef struct lr_variant {
    const char *name;           /* rendition: its URI is "<name>/index.m3u8" */
    int64_t     bandwidth;      /* peak bits/s of its segments */
    int64_t     avg_bandwidth;  /* average bits/s */
    int         width, height;
    double      frame_rate;     /* 0: unknown */
    const char *codecs;         /* "avc1.64001f,mp4a.40.2" */
} lr_variant;

/* The smallest EXT-X-TARGETDURATION for these segments: every duration
 * rounded to the nearest integer, and at least min_target. */
int lr_playlist_target_duration(const lr_seg_info *segs, int nb_segs, int min_target);

/* Each returns 0 and an av_malloc'd NUL-terminated text in *out (length in
 * *len), or AVERROR(EINVAL) / AVERROR(ENOMEM). */
int lr_playlist_render_media(const lr_media_playlist *pl, char **out, size_t *len);
int lr_playlist_render_master(const lr_variant *v, int nb, char **out, size_t *len);

#endif
