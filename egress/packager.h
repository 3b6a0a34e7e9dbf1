/* egress/packager.h — one lecture's packaging: the renditions of its ladder
 * cut into segments and LL-HLS parts (segmenter.c), their media playlists
 * and the master rendered once per change (playlist.c) and published to the
 * store the HTTP server reads, the time-shift window, and the recording
 * (recorder.c). Its state outlives a link, so a reconnect continues the same
 * playlists. One receiver thread at a time drives it; egress.c owns it. */
#ifndef LR_EGRESS_PACKAGER_H
#define LR_EGRESS_PACKAGER_H

#include <libavformat/avformat.h>

#include "common/config.h"
#include "common/streamid.h"
#include "store.h"

typedef struct lr_packager lr_packager;

int  lr_packager_alloc(const lr_egress_conf *ec, lr_store *store, const char *lecture,
                       lr_packager **out);
/* Frees; the recording stays resumable (egress shutdown). */
void lr_packager_free(lr_packager **p);

/* The service_name of the MPEG-TS program holding ifmt's stream v (a
 * ladder link names each rendition's program so), or NULL. */
const char *lr_program_name(const AVFormatContext *ifmt, unsigned v);

/* A link arrived: maps its programs to renditions (one per video program,
 * named by service_name, plus "audio" for fMP4) and opens the recording.
 * Returns how many video renditions, or a negative AVERROR. */
int  lr_packager_link_start(lr_packager *p, const AVFormatContext *ifmt);
/* One packet of the link (not consumed). */
void lr_packager_packet(lr_packager *p, const AVPacket *pkt);
/* The link ended: what the segmenters hold is published. */
void lr_packager_link_end(lr_packager *p);
/* The lecture is over (no link for the grace time): playlists end
 * (EXT-X-ENDLIST) and the recording becomes a VOD. */
void lr_packager_end(lr_packager *p);

/* What /metrics and the status page show of a lecture's packaging. */
#define LR_PACKAGER_MAX_RENDS 16
typedef struct lr_packager_rend_stats {
    char    name[LR_LECTURE_NAME_MAX + 1];
    int     live;          /* listed and advancing: neither shed nor ended */
    int64_t segment_ns;    /* lr_now_ns() when its newest segment was published; 0 none */
    int64_t part_ns;       /* ...its newest part (or segment without parts) */
} lr_packager_rend_stats;

typedef struct lr_packager_stats {
    int     nb_rends;
    lr_packager_rend_stats rends[LR_PACKAGER_MAX_RENDS];
    int     target_duration;  /* EXT-X-TARGETDURATION, s; 0 before it is known */
    int     recording;        /* a recording is being written */
    int64_t recording_bytes;  /* media written to it (or to the last one) */
    int     recording_failing;  /* its writes fail (a full disk...): lr_recorder_failing() */
    int64_t recording_lost;   /* segments it lost (disk errors, a full queue) */
} lr_packager_stats;

/* A consistent copy; any thread. */
void lr_packager_get_stats(lr_packager *p, lr_packager_stats *out);

#endif
