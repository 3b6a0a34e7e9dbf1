/* transcode/transcode_conf.c — the transcoder's section of the configuration
 * file (`transcode:`, its `rungs` list and the default ladder): the option
 * table and the checks across its keys. app/ hands lr_transcode_conf_section
 * to lr_config_defaults; the transcoder reads the result as c->transcode
 * (common/config.h). */
#include <stdio.h>
#include <string.h>

#include <libavutil/common.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "common/conf_table.h"
#include "transcode/transcode.h"

static int check_preset(const char *s)
{
    static const char *const presets[] = { "ultrafast", "superfast", "veryfast", "faster",
                                           "fast", "medium", "slow", "slower", "veryslow",
                                           "placebo", NULL };
    return lr_conf_in_list(s, presets);
}

static int check_rate_control(const char *s)
{
    static const char *const modes[] = { "crf", "cbr", "abr", NULL };
    return lr_conf_in_list(s, modes);
}

static int check_profile(const char *s)
{
    static const char *const profiles[] = { "", "baseline", "main", "high", NULL };
    return lr_conf_in_list(s, profiles);
}

static const lr_conf_opt rung_opts[] = {
    STR("name", lr_rung_conf, name, NULL, lr_conf_check_name, LR_CONF_NAME,
        LR_OPT_REQUIRED | LR_OPT_UNIQUE),
    INT("width", lr_rung_conf, width, 0, 16, 7680, LR_OPT_REQUIRED | LR_OPT_EVEN),
    INT("height", lr_rung_conf, height, 0, 16, 4320, LR_OPT_REQUIRED | LR_OPT_EVEN),
    INT("bitrate_kbps", lr_rung_conf, bitrate_kbps, 0, 50, 50000, LR_OPT_REQUIRED),
    STR("profile", lr_rung_conf, profile, "", check_profile,
        "empty (automatic), baseline, main or high", 0),
    DBL("fps", lr_rung_conf, fps, 0, 0, 240),
    DBL("crf", lr_rung_conf, crf, 0, 0, 51),
    { .name = NULL }
};

enum { TRANSCODE_AUDIO_ONLY = 7, TRANSCODE_RUNGS = 8 }; /* in transcode_opts */

static const lr_conf_opt transcode_opts[] = {
    STR("listen", lr_transcode_conf, listen, "srt://127.0.0.1:9000", lr_conf_check_srt_url,
        LR_CONF_SRT_URL, 0),
    { .name = "link", .type = LR_OPT_STRLIST, .offset = offsetof(lr_transcode_conf, links),
      .count_offset = offsetof(lr_transcode_conf, nb_links), .max_elems = LR_MAX_LINKS,
      .def.str = "srt://127.0.0.1:9001", .check = lr_conf_check_srt_url,
      .expect = LR_CONF_SRT_URL " (or a list of them: one per egress)",
      .flags = LR_OPT_ONE_OR_LIST },
    DBL("segment_duration", lr_transcode_conf, segment_duration, 2.0, 0.5, 10),
    STR("preset", lr_transcode_conf, preset, "veryfast", check_preset,
        "an x264 preset (ultrafast, superfast, veryfast, faster, fast, medium, slow, "
        "slower, veryslow, placebo)", 0),
    STR("rate_control", lr_transcode_conf, rate_control, "crf", check_rate_control,
        "crf (capped CRF), cbr or abr", 0),
    DBL("crf", lr_transcode_conf, crf, 23, 0, 51),
    INT("audio_bitrate_kbps", lr_transcode_conf, audio_bitrate_kbps, 96, 16, 512, 0),
    [TRANSCODE_AUDIO_ONLY] = BOOL("audio_only", lr_transcode_conf, audio_only, 1),
    [TRANSCODE_RUNGS] =
    { .name = "rungs", .type = LR_OPT_LIST, .offset = offsetof(lr_transcode_conf, rungs),
      .sub = rung_opts, .elem_size = sizeof(lr_rung_conf),
      .count_offset = offsetof(lr_transcode_conf, nb_rungs), .max_elems = LR_MAX_RUNGS },
    INT("lookahead_frames", lr_transcode_conf, lookahead_frames, 5, 0, 60, 0),
    BOOL("adaptive_shedding", lr_transcode_conf, adaptive_shedding, 1),
    BOOL("passthrough", lr_transcode_conf, passthrough, 0),
    { .name = NULL }
};

/* The default ladder; a rungs list in a file replaces it entirely. */
static const struct {
    const char *name;
    int width, height, bitrate_kbps;
} default_rungs[] = {
    { "1080p", 1920, 1080, 5000 },
    { "720p", 1280, 720, 2800 },
    { "480p", 854, 480, 1400 },
    { "360p", 640, 360, 800 },
};

static int init_transcode(void *base)
{
    lr_transcode_conf *t = base;
    int ret;

    for (size_t i = 0; i < FF_ARRAY_ELEMS(default_rungs); i++) {
        lr_rung_conf *r = &t->rungs[i];

        if ((ret = lr_conf_set_defaults(rung_opts, r)) < 0)
            return ret;
        if (!(r->name = av_strdup(default_rungs[i].name)))
            return AVERROR(ENOMEM);
        r->width        = default_rungs[i].width;
        r->height       = default_rungs[i].height;
        r->bitrate_kbps = default_rungs[i].bitrate_kbps;
        t->nb_rungs++;
    }
    return 0;
}

/* The audio-only rendition is named "audio": no rung may take the name. */
static int validate_transcode(const void *base, const int *lines, char *at, size_t at_size,
                              char *why, size_t why_size)
{
    const lr_transcode_conf *t = base;

    if (!t->audio_only)
        return -1;
    for (int i = 0; i < t->nb_rungs; i++) {
        if (t->rungs[i].name && !strcmp(t->rungs[i].name, "audio")) {
            snprintf(why, why_size, "rung name 'audio' is the audio-only rendition's "
                     "(rename the rung or set audio_only: false)");
            if (!lines[TRANSCODE_RUNGS])
                return TRANSCODE_AUDIO_ONLY;
            snprintf(at, at_size, "[%d].name", i);
            return TRANSCODE_RUNGS;
        }
    }
    return -1;
}

const lr_conf_section lr_transcode_conf_section = {
    .name = "transcode", .offset = offsetof(lr_config, transcode), .opts = transcode_opts,
    .validate = validate_transcode, .init = init_transcode,
};

LR_CONF_TABLE_FITS(transcode_opts);
LR_CONF_TABLE_FITS(rung_opts);
