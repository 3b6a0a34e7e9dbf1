/* egress/segmenter.h — cuts one rendition into segments and, for Low-Latency
 * HLS, partial segments, muxed by libavformat into memory: CMAF fragmented
 * MP4 (an init section, then one moof+mdat fragment per part) or MPEG-TS
 * (every segment opens with PAT/PMT). A segment's bytes are exactly the
 * concatenation of its parts' bytes.
 *
 * A rendition with video cuts segments at its keyframes (the transcoder
 * aligns them across rungs) and parts every part_duration. A rendition
 * without video (the audio rendition of fMP4 output) cuts where it is told
 * (lr_segmenter_cut), so that its segment N and part N.k cover the same time
 * as the video's. Called by egress.c for every rendition of a lecture. */
#ifndef LR_EGRESS_SEGMENTER_H
#define LR_EGRESS_SEGMENTER_H

#include <libavcodec/packet.h>
#include <libavformat/avformat.h>
#include <libavutil/buffer.h>

typedef struct lr_segmenter lr_segmenter;

typedef enum lr_seg_format { LR_SEG_FMP4, LR_SEG_TS } lr_seg_format;

/* An audio part, cut at the first audio frame after the video's cut, can
 * outlast the video's part by one AAC frame (1024 samples at >= 44.1 kHz):
 * the PART-TARGET advertised with an audio rendition adds this. */
#define LR_SEGMENTER_AUDIO_SLACK 0.024

typedef struct lr_segmenter_opts {
    lr_seg_format format;
    double        min_duration;   /* a keyframe closer than this to the
                                     segment's start does not cut, seconds */
    double        part_duration;  /* 0: no parts; a video part never lasts longer */
    int64_t       slot_period;    /* > 0: the sender keeps a keyframe schedule of this
                                     period (1/90000, common/ts_wall.h): a keyframe cuts
                                     only in a slot the open segment doesn't start in,
                                     and min_duration is not used */
} lr_segmenter_opts;

typedef enum lr_seg_kind { LR_OUT_INIT, LR_OUT_PART, LR_OUT_SEGMENT } lr_seg_kind;

typedef struct lr_seg_output {
    lr_seg_kind  kind;
    AVBufferRef *data;         /* immutable; the callee takes its own reference */
    int64_t      start_pts;    /* of its first frame, 1/90000 */
    double       duration;     /* seconds (0 for INIT) */
    int          part;         /* PART: its index in the segment */
    int          independent;  /* PART: starts with a keyframe (or is audio) */
    int          gap_after;    /* SEGMENT: the media jumps forward after it */
} lr_seg_output;

/* Receives every output in order: INIT once before anything, then each
 * segment's PARTs followed by the SEGMENT itself. */
typedef void (*lr_seg_emit)(void *opaque, const lr_seg_output *out);

/* video, audio: either may be NULL (not both). Streams keep the time bases
 * given. Returns 0 or a negative AVERROR. */
int  lr_segmenter_alloc(const AVStream *video, const AVStream *audio,
                        const lr_segmenter_opts *opts, lr_seg_emit emit, void *opaque,
                        lr_segmenter **out);
void lr_segmenter_free(lr_segmenter **s);

/* Changes opts.min_duration for the segments cut from now on. */
void lr_segmenter_set_min_duration(lr_segmenter *s, double min_duration);

/* Feeds one packet (not consumed: the caller still owns it). Outputs are
 * emitted from inside the call. Video packets before the first keyframe are
 * dropped. Each packet is held until the next one gives its duration. */
int  lr_segmenter_push(lr_segmenter *s, int is_video, const AVPacket *pkt);

/* For a segmenter without video: the next packet at or after pts (1/90000)
 * starts a new part, and a new segment if `segment`. */
void lr_segmenter_cut(lr_segmenter *s, int64_t pts, int segment);

/* Ends the open part and segment with what they hold (the link ended). */
void lr_segmenter_flush(lr_segmenter *s);

/* The codec string for CODECS=: "avc1.PPCCLL" from the SPS seen in the video,
 * or "mp4a.40.N" for AAC audio; empty until known. */
const char *lr_segmenter_codec(const lr_segmenter *s);

/* 1 once CEA-608/708 captions (A/53 SEI) went by in the video. */
int  lr_segmenter_has_captions(const lr_segmenter *s);

#endif
