/* egress/recorder.c — see recorder.h and docs/recordings.md. One writer
 * thread per recorder drains a queue of writes; every file goes to a hidden
 * temporary name, is fsync'ed and renamed (recording_disk.c, which also
 * reads and writes recording.json and lists the folders). A rendition's
 * index.m3u8 is re-rendered whole after each segment's rename (measured
 * cheap, see the doc), and is also the journal a restart reads back. */
#include "recorder.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <libavutil/avstring.h>
#include <libavutil/bprint.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "common/log.h"
#include "common/streamid.h"
#include "recording_disk.h"

#define JSON_EVERY_MS  5000        /* recording.json refresh while recording */
#define WALK_DEPTH     6
#define TAIL_MIN_S     0.5         /* a shorter last segment joins the one before */

typedef struct rendition {
    char         name[LR_RECORDING_REND_MAX + 1];
    char        *dir;               /* <recording>/<name> */
    /* under the recorder's lock */
    int          has_init;
    int64_t      init_bytes;
    lr_seg_info *segs;              /* on disk and named, oldest first */
    int          nb_segs, cap_segs;
    int64_t      last_seq;          /* newest queued or on disk; -1 none */
    /* writer thread only */
    int          disc_next;         /* resumed: the next segment is discontinuous */
    int          dir_made;
} rendition;

enum job_kind { JOB_INIT, JOB_SEGMENT, JOB_MASTER };

typedef struct job {
    struct job   *next;
    enum job_kind kind;
    rendition    *rend;
    lr_seg_info   info;
    AVBufferRef  *data;
} job;

struct lr_recorder {
    char           *lecture, *id, *dir, *ext;
    int64_t         started_ms;
    int64_t         next_seq;

    pthread_mutex_t lock;
    pthread_cond_t  wake;           /* the writer: work or stop */
    pthread_cond_t  idle;           /* flushers: done advanced */
    rendition      *rends[LR_RECORDING_MAX_RENDS];
    int             nb_rends;
    job            *head, **tail;
    int             nb_queued_segs;
    int64_t         queued, done;
    int             stop;
    int             dropping;       /* in a run of drops: logged once */
    atomic_int_fast64_t dropped;
    atomic_int_fast64_t bytes_written;
    atomic_int          failing;    /* a write failed, none succeeded since */
    pthread_t       thread;
    int             thread_started;

    /* writer thread only (or the owner once the thread is joined) */
    int64_t         last_write_ms;  /* wall clock of the newest segment write */
    int64_t         last_json_ms;
    int64_t         dropped_at_failure;
};

/* ---- small helpers ---------------------------------------------------- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


static int mkdir_p(const char *path)
{
    char *p = av_strdup(path);
    int ret = 0;

    if (!p)
        return AVERROR(ENOMEM);
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s)
            continue;
        char c = *s;
        *s = 0;
        if (mkdir(p, 0755) < 0 && errno != EEXIST) {
            ret = AVERROR(errno);
            break;
        }
        *s = c;
        if (!c)
            break;
    }
    av_free(p);
    return ret;
}

/* Sums the sizes of the files below path (or removes them, and the
 * directories, when remove is set). */
static int64_t walk(const char *path, int remove, int depth)
{
    struct stat st;
    int64_t total = 0;

    if (lstat(path, &st) < 0)
        return 0;
    if (S_ISDIR(st.st_mode) && depth < WALK_DEPTH) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char *sub = av_asprintf("%s/%s", path, e->d_name);
            if (sub)
                total += walk(sub, remove, depth + 1);
            av_free(sub);
        }
        if (d)
            closedir(d);
        if (remove)
            rmdir(path);
        return total;
    }
    if (remove)
        unlink(path);
    return total + (S_ISREG(st.st_mode) ? st.st_size : 0);
}

/* Removes a recording: renamed to "<lecture>/.del-<id>" first, so that a
 * crash halfway leaves nothing that looks like a recording (the next sweep
 * finishes the removal). */
static int remove_recording(const char *lecture_dir, const char *id)
{
    char *src = av_asprintf("%s/%s", lecture_dir, id);
    char *dst = av_asprintf("%s/" LR_RECORDING_REMOVING "%s", lecture_dir, id);
    int ret = 0;

    if (!src || !dst)
        ret = AVERROR(ENOMEM);
    else if (rename(src, dst) < 0)
        ret = AVERROR(errno);
    else {
        lr_recording_fsync_dir(lecture_dir);
        walk(dst, 1, 0);
    }
    av_free(src);
    av_free(dst);
    return ret;
}

/* Removes our temporary files left in dir by a crash. */
static void clean_temps(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    while (d && (e = readdir(d))) {
        if (!lr_recording_temp_name(e->d_name))
            continue;
        char *p = av_asprintf("%s/%s", dir, e->d_name);
        if (p && unlink(p) == 0)
            lr_debug("recorder: removed leftover %s", p);
        av_free(p);
    }
    if (d)
        closedir(d);
}

/* ---- recording.json --------------------------------------------------- */

typedef struct rec_summary {
    double  duration_s;
    int64_t bytes;
    int64_t end_ms;   /* from the segments' wall clock; 0 unknown */
} rec_summary;

static void summarize(lr_recorder *r, rec_summary *s)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_lock(&r->lock);
    for (int i = 0; i < r->nb_rends; i++) {
        const rendition *re = r->rends[i];
        double d = 0;
        s->bytes += re->init_bytes;
        for (int k = 0; k < re->nb_segs; k++) {
            d += re->segs[k].duration;
            s->bytes += re->segs[k].bytes;
        }
        if (d > s->duration_s)
            s->duration_s = d;
        if (re->nb_segs) {
            const lr_seg_info *last = &re->segs[re->nb_segs - 1];
            int64_t end = last->pdt_ms ? last->pdt_ms + (int64_t)(last->duration * 1000) : 0;
            if (end > s->end_ms)
                s->end_ms = end;
        }
    }
    pthread_mutex_unlock(&r->lock);
}

