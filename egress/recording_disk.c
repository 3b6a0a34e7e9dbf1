/* egress/recording_disk.c — see recording_disk.h. recording.json goes through
 * jansson both ways; the folder lists are plain readdir()s filtered by the
 * name rules below and sorted. Called by recorder.c and recordings_index.c. */
#include "recording_disk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include <libavutil/avstring.h>
#include <libavutil/bprint.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#define TMP_SUFFIX   ".tmp"
#define DURATION_MAX 1e12 /* s; a larger duration is not one we wrote */

/* ---- names ----------------------------------------------------------- */

int lr_recording_id_valid(const char *id, size_t len)
{
    if (!id || len != LR_RECORDING_ID_LEN || id[8] != 'T' || id[15] != 'Z')
        return 0;
    for (size_t i = 0; i < 15; i++)
        if (i != 8 && (id[i] < '0' || id[i] > '9'))
            return 0;
    return 1;
}

void lr_recording_id_make(int64_t sec, lr_recording_id *id)
{
    time_t    t = (time_t)sec;
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(id->str, sizeof(id->str), "%Y%m%dT%H%M%SZ", &tm);
}

int64_t lr_recording_id_time(const char *id)
{
    struct tm tm = { 0 };

    if (!id || !lr_recording_id_valid(id, strlen(id)) ||
        sscanf(id, "%4d%2d%2dT%2d%2d%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec) != 6)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm);
}

int lr_recording_rend_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;

    if (n < 1 || n > LR_RECORDING_REND_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        int  alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '_' && c != '-')))
            return 0;
    }
    return 1;
}

int lr_recording_temp_name(const char *name)
{
    size_t n = strlen(name), s = strlen(TMP_SUFFIX);
    return name[0] == '.' && n > s && !strcmp(name + n - s, TMP_SUFFIX);
}

void lr_recording_time_format(int64_t ms, char out[32])
{
    time_t    t = (time_t)(ms / 1000);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int64_t lr_recording_time_parse(const char *s)
{
    struct tm tm = { 0 };
    int       n = 0;
    int64_t   ms = 0;

    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                     &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6)
        return 0;
    s += n;
    if (*s == '.') {
        int scale = 100;
        for (s++; *s >= '0' && *s <= '9'; s++, scale /= 10)
            ms += (*s - '0') * scale;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    ms += (int64_t)timegm(&tm) * 1000;
    if (*s == '+' || *s == '-') {
        int hh, mm;
        if (sscanf(s + 1, "%2d:%2d", &hh, &mm) != 2)
            return 0;
        ms -= (*s == '+' ? 1 : -1) * (int64_t)(hh * 60 + mm) * 60000;
    } else if (*s != 'Z') {
        return 0;
    }
    return ms;
}

/* ---- files ----------------------------------------------------------- */

void lr_recording_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

static int write_file(const char *dir, const char *name, const void *data, size_t len,
                      int sync_dir)
{
    char          *tmp = av_asprintf("%s/.%s%s", dir, name, TMP_SUFFIX);
    char          *dst = av_asprintf("%s/%s", dir, name);
    const uint8_t *p = data;
    int            fd = -1, ret = 0;

    if (!tmp || !dst) {
        ret = AVERROR(ENOMEM);
        goto out;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        ret = AVERROR(errno);
        goto out;
    }
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            ret = AVERROR(errno);
            goto out;
        }
        p += w;
        len -= (size_t)w;
    }
    if (fsync(fd) < 0) {
        ret = AVERROR(errno);
        goto out;
    }
    ret = close(fd);
    fd = -1;
    if (ret < 0) {
        ret = AVERROR(errno);
        goto out;
    }
    if (rename(tmp, dst) < 0)
        ret = AVERROR(errno);
    else if (sync_dir)
        lr_recording_fsync_dir(dir);  /* the rename itself survives a power cut */
out:
    if (fd >= 0)
        close(fd);
    if (ret < 0 && tmp)
        unlink(tmp);
    av_free(tmp);
    av_free(dst);
    return ret;
}

int lr_recording_write_file(const char *dir, const char *name, const void *data, size_t len)
{
    return write_file(dir, name, data, len, 1);
}

int lr_recording_write_media(const char *dir, const char *name, const void *data, size_t len)
{
    return write_file(dir, name, data, len, 0);
}

