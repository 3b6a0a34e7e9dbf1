/* egress/recordings_index.c — the recordings on disk as the HTTP side shows
 * them: the lecture list, each lecture's recordings newest first as JSON for
 * /api/v1/lectures and as HTML for the pages, from a snapshot its own thread
 * keeps (recordings_index.h). Folders and recording.json are read through
 * recording_disk.c; only validated names and values it typed reach the
 * output. Called by egress/http_pages.c. */
#include "recordings_index.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libavutil/avstring.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "common/stop.h"
#include "common/streamid.h"
#include "recording_disk.h"

#define MAX_LISTED 1000 /* lectures, and recordings of a lecture, in one answer */

typedef struct rec {
    lr_recording_id   id;
    lr_recording_meta meta;      /* all unknown when recording.json is missing or bad */
    struct timespec   mtime;     /* recording.json's when it was read */
    off_t             size;
} rec;

typedef struct lecture_recs {
    char  name[LR_LECTURE_NAME_MAX + 1];
    int   nb;
    rec  *recs;                  /* newest first */
} lecture_recs;

/* What the folder held at one refresh; never changed once made, shared by
 * the readers that took it. */
typedef struct snapshot {
    atomic_int    refs;
    int           nb;
    lecture_recs *lectures;      /* sorted by name */
} snapshot;

struct lr_recordings_index {
    char            *dir;
    pthread_mutex_t  lock;       /* guards cur (the pointer, not what it holds) */
    snapshot        *cur;
    lr_stop          stop;
    pthread_t        thread;
    int              thread_started;
};

static void snapshot_unref(snapshot *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) > 1)
        return;
    for (int i = 0; i < s->nb; i++)
        av_free(s->lectures[i].recs);
    av_free(s->lectures);
    av_free(s);
}

static snapshot *take(lr_recordings_index *ix)
{
    snapshot *s;

    pthread_mutex_lock(&ix->lock);
    if ((s = ix->cur))
        atomic_fetch_add(&s->refs, 1);
    pthread_mutex_unlock(&ix->lock);
    return s;
}

static int cmp_lecture(const void *key, const void *elem)
{
    return strcmp(key, ((const lecture_recs *)elem)->name);
}

static const lecture_recs *find_lecture(const snapshot *s, const char *name)
{
    return s && s->nb ? bsearch(name, s->lectures, s->nb, sizeof(*s->lectures), cmp_lecture)
                      : NULL;
}

