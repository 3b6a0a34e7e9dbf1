/* transcode/ladder.c — see ladder.h. */
#include "ladder.h"

#include <libavutil/avstring.h>
#include <libavutil/common.h>
#include <libavutil/error.h>

static int even(double v)
{
    int i = (int)(v / 2.0 + 0.5) * 2;
    return i < 2 ? 2 : i;
}

static void copy_extras(lr_rung *r, const lr_rung_conf *rc)
{
    av_strlcpy(r->profile, rc->profile ? rc->profile : "", sizeof(r->profile));
    r->fps = rc->fps;
    r->crf = rc->crf;
}

AVRational lr_ladder_rung_fps(const lr_rung *r, AVRational src)
{
    if (r->fps > 0 && (src.num <= 0 || src.den <= 0 || r->fps < av_q2d(src)))
        return av_d2q(r->fps, 1001000);
    return src;
}

int lr_ladder_plan(const lr_rung_conf *conf, int nb_conf, int src_w, int src_h,
                   lr_rung *out, int max_out)
{
    int order[LR_MAX_RUNGS], n = 0, nb = 0;

    if (src_w < 2 || src_h < 2 || nb_conf < 1 || nb_conf > LR_MAX_RUNGS || max_out < 1)
        return AVERROR(EINVAL);
    /* Largest first, whatever order the file lists them in. */
    for (int i = 0; i < nb_conf; i++) {
        int j = n++;
        while (j > 0 && conf[order[j - 1]].height < conf[i].height) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    for (int k = 0; k < n && nb < max_out; k++) {
        const lr_rung_conf *rc = &conf[order[k]];
        lr_rung *r = &out[nb];
        int h = rc->height, w;
        if (h > src_h)
            continue;
        w = even((double)h * src_w / src_h);
        if (w > rc->width) {           /* a wider source: the width bounds it */
            w = rc->width & ~1;
            h = even((double)w * src_h / src_w);
        }
        av_strlcpy(r->name, rc->name, sizeof(r->name));
        r->width = w;
        r->height = h;
        r->bitrate_kbps = rc->bitrate_kbps;
        copy_extras(r, rc);
        nb++;
    }
    if (nb == 0) {
        const lr_rung_conf *rc = &conf[order[n - 1]];
        av_strlcpy(out[0].name, rc->name, sizeof(out[0].name));
        out[0].width = src_w & ~1;
        out[0].height = src_h & ~1;
        out[0].bitrate_kbps = rc->bitrate_kbps;
        copy_extras(&out[0], rc);
        nb = 1;
    }
    return nb;
}
