/* egress/recordings_index.c — the recordings on disk as the HTTP side shows
 * them: the lecture list, each lecture's recordings newest first as JSON for
 * /api/v1/lectures and as HTML for the pages. Folders and recording.json are
 * read through recording_disk.c; only validated names and values it typed
 * reach the output. Called by egress/http_pages.c. */
#include "recordings_index.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "common/streamid.h"
#include "recording_disk.h"

#define MAX_LISTED 1000 /* lectures, and recordings of a lecture, in one answer */

int lr_recordings_list_lectures(const char *dir, char **names)
{
    int ret = dir && *dir ? lr_recording_lectures(dir, MAX_LISTED, names) : AVERROR(ENOENT);

    if (ret == AVERROR(ENOMEM))
        return ret;
    if (ret < 0 && !(*names = av_mallocz(1))) /* no root (yet): no lecture */
        return AVERROR(ENOMEM);
    return 0;
}

/* lecture's recordings, newest first, with what their recording.json says
 * (all unknown when it is missing or malformed); none when the lecture's
 * folder can't be read or memory runs out. */
static void read_recordings(const char *dir, const char *lecture, lr_recording_id **ids,
                            lr_recording_meta **metas, int *nb)
{
    *ids = NULL;
    *metas = NULL;
    *nb = 0;
    if (!dir || !*dir ||
        lr_recording_ids(dir, lecture, LR_RECORDING_IDS_NEWEST_FIRST, MAX_LISTED, ids, nb) < 0 ||
        !*nb)
        return;
    if (!(*metas = av_malloc_array(*nb, sizeof(**metas)))) {
        av_freep(ids);
        *nb = 0;
        return;
    }
    for (int i = 0; i < *nb; i++) {
        char *rec = av_asprintf("%s/%s/%s", dir, lecture, (*ids)[i].str);
        lr_recording_meta_clear(&(*metas)[i]);
        if (rec)
            lr_recording_meta_read(rec, &(*metas)[i]); /* unknown on error */
        av_free(rec);
    }
}

void lr_recordings_json(const char *dir, const char *lecture, AVBPrint *out)
{
    lr_recording_id   *ids;
    lr_recording_meta *metas;
    int                nb;
    char               t[32];

    read_recordings(dir, lecture, &ids, &metas, &nb);
    av_bprintf(out, "[");
    for (int i = 0; i < nb; i++) {
        const lr_recording_meta *m = &metas[i];
        av_bprintf(out, "%s{\"id\":\"%s\"", i ? "," : "", ids[i].str);
        lr_recording_time_format(m->started_ms, t);
        av_bprintf(out, m->started_ms ? ",\"started\":\"%s\"" : ",\"started\":null", t);
        lr_recording_time_format(m->ended_ms, t);
        av_bprintf(out, m->ended_ms ? ",\"ended\":\"%s\"" : ",\"ended\":null", t);
        if (m->duration_s >= 0)
            av_bprintf(out, ",\"duration_s\":%.3f", m->duration_s);
        else
            av_bprintf(out, ",\"duration_s\":null");
        av_bprintf(out, ",\"finished\":%s",
                   m->finished < 0 ? "null"
                   : m->finished   ? "true"
                                   : "false");
        if (m->bytes >= 0)
            av_bprintf(out, ",\"bytes\":%" PRId64 "}", m->bytes);
        else
            av_bprintf(out, ",\"bytes\":null}");
    }
    av_bprintf(out, "]");
    av_free(ids);
    av_free(metas);
}

/* "?<signature>" for path, HTML-escaped ('&' between nginx's parameters),
 * or nothing. */
static void signed_query(lr_path_signer sign, void *opaque, const char *path, AVBPrint *out)
{
    AVBPrint q;

    if (!sign)
        return;
    av_bprint_init(&q, 0, AV_BPRINT_SIZE_AUTOMATIC);
    if (sign(opaque, path, strlen(path), &q) >= 0 && av_bprint_is_complete(&q)) {
        av_bprint_chars(out, '?', 1);
        for (const char *c = q.str; *c; c++)
            av_bprintf(out, *c == '&' ? "&amp;" : "%c", *c);
    }
    av_bprint_finalize(&q, NULL);
}

int lr_recordings_html(const char *dir, const char *lecture, const char *prefix,
                       lr_path_signer sign, void *opaque, AVBPrint *out)
{
    lr_recording_id   *ids;
    lr_recording_meta *metas;
    int                nb;
    char               started[32], path[256];
    AVBPrint           url;

    read_recordings(dir, lecture, &ids, &metas, &nb);
    av_bprint_init(&url, 0, AV_BPRINT_SIZE_AUTOMATIC);
    for (int i = 0; i < nb; i++) {
        const lr_recording_meta *m = &metas[i];
        lr_recording_time_format(m->started_ms, started);
        snprintf(path, sizeof(path), "/vod/%s/%s/master.m3u8", lecture, ids[i].str);
        av_bprint_clear(&url);
        av_bprintf(&url, "%s%s", prefix, path);
        signed_query(sign, opaque, path, &url);
        av_bprintf(out, "<li><a href=\"%s\" data-src=\"%s\">%s</a>", url.str, url.str,
                   m->started_ms ? started : ids[i].str);
        if (m->duration_s >= 0)
            av_bprintf(out, " (%.0f min)", m->duration_s / 60.0);
        if (m->finished != 1)
            av_bprintf(out, " (recording)");
        av_bprintf(out, "</li>\n");
    }
    av_bprint_finalize(&url, NULL);
    av_free(ids);
    av_free(metas);
    return nb;
}
