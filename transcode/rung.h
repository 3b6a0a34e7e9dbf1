/* transcode/rung.h — one rung's own thread: takes the decoded frames from a
 * bounded queue, drops what its frame-rate cap leaves out, scales (or passes
 * a same-size frame through), encodes with its libx264 and hands the packets
 * to the sink. Captions and other frame side data go along with every frame.
 * Where the timestamps break (a jump of LR_RUNG_BREAK_S or more, or back),
 * the rung flushes its encoder and opens a new one, so that no GOP spans the
 * break: x264 reorders frames, and its decode timestamps would otherwise
 * carry the jump into the middle of a GOP. Started and ended by pipeline.c. */
#ifndef LR_TRANSCODE_RUNG_H
#define LR_TRANSCODE_RUNG_H

#include <libavcodec/avcodec.h>

#include "encoder.h"
#include "ladder.h"
#include "sink.h"

#define LR_RUNG_BREAK_S 1.0   /* the egress's own threshold of a break */

typedef struct lr_rung_worker lr_rung_worker;

typedef struct lr_rung_cpu {
    int64_t scale_ns;   /* CPU of this thread in sws_scale */
    int64_t sink_ns;    /* CPU of this thread in the sink (muxing) */
    int64_t thread_ns;  /* all CPU of this thread (set when it ends) */
    int64_t frames;     /* frames encoded */
    int64_t capped;     /* frames left out by the frame-rate cap */
} lr_rung_cpu;

/* Opens the rung's encoder as vp says and starts the thread, named
 * thread_name, encoding ladder stream `stream`; queue_frames bounds its input
 * queue. Returns 0 or a negative AVERROR. */
int  lr_rung_start(const lr_venc_params *vp, int stream, int queue_frames,
                   lr_sink_fn *sink, void *opaque, const char *thread_name,
                   lr_rung_worker **out);
/* Moves frame's reference to the rung (pict_type AV_PICTURE_TYPE_I: an IDR
 * here). Waits while its queue is full. Returns 0, or the error that ended
 * the rung's thread. */
int  lr_rung_send(lr_rung_worker *w, AVFrame *frame);
/* Ends the input; the thread encodes what is queued and flushes the encoder,
 * unless abort, then it discards them. Joins the thread. Returns the
 * thread's result (0 or a negative AVERROR). */
int  lr_rung_finish(lr_rung_worker *w, int abort);
/* Finishes with abort if still running; frees everything; *w = NULL. */
void lr_rung_free(lr_rung_worker **w);

/* The encoder's stream parameters as first opened (a reopened encoder has
 * the same), for the muxer; safe from any thread. */
const AVCodecParameters *lr_rung_codecpar(const lr_rung_worker *w);
/* How far the rung got, for /metrics: packets out of its encoder, the
 * newest one's pts in microseconds (AV_NOPTS_VALUE none yet), frames
 * waiting in its queue. Any thread. */
typedef struct lr_rung_progress {
    int64_t frames, pts_us;
    int     queued;
} lr_rung_progress;
void lr_rung_progress_get(lr_rung_worker *w, lr_rung_progress *out);
/* Counters; exact once finished. */
void lr_rung_cpu_get(const lr_rung_worker *w, lr_rung_cpu *out);

#endif
