/* egress/playlist.c — see playlist.h. Version 3 is enough for what is
 * written here (floating-point EXTINF); later features raise it. */
#include "playlist.h"

#include <math.h>

#include <libavutil/bprint.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

int lr_playlist_target_duration(const lr_seg_info *segs, int nb_segs, int min_target)
{
    int target = min_target;

    for (int i = 0; i < nb_segs; i++) {
        int rounded = (int)lround(segs[i].duration);
        if (rounded > target)
            target = rounded;
    }
    return target;
}

static int finish(AVBPrint *bp, char **out, size_t *len)
{
    int ret;

    if (!av_bprint_is_complete(bp)) {
        av_bprint_finalize(bp, NULL);
        return AVERROR(ENOMEM);
    }
    *len = bp->len;
    ret = av_bprint_finalize(bp, out);
    return ret < 0 ? ret : 0;
}

int lr_playlist_render_media(const lr_media_playlist *pl, char **out, size_t *len)
{
    AVBPrint bp;

    if (pl->nb_segs < 1 || pl->target_duration < 1 || !pl->ext)
        return AVERROR(EINVAL);
    for (int i = 1; i < pl->nb_segs; i++)
        if (pl->segs[i].seq != pl->segs[i - 1].seq + 1)
            return AVERROR(EINVAL);
    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    av_bprintf(&bp, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:%d\n"
               "#EXT-X-MEDIA-SEQUENCE:%" PRId64 "\n", pl->target_duration, pl->segs[0].seq);
    if (pl->disc_sequence > 0)
        av_bprintf(&bp, "#EXT-X-DISCONTINUITY-SEQUENCE:%" PRId64 "\n", pl->disc_sequence);
    av_bprintf(&bp, "#EXT-X-INDEPENDENT-SEGMENTS\n");
    for (int i = 0; i < pl->nb_segs; i++) {
        const lr_seg_info *s = &pl->segs[i];
        if (s->discontinuity)
            av_bprintf(&bp, "#EXT-X-DISCONTINUITY\n");
        av_bprintf(&bp, "#EXTINF:%.3f,\n%" PRId64 ".%s\n", s->duration, s->seq, pl->ext);
    }
    return finish(&bp, out, len);
}

int lr_playlist_render_master(const lr_master *m, char **out, size_t *len)
{
    const lr_variant *v = m->variants;
    int nb = m->nb_variants;
    AVBPrint bp;

    if (nb < 1)
        return AVERROR(EINVAL);
    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    av_bprintf(&bp, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    for (int i = 0; i < nb; i++) {
        if (v[i].bandwidth <= 0 || !v[i].codecs || !v[i].name)
            return av_bprint_finalize(&bp, NULL), AVERROR(EINVAL);
        av_bprintf(&bp, "#EXT-X-STREAM-INF:BANDWIDTH=%" PRId64, v[i].bandwidth);
        if (v[i].avg_bandwidth > 0)
            av_bprintf(&bp, ",AVERAGE-BANDWIDTH=%" PRId64, v[i].avg_bandwidth);
        av_bprintf(&bp, ",CODECS=\"%s\"", v[i].codecs);
        if (v[i].width > 0 && v[i].height > 0)
            av_bprintf(&bp, ",RESOLUTION=%dx%d", v[i].width, v[i].height);
        if (v[i].frame_rate > 0)
            av_bprintf(&bp, ",FRAME-RATE=%.3f", v[i].frame_rate);
        av_bprintf(&bp, "\n%s/index.m3u8\n", v[i].name);
    }
    return finish(&bp, out, len);
}