static int write_json(lr_recorder *r, int finished, int64_t ended_ms)
{
    lr_recording_meta m = {
        .started_ms = r->started_ms,
        .ended_ms   = finished ? ended_ms : 0,
        .finished   = finished,
    };
    rec_summary s;

    summarize(r, &s);
    m.duration_s = s.duration_s;
    m.bytes      = s.bytes;
    av_strlcpy(m.lecture, r->lecture, sizeof(m.lecture));
    av_strlcpy(m.id, r->id, sizeof(m.id));
    pthread_mutex_lock(&r->lock);
    for (int i = 0; i < r->nb_rends; i++)
        av_strlcpy(m.renditions[m.nb_renditions++], r->rends[i]->name, sizeof(m.renditions[0]));
    pthread_mutex_unlock(&r->lock);
    return lr_recording_meta_write(r->dir, &m);
}

/* ---- renditions and their playlists ----------------------------------- */

static void rendition_free(rendition **pre)
{
    rendition *re = *pre;
    if (!re)
        return;
    av_free(re->dir);
    av_free(re->segs);
    av_freep(pre);
}

/* Finds rend, creating it when create is set. Called under the lock. */
static rendition *find_rendition(lr_recorder *r, const char *name, int create, int *err)
{
    rendition *re;

    *err = 0;
    for (int i = 0; i < r->nb_rends; i++)
        if (!strcmp(r->rends[i]->name, name))
            return r->rends[i];
    if (!create)
        return NULL;
    if (r->nb_rends >= LR_RECORDING_MAX_RENDS) {
        *err = AVERROR(ENOSPC);
        return NULL;
    }
    re = av_mallocz(sizeof(*re));
    if (!re || !(re->dir = av_asprintf("%s/%s", r->dir, name))) {
        rendition_free(&re);
        *err = AVERROR(ENOMEM);
        return NULL;
    }
    snprintf(re->name, sizeof(re->name), "%s", name);
    re->last_seq = -1;
    r->rends[r->nb_rends++] = re;
    return re;
}

static int append_seg(rendition *re, const lr_seg_info *info)
{
    if (re->nb_segs == re->cap_segs) {
        int cap = re->cap_segs ? re->cap_segs * 2 : 64;
        lr_seg_info *segs = av_realloc_array(re->segs, cap, sizeof(*segs));
        if (!segs)
            return AVERROR(ENOMEM);
        re->segs = segs;
        re->cap_segs = cap;
    }
    re->segs[re->nb_segs++] = *info;
    return 0;
}

/* Where the first segment's lines start in a rendered media playlist. */
static size_t first_segment_offset(const char *text)
{
    static const char *const tags[] = { "\n#EXT-X-DISCONTINUITY\n", "\n#EXT-X-PROGRAM-DATE-TIME:",
                                        "\n#EXTINF:" };
    const char *first = NULL;
    for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
        const char *p = strstr(text, tags[i]);
        if (p && (!first || p < first))
            first = p;
    }
    return first ? (size_t)(first - text) + 1 : 0;
}

/* Renders the rendition's index.m3u8. The renderer takes consecutive seq
 * numbers only; where seq jumps (the segment after always carries
 * EXT-X-DISCONTINUITY) each run is rendered alone and its segment lines
 * appended to the first run's playlist. Called by the writer (or the owner
 * once the writer is gone), which alone changes segs. */
static int render_index(const lr_recorder *r, const rendition *re, int vod, char **out,
                        size_t *len)
{
    lr_media_playlist pl = {
        .target_duration = lr_playlist_target_duration(re->segs, re->nb_segs, 1),
        .ext = r->ext,
        .init_uri = re->has_init ? "init.mp4" : NULL,
        .playlist_type = vod ? "VOD" : "EVENT",
    };
    AVBPrint bp;
    int ret = 0;

    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    for (int start = 0, end; start < re->nb_segs; start = end) {
        char *text = NULL;
        size_t tlen, skip = 0;

        for (end = start + 1; end < re->nb_segs && re->segs[end].seq == re->segs[end - 1].seq + 1;)
            end++;
        pl.segs = re->segs + start;
        pl.nb_segs = end - start;
        pl.endlist = vod && end == re->nb_segs;
        ret = lr_playlist_render_media(&pl, &text, &tlen);
        if (ret < 0)
            break;
        if (start > 0 && !(skip = first_segment_offset(text)))
            ret = AVERROR_BUG;
        else
            av_bprint_append_data(&bp, text + skip, (unsigned)(tlen - skip));
        av_free(text);
        if (ret < 0)
            break;
    }
    if (ret >= 0 && !av_bprint_is_complete(&bp))
        ret = AVERROR(ENOMEM);
    if (ret < 0 || !re->nb_segs) {
        av_bprint_finalize(&bp, NULL);
        return ret < 0 ? ret : AVERROR(EINVAL);
    }
    *len = bp.len;
    return av_bprint_finalize(&bp, out);
}

static int write_index(lr_recorder *r, rendition *re, int vod)
{
    char *text = NULL;
    size_t len;
    int ret = render_index(r, re, vod, &text, &len);
    if (ret >= 0)
        ret = lr_recording_write_file(re->dir, "index.m3u8", text, len);
    av_free(text);
    return ret;
}

/* "<digits>.<ext>" -> seq, or -1. */
static int64_t seg_file_seq(const char *name, const char *ext)
{
    char *end;
    int64_t seq;

    if (name[0] < '0' || name[0] > '9')
        return -1;
    seq = strtoll(name, &end, 10);
    if (*end != '.' || strcmp(end + 1, ext))
        return -1;
    return seq;
}

/* Reads back index.m3u8 of a rendition: its segments (sizes from the files)
 * and whether it has an init section. Returns 0, or AVERROR(ENOENT) when
 * there is no playlist yet. */
