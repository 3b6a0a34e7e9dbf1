/* egress/playlist.h — renders HLS playlists (RFC 8216 and its LL-HLS
 * revision, draft-pantos-hls-rfc8216bis) as text: the media playlist of one
 * rendition (live, live low-latency with parts, or a finished VOD recording)
 * and the master (multivariant) playlist of a lecture. Pure; called by the
 * egress's packager and recorder, tested in tests/unit/test_playlist.c.
 *
 * URIs are relative to the playlist: segment "<seq>.<ext>", part
 * "<seq>.<part>.<ext>", init section init_uri, variant "<name>/index.m3u8".
 * Relative URIs matter: a signed URL's token travels in the path, so every
 * URI a player resolves against it carries the token too. */
#ifndef LR_EGRESS_PLAYLIST_H
#define LR_EGRESS_PLAYLIST_H

#include <stddef.h>
#include <stdint.h>

typedef struct lr_part_info {
    double duration;        /* seconds */
    int    independent;     /* starts with a keyframe: INDEPENDENT=YES */
} lr_part_info;

typedef struct lr_seg_info {
    int64_t seq;            /* media sequence number */
    double  duration;       /* seconds */
    int     discontinuity;  /* a real break in the media precedes it */
    int     gap;            /* no media for it: EXT-X-GAP (a slot the lecture or
                               this node missed); its URI is never served */
    int64_t bytes;
    int64_t pdt_ms;         /* wall clock of its first frame, ms since the
                               epoch: EXT-X-PROGRAM-DATE-TIME; 0 unknown */
    const lr_part_info *parts;  /* its parts, listed as EXT-X-PART before it
                                   when non-NULL (the newest segments only) */
    int     nb_parts;
} lr_seg_info;

/* 1 if the parts add up to the segment's duration within 50 ms, as a
 * rendered playlist needs for the segment to be listed with them. */
int lr_playlist_parts_match(const lr_part_info *parts, int nb_parts, double duration);

/* EXT-X-RENDITION-REPORT for another rendition of the same lecture. */
typedef struct lr_rendition_report {
    const char *uri;        /* relative to this playlist: "../720p/index.m3u8" */
    int64_t     last_msn;   /* its newest segment or partial segment's msn */
    int         last_part;  /* its newest part in last_msn; -1 none */
} lr_rendition_report;

typedef struct lr_media_playlist {
    int                target_duration;  /* seconds, >= every rounded duration */
    int64_t            disc_sequence;    /* EXT-X-DISCONTINUITY-SEQUENCE */
    const lr_seg_info *segs;             /* complete segments (or gaps), consecutive
                                            seq numbers, oldest first; may be 0 in
                                            LL mode while open_parts exist */
    int                nb_segs;
    const char        *ext;              /* segment and part extension: "m4s", "ts" */
    const char        *init_uri;         /* EXT-X-MAP URI ("init.mp4"); NULL none */
    const char        *playlist_type;    /* NULL live; "VOD" or "EVENT" */
    int                endlist;          /* EXT-X-ENDLIST: nothing more will come */

    /* Low-latency HLS; all ignored when part_target is 0. */
    double              part_target;     /* EXT-X-PART-INF:PART-TARGET, seconds */
    int64_t             open_seq;        /* the segment being built (last seq + 1) */
    int                 open_discontinuity; /* a break precedes the open segment */
    const lr_part_info *open_parts;      /* its parts so far */
    int                 nb_open_parts;
    int                 preload_hint;    /* EXT-X-PRELOAD-HINT for the next part */
    double              hold_back;       /* EXT-X-SERVER-CONTROL HOLD-BACK (>= 3x target) */
    double              part_hold_back;  /* PART-HOLD-BACK (>= 2x part target; 3x advised) */
    double              can_skip_until;  /* CAN-SKIP-UNTIL (>= 6x target); 0: no delta updates */
    int                 skip;            /* render the delta update (_HLS_skip=YES):
                                            segments older than can_skip_until from the
                                            end are replaced by EXT-X-SKIP */
    const lr_rendition_report *reports;
    int                 nb_reports;
} lr_media_playlist;

