/* egress/pes_frames.h — a ladder link's PES packets as the frames the
 * packager wants.
 *
 * The egress reads its links without libavformat's parsers
 * (AVFMT_FLAG_NOPARSE | AVFMT_FLAG_NOFILLIN): a parser completes a frame
 * only when it reads the next PES, and marks it with that PES's flags, so
 * the damage of a PES SRT gave up part of (the demuxer's continuity check)
 * was reported on the frame before it, and the damaged frame passed as
 * whole. Read without parsers, a packet is one PES, flagged exactly. The
 * keyframe flag of an H.264 or HEVC access unit (the transcoder writes one
 * per PES) comes back from common/annexb.h; this gives back one packet per
 * AAC frame (the TS muxer packs several ADTS frames into a PES). */
#ifndef LR_EGRESS_PES_FRAMES_H
#define LR_EGRESS_PES_FRAMES_H

#include <stdint.h>

#include <libavcodec/packet.h>

/* Calls fn with each ADTS frame of an audio PES in turn: a reference into
 * the PES's buffer, timestamps advanced by the samples before it, flagged
 * key, and corrupt if the PES was. What doesn't parse as ADTS (a damaged
 * PES) goes to fn as one packet. Returns the number of packets passed, or
 * a negative AVERROR. */
int lr_pes_split_adts(const AVPacket *pes, void (*fn)(void *opaque, const AVPacket *frame),
                      void *opaque);

#endif
