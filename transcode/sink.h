/* transcode/sink.h — where the ladder's encoded packets go: the egress link
 * (transcode.c) or a file (offline.c). Called by pipeline.c and audio.c from
 * several threads at once, so a sink serialises its own writes. */
#ifndef LR_TRANSCODE_SINK_H
#define LR_TRANSCODE_SINK_H

#include <libavcodec/packet.h>
#include <libavutil/rational.h>

/* Takes pkt (in time base tb) for ladder stream `stream`: 0..nb_rungs-1 are
 * the rungs' video, nb_rungs the audio. The sink unrefs pkt. Returns 0, or a
 * negative AVERROR that ends the pipeline (AVERROR_EXIT on a stop). */
typedef int lr_sink_fn(void *opaque, AVPacket *pkt, int stream, AVRational tb);

#endif
