/* transcode/encoder.h — the libx264 settings of one rung: rate control
 * (capped CRF or strict CBR at the rung's cap), profile, and keyframes only
 * where the shared schedule forces them. Called by pipeline.c; tested in
 * tests/unit/test_encoder.c. */
#ifndef LR_TRANSCODE_ENCODER_H
#define LR_TRANSCODE_ENCODER_H

#include <libavcodec/avcodec.h>

#include "common/config.h"
#include "ladder.h"

/* Opens libx264 for rung r: frames in time base tb at frame rate fps (the
 * rung's own, after its cap), threads as x264 threads (0: x264's own choice).
 * Returns 0 and the open encoder in *out, or a negative AVERROR (logged). */
int lr_venc_open(const lr_transcode_conf *tc, const lr_rung *r, AVRational tb,
                 AVRational fps, int threads, AVCodecContext **out);

#endif
