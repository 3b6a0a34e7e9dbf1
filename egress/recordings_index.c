/* egress/recordings_index.c — scans <recordings_dir>/<lecture>/<id>/ and
 * picks a few scalar fields out of each recording.json (written by
 * egress/recorder.c, atomically). Only validated names and checked scalar
 * values reach the JSON and HTML it writes. Called by egress/http_pages.c. */
#include "recordings_index.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "common/streamid.h"

#define MAX_JSON      (64 * 1024)
#define MAX_LISTED    1000
#define ID_LEN        16

int lr_recording_id_valid(const char *id, size_t len)
{
    if (len != ID_LEN || id[8] != 'T' || id[15] != 'Z')
        return 0;
    for (size_t i = 0; i < ID_LEN; i++)
        if (i != 8 && i != 15 && !isdigit((unsigned char)id[i]))
            return 0;
    return 1;
}

static int cmp_desc(const void *a, const void *b)
{
    return strcmp(*(char *const *)b, *(char *const *)a);
}

static int cmp_asc(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Entries of path that pass keep(), sorted, at most MAX_LISTED. */
static int list_dir(const char *path, int (*keep)(const char *), int desc, char ***out, int *n)
{
    DIR *d = opendir(path);
    struct dirent *de;
    char **v = NULL;
    int cnt = 0;

    *out = NULL;
    *n = 0;
    if (!d)
        return 0;
    while ((de = readdir(d)) && cnt < MAX_LISTED) {
        if (!keep(de->d_name))
            continue;
        char **nv = av_realloc_array(v, cnt + 1, sizeof(*v));
        if (!nv)
            break;
        v = nv;
        if (!(v[cnt] = av_strdup(de->d_name)))
            break;
        cnt++;
    }
    closedir(d);
    if (cnt)
        qsort(v, cnt, sizeof(*v), desc ? cmp_desc : cmp_asc);
    *out = v;
    *n = cnt;
    return 0;
}

static void free_list(char **v, int n)
{
    for (int i = 0; i < n; i++)
        av_free(v[i]);
    av_free(v);
}

static int keep_id(const char *name)
{
    return lr_recording_id_valid(name, strlen(name));
}

static int keep_lecture(const char *name)
{
    return lr_lecture_name_valid(name);
}

int lr_recordings_list_lectures(const char *dir, char **names)
{
    char **v;
    int n;
    size_t total = 1;

    *names = NULL;
    if (dir && *dir)
        list_dir(dir, keep_lecture, 0, &v, &n);
    else
        v = NULL, n = 0;
    for (int i = 0; i < n; i++)
        total += strlen(v[i]) + 1;
    char *out = av_malloc(total), *p = out;
    if (!out) {
        free_list(v, n);
        return AVERROR(ENOMEM);
    }
    for (int i = 0; i < n; i++) {
        size_t l = strlen(v[i]) + 1;
        memcpy(p, v[i], l);
        p += l;
    }
    *p = '\0';
    free_list(v, n);
    *names = out;
    return 0;
}

static char *read_small_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    char *buf = NULL;
    struct stat st;

    if (fd < 0)
        return NULL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size < MAX_JSON &&
        (buf = av_malloc(st.st_size + 1))) {
        ssize_t r = read(fd, buf, st.st_size);
        if (r < 0)
            av_freep(&buf);
        else
            buf[r] = '\0';
    }
    close(fd);
    return buf;
}

/* The raw scalar value of "key" in a flat JSON object: a string without
 * escapes, a number, true, false or null. Copies it (quotes included) into
 * out; returns 0 when it is not there or not such a value. */
static int json_scalar(const char *json, const char *key, char *out, size_t size)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\"", key);
    const char *p = strstr(json, pat);
    if (!p)
        return 0;
    p += strlen(pat);
    while (isspace((unsigned char)*p))
        p++;
    if (*p++ != ':')
        return 0;
    while (isspace((unsigned char)*p))
        p++;
    size_t n = 0;
    if (*p == '"') {
        const char *e = p + 1;
        while (*e && *e != '"' && *e != '\\' && (unsigned char)*e >= 0x20 && *e != '<' &&
               *e != '>' && *e != '&')
            e++;
        if (*e != '"')
            return 0;
        n = e + 1 - p;
    } else {
        while (p[n] && (isalnum((unsigned char)p[n]) || strchr("+-.", p[n])))
            n++;
        if (!n)
            return 0;
        if (!isdigit((unsigned char)p[0]) && p[0] != '-' && strncmp(p, "true", n) &&
            strncmp(p, "false", n) && strncmp(p, "null", n))
            return 0;
    }
    if (n >= size)
        return 0;
    memcpy(out, p, n);
    out[n] = '\0';
    return 1;
}

void lr_recordings_json(const char *dir, const char *lecture, AVBPrint *out)
{
    static const char *const keys[] = { "started", "ended", "duration_s", "finished", "bytes" };
    char path[4096], val[128];
    char **ids;
    int n;

    av_bprintf(out, "[");
    if (dir && *dir && lr_lecture_name_valid(lecture)) {
        snprintf(path, sizeof(path), "%s/%s", dir, lecture);
        list_dir(path, keep_id, 1, &ids, &n);
        for (int i = 0; i < n; i++) {
            snprintf(path, sizeof(path), "%s/%s/%s/recording.json", dir, lecture, ids[i]);
            char *json = read_small_file(path);
            av_bprintf(out, "%s{\"id\":\"%s\"", i ? "," : "", ids[i]);
            for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
                av_bprintf(out, ",\"%s\":%s", keys[k],
                           json && json_scalar(json, keys[k], val, sizeof(val)) ? val : "null");
            av_bprintf(out, "}");
            av_free(json);
        }
        free_list(ids, n);
    }
    av_bprintf(out, "]");
}

int lr_recordings_html(const char *dir, const char *lecture, const char *prefix, AVBPrint *out)
{
    char path[4096], started[128], dur[64], fin[16];
    char **ids;
    int n;

    if (!dir || !*dir || !lr_lecture_name_valid(lecture))
        return 0;
    snprintf(path, sizeof(path), "%s/%s", dir, lecture);
    list_dir(path, keep_id, 1, &ids, &n);
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/%s/%s/recording.json", dir, lecture, ids[i]);
        char *json = read_small_file(path);
        int has_start = json && json_scalar(json, "started", started, sizeof(started));
        int has_dur = json && json_scalar(json, "duration_s", dur, sizeof(dur));
        int finished = json && json_scalar(json, "finished", fin, sizeof(fin)) &&
                       !strcmp(fin, "true");
        const char *label = ids[i];
        if (has_start && started[0] == '"') {
            started[strlen(started) - 1] = '\0';
            label = started + 1;
        }
        av_bprintf(out, "<li><a href=\"%s/vod/%s/%s/master.m3u8\" data-src=\"%s/vod/%s/%s/"
                        "master.m3u8\">%s</a>", prefix, lecture, ids[i], prefix, lecture, ids[i],
                   label);
        if (has_dur && dur[0] != 'n')
            av_bprintf(out, " (%.0f min)", atof(dur) / 60.0);
        if (!finished)
            av_bprintf(out, " (recording)");
        av_bprintf(out, "</li>\n");
        av_free(json);
    }
    free_list(ids, n);
    return n;
}
