/* transcode/ladder_mux.h — the ladder as one MPEG-TS: a program per rung
 * (service_name = rung name) with its video and the shared audio, and an
 * audio-only program ("audio") when configured. Called by transcode.c (the
 * egress link) and offline.c (a file). */
#ifndef LR_TRANSCODE_LADDER_MUX_H
#define LR_TRANSCODE_LADDER_MUX_H

#include <libavformat/avformat.h>

#include "pipeline.h"

#define LR_AUDIO_ONLY_NAME "audio"

/* Allocates the muxer on pb (not owned) with stream i = ladder stream i of
 * p (sink.h) and writes the header. Returns 0 or a negative AVERROR. */
int lr_ladder_mux_open(AVIOContext *pb, const lr_pipeline *p, int audio_only,
                       AVFormatContext **out);

#endif
