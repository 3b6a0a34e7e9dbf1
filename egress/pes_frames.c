/* egress/pes_frames.c — see pes_frames.h. */
#include "pes_frames.h"

#include <libavcodec/codec_id.h>
#include <libavutil/error.h>
#include <libavutil/mathematics.h>

#define ADTS_HEADER 7

static const int adts_rates[16] = { 96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050,
                                    16000, 12000, 11025, 8000, 7350 };

/* The length and the samples of the ADTS frame at p, or 0 if it is none. */
static int adts_frame(const uint8_t *p, int left, int *samples, int *rate)
{
    int len, r;

    if (left < ADTS_HEADER || p[0] != 0xff || (p[1] & 0xf6) != 0xf0)
        return 0;
    len = ((p[3] & 3) << 11) | (p[4] << 3) | (p[5] >> 5);
    r = adts_rates[(p[2] >> 2) & 0xf];
    if (len < ADTS_HEADER || len > left || !r)
        return 0;
    *rate = r;
    *samples = 1024 * ((p[6] & 3) + 1);
    return len;
}

int lr_pes_split_adts(const AVPacket *pes, void (*fn)(void *opaque, const AVPacket *frame),
                      void *opaque)
{
    AVPacket frame;
    int64_t samples = 0;
    int off = 0, n = 0, rate = 0;

    while (off < pes->size) {
        int len, count;
        int64_t shift;

        frame = *pes;   /* shallow: fn takes its own reference if it keeps it */
        frame.side_data = NULL;
        frame.side_data_elems = 0;
        if (!(len = adts_frame(pes->data + off, pes->size - off, &count, &rate))) {
            len = pes->size - off;    /* not ADTS (a damaged PES): the rest as it is */
            count = 0;
        }
        shift = rate ? av_rescale(samples, 90000, rate) : 0;
        frame.data = pes->data + off;
        frame.size = len;
        if (frame.pts != AV_NOPTS_VALUE)
            frame.pts += shift;
        if (frame.dts != AV_NOPTS_VALUE)
            frame.dts += shift;
        frame.duration = count ? av_rescale(count, 90000, rate) : 0;  /* rate set with count */
        frame.flags = AV_PKT_FLAG_KEY | (pes->flags & AV_PKT_FLAG_CORRUPT);
        fn(opaque, &frame);
        samples += count;
        off += len;
        n++;
    }
    return n;
}