static int load_index(lr_recorder *r, rendition *re, int *ended)
{
    char *path = av_asprintf("%s/index.m3u8", re->dir);
    char *text = NULL, *save = NULL;
    lr_seg_info cur = { 0 };
    int ret;

    if (!path)
        return AVERROR(ENOMEM);
    ret = lr_recording_read_file(path, 0, &text, NULL);
    if (ret < 0)
        goto out;
    for (char *line = strtok_r(text, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
        if (!strcmp(line, "#EXT-X-DISCONTINUITY")) {
            cur.discontinuity = 1;
        } else if (!strncmp(line, "#EXT-X-PROGRAM-DATE-TIME:", 25)) {
            cur.pdt_ms = lr_recording_time_parse(line + 25);
        } else if (!strncmp(line, "#EXTINF:", 8)) {
            cur.duration = strtod(line + 8, NULL);
        } else if (!strncmp(line, "#EXT-X-MAP:", 11)) {
            re->has_init = 1;
        } else if (!strcmp(line, "#EXT-X-ENDLIST")) {
            *ended = 1;
        } else if (line[0] != '#') {
            int64_t seq = seg_file_seq(line, r->ext);
            char *seg = av_asprintf("%s/%s", re->dir, line);
            struct stat st;
            if (!seg) {
                ret = AVERROR(ENOMEM);
                goto out;
            }
            if (seq >= 0 && re->nb_segs && seq <= re->segs[re->nb_segs - 1].seq) {
                /* never written so by the recorder: a hand-edited or damaged
                 * playlist; what comes back must keep its order */
                lr_warn("recorder: %s names %s after segment %" PRId64 "; out of order, left out",
                        path, line, re->segs[re->nb_segs - 1].seq);
            } else if (seq >= 0 && stat(seg, &st) == 0) {
                cur.seq = seq;
                cur.bytes = st.st_size;
                if ((ret = append_seg(re, &cur)) < 0) {
                    av_free(seg);
                    goto out;
                }
                re->last_seq = seq;
            } else {
                lr_warn("recorder: %s names %s, which is missing; left out", path, line);
            }
            av_free(seg);
            memset(&cur, 0, sizeof(cur));
        }
    }
out:
    av_free(text);
    av_free(path);
    return ret;
}

/* The segment extension a recording's files use ("m4s" or "ts"); NULL when
 * it has no segment yet. */
static const char *detect_ext(const char *rec_dir)
{
    DIR *d = opendir(rec_dir), *sd;
    struct dirent *e, *se;
    const char *ext = NULL;

    while (!ext && d && (e = readdir(d))) {
        char *sub;
        if (!lr_recording_rend_valid(e->d_name) ||
            !(sub = av_asprintf("%s/%s", rec_dir, e->d_name)))
            continue;
        sd = opendir(sub);
        while (!ext && sd && (se = readdir(sd)))
            ext = seg_file_seq(se->d_name, "m4s") >= 0 ? "m4s"
                : seg_file_seq(se->d_name, "ts") >= 0  ? "ts" : NULL;
        if (sd)
            closedir(sd);
        av_free(sub);
    }
    if (d)
        closedir(d);
    return ext;
}

/* Loads one rendition directory of a recording being resumed or finished:
 * its playlist, its init section, and the segment files the playlist does
 * not name yet (a crash between a segment's rename and the playlist's),
 * which count for the next seq and are removed. */
static int load_rendition(lr_recorder *r, const char *name, int *ended)
{
    rendition *re;
    DIR *d;
    struct dirent *e;
    struct stat st;
    int ret, have_index;
    char *init;

    pthread_mutex_lock(&r->lock);
    re = find_rendition(r, name, 1, &ret);
    pthread_mutex_unlock(&r->lock);
    if (!re)
        return ret;
    re->dir_made = 1;
    clean_temps(re->dir);
    ret = load_index(r, re, ended);
    if (ret < 0 && ret != AVERROR(ENOENT))
        return ret;
    have_index = ret >= 0;
    init = av_asprintf("%s/init.mp4", re->dir);
    if (!init)
        return AVERROR(ENOMEM);
    if (stat(init, &st) == 0) {
        re->has_init = 1;
        re->init_bytes = st.st_size;
    }
    av_free(init);

    d = opendir(re->dir);
    while (d && (e = readdir(d))) {
        int64_t seq = seg_file_seq(e->d_name, r->ext);
        if (seq < 0)
            continue;
        if (seq + 1 > r->next_seq)
            r->next_seq = seq + 1;
        /* Without a playlist nothing is known to be whole: keep them all. */
        if (have_index && seq > re->last_seq) {
            char *p = av_asprintf("%s/%s", re->dir, e->d_name);
            if (p && unlink(p) == 0)
                lr_info("lecture=%s recording=%s: removed %s/%s, written but never listed",
                        r->lecture, r->id, name, e->d_name);
            av_free(p);
        }
    }
    if (d)
        closedir(d);
    if (re->last_seq + 1 > r->next_seq)
        r->next_seq = re->last_seq + 1;
    re->disc_next = 1;
    return 0;
}

/* Reads back a recording's state from its files. */
static int load_recording(lr_recorder *r, int64_t *newest_mtime_ms, int *finished)
{
    char *json_path = av_asprintf("%s/" LR_RECORDING_JSON, r->dir);
    lr_recording_meta meta;
    DIR *d = NULL;
    struct dirent *e;
    struct stat st;
    int ret, ended = 0;

    if (!json_path)
        return AVERROR(ENOMEM);
    *newest_mtime_ms = 0;
    clean_temps(r->dir);
    if (stat(json_path, &st) == 0)
        *newest_mtime_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
    lr_recording_meta_read(r->dir, &meta); /* unreadable: all unknown */
    *finished = meta.finished == 1;
    r->started_ms = meta.started_ms;
    if (!r->started_ms)
        r->started_ms = lr_recording_id_time(r->id) * 1000;

    d = opendir(r->dir);
    if (!d) {
        ret = AVERROR(errno);
        goto out;
    }
    ret = 0;
    while ((e = readdir(d))) {
        char *p;
        if (!lr_recording_rend_valid(e->d_name) || !(p = av_asprintf("%s/%s", r->dir, e->d_name)))
            continue;
        if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            char *idx = av_asprintf("%s/index.m3u8", p);
            struct stat ist;
            if (idx && stat(idx, &ist) == 0) {
                int64_t m = (int64_t)ist.st_mtim.tv_sec * 1000 + ist.st_mtim.tv_nsec / 1000000;
                if (m > *newest_mtime_ms)
                    *newest_mtime_ms = m;
            }
            av_free(idx);
            ret = load_rendition(r, e->d_name, &ended);
        }
        av_free(p);
        if (ret < 0)
            break;
    }
    if (ended)
        *finished = 1;
out:
    if (d)
        closedir(d);
    av_free(json_path);
    return ret;
}

