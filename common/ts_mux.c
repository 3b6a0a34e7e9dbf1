/* common/ts_mux.c — see ts_mux.h. */
#include "ts_mux.h"

#include <libavutil/opt.h>

int lr_ts_mux_alloc(AVIOContext *pb, AVFormatContext **out)
{
    AVFormatContext *oc = NULL;
    int ret = avformat_alloc_output_context2(&oc, NULL, "mpegts", NULL);

    if (ret < 0)
        return ret;
    oc->pb = pb;
    oc->flags |= AVFMT_FLAG_CUSTOM_IO | AVFMT_FLAG_FLUSH_PACKETS;
    /* Keep the timestamps the lecture has: they are its clock end to end. */
    oc->avoid_negative_ts = AVFMT_AVOID_NEG_TS_DISABLED;
    oc->max_delay = 0;
    *out = oc;
    return 0;
}

int lr_ts_mux_begin(AVFormatContext *oc)
{
    AVDictionary *opts = NULL;
    int ret;

    av_dict_set(&opts, "mpegts_copyts", "1", 0);
    av_dict_set(&opts, "pat_period", "0.1", 0);
    av_dict_set(&opts, "sdt_period", "1", 0);
    ret = avformat_write_header(oc, &opts);
    av_dict_free(&opts);
    return ret;
}

void lr_ts_mux_end(AVFormatContext **oc, int trailer)
{
    if (*oc && trailer)
        av_write_trailer(*oc);
    lr_ts_mux_free(oc);
}

void lr_ts_mux_free(AVFormatContext **oc)
{
    if (*oc)
        (*oc)->pb = NULL;
    avformat_free_context(*oc);
    *oc = NULL;
}
