/* transcode/ladder_mux.c — see ladder_mux.h. */
#include "ladder_mux.h"

#include "common/ts_mux.h"
#include "common/ts_wall.h"

static int add_stream(AVFormatContext *oc, const AVCodecParameters *par,
                      const AVCodecContext *enc)
{
    AVStream *st = avformat_new_stream(oc, NULL);
    int ret;

    if (!st)
        return AVERROR(ENOMEM);
    if ((ret = par ? avcodec_parameters_copy(st->codecpar, par)
                   : avcodec_parameters_from_context(st->codecpar, enc)) < 0)
        return ret;
    st->time_base = (AVRational){ 1, 90000 };
    return st->index;
}

static int add_program(AVFormatContext *oc, int id, const char *name, int64_t period,
                       int video, int audio)
{
    AVProgram *prog = av_new_program(oc, id);
    char provider[64];

    if (!prog)
        return AVERROR(ENOMEM);
    av_dict_set(&prog->metadata, "service_name", name, 0);
    lr_ts_provider_name(provider, sizeof(provider), period);
    av_dict_set(&prog->metadata, "service_provider", provider, 0);
    if (video >= 0)
        av_program_add_stream_index(oc, id, video);
    if (audio >= 0)
        av_program_add_stream_index(oc, id, audio);
    return 0;
}

int lr_ladder_mux_open(AVIOContext *pb, const lr_pipeline *p, int audio_only,
                       AVFormatContext **out)
{
    const AVCodecContext *aenc = lr_pipeline_audio_encoder(p);
    int nb = lr_pipeline_nb_rungs(p), audio = -1, ret;
    int64_t period = lr_pipeline_keyframe_period(p);
    AVFormatContext *oc = NULL;

    if ((ret = lr_ts_mux_alloc(pb, &oc)) < 0)
        return ret;
    for (int i = 0; i < nb; i++)
        if ((ret = add_stream(oc, lr_pipeline_video_codecpar(p, i), NULL)) < 0)
            goto fail;
    if (aenc && (ret = audio = add_stream(oc, NULL, aenc)) < 0)
        goto fail;
    for (int i = 0; i < nb; i++)
        if ((ret = add_program(oc, i + 1, lr_pipeline_rung(p, i)->name, period, i, audio)) < 0)
            goto fail;
    if (audio_only && aenc && (ret = add_program(oc, nb + 1, LR_AUDIO_ONLY_NAME, period, -1, audio)) < 0)
        goto fail;
    if ((ret = lr_ts_mux_begin(oc)) < 0)
        goto fail;
    *out = oc;
    return 0;
fail:
    lr_ts_mux_free(&oc);
    return ret;
}
