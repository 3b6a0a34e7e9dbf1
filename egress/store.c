/* egress/store.c — the in-memory object store behind /live/: a chained hash
 * table from path to immutable, reference-counted objects under one mutex.
 * The packager publishes into it; the HTTP thread reads from it. */
#include "store.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/avstring.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "common/stop.h"

#define INITIAL_BUCKETS 256
#define MASTER_SUFFIX   "/master.m3u8"

typedef struct entry {
    struct entry *next;
    uint64_t      hash;
    size_t        path_len;
    lr_store_obj  obj;
    char          path[]; /* NUL-terminated */
} entry;

typedef struct disk_dir {
    struct disk_dir *next;
    char            *dir;
    char             lecture[];
} disk_dir;

struct lr_store {
    pthread_mutex_t lock;
    entry         **buckets;
    size_t          nb_buckets; /* power of two */
    size_t          nb_entries;
    disk_dir       *disk_dirs;  /* under lock */

    pthread_rwlock_t     cb_lock; /* read: a put calling fn; write: changing it */
    lr_store_publish_fn *publish_fn;
    void                *publish_opaque;
};

/* FNV-1a, 64 bit. */
static uint64_t hash_path(const char *p, size_t len)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static void entry_free(entry *e)
{
    av_buffer_unref(&e->obj.data);
    av_free(e);
}

lr_store *lr_store_alloc(void)
{
    lr_store *s = av_mallocz(sizeof(*s));
    if (!s)
        return NULL;
    s->nb_buckets = INITIAL_BUCKETS;
    s->buckets = av_calloc(s->nb_buckets, sizeof(*s->buckets));
    if (!s->buckets || pthread_mutex_init(&s->lock, NULL)) {
        av_freep(&s->buckets);
        av_freep(&s);
        return NULL;
    }
    if (pthread_rwlock_init(&s->cb_lock, NULL)) {
        pthread_mutex_destroy(&s->lock);
        av_freep(&s->buckets);
        av_freep(&s);
        return NULL;
    }
    return s;
}

void lr_store_free(lr_store **ps)
{
    lr_store *s = *ps;
    if (!s)
        return;
    for (size_t i = 0; i < s->nb_buckets; i++) {
        entry *e = s->buckets[i];
        while (e) {
            entry *next = e->next;
            entry_free(e);
            e = next;
        }
    }
    while (s->disk_dirs) {
        disk_dir *d = s->disk_dirs;
        s->disk_dirs = d->next;
        av_free(d->dir);
        av_free(d);
    }
    av_freep(&s->buckets);
    pthread_rwlock_destroy(&s->cb_lock);
    pthread_mutex_destroy(&s->lock);
    av_freep(ps);
}

/* Doubles the table when it gets dense; on allocation failure the table
 * simply stays as it is (longer chains, still correct). Lock held. */
static void maybe_grow(lr_store *s)
{
    if (s->nb_entries < s->nb_buckets * 2)
        return;
    size_t nb = s->nb_buckets * 2;
    entry **b = av_calloc(nb, sizeof(*b));
    if (!b)
        return;
    for (size_t i = 0; i < s->nb_buckets; i++) {
        entry *e = s->buckets[i];
        while (e) {
            entry *next = e->next;
            size_t k = e->hash & (nb - 1);
            e->next = b[k];
            b[k] = e;
            e = next;
        }
    }
    av_free(s->buckets);
    s->buckets = b;
    s->nb_buckets = nb;
}

/* Returns the link that points at path's entry (or at NULL). Lock held. */
static entry **find_slot(lr_store *s, const char *path, size_t len, uint64_t h)
{
    entry **pe = &s->buckets[h & (s->nb_buckets - 1)];
    while (*pe) {
        entry *e = *pe;
        if (e->hash == h && e->path_len == len && !memcmp(e->path, path, len))
            return pe;
        pe = &e->next;
    }
    return pe;
}

int lr_store_put(lr_store *s, const char *path, const lr_store_obj *obj)
{
    size_t len = strlen(path);
    uint64_t h = hash_path(path, len);
    entry *e = av_mallocz(sizeof(*e) + len + 1);
    entry *old = NULL;
    if (!e)
        return AVERROR(ENOMEM);
    e->hash = h;
    e->path_len = len;
    memcpy(e->path, path, len + 1);
    e->obj = *obj;
    e->obj.published_ns = lr_now_ns();
    e->obj.data = av_buffer_ref(obj->data);
    if (!e->obj.data) {
        av_free(e);
        return AVERROR(ENOMEM);
    }

    pthread_mutex_lock(&s->lock);
    entry **pe = find_slot(s, path, len, h);
    if (*pe) {
        old = *pe;
        e->next = old->next;
        *pe = e;
    } else {
        *pe = e;
        s->nb_entries++;
        maybe_grow(s);
    }
    pthread_mutex_unlock(&s->lock);

    if (old)
        entry_free(old); /* readers keep their own references */

    pthread_rwlock_rdlock(&s->cb_lock);
    if (s->publish_fn)
        s->publish_fn(s->publish_opaque, path);
    pthread_rwlock_unlock(&s->cb_lock);
    return 0;
}

void lr_store_set_publish_cb(lr_store *s, lr_store_publish_fn *fn, void *opaque)
{
    pthread_rwlock_wrlock(&s->cb_lock);
    s->publish_fn = fn;
    s->publish_opaque = opaque;
    pthread_rwlock_unlock(&s->cb_lock);
}