/* ---- the writer thread ------------------------------------------------ */

static void job_free(job **pj)
{
    if (*pj)
        av_buffer_unref(&(*pj)->data);
    av_freep(pj);
}

static void disk_error(lr_recorder *r, const char *what, int err)
{
    if (!atomic_load(&r->failing)) {
        lr_error("lecture=%s recording=%s: writing %s failed: %s; recording paused, live "
                 "playback goes on (lr_recording_failing; retried with every segment)",
                 r->lecture, r->dir, what, av_err2str(err));
        r->dropped_at_failure = atomic_load(&r->dropped);
    }
    atomic_store(&r->failing, 1);
}

static void disk_ok(lr_recorder *r)
{
    if (atomic_load(&r->failing))
        lr_info("lecture=%s recording=%s: writing again; %" PRId64 " segment(s) lost in "
                "between, marked as a discontinuity", r->lecture, r->dir,
                (int64_t)atomic_load(&r->dropped) - r->dropped_at_failure);
    atomic_store(&r->failing, 0);
}

static int ensure_dir(lr_recorder *r, rendition *re)
{
    if (re->dir_made)
        return 0;
    if (mkdir(re->dir, 0755) < 0 && errno != EEXIST)
        return AVERROR(errno);
    lr_recording_fsync_dir(r->dir);
    re->dir_made = 1;
    return 0;
}

static void write_segment(lr_recorder *r, job *j)
{
    rendition *re = j->rend;
    lr_seg_info info = j->info;
    char name[64];
    int ret, added_rend;

    snprintf(name, sizeof(name), "%" PRId64 ".%s", info.seq, r->ext);
    if ((ret = ensure_dir(r, re)) < 0 ||
        (ret = lr_recording_write_media(re->dir, name, j->data->data, j->data->size)) < 0) {
        atomic_fetch_add(&r->dropped, 1);
        disk_error(r, name, ret);
        return;
    }
    atomic_fetch_add(&r->bytes_written, (int_fast64_t)j->data->size);
    info.parts = NULL;
    info.nb_parts = 0;
    info.bytes = j->data->size;
    pthread_mutex_lock(&r->lock);
    if (re->nb_segs && (re->disc_next || info.seq != re->segs[re->nb_segs - 1].seq + 1))
        info.discontinuity = 1;
    added_rend = !re->nb_segs;
    ret = append_seg(re, &info);
    pthread_mutex_unlock(&r->lock);
    re->disc_next = 0;
    if (ret >= 0)
        ret = write_index(r, re, 0);
    if (ret < 0) {
        disk_error(r, "index.m3u8", ret);
        return;
    }
    disk_ok(r);
    r->last_write_ms = now_ms();
    if (added_rend || r->last_write_ms - r->last_json_ms >= JSON_EVERY_MS) {
        if ((ret = write_json(r, 0, 0)) < 0)
            disk_error(r, LR_RECORDING_JSON, ret);
        r->last_json_ms = r->last_write_ms;
    }
}

static void run_job(lr_recorder *r, job *j)
{
    int ret = 0;

    if (j->kind == JOB_SEGMENT) {
        write_segment(r, j);
        return;
    }
    if (j->kind == JOB_MASTER) {
        ret = lr_recording_write_file(r->dir, "master.m3u8", j->data->data, j->data->size);
        if (ret < 0)
            disk_error(r, "master.m3u8", ret);
        return;
    }
    if ((ret = ensure_dir(r, j->rend)) < 0 ||
        (ret = lr_recording_write_file(j->rend->dir, "init.mp4", j->data->data,
                                       j->data->size)) < 0) {
        disk_error(r, "init.mp4", ret);
        return;
    }
    pthread_mutex_lock(&r->lock);
    j->rend->has_init = 1;
    j->rend->init_bytes = j->data->size;
    pthread_mutex_unlock(&r->lock);
    if (j->rend->nb_segs && (ret = write_index(r, j->rend, 0)) < 0)
        disk_error(r, "index.m3u8", ret);
}

static void *writer_main(void *arg)
{
    lr_recorder *r = arg;

    pthread_mutex_lock(&r->lock);
    for (;;) {
        job *j;
        while (!r->head && !r->stop)
            pthread_cond_wait(&r->wake, &r->lock);
        if (!r->head)
            break;
        j = r->head;
        r->head = j->next;
        if (!r->head)
            r->tail = &r->head;
        if (j->kind == JOB_SEGMENT)
            r->nb_queued_segs--;
        pthread_mutex_unlock(&r->lock);
        run_job(r, j);
        job_free(&j);
        pthread_mutex_lock(&r->lock);
        r->done++;
        pthread_cond_broadcast(&r->idle);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

/* Queues j (taking it) unless it is a segment and the queue is full. */
static int enqueue(lr_recorder *r, job *j)
{
    pthread_mutex_lock(&r->lock);
    if (j->kind == JOB_SEGMENT && r->nb_queued_segs >= LR_RECORDER_QUEUE_SEGMENTS) {
        int first = !r->dropping;
        r->dropping = 1;
        pthread_mutex_unlock(&r->lock);
        atomic_fetch_add(&r->dropped, 1);
        if (first)
            lr_warn("lecture=%s recording=%s: disk slower than the stream, dropping "
                    "segments from the recording (%s %" PRId64 " first)",
                    r->lecture, r->id, j->rend->name, j->info.seq);
        job_free(&j);
        return AVERROR(EAGAIN);
    }
    if (j->kind == JOB_SEGMENT) {
        if (r->dropping)
            lr_info("lecture=%s recording=%s: recording again, %" PRId64 " segments dropped "
                    "so far", r->lecture, r->id, (int64_t)atomic_load(&r->dropped));
        r->dropping = 0;
        r->nb_queued_segs++;
    }
    *r->tail = j;
    r->tail = &j->next;
    r->queued++;
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->lock);
    return 0;
}

static int make_job(lr_recorder *r, enum job_kind kind, const char *rend, AVBufferRef *data,
                    job **out)
{
    job *j;
    int ret = 0;

    if (kind != JOB_MASTER && !lr_recording_rend_valid(rend)) {
        lr_error("lecture=%s recording=%s: rendition name \"%s\" refused", r->lecture, r->id,
                 rend ? rend : "(null)");
        return AVERROR(EINVAL);
    }
    if (!data)
        return AVERROR(EINVAL);
    j = av_mallocz(sizeof(*j));
    if (!j || !(j->data = av_buffer_ref(data))) {
        av_free(j);
        return AVERROR(ENOMEM);
    }
    j->kind = kind;
    if (rend) {
        pthread_mutex_lock(&r->lock);
        j->rend = find_rendition(r, rend, 1, &ret);
        pthread_mutex_unlock(&r->lock);
        if (!j->rend) {
            job_free(&j);
            return ret;
        }
    }
    *out = j;
    return 0;
}

/* ---- public API ------------------------------------------------------- */

static void recorder_free(lr_recorder **pr)
{
    lr_recorder *r = *pr;
    if (!r)
        return;
    if (r->thread_started) {
        pthread_mutex_lock(&r->lock);
        r->stop = 1;
        pthread_cond_signal(&r->wake);
        pthread_mutex_unlock(&r->lock);
        pthread_join(r->thread, NULL);
    }
    while (r->head) {
        job *j = r->head;
        r->head = j->next;
        job_free(&j);
    }
    for (int i = 0; i < r->nb_rends; i++)
        rendition_free(&r->rends[i]);
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->wake);
    pthread_cond_destroy(&r->idle);
    av_free(r->lecture);
    av_free(r->id);
    av_free(r->dir);
    av_free(r->ext);
    av_freep(pr);
}

