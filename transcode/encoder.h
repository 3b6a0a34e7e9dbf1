/* transcode/encoder.h — the libx264 settings of one rung: rate control
 * (capped CRF or strict CBR at the rung's cap), profile, and keyframes only
 * where the shared schedule forces them. Called by pipeline.c; tested in
 * tests/unit/test_encoder.c. */
#ifndef LR_TRANSCODE_ENCODER_H
#define LR_TRANSCODE_ENCODER_H

#include <libavcodec/avcodec.h>

#include "common/config.h"
#include "ladder.h"

/* What opens one rung's libx264, kept by the rung to open it again. */
typedef struct lr_venc_params {
    const lr_transcode_conf *tc;
    lr_rung                  rung;
    AVRational               tb;       /* of the frames */
    AVRational               fps;      /* the rung's own, after its cap */
    int                      threads;  /* x264 threads (0: x264's own choice) */
} lr_venc_params;

/* Opens libx264 as vp says. Returns 0 and the open encoder in *out, or a
 * negative AVERROR (logged). */
int lr_venc_open(const lr_venc_params *vp, AVCodecContext **out);

#endif
