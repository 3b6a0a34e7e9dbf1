/* transcode/audio.h — the lecture's one audio track: decoded audio resampled
 * once to 48 kHz stereo and encoded once with AAC, shared by every rung (and
 * the audio-only rendition). Called by pipeline.c. */
#ifndef LR_TRANSCODE_AUDIO_H
#define LR_TRANSCODE_AUDIO_H

#include <libavcodec/avcodec.h>

#include "sink.h"

typedef struct lr_audio lr_audio;

/* For audio decoded by dec. Returns 0 or a negative AVERROR. */
int  lr_audio_open(const AVCodecContext *dec, int bitrate_kbps, lr_audio **out);
void lr_audio_free(lr_audio **a);
const AVCodecContext *lr_audio_encoder(const lr_audio *a);

/* Encodes frame (NULL: flush at the end) and hands the packets to
 * sink(opaque, pkt, stream, tb). Returns 0 or a negative AVERROR. */
int  lr_audio_send(lr_audio *a, const AVFrame *frame, lr_sink_fn *sink, void *opaque,
                   int stream);

/* Pads the track with silence to 0.1 s past end (in tb), whole AAC frames:
 * when a source ends, its audio lasts as long as its video, so no player
 * finds an audio hole before the next run of media (a discontinuity). A
 * shortfall over 3 s is left alone (the audio stopped for a reason).
 * Returns the samples added (48 kHz) or a negative AVERROR. */
int  lr_audio_pad_to(lr_audio *a, int64_t end, AVRational tb, lr_sink_fn *sink, void *opaque,
                     int stream);

#endif
