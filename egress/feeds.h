/* egress/feeds.h — the links feeding one lecture, merged into its packager.
 *
 * A lecture may arrive over several links at once: redundant feeds, from one
 * transcoder over two network paths (transcode.link listing the egress
 * twice) or from two transcoders fed by the same ingest. Every stream of the
 * ladder follows one feed; what another feed delivers first waits in that
 * feed's backlog. When the followed feed delivers nothing of a stream for
 * LR_FEED_SILENT_MS (two frame intervals, if longer) while another brings
 * what comes next (it died, or its path went dark), or falls
 * LR_FEED_SWITCH_MS of media behind another (its path runs late), the
 * stream switches to the other and continues from its backlog right after
 * the last packet it published: no gap, no discontinuity. Feeds from one
 * transcoder carry the same encode, so nothing a player sees changes; two
 * transcoders make the same keyframes (transcode/keyframes.h) but their own
 * pictures between them, so a switch between keyframes may show a damaged
 * picture until the next one. A frame that arrives damaged (its link gave
 * up part of it) is replaced by another feed's whole copy if one came
 * already, else left out, or if it is a keyframe, replaced by the last
 * whole one (feeds.c says why). Feeds leaving are noticed when their
 * receiver ends; the last one leaving ends the packager's link.
 *
 * Thread-safe: each feed's receiver thread calls in; the packager is driven
 * under the feeds' lock. */
#ifndef LR_EGRESS_FEEDS_H
#define LR_EGRESS_FEEDS_H

#include <libavformat/avformat.h>

#include "packager.h"

#define LR_MAX_FEEDS       4
#define LR_FEED_SWITCH_MS  500
/* Well above a stream's packet interval (a frame: 33 ms at 30 fps, 21 ms of
 * AAC), well below a player's buffer. */
#define LR_FEED_SILENT_MS  250

typedef struct lr_feeds lr_feeds;

int  lr_feeds_alloc(lr_packager *pk, const char *lecture, int max_feeds, lr_feeds **out);
void lr_feeds_free(lr_feeds **f);

/* A link's ladder (demuxed, stream info found) joins. The first feed starts
 * the packager's link; a later one must carry the same renditions (names,
 * codecs, sizes) and audio. Returns the feed's id (>= 0) and sets
 * *nb_renditions, or AVERROR(EBUSY) when max_feeds are live, or
 * AVERROR(EINVAL) with *why set when the ladder differs. */
int  lr_feeds_join(lr_feeds *f, const AVFormatContext *ifmt, int *nb_renditions,
                   const char **why);
/* One packet of feed `feed`'s link (not consumed). */
void lr_feeds_packet(lr_feeds *f, int feed, const AVPacket *pkt);
/* The feed's link ended. */
void lr_feeds_leave(lr_feeds *f, int feed);

int     lr_feeds_live(lr_feeds *f);
/* Times a stream moved to another feed, since the start. */
int64_t lr_feeds_switches(lr_feeds *f);

/* Frames that arrived damaged (their link gave up part of them), since the
 * start, by what became of them. */
enum lr_damage {
    LR_DAMAGE_REPLACED,  /* by another feed's whole copy */
    LR_DAMAGE_DROPPED,   /* left out */
    LR_DAMAGE_CONCEALED, /* a video keyframe, replaced by the last whole one */
    LR_DAMAGE_KEPT,      /* a video keyframe, and no whole one yet */
    LR_DAMAGE_KINDS
};
int64_t lr_feeds_damaged(lr_feeds *f, enum lr_damage kind);

#endif
