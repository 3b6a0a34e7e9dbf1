/* egress/store.h — the egress's in-memory object store: playlists, init
 * segments and media segments of every live lecture, keyed by their path below
 * /live/ ("cs101/master.m3u8", "cs101/720p/index.m3u8", "cs101/720p/42.ts").
 * The packager threads publish; the HTTP threads read. Published objects are
 * immutable, reference-counted buffers: a reader holds its reference for as
 * long as it sends, without copying. */
#ifndef LR_EGRESS_STORE_H
#define LR_EGRESS_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <libavutil/buffer.h>

typedef struct lr_store lr_store;

typedef struct lr_store_obj {
    AVBufferRef *data;         /* the bytes; data->data, data->size */
    const char  *content_type; /* static string */
    int          max_age_s;    /* Cache-Control max-age to send */
    int          immutable;    /* 1: segment, never changes under this path */
    int          redirect;     /* 1: data is a URI relative to the path, answered
                                  302 with the request's query appended; with ll,
                                  the ll fields tell how far the playlist it
                                  replaced reached ("<path>" LR_STORE_LAST_SUFFIX, whose
                                  blocking reloads it still answers) */

    /* Live low-latency media playlists only (ll = 1): how far this playlist
     * reaches, so the HTTP server can hold a blocking reload
     * (_HLS_msn/_HLS_part) until a publication satisfies it. */
    int          ll;
    int64_t      ll_msn_complete;  /* seq of the newest complete segment listed; -1 none */
    int64_t      ll_part_msn;      /* seq of the segment holding the newest part listed */
    int          ll_part;          /* index of that part; -1 none */
    int          ll_target_duration; /* EXT-X-TARGETDURATION, seconds, >= 1 when ll
                                       (blocking timeout 3x) */
    int          ll_ended;         /* EXT-X-ENDLIST: never block on it again */
    int64_t      published_ns;     /* lr_now_ns() at its lr_store_put (set by the store) */
} lr_store_obj;

lr_store *lr_store_alloc(void);
void      lr_store_free(lr_store **s);

/* Publishes obj under path, replacing what was there. Takes a new reference
 * to obj->data (the caller keeps its own). Returns 0 or AVERROR(ENOMEM). */
int  lr_store_put(lr_store *s, const char *path, const lr_store_obj *obj);
/* Live playlists in LL mode are published twice: "<path>" and, for delta
 * updates, "<path>" LR_STORE_DELTA_SUFFIX; a shed rendition's last playlist
 * is kept as "<path>" LR_STORE_LAST_SUFFIX beside its redirect. No request
 * path can collide with these keys, since request paths are cut at '?'. */
#define LR_STORE_DELTA_SUFFIX "?_HLS_skip=YES"
#define LR_STORE_LAST_SUFFIX  "?_HLS_final"
/* Removes path (no error if absent). */
void lr_store_remove(lr_store *s, const char *path);
/* Removes every path starting with prefix. */
void lr_store_remove_prefix(lr_store *s, const char *prefix);

/* Looks up path (len bytes, not necessarily NUL-terminated). On success
 * fills *out with a new reference the caller releases with
 * lr_store_obj_unref(); returns AVERROR(ENOENT) when absent. */
int  lr_store_get(lr_store *s, const char *path, size_t len, lr_store_obj *out);
void lr_store_obj_unref(lr_store_obj *o);

/* Names of the lectures that have a master playlist, sorted, as one
 * newly allocated NUL-separated list ending with an empty string
 * (av_free it). Returns 0 or AVERROR(ENOMEM). */
int  lr_store_list_lectures(lr_store *s, char **names);
/* Same for the renditions of lecture (keys "<lecture>/<rend>/index.m3u8"). */
int  lr_store_list_renditions(lr_store *s, const char *lecture, char **names);

/* Publication watcher: fn(opaque, path) runs after every lr_store_put, on
 * the publisher's thread, outside the store's lock (it must be quick; the
 * HTTP server only posts a message to its loops, and only while it has
 * requests parked). One watcher at a time; fn NULL removes it, and once
 * that call returns the old fn is not running and won't be called. */
typedef void lr_store_publish_fn(void *opaque, const char *path);
void lr_store_set_publish_cb(lr_store *s, lr_store_publish_fn *fn, void *opaque);

/* DVR from disk: when "<lecture>/<rend>/<file>" misses in memory, the HTTP
 * server serves "<dir>/<rend>/<file>" if it is a regular file (segments and
 * init only). dir NULL clears. Returns 0 or AVERROR(ENOMEM/EINVAL). */
int  lr_store_set_disk_dir(lr_store *s, const char *lecture, const char *dir);
/* Copies lecture's disk dir (lecture: len bytes) into out; AVERROR(ENOENT)
 * when none is set, AVERROR(ENAMETOOLONG) when it doesn't fit. */
int  lr_store_disk_dir(lr_store *s, const char *lecture, size_t len, char *out, size_t size);

#endif