static lr_recorder *recorder_alloc(const char *lecture, const char *ext)
{
    lr_recorder *r = av_mallocz(sizeof(*r));
    if (!r)
        return NULL;
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->wake, NULL);
    pthread_cond_init(&r->idle, NULL);
    r->tail = &r->head;
    atomic_init(&r->dropped, 0);
    r->lecture = av_strdup(lecture);
    r->ext = av_strdup(ext);
    if (!r->lecture || !r->ext)
        recorder_free(&r);
    return r;
}

static int resume_recording(lr_recorder *r, const char *lecture_dir, const char *id, int *ok)
{
    int64_t mtime = 0;
    const char *ext;
    int finished, ret;

    *ok = 0;
    r->id = av_strdup(id);
    r->dir = av_asprintf("%s/%s", lecture_dir, id);
    if (!r->id || !r->dir)
        return AVERROR(ENOMEM);
    ext = detect_ext(r->dir);
    if (ext && strcmp(ext, r->ext)) {
        lr_info("lecture=%s: recording %s holds .%s segments, not .%s: starting a new one",
                r->lecture, r->dir, ext, r->ext);
        finished = 1;
        ret = 0;
    } else {
        ret = load_recording(r, &mtime, &finished);
    }
    if (ret < 0 || finished) {
        /* Start afresh: forget what was read. */
        for (int i = 0; i < r->nb_rends; i++)
            rendition_free(&r->rends[i]);
        r->nb_rends = 0;
        r->next_seq = 0;
        r->started_ms = 0;
        av_freep(&r->id);
        av_freep(&r->dir);
        return ret < 0 ? ret : 0;
    }
    r->last_write_ms = mtime;
    *ok = 1;
    return 0;
}

static int new_recording(lr_recorder *r, const char *lecture_dir)
{
    int64_t sec = now_ms() / 1000;
    lr_recording_id id;

    for (int tries = 0; tries < 100; tries++, sec++) {
        lr_recording_id_make(sec, &id);
        av_freep(&r->dir);
        r->dir = av_asprintf("%s/%s", lecture_dir, id.str);
        if (!r->dir)
            return AVERROR(ENOMEM);
        if (mkdir(r->dir, 0755) == 0) {
            lr_recording_fsync_dir(lecture_dir);
            r->id = av_strdup(id.str);
            r->started_ms = sec * 1000;
            return r->id ? 0 : AVERROR(ENOMEM);
        }
        if (errno != EEXIST)
            return AVERROR(errno);
    }
    return AVERROR(EEXIST);
}

int lr_recorder_open(const lr_recorder_conf *c, const char *lecture, const char *ext,
                     int resume, lr_recorder **out)
{
    lr_recorder *r = NULL;
    char *lecture_dir = NULL;
    lr_recording_id *newest = NULL;
    int ret, nb_newest = 0, resumed = 0;

    *out = NULL;
    if (!c || !c->root || !*c->root || !lr_lecture_name_valid(lecture) || !ext ||
        (strcmp(ext, "m4s") && strcmp(ext, "ts"))) {
        lr_error("recorder: lecture \"%s\" ext \"%s\" refused: not a valid name",
                 lecture ? lecture : "(null)", ext ? ext : "(null)");
        return AVERROR(EINVAL);
    }
    r = recorder_alloc(lecture, ext);
    lecture_dir = av_asprintf("%s/%s", c->root, lecture);
    if (!r || !lecture_dir) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    if ((ret = mkdir_p(lecture_dir)) < 0)
        goto disk_fail;
    if (resume) {
        if ((ret = lr_recording_ids(c->root, lecture, LR_RECORDING_IDS_NEWEST_FIRST, 1, &newest,
                                    &nb_newest)) < 0)
            goto disk_fail;
        if (nb_newest && (ret = resume_recording(r, lecture_dir, newest[0].str, &resumed)) < 0)
            goto disk_fail;
    }
    if (!resumed && (ret = new_recording(r, lecture_dir)) < 0)
        goto disk_fail;
    if ((ret = write_json(r, 0, 0)) < 0)
        goto disk_fail;
    r->last_json_ms = now_ms();
    if ((ret = pthread_create(&r->thread, NULL, writer_main, r))) {
        ret = AVERROR(ret);
        goto fail;
    }
    r->thread_started = 1;
    if (resumed)
        lr_info("lecture=%s: resuming recording %s at seq %" PRId64, lecture, r->dir,
                r->next_seq);
    else
        lr_info("lecture=%s: recording to %s", lecture, r->dir);
    av_free(lecture_dir);
    av_free(newest);
    *out = r;
    return 0;

disk_fail:
    if (!c->quiet)
        lr_error("lecture=%s: cannot record under %s: %s; going on without a recording",
                 lecture, r->dir ? r->dir : lecture_dir, av_err2str(ret));
fail:
    if (r && r->dir && !resumed && r->id && !r->nb_rends)
        walk(r->dir, 1, 0); /* a new, still empty recording */
    av_free(lecture_dir);
    av_free(newest);
    recorder_free(&r);
    return ret;
}