/* The same recording in the previous snapshot (ids newest first). */
static const rec *find_rec(const lecture_recs *l, const char *id)
{
    int lo = 0, hi = l ? l->nb - 1 : -1;

    while (lo <= hi) {
        int mid = (lo + hi) / 2, c = strcmp(id, l->recs[mid].id.str);
        if (!c)
            return &l->recs[mid];
        if (c > 0)  /* newer: nearer the front */
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* One lecture's recordings, reading only the recording.json files that
 * changed since prev. */
static int read_lecture(const char *dir, const char *name, const lecture_recs *prev,
                        lecture_recs *out)
{
    lr_recording_id *ids = NULL;
    int nb = 0;

    av_strlcpy(out->name, name, sizeof(out->name));
    out->nb = 0;
    out->recs = NULL;
    if (lr_recording_ids(dir, name, LR_RECORDING_IDS_NEWEST_FIRST, MAX_LISTED, &ids, &nb) < 0 ||
        !nb) {
        av_free(ids);
        return 0;
    }
    if (!(out->recs = av_malloc_array(nb, sizeof(*out->recs)))) {
        av_free(ids);
        return AVERROR(ENOMEM);
    }
    for (int i = 0; i < nb; i++) {
        rec *r = &out->recs[i];
        char *path = av_asprintf("%s/%s/%s/recording.json", dir, name, ids[i].str);
        struct stat st;
        const rec *old;

        r->id = ids[i];
        lr_recording_meta_clear(&r->meta);
        memset(&r->mtime, 0, sizeof(r->mtime));
        r->size = -1;
        if (path && stat(path, &st) == 0) {
            r->mtime = st.st_mtim;
            r->size = st.st_size;
            old = find_rec(prev, ids[i].str);
            if (old && old->size == r->size && old->mtime.tv_sec == r->mtime.tv_sec &&
                old->mtime.tv_nsec == r->mtime.tv_nsec) {
                r->meta = old->meta;
            } else {
                path[strlen(path) - strlen("/recording.json")] = '\0';
                lr_recording_meta_read(path, &r->meta); /* unknown on error */
            }
        }
        av_free(path);
    }
    out->nb = nb;
    av_free(ids);
    return 0;
}

/* Reads the folder into a new snapshot and puts it in place. */
static void refresh(lr_recordings_index *ix)
{
    snapshot *prev = take(ix), *s = av_mallocz(sizeof(*s));
    char *names = NULL;
    int n = 0;

    if (!s)
        goto out;
    atomic_init(&s->refs, 1);
    if (ix->dir && lr_recording_lectures(ix->dir, MAX_LISTED, &names) == 0) {
        for (const char *p = names; *p; p += strlen(p) + 1)
            n++;
        if (n && !(s->lectures = av_calloc(n, sizeof(*s->lectures)))) {
            snapshot_unref(s);
            goto out;
        }
        for (const char *p = names; *p && s->nb < n; p += strlen(p) + 1) {
            if (read_lecture(ix->dir, p, find_lecture(prev, p), &s->lectures[s->nb]) < 0) {
                snapshot_unref(s);
                goto out;
            }
            if (s->lectures[s->nb].nb)
                s->nb++;
        }
    }
    pthread_mutex_lock(&ix->lock);
    snapshot *old = ix->cur;
    ix->cur = s;
    pthread_mutex_unlock(&ix->lock);
    snapshot_unref(old);
out:
    av_free(names);
    snapshot_unref(prev);
}

static void *refresh_thread(void *arg)
{
    lr_recordings_index *ix = arg;

    while (!lr_stop_wait_until(&ix->stop,
                               lr_now_ns() + LR_RECORDINGS_INDEX_REFRESH_MS * INT64_C(1000000)))
        refresh(ix);
    return NULL;
}

int lr_recordings_index_start(const char *dir, lr_recordings_index **out)
{
    lr_recordings_index *ix = av_mallocz(sizeof(*ix));
    int ret;

    if (!ix)
        return AVERROR(ENOMEM);
    pthread_mutex_init(&ix->lock, NULL);
    if ((ret = lr_stop_init(&ix->stop)) < 0) {
        pthread_mutex_destroy(&ix->lock);
        av_free(ix);
        return ret;
    }
    if (dir && *dir && !(ix->dir = av_strdup(dir))) {
        lr_recordings_index_stop(&ix);
        return AVERROR(ENOMEM);
    }
    refresh(ix);
    if (ix->dir) {
        if ((ret = pthread_create(&ix->thread, NULL, refresh_thread, ix))) {
            lr_recordings_index_stop(&ix);
            return AVERROR(ret);
        }
        ix->thread_started = 1;
    }
    *out = ix;
    return 0;
}

void lr_recordings_index_stop(lr_recordings_index **pix)
{
    lr_recordings_index *ix = *pix;

    if (!ix)
        return;
    lr_stop_request(&ix->stop);
    if (ix->thread_started)
        pthread_join(ix->thread, NULL);
    snapshot_unref(ix->cur);
    lr_stop_destroy(&ix->stop);
    pthread_mutex_destroy(&ix->lock);
    av_free(ix->dir);
    av_freep(pix);
}

int lr_recordings_list_lectures(lr_recordings_index *ix, char **names)
{
    snapshot *s = take(ix);
    AVBPrint b;

    av_bprint_init(&b, 0, AV_BPRINT_SIZE_UNLIMITED);
    for (int i = 0; s && i < s->nb; i++)
        av_bprint_append_data(&b, s->lectures[i].name, strlen(s->lectures[i].name) + 1);
    av_bprint_chars(&b, '\0', 1);
    snapshot_unref(s);
    if (!av_bprint_is_complete(&b)) {
        av_bprint_finalize(&b, NULL);
        return AVERROR(ENOMEM);
    }
    return av_bprint_finalize(&b, names);
}

void lr_recordings_json(lr_recordings_index *ix, const char *lecture, AVBPrint *out)
{
    snapshot           *s = take(ix);
    const lecture_recs *l = find_lecture(s, lecture);
    char                t[32];

    av_bprintf(out, "[");
    for (int i = 0; l && i < l->nb; i++) {
        const lr_recording_meta *m = &l->recs[i].meta;
        av_bprintf(out, "%s{\"id\":\"%s\"", i ? "," : "", l->recs[i].id.str);
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
    snapshot_unref(s);
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

int lr_recordings_html(lr_recordings_index *ix, const char *lecture, const char *prefix,
                       lr_path_signer sign, void *opaque, AVBPrint *out)
{
    snapshot           *s = take(ix);
    const lecture_recs *l = find_lecture(s, lecture);
    char                started[32], path[256];
    AVBPrint            url;
    int                 nb = l ? l->nb : 0;

    av_bprint_init(&url, 0, AV_BPRINT_SIZE_AUTOMATIC);
    for (int i = 0; i < nb; i++) {
        const lr_recording_meta *m = &l->recs[i].meta;
        const char *id = l->recs[i].id.str;
        lr_recording_time_format(m->started_ms, started);
        snprintf(path, sizeof(path), "/vod/%s/%s/master.m3u8", lecture, id);
        av_bprint_clear(&url);
        av_bprintf(&url, "%s%s", prefix, path);
        signed_query(sign, opaque, path, &url);
        av_bprintf(out, "<li><a href=\"%s\" data-src=\"%s\">%s</a>", url.str, url.str,
                   m->started_ms ? started : id);
        if (m->duration_s >= 0)
            av_bprintf(out, " (%.0f min)", m->duration_s / 60.0);
        if (m->finished != 1)
            av_bprintf(out, " (recording)");
        av_bprintf(out, "</li>\n");
    }
    av_bprint_finalize(&url, NULL);
    snapshot_unref(s);
    return nb;
}