typedef struct lr_variant {
    const char *name;           /* rendition: its URI is "<name>/index.m3u8" */
    int64_t     bandwidth;      /* peak bits/s of its segments (video + its audio) */
    int64_t     avg_bandwidth;  /* average bits/s */
    int         width, height;  /* 0: audio-only variant */
    double      frame_rate;     /* 0: unknown */
    const char *codecs;         /* "avc1.64001f,mp4a.40.2" */
    const char *audio_group;    /* AUDIO="<group>"; NULL: audio muxed in or none */
    const char *closed_captions;/* CLOSED-CAPTIONS="<group>"; NULL: no attribute
                                   (never NONE: RFC 8216 4.3.4.2 makes NONE on
                                   one variant mean no captions in any) */
} lr_variant;

/* EXT-X-MEDIA, TYPE=AUDIO or TYPE=CLOSED-CAPTIONS. */
typedef struct lr_media_entry {
    const char *type;           /* "AUDIO" or "CLOSED-CAPTIONS" */
    const char *group;          /* GROUP-ID */
    const char *name;           /* NAME */
    const char *uri;            /* AUDIO: "<name>/index.m3u8"; CLOSED-CAPTIONS: NULL */
    const char *instream_id;    /* CLOSED-CAPTIONS: "CC1" */
    const char *language;       /* NULL none */
    int         channels;       /* AUDIO: CHANNELS; 0 unknown */
    int         is_default;     /* DEFAULT=YES,AUTOSELECT=YES */
} lr_media_entry;

/* A Content Steering pathway (RFC 8216bis 4.4.6.6): the same variants and
 * renditions served by another egress node. */
typedef struct lr_pathway {
    const char *id;          /* PATHWAY-ID: [A-Za-z0-9._-]+ */
    const char *uri_prefix;  /* before each URI: "" for this node's own (relative
                                URIs), "https://sh.example.cn/live/cs101/" for a peer */
} lr_pathway;

typedef struct lr_master {
    const lr_variant     *variants;
    int                   nb_variants;
    const lr_media_entry *media;
    int                   nb_media;
    /* Content Steering: EXT-X-CONTENT-STEERING with SERVER-URI and the first
     * pathway's id; each variant and each AUDIO rendition once per pathway,
     * this node's (pathways[0]) first, so players without steering play it.
     * A peer's AUDIO groups are its own ("<group>-<id>"). 0: none. */
    const char           *steering_uri;
    const lr_pathway     *pathways;
    int                   nb_pathways;
} lr_master;

/* The smallest EXT-X-TARGETDURATION for these segments: every duration
 * rounded to the nearest integer, and at least min_target. */
int lr_playlist_target_duration(const lr_seg_info *segs, int nb_segs, int min_target);

/* Each returns 0 and an av_malloc'd NUL-terminated text in *out (length in
 * *len), or AVERROR(EINVAL) / AVERROR(ENOMEM). The EXT-X-VERSION written is
 * the lowest the features used allow. */
int lr_playlist_render_media(const lr_media_playlist *pl, char **out, size_t *len);
/* Why lr_playlist_render_media() refuses pl (a short phrase), or NULL. */
const char *lr_playlist_media_problem(const lr_media_playlist *pl);
int lr_playlist_render_master(const lr_master *m, char **out, size_t *len);

/* A master playlist (in, len bytes) without its audio-only variants (an
 * EXT-X-STREAM-INF without RESOLUTION, and its URI line), for players that
 * start on the lowest variant and then never leave it, or that take the
 * variant naming the audio rendition's URI for that rendition: VLC 3 does
 * both, and plays video without sound. Same return convention. */
int lr_playlist_master_without_audio_only(const char *in, size_t len, char **out, size_t *out_len);

#endif
