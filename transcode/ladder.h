/* transcode/ladder.h — plans the ladder a source gets: the configured rungs
 * that fit under the source (never upscaled), sized to its aspect ratio.
 * Pure; called by transcode.c, tested in tests/unit/test_ladder.c. */
#ifndef LR_TRANSCODE_LADDER_H
#define LR_TRANSCODE_LADDER_H

#include <libavutil/rational.h>

#include "common/config.h"
#include "common/streamid.h"

typedef struct lr_rung {
    char name[LR_LECTURE_NAME_MAX + 1];
    int  width, height;
    int  bitrate_kbps;
    char profile[16];   /* "" automatic */
    double fps;         /* frame-rate cap, 0 none */
    double crf;         /* capped CRF, 0: transcode.crf */
} lr_rung;

/* Fills out[] (room for max_out) with the rungs for a src_w x src_h source,
 * largest first. A rung taller than the source is left out; if none fits, the
 * smallest rung is kept at the source's own size. Dimensions are even.
 * Returns the number of rungs (>= 1), or AVERROR(EINVAL) for a bad source size. */
int lr_ladder_plan(const lr_rung_conf *conf, int nb_conf, int src_w, int src_h,
                   lr_rung *out, int max_out);

/* The frame rate rung r encodes at from a source at src: its cap when the
 * cap is lower than the source's rate, else the source's own. */
AVRational lr_ladder_rung_fps(const lr_rung *r, AVRational src);

#endif
