/* egress/segmenter.h — cuts one rendition into MPEG-TS segments at its
 * keyframes, each muxed by libavformat into memory. Called by egress.c for
 * every rendition of a lecture; audio packets are fed to every rendition. */
#ifndef LR_EGRESS_SEGMENTER_H
#define LR_EGRESS_SEGMENTER_H

#include <libavcodec/packet.h>
#include <libavformat/avformat.h>
#include <libavutil/buffer.h>

typedef struct lr_segmenter lr_segmenter;

typedef struct lr_segment {
    AVBufferRef *data;       /* the whole segment, immutable */
    int64_t      start_pts;  /* pts of its first video frame, 1/90000 */
    double       duration;   /* seconds, up to the next segment's start, or to
                                the end of its last frame before a gap */
    int          gap_after;  /* the media jumps forward after it (a break) */
} lr_segment;

/* video is required; audio may be NULL. Streams keep the time bases given.
 * min_duration: a keyframe closer than this to the segment start does not cut. */
int  lr_segmenter_alloc(const AVStream *video, const AVStream *audio, double min_duration,
                        lr_segmenter **out);
void lr_segmenter_free(lr_segmenter **s);

/* Feeds one packet (not consumed: the caller still owns it). When the packet
 * closes a segment, returns 1 and fills *done (the caller owns done->data);
 * otherwise 0. Packets before the first keyframe are dropped. */
int  lr_segmenter_push(lr_segmenter *s, int is_video, const AVPacket *pkt, lr_segment *done);

/* The SPS's profile, constraint flags and level seen in the video, as
 * "avc1.PPCCLL"; empty until a keyframe with an SPS went by. */
const char *lr_segmenter_video_codec(const lr_segmenter *s);

#endif