int lr_store_set_disk_dir(lr_store *s, const char *lecture, const char *dir)
{
    disk_dir *d = NULL, *old = NULL;

    if (!lecture || !*lecture)
        return AVERROR(EINVAL);
    if (dir) {
        size_t l = strlen(lecture) + 1;
        if (!(d = av_mallocz(sizeof(*d) + l)) || !(d->dir = av_strdup(dir))) {
            av_free(d);
            return AVERROR(ENOMEM);
        }
        memcpy(d->lecture, lecture, l);
    }
    pthread_mutex_lock(&s->lock);
    for (disk_dir **pd = &s->disk_dirs; *pd; pd = &(*pd)->next) {
        if (!strcmp((*pd)->lecture, lecture)) {
            old = *pd;
            *pd = old->next;
            break;
        }
    }
    if (d) {
        d->next = s->disk_dirs;
        s->disk_dirs = d;
    }
    pthread_mutex_unlock(&s->lock);
    if (old) {
        av_free(old->dir);
        av_free(old);
    }
    return 0;
}

int lr_store_disk_dir(lr_store *s, const char *lecture, size_t len, char *out, size_t size)
{
    int ret = AVERROR(ENOENT);

    pthread_mutex_lock(&s->lock);
    for (disk_dir *d = s->disk_dirs; d; d = d->next) {
        if (strlen(d->lecture) == len && !memcmp(d->lecture, lecture, len)) {
            size_t l = strlen(d->dir);
            if (l >= size) {
                ret = AVERROR(ENAMETOOLONG);
            } else {
                memcpy(out, d->dir, l + 1);
                ret = 0;
            }
            break;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return ret;
}

void lr_store_remove(lr_store *s, const char *path)
{
    size_t len = strlen(path);
    uint64_t h = hash_path(path, len);
    entry *old = NULL;

    pthread_mutex_lock(&s->lock);
    entry **pe = find_slot(s, path, len, h);
    if (*pe) {
        old = *pe;
        *pe = old->next;
        s->nb_entries--;
    }
    pthread_mutex_unlock(&s->lock);

    if (old)
        entry_free(old);
}

void lr_store_remove_prefix(lr_store *s, const char *prefix)
{
    size_t plen = strlen(prefix);
    entry *removed = NULL;

    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->nb_buckets; i++) {
        entry **pe = &s->buckets[i];
        while (*pe) {
            entry *e = *pe;
            if (e->path_len >= plen && !memcmp(e->path, prefix, plen)) {
                *pe = e->next;
                e->next = removed;
                removed = e;
                s->nb_entries--;
            } else {
                pe = &e->next;
            }
        }
    }
    pthread_mutex_unlock(&s->lock);

    while (removed) {
        entry *next = removed->next;
        entry_free(removed);
        removed = next;
    }
}

int lr_store_get(lr_store *s, const char *path, size_t len, lr_store_obj *out)
{
    uint64_t h = hash_path(path, len);
    int ret = AVERROR(ENOENT);

    pthread_mutex_lock(&s->lock);
    entry *e = *find_slot(s, path, len, h);
    if (e) {
        *out = e->obj;
        out->data = av_buffer_ref(e->obj.data);
        ret = out->data ? 0 : AVERROR(ENOMEM);
    }
    pthread_mutex_unlock(&s->lock);

    if (ret < 0)
        memset(out, 0, sizeof(*out));
    return ret;
}

void lr_store_obj_unref(lr_store_obj *o)
{
    av_buffer_unref(&o->data);
    memset(o, 0, sizeof(*o));
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "<prefix><name><suffix>" with a non-empty name holding no '/'. */
static int key_matches(const entry *e, const char *prefix, size_t pl, const char *suffix,
                       size_t sl)
{
    if (e->path_len <= pl + sl || memcmp(e->path, prefix, pl) ||
        strcmp(e->path + e->path_len - sl, suffix))
        return 0;
    return memchr(e->path + pl, '/', e->path_len - sl - pl) == NULL;
}

/* The sorted, NUL-separated names of every key "<prefix><name><suffix>". */
static int list_names(lr_store *s, const char *prefix, const char *suffix, char **names)
{
    size_t pl = strlen(prefix), sl = strlen(suffix);
    char **v = NULL, *out = NULL;
    size_t n = 0, cap = 0, total = 1;
    int ret = 0;

    *names = NULL;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->nb_buckets; i++) {
        for (entry *e = s->buckets[i]; e; e = e->next) {
            if (!key_matches(e, prefix, pl, suffix, sl) || strchr(e->path, '?'))
                continue;
            if (n == cap) {
                size_t ncap = cap ? cap * 2 : 16;
                char **nv = av_realloc_array(v, ncap, sizeof(*v));
                if (!nv) {
                    ret = AVERROR(ENOMEM);
                    goto unlock;
                }
                v = nv;
                cap = ncap;
            }
            v[n] = av_strndup(e->path + pl, e->path_len - sl - pl);
            if (!v[n]) {
                ret = AVERROR(ENOMEM);
                goto unlock;
            }
            total += e->path_len - sl - pl + 1;
            n++;
        }
    }
unlock:
    pthread_mutex_unlock(&s->lock);
    if (ret < 0)
        goto fail;

    if (n)
        qsort(v, n, sizeof(*v), cmp_names);
    out = av_malloc(total);
    if (!out) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    char *p = out;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(v[i]) + 1;
        memcpy(p, v[i], l);
        p += l;
    }
    *p = '\0';
    *names = out;

fail:
    for (size_t i = 0; i < n; i++)
        av_free(v[i]);
    av_free(v);
    return ret;
}

int lr_store_list_lectures(lr_store *s, char **names)
{
    return list_names(s, "", MASTER_SUFFIX, names);
}

int lr_store_list_renditions(lr_store *s, const char *lecture, char **names)
{
    char prefix[256];
    if (snprintf(prefix, sizeof(prefix), "%s/", lecture) >= (int)sizeof(prefix))
        return AVERROR(EINVAL);
    return list_names(s, prefix, "/index.m3u8", names);
}