int64_t lr_recorder_next_seq(const lr_recorder *r)
{
    return r->next_seq;
}

const char *lr_recorder_dir(const lr_recorder *r)
{
    return r->dir;
}

const char *lr_recorder_id(const lr_recorder *r)
{
    return r->id;
}

int lr_recorder_failing(const lr_recorder *r)
{
    return atomic_load(&((lr_recorder *)r)->failing);
}

int64_t lr_recorder_bytes_written(const lr_recorder *r)
{
    return atomic_load(&((lr_recorder *)r)->bytes_written);
}

int64_t lr_recorder_dropped(const lr_recorder *r)
{
    return atomic_load(&((lr_recorder *)r)->dropped);
}

int lr_recorder_put_init(lr_recorder *r, const char *rend, AVBufferRef *data)
{
    job *j;
    int ret = make_job(r, JOB_INIT, rend, data, &j);
    return ret < 0 ? ret : enqueue(r, j);
}

int lr_recorder_put_segment(lr_recorder *r, const char *rend, const lr_seg_info *info,
                            AVBufferRef *data)
{
    job *j;
    int ret;

    if (!info || info->seq < 0 || !(info->duration >= 0))
        return AVERROR(EINVAL);
    if ((ret = make_job(r, JOB_SEGMENT, rend, data, &j)) < 0)
        return ret;
    j->info = *info;
    pthread_mutex_lock(&r->lock);
    if (info->seq <= j->rend->last_seq) {
        int64_t last = j->rend->last_seq;
        pthread_mutex_unlock(&r->lock);
        lr_error("lecture=%s recording=%s: %s segment %" PRId64 " refused: not after %" PRId64,
                 r->lecture, r->id, rend, info->seq, last);
        job_free(&j);
        return AVERROR(EINVAL);
    }
    j->rend->last_seq = info->seq;
    pthread_mutex_unlock(&r->lock);
    return enqueue(r, j);
}

int lr_recorder_put_master(lr_recorder *r, const char *text, size_t len)
{
    AVBufferRef *buf;
    job *j;
    int ret;

    if (!text)
        return AVERROR(EINVAL);
    if (!(buf = av_buffer_alloc(len ? len : 1)))
        return AVERROR(ENOMEM);
    memcpy(buf->data, text, len);
    buf->size = len;
    ret = make_job(r, JOB_MASTER, NULL, buf, &j);
    av_buffer_unref(&buf);
    return ret < 0 ? ret : enqueue(r, j);
}

void lr_recorder_flush(lr_recorder *r)
{
    pthread_mutex_lock(&r->lock);
    for (int64_t target = r->queued; r->done < target;)
        pthread_cond_wait(&r->idle, &r->lock);
    pthread_mutex_unlock(&r->lock);
}

int lr_recorder_segments(lr_recorder *r, const char *rend, double window_s, lr_seg_info **out,
                         int *nb)
{
    const rendition *re;
    double end = 0, total = 0;
    int first, ret = 0;

    *out = NULL;
    *nb = 0;
    if (!lr_recording_rend_valid(rend))
        return AVERROR(EINVAL);
    pthread_mutex_lock(&r->lock);
    re = find_rendition(r, rend, 0, &ret);
    if (!re || !re->nb_segs)
        goto out;
    for (int i = 0; i < re->nb_segs; i++)
        total += re->segs[i].duration;
    first = re->nb_segs;
    for (end = total; first > 0; first--) {
        if (window_s > 0 && end < total - window_s)
            break;
        end -= re->segs[first - 1].duration;
    }
    *out = av_malloc_array(re->nb_segs - first, sizeof(**out));
    if (!*out) {
        ret = AVERROR(ENOMEM);
        goto out;
    }
    memcpy(*out, re->segs + first, (re->nb_segs - first) * sizeof(**out));
    *nb = re->nb_segs - first;
out:
    pthread_mutex_unlock(&r->lock);
    return ret;
}

/* Ends a recording whose writer is gone: VOD playlists, recording.json.
 * A recording without a single segment is removed instead. */
/* A lecture that stops just after a segment began leaves a last segment of a
 * few frames (0.04 s of audio seen): hls.js leaves so short a final fragment
 * unplayed and the recording never ends in the browser. At the end, such a
 * tail is appended to the segment before it (fMP4 fragments and TS packets
 * both concatenate), written whole under that segment's name first, then
 * listed, then the tail's own file removed: a crash in between leaves a
 * playlist whose files are all whole. */
static void merge_tail(lr_recorder *r, rendition *re)
{
    lr_seg_info *prev, *last;
    char pname[64], lname[64], *ppath = NULL, *lpath = NULL;
    char *a = NULL, *b = NULL, *both = NULL;
    size_t na, nb;
    double tail;
    int ret;

    if (re->nb_segs < 2)
        return;
    prev = &re->segs[re->nb_segs - 2];
    last = &re->segs[re->nb_segs - 1];
    if (last->duration >= TAIL_MIN_S || last->discontinuity || last->seq != prev->seq + 1)
        return;
    snprintf(pname, sizeof(pname), "%" PRId64 ".%s", prev->seq, r->ext);
    snprintf(lname, sizeof(lname), "%" PRId64 ".%s", last->seq, r->ext);
    tail = last->duration;
    ppath = av_asprintf("%s/%s", re->dir, pname);
    lpath = av_asprintf("%s/%s", re->dir, lname);
    if (!ppath || !lpath) {
        ret = AVERROR(ENOMEM);
        goto out;
    }
    if ((ret = lr_recording_read_file(ppath, 0, &a, &na)) < 0 ||
        (ret = lr_recording_read_file(lpath, 0, &b, &nb)) < 0)
        goto out;
    if (!(both = av_malloc(na + nb + 1))) {
        ret = AVERROR(ENOMEM);
        goto out;
    }
    memcpy(both, a, na);
    memcpy(both + na, b, nb);
    if ((ret = lr_recording_write_file(re->dir, pname, both, na + nb)) < 0)
        goto out;
    pthread_mutex_lock(&r->lock);
    prev->duration += last->duration;
    prev->bytes += last->bytes;
    re->nb_segs--;
    pthread_mutex_unlock(&r->lock);
    if ((ret = write_index(r, re, 1)) >= 0 && unlink(lpath) < 0)
        ret = AVERROR(errno);
    lr_debug("lecture=%s rendition=%s: the last %.3f s joined segment %" PRId64, r->lecture,
             re->name, tail, prev->seq);
out:
    if (ret < 0)
        disk_error(r, lname, ret);
    av_free(ppath);
    av_free(lpath);
    av_free(a);
    av_free(b);
    av_free(both);
}