int lr_recording_read_file(const char *path, size_t max, char **buf, size_t *len)
{
    int         fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    char       *b = NULL;
    size_t      n = 0, cap;
    int         ret = 0;

    *buf = NULL;
    if (fd < 0)
        return AVERROR(errno);
    if (fstat(fd, &st) < 0) {
        ret = AVERROR(errno);
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        ret = AVERROR(EINVAL);
        goto out;
    }
    if (max && (uint64_t)st.st_size > max) {
        ret = AVERROR(EFBIG);
        goto out;
    }
    /* Room for the NUL and one byte more, so the read that meets the end
     * needs no second allocation; a file that grew since fstat() grows it. */
    cap = (size_t)st.st_size + 2;
    if (!(b = av_malloc(cap))) {
        ret = AVERROR(ENOMEM);
        goto out;
    }
    for (;;) {
        if (cap - n < 2) {
            char *nb = av_realloc(b, cap * 2);
            if (!nb) {
                ret = AVERROR(ENOMEM);
                goto out;
            }
            b = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, b + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            ret = AVERROR(errno);
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (max && n > max) {
            ret = AVERROR(EFBIG);
            goto out;
        }
    }
    b[n] = '\0';
    *buf = b;
    b = NULL;
    if (len)
        *len = n;
out:
    av_free(b);
    close(fd);
    return ret;
}

/* ---- recording.json -------------------------------------------------- */

void lr_recording_meta_clear(lr_recording_meta *m)
{
    memset(m, 0, sizeof(*m));
    m->duration_s = -1;
    m->bytes = -1;
    m->finished = -1;
}

/* The string value of key, or NULL when absent or not a string. */
static const char *get_string(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

int lr_recording_meta_parse(const char *text, size_t len, lr_recording_meta *m)
{
    json_error_t err;
    json_t      *o, *v;
    const char  *s;
    size_t       i;

    lr_recording_meta_clear(m);
    o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    if (!o)
        return json_error_code(&err) == json_error_out_of_memory ? AVERROR(ENOMEM)
                                                                 : AVERROR_INVALIDDATA;
    if (!json_is_object(o)) {
        json_decref(o);
        return AVERROR_INVALIDDATA;
    }
    if ((s = get_string(o, "lecture")) && lr_lecture_name_valid(s))
        av_strlcpy(m->lecture, s, sizeof(m->lecture));
    if ((s = get_string(o, "id")) && lr_recording_id_valid(s, strlen(s)))
        av_strlcpy(m->id, s, sizeof(m->id));
    m->started_ms = lr_recording_time_parse(get_string(o, "started"));
    m->ended_ms = lr_recording_time_parse(get_string(o, "ended"));
    v = json_object_get(o, "duration_s");
    if (json_is_number(v) && json_number_value(v) >= 0 && json_number_value(v) < DURATION_MAX)
        m->duration_s = json_number_value(v);
    v = json_object_get(o, "bytes");
    if (json_is_integer(v) && json_integer_value(v) >= 0)
        m->bytes = json_integer_value(v);
    v = json_object_get(o, "finished");
    if (json_is_boolean(v))
        m->finished = json_is_true(v);
    json_array_foreach(json_object_get(o, "renditions"), i, v)
    {
        s = json_string_value(v);
        if (m->nb_renditions < LR_RECORDING_MAX_RENDS && lr_recording_rend_valid(s))
            av_strlcpy(m->renditions[m->nb_renditions++], s, sizeof(m->renditions[0]));
    }
    json_decref(o);
    return 0;
}

int lr_recording_meta_read(const char *rec_dir, lr_recording_meta *m)
{
    char  *path = av_asprintf("%s/" LR_RECORDING_JSON, rec_dir);
    char  *text = NULL;
    size_t len;
    int    ret;

    lr_recording_meta_clear(m);
    if (!path)
        return AVERROR(ENOMEM);
    ret = lr_recording_read_file(path, LR_RECORDING_JSON_MAX, &text, &len);
    if (ret >= 0)
        ret = lr_recording_meta_parse(text, len, m);
    if (ret < 0)
        lr_recording_meta_clear(m);
    av_free(text);
    av_free(path);
    return ret;
}

static int meta_valid(const lr_recording_meta *m)
{
    if (!lr_lecture_name_valid(m->lecture) || !lr_recording_id_valid(m->id, strlen(m->id)) ||
        m->started_ms <= 0 || m->ended_ms < 0 || !(m->duration_s >= 0) ||
        !(m->duration_s < DURATION_MAX) || m->bytes < 0 || (m->finished != 0 && m->finished != 1) ||
        m->nb_renditions < 0 || m->nb_renditions > LR_RECORDING_MAX_RENDS)
        return 0;
    for (int i = 0; i < m->nb_renditions; i++)
        if (!lr_recording_rend_valid(m->renditions[i]))
            return 0;
    return 1;
}

static int append_to_bprint(const char *buf, size_t size, void *opaque)
{
    av_bprint_append_data(opaque, buf, (unsigned)size);
    return 0;
}

int lr_recording_meta_write(const char *rec_dir, const lr_recording_meta *m)
{
    char     started[32], ended[32];
    json_t  *o = NULL, *rends = NULL;
    AVBPrint bp;
    int      ret;

    if (!meta_valid(m))
        return AVERROR(EINVAL);
    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    lr_recording_time_format(m->started_ms, started);
    lr_recording_time_format(m->ended_ms, ended);
    if (!(o = json_object()) || !(rends = json_array())) {
        ret = AVERROR(ENOMEM);
        goto out;
    }
    for (int i = 0; i < m->nb_renditions; i++)
        if (json_array_append_new(rends, json_string(m->renditions[i])) < 0) {
            ret = AVERROR(ENOMEM);
            goto out;
        }
    /* Keys in this order (jansson keeps insertion order); the duration to
     * the millisecond, written with as few digits as it takes. */
    if (json_object_set_new(o, "lecture", json_string(m->lecture)) < 0 ||
        json_object_set_new(o, "id", json_string(m->id)) < 0 ||
        json_object_set_new(o, "started", json_string(started)) < 0 ||
        json_object_set_new(o, "ended", m->ended_ms ? json_string(ended) : json_null()) < 0 ||
        json_object_set_new(o, "duration_s",
                            json_real((double)(int64_t)(m->duration_s * 1000 + 0.5) / 1000)) < 0 ||
        json_object_set_new(o, "finished", json_boolean(m->finished)) < 0 ||
        json_object_set_new(o, "bytes", json_integer(m->bytes)) < 0 ||
        json_object_set(o, "renditions", rends) < 0 ||
        json_dump_callback(o, append_to_bprint, &bp, JSON_REAL_PRECISION(15)) < 0) {
        ret = AVERROR(ENOMEM);
        goto out;
    }
    av_bprint_chars(&bp, '\n', 1);
    if (!av_bprint_is_complete(&bp))
        ret = AVERROR(ENOMEM);
    else
        ret = lr_recording_write_file(rec_dir, LR_RECORDING_JSON, bp.str, bp.len);
out:
    json_decref(rends);
    json_decref(o);
    av_bprint_finalize(&bp, NULL);
    return ret;
}

/* ---- lists ----------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int lr_recording_lectures(const char *root, int max, char **names)
{
    DIR           *d = opendir(root);
    struct dirent *e;
    char         **v = NULL, *out = NULL, *p;
    int            nb = 0, ret = 0;
    size_t         total = 1;

    *names = NULL;
    if (!d)
        return AVERROR(errno);
    while ((e = readdir(d))) {
        char **nv;
        if (!lr_lecture_name_valid(e->d_name))
            continue;
        if (!(nv = av_realloc_array(v, nb + 1, sizeof(*v))) || !(nv[nb] = av_strdup(e->d_name))) {
            if (nv)
                v = nv;
            ret = AVERROR(ENOMEM);
            goto out;
        }
        v = nv;
        nb++;
    }
    if (nb)
        qsort(v, nb, sizeof(*v), cmp_str);
    for (; max > 0 && nb > max; nb--)
        av_free(v[nb - 1]);
    for (int i = 0; i < nb; i++)
        total += strlen(v[i]) + 1;
    if (!(p = out = av_malloc(total))) {
        ret = AVERROR(ENOMEM);
        goto out;
    }
    for (int i = 0; i < nb; i++) {
        size_t l = strlen(v[i]) + 1;
        memcpy(p, v[i], l);
        p += l;
    }
    *p = '\0';
    *names = out;
out:
    for (int i = 0; i < nb; i++)
        av_free(v[i]);
    av_free(v);
    closedir(d);
    return ret;
}

static int cmp_id_asc(const void *a, const void *b)
{
    return strcmp(((const lr_recording_id *)a)->str, ((const lr_recording_id *)b)->str);
}

static int cmp_id_desc(const void *a, const void *b)
{
    return cmp_id_asc(b, a);
}

int lr_recording_ids(const char *root, const char *lecture, unsigned flags, int max,
                     lr_recording_id **ids, int *nb)
{
    size_t           skip = flags & LR_RECORDING_IDS_REMOVING ? strlen(LR_RECORDING_REMOVING) : 0;
    char            *path;
    DIR             *d;
    struct dirent   *e;
    lr_recording_id *v = NULL;
    int              n = 0, cap = 0, ret = 0;

    *ids = NULL;
    *nb = 0;
    if (!lr_lecture_name_valid(lecture))
        return AVERROR(EINVAL);
    if (!(path = av_asprintf("%s/%s", root, lecture)))
        return AVERROR(ENOMEM);
    d = opendir(path);
    av_free(path);
    if (!d)
        return errno == ENOENT ? 0 : AVERROR(errno);
    while ((e = readdir(d))) {
        const char *id = e->d_name + skip;
        if ((skip && strncmp(e->d_name, LR_RECORDING_REMOVING, skip)) ||
            !lr_recording_id_valid(id, strlen(id)))
            continue;
        if (n == cap) {
            int              ncap = cap ? cap * 2 : 16;
            lr_recording_id *nv = av_realloc_array(v, ncap, sizeof(*v));
            if (!nv) {
                ret = AVERROR(ENOMEM);
                goto out;
            }
            v = nv;
            cap = ncap;
        }
        memcpy(v[n++].str, id, LR_RECORDING_ID_LEN + 1);
    }
    if (n)
        qsort(v, n, sizeof(*v), flags & LR_RECORDING_IDS_NEWEST_FIRST ? cmp_id_desc : cmp_id_asc);
    if (max > 0 && n > max)
        n = max;
    if (n) {
        *ids = v;
        *nb = n;
        v = NULL;
    }
out:
    av_free(v);
    closedir(d);
    return ret;
}
