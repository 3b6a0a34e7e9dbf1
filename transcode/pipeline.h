/* transcode/pipeline.h — turns one lecture's demuxed packets into the ladder:
 * decode video and audio once, put IDRs on the shared keyframe schedule, hand
 * each decoded frame to every rung's thread (rung.c), encode the one audio
 * track (audio.c), and pass all packets to a sink. With passthrough
 * (transcode.passthrough) an H.264 source of the top rung's size is that
 * rung as is (until it changes size: then that rung is encoded too), and
 * its IDRs set the other rungs' keyframes. Used by
 * transcode.c (the live role, input from the link) and offline.c (a file,
 * as fast as it goes). */
#ifndef LR_TRANSCODE_PIPELINE_H
#define LR_TRANSCODE_PIPELINE_H

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#include "common/config.h"
#include "ladder.h"
#include "sink.h"

typedef struct lr_pipeline lr_pipeline;

/* Plans the ladder for ifmt's video (opened, stream info found; not owned)
 * and opens the decoders and encoders. sink gets every packet, from several
 * threads. live: a live lecture, decoded without frame threads (each of
 * them holds a frame back: 67 ms at 30 fps with 3); a file is decoded with
 * them, for throughput. Returns 0 or a negative AVERROR (logged with the
 * lecture). */
int  lr_pipeline_open(const lr_transcode_conf *tc, const char *lecture, AVFormatContext *ifmt,
                      int live, lr_sink_fn *sink, void *opaque, lr_pipeline **out);
/* Decodes one packet read from ifmt (others are ignored) and encodes what it
 * yields. A damaged packet costs frames, not the lecture. Returns 0, or the
 * error of a rung or the sink. */
int  lr_pipeline_send_packet(lr_pipeline *p, AVPacket *pkt);
/* The next video frame is an IDR in every rung (a new egress link). No
 * effect with passthrough: the source's keyframes can't be moved, so a new
 * link starts at the source's next IDR. */
void lr_pipeline_force_keyframe(lr_pipeline *p);
/* Stops what still runs (unless lr_pipeline_finish ended it) and joins
 * every thread: the sink is not called after it returns. */
void lr_pipeline_join(lr_pipeline *p);
/* End of the input: drains decoders and encoders into the sink, then logs
 * where the CPU went. Returns 0 or a negative AVERROR. */
int  lr_pipeline_finish(lr_pipeline *p);
/* Stops the rungs' threads (discarding queued frames unless finished) and
 * frees everything; *p = NULL. */
void lr_pipeline_free(lr_pipeline **p);

/* 1 while rung 0 is the source passed through (sent as its packets come
 * in, ahead of the encoded rungs' frames of the same moment); 0 once a
 * change of the source's size made it an encoded rung. Any thread. */
int                   lr_pipeline_passthrough(const lr_pipeline *p);
/* The keyframe schedule's period in 1/90000 on the wall-clock axis
 * (common/ts_wall.h), when a live lecture's keyframes keep it; 0 with
 * passthrough (the source's IDRs) or from a file. */
int64_t               lr_pipeline_keyframe_period(const lr_pipeline *p);
/* What /metrics shows of the pipeline: each rung's frames out (a rung
 * passed through counts the source's), how far the slowest encoded rung
 * got (pts in microseconds, AV_NOPTS_VALUE none yet), the fullest rung
 * queue, when the last video packet came in (lr_now_ns(); 0 none), and
 * whether a packet is being handed in now (decoded, or waiting for a full
 * rung queue: input is there, the pipeline is behind). Any thread. */
typedef struct lr_pipeline_stats {
    int         nb_rungs;
    const char *names[LR_MAX_RUNGS];
    int64_t     frames[LR_MAX_RUNGS];
    int64_t     pts_us;
    int         queued;
    int64_t     last_in_ns;
    int         busy;
} lr_pipeline_stats;
void lr_pipeline_get_stats(lr_pipeline *p, lr_pipeline_stats *out);
/* The ladder, for the muxer: rungs 0..nb-1, then the audio (NULL if none). */
int                   lr_pipeline_nb_rungs(const lr_pipeline *p);
const lr_rung        *lr_pipeline_rung(const lr_pipeline *p, int i);
const AVCodecParameters *lr_pipeline_video_codecpar(const lr_pipeline *p, int i);
const AVCodecContext *lr_pipeline_audio_encoder(const lr_pipeline *p);

#endif