static void finish_recording(lr_recorder *r)
{
    rec_summary s;
    int ret, nb_segs = 0;

    for (int i = 0; i < r->nb_rends; i++) {
        rendition *re = r->rends[i];
        merge_tail(r, re);
        nb_segs += re->nb_segs;
        if (re->nb_segs && (ret = write_index(r, re, 1)) < 0)
            disk_error(r, "index.m3u8", ret);
    }
    if (!nb_segs) {
        lr_info("lecture=%s: recording %s ended empty; removed", r->lecture, r->dir);
        walk(r->dir, 1, 0);
        return;
    }
    summarize(r, &s);
    if (!s.end_ms)
        s.end_ms = r->last_write_ms ? r->last_write_ms : now_ms();
    if ((ret = write_json(r, 1, s.end_ms)) < 0)
        disk_error(r, LR_RECORDING_JSON, ret);
    lr_info("lecture=%s: recording %s finished: %.1f s, %" PRId64 " bytes", r->lecture, r->dir,
            s.duration_s, s.bytes);
}

static void stop_writer(lr_recorder *r)
{
    if (!r->thread_started)
        return;
    pthread_mutex_lock(&r->lock);
    r->stop = 1;
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->thread, NULL);
    r->thread_started = 0;
}

void lr_recorder_finish(lr_recorder **pr)
{
    lr_recorder *r = *pr;
    if (!r)
        return;
    stop_writer(r);
    finish_recording(r);
    recorder_free(pr);
}

void lr_recorder_close(lr_recorder **pr)
{
    lr_recorder *r = *pr;
    int ret;

    if (!r)
        return;
    stop_writer(r);
    if ((ret = write_json(r, 0, 0)) < 0)
        disk_error(r, LR_RECORDING_JSON, ret);
    recorder_free(pr);
}

/* ---- sweeping the root ------------------------------------------------ */

typedef struct rec_entry {
    char   *lecture_dir;
    char    id[LR_RECORDING_ID_LEN + 1];
    int64_t ended_ms;
    int64_t bytes;
} rec_entry;

typedef struct rec_list {
    rec_entry *v;
    int        nb, cap;
} rec_list;

static void rec_list_free(rec_list *l)
{
    for (int i = 0; i < l->nb; i++)
        av_free(l->v[i].lecture_dir);
    av_freep(&l->v);
    l->nb = l->cap = 0;
}

/* Calls fn for every recording below the root, lecture by lecture, oldest
 * first; removes the leftovers of interrupted removals on the way. A lecture
 * folder that can't be read is passed over. */
static int for_each_recording(const char *root,
                              int (*fn)(void *opaque, const char *lecture,
                                        const char *lecture_dir, const char *id),
                              void *opaque)
{
    char *lectures = NULL;
    int ret = lr_recording_lectures(root, 0, &lectures);

    if (ret < 0) {
        lr_error("recorder: cannot read the recordings root %s: %s", root, av_err2str(ret));
        return ret;
    }
    for (const char *lec = lectures; ret >= 0 && *lec; lec += strlen(lec) + 1) {
        lr_recording_id *ids = NULL, *gone = NULL;
        int nb = 0, nb_gone = 0;
        char *ldir = av_asprintf("%s/%s", root, lec);

        if (!ldir ||
            lr_recording_ids(root, lec, LR_RECORDING_IDS_REMOVING, 0, &gone, &nb_gone) ==
                AVERROR(ENOMEM) ||
            lr_recording_ids(root, lec, 0, 0, &ids, &nb) == AVERROR(ENOMEM))
            ret = AVERROR(ENOMEM);
        for (int i = 0; ret >= 0 && i < nb_gone; i++) {
            char *p = av_asprintf("%s/" LR_RECORDING_REMOVING "%s", ldir, gone[i].str);
            if (p)
                walk(p, 1, 0);
            av_free(p);
        }
        for (int i = 0; ret >= 0 && i < nb; i++)
            ret = fn(opaque, lec, ldir, ids[i].str);
        av_free(ids);
        av_free(gone);
        av_free(ldir);
    }
    av_free(lectures);
    return ret;
}

/* Collects finished recordings (unfinished and unreadable ones are never
 * candidates for removal). */
static int collect_finished(void *opaque, const char *lecture, const char *lecture_dir,
                            const char *id)
{
    rec_list *l = opaque;
    char *dir = av_asprintf("%s/%s", lecture_dir, id);
    lr_recording_meta meta;
    int ret = 0;

    if (!dir) {
        ret = AVERROR(ENOMEM);
        goto out;
    }
    if (lr_recording_meta_read(dir, &meta) < 0 || meta.finished != 1)
        goto out;
    if (l->nb == l->cap) {
        int cap = l->cap ? l->cap * 2 : 16;
        rec_entry *v = av_realloc_array(l->v, cap, sizeof(*v));
        if (!v) {
            ret = AVERROR(ENOMEM);
            goto out;
        }
        l->v = v;
        l->cap = cap;
    }
    rec_entry *re = &l->v[l->nb];
    if (!(re->lecture_dir = av_strdup(lecture_dir))) {
        ret = AVERROR(ENOMEM);
        goto out;
    }
    av_strlcpy(re->id, id, sizeof(re->id));
    re->ended_ms = meta.ended_ms;
    if (!re->ended_ms)
        re->ended_ms = lr_recording_id_time(id) * 1000;
    re->bytes = walk(dir, 0, 0);
    l->nb++;
out:
    av_free(dir);
    return ret;
}

static int by_end(const void *a, const void *b)
{
    const rec_entry *x = a, *y = b;
    if (x->ended_ms != y->ended_ms)
        return x->ended_ms < y->ended_ms ? -1 : 1;
    return strcmp(x->id, y->id);
}

static int remove_entry(const rec_entry *e, const char *why)
{
    int ret = remove_recording(e->lecture_dir, e->id);
    if (ret < 0)
        lr_error("recorder: cannot remove recording %s/%s (%s): %s", e->lecture_dir, e->id, why,
                 av_err2str(ret));
    else
        lr_info("recorder: removed recording %s/%s (%" PRId64 " bytes): %s", e->lecture_dir,
                e->id, e->bytes, why);
    return ret;
}

int lr_recordings_sweep(const lr_recorder_conf *c)
{
    rec_list l = { 0 };
    int64_t total, now = now_ms();
    int ret, removed = 0, i;

    if (!c || !c->root)
        return AVERROR(EINVAL);
    ret = for_each_recording(c->root, collect_finished, &l);
    if (ret < 0)
        goto out;
    if (l.nb)
        qsort(l.v, l.nb, sizeof(*l.v), by_end);
    for (i = 0; i < l.nb && c->retention_days > 0; i++) {
        if (now - l.v[i].ended_ms <= c->retention_days * 86400e3)
            break;
        if (remove_entry(&l.v[i], "older than the retention time") >= 0)
            removed++;
    }
    if (c->quota_bytes > 0) {
        total = walk(c->root, 0, 0);
        for (; i < l.nb && total > c->quota_bytes; i++) {
            if (remove_entry(&l.v[i], "over the disk quota") >= 0) {
                removed++;
                total -= l.v[i].bytes;
            }
        }
        if (total > c->quota_bytes)
            lr_warn("recorder: %s holds %" PRId64 " bytes, over the quota of %" PRId64
                    ", in unfinished recordings", c->root, total, c->quota_bytes);
    }
    ret = removed;
out:
    rec_list_free(&l);
    return ret;
}

/* The free share of path's file system, in percent; -1 if unknown. */
static double free_pct(const char *path)
{
    struct statvfs s;

    if (statvfs(path, &s) < 0 || !s.f_blocks)
        return -1;
    return 100.0 * (double)s.f_bavail / (double)s.f_blocks;
}

int lr_recordings_keep_free(const lr_recorder_conf *c)
{
    rec_list l = { 0 };
    double f;
    int ret, removed = 0;

    if (!c || !c->root || c->min_free_pct <= 0 || (f = free_pct(c->root)) < 0 ||
        f >= c->min_free_pct)
        return 0;
    if ((ret = for_each_recording(c->root, collect_finished, &l)) < 0)
        goto out;
    if (l.nb)
        qsort(l.v, l.nb, sizeof(*l.v), by_end);
    char why[64];
    snprintf(why, sizeof(why), "its disk had less than %.0f %% free", c->min_free_pct);
    for (int i = 0; i < l.nb && f < c->min_free_pct; i++) {
        if (remove_entry(&l.v[i], why) >= 0)
            removed++;
        f = free_pct(c->root);
    }
    if (f >= 0 && f < c->min_free_pct)
        lr_warn("recorder: %s's disk has %.1f %% free, under %.0f %%, and no finished "
                "recording is left to remove", c->root, f, c->min_free_pct);
    ret = removed;
out:
    rec_list_free(&l);
    return ret;
}

typedef struct stale_ctx {
    double grace_s;
    int    finished;
} stale_ctx;

static int finish_if_stale(void *opaque, const char *lecture, const char *lecture_dir,
                           const char *id)
{
    stale_ctx *s = opaque;
    char *dir = av_asprintf("%s/%s", lecture_dir, id);
    const char *ext = dir ? detect_ext(dir) : NULL;
    lr_recording_meta meta;
    lr_recorder *r = NULL;
    int64_t mtime;
    int finished = 0, ret = 0;

    if (!dir) {
        ret = AVERROR(ENOMEM);
        goto out;
    }
    ret = lr_recording_meta_read(dir, &meta);
    if (ret >= 0 && meta.finished == 1)
        goto out;
    if (ret < 0 && ret != AVERROR(ENOENT) && ret != AVERROR(ENOMEM))
        lr_warn("lecture=%s: recording %s: %s unreadable (%s); its playlists say whether it "
                "ended", lecture, dir, LR_RECORDING_JSON, av_err2str(ret));
    r = recorder_alloc(lecture, ext ? ext : "m4s");
    if (!r || !(r->id = av_strdup(id)) || !(r->dir = av_strdup(dir))) {
        ret = AVERROR(ENOMEM);
        goto out;
    }
    ret = load_recording(r, &mtime, &finished);
    if (ret >= 0 && !finished && now_ms() - mtime > s->grace_s * 1000) {
        lr_info("lecture=%s: recording %s left unfinished, untouched for %.0f s: finishing it",
                r->lecture, r->dir, (now_ms() - mtime) / 1000.0);
        r->last_write_ms = mtime;
        finish_recording(r);
        s->finished++;
    } else if (ret < 0) {
        lr_error("lecture=%s: cannot read recording %s: %s", r->lecture, r->dir,
                 av_err2str(ret));
    }
out:
    recorder_free(&r);
    av_free(dir);
    return ret == AVERROR(ENOMEM) ? ret : 0;
}

int lr_recordings_make_root(const lr_recorder_conf *c)
{
    int ret;

    if (!c || !c->root || !c->root[0])
        return AVERROR(EINVAL);
    if ((ret = mkdir_p(c->root)) < 0)
        lr_error("recorder: cannot make the recordings folder %s: %s (recording is off)",
                 c->root, av_err2str(ret));
    return ret;
}

int lr_recordings_finish_stale(const lr_recorder_conf *c, double grace_s)
{
    stale_ctx s = { .grace_s = grace_s };
    int ret;

    if (!c || !c->root)
        return AVERROR(EINVAL);
    ret = for_each_recording(c->root, finish_if_stale, &s);
    return ret < 0 ? ret : s.finished;
}
