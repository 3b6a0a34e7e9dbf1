/* egress/recording_disk.h — the recordings on disk: the folder layout and its
 * names, recording.json read and written through jansson, whole files written
 * atomically, and the lists of lectures and recordings under the root. Called
 * by recorder.c (writing, resume, retention) and recordings_index.c (the
 * lecture list, /api/v1/lectures); http_file.c checks ids with it.
 *
 *   <root>/<lecture>/<id>/recording.json
 *                         master.m3u8
 *                         <rend>/init.mp4, <seq>.m4s | <seq>.ts, index.m3u8
 *   <root>/<lecture>/.del-<id>/         a recording being removed
 *   <dir>/.<name>.tmp                   a file being written
 *
 * Fields, formats and the crash-safety rules: docs/recordings.md. Nothing
 * here keeps state; every function may be called from any thread. */
#ifndef LR_EGRESS_RECORDING_DISK_H
#define LR_EGRESS_RECORDING_DISK_H

#include <stddef.h>
#include <stdint.h>

#include "common/streamid.h"

#define LR_RECORDING_ID_LEN    16          /* YYYYMMDDTHHMMSSZ */
#define LR_RECORDING_REND_MAX  32          /* a rendition name's length, at most */
#define LR_RECORDING_MAX_RENDS 16          /* renditions in one recording, at most */
#define LR_RECORDING_JSON_MAX  (64 * 1024) /* a larger recording.json is refused */
#define LR_RECORDING_REMOVING  ".del-"     /* <lecture>/.del-<id>: being removed */
#define LR_RECORDING_JSON      "recording.json"

/* ---- names ----------------------------------------------------------- */

typedef struct lr_recording_id {
    char str[LR_RECORDING_ID_LEN + 1];
} lr_recording_id;

/* 1 if id (len bytes, no NUL needed) is a recording id: the UTC start,
 * [0-9]{8}T[0-9]{6}Z ("20261128T134700Z"). Sorting ids sorts by start. */
int lr_recording_id_valid(const char *id, size_t len);
/* The id of the UTC second sec. */
void lr_recording_id_make(int64_t sec, lr_recording_id *id);
/* The UTC second an id names; 0 if id is not a valid id. */
int64_t lr_recording_id_time(const char *id);

/* 1 if name is a rendition name: 1..32 chars of [A-Za-z0-9_-], starting
 * alphanumeric. */
int lr_recording_rend_valid(const char *name);
/* 1 if name is one of lr_recording_write_file()'s temporary files. */
int lr_recording_temp_name(const char *name);

/* ms since the epoch as "2026-11-28T13:47:00Z" (whole seconds). */
void lr_recording_time_format(int64_t ms, char out[32]);
/* ISO 8601 as recording.json and the recorded playlists write it:
 * "2026-11-28T13:47:00Z", an optional fraction, "Z" or "+hh:mm".
 * Returns ms since the epoch, 0 if s is not such a time. */
int64_t lr_recording_time_parse(const char *s);

/* ---- files ----------------------------------------------------------- */

/* Writes dir/name through "dir/.name.tmp": write, fsync, rename, fsync of the
 * folder, so a reader (or a crash, or a power cut) sees the old file or the
 * new one, never a part. Returns 0 or the error of the disk (the temporary
 * file is removed). */
int lr_recording_write_file(const char *dir, const char *name, const void *data, size_t len);
/* The same without the folder's fsync, for a segment: the playlist that
 * names it is written next into the same folder, and that one's fsync
 * makes both renames durable (the journal keeps them in order). Half the
 * folder fsyncs of a recording, which a busy disk makes slow. */
int lr_recording_write_media(const char *dir, const char *name, const void *data, size_t len);
/* fsync()s a folder, so that the names made or renamed in it survive a power
 * cut (best effort: a folder that can't be opened is left). */
void lr_recording_fsync_dir(const char *dir);

/* Reads the regular file path (not through a symbolic link) into a new
 * av_malloc'd, NUL-terminated *buf; *len (when not NULL) is its size.
 * max > 0: a larger file gives AVERROR(EFBIG). Returns 0, AVERROR(EINVAL)
 * for something that is not a regular file, or the error of the disk. */
int lr_recording_read_file(const char *path, size_t max, char **buf, size_t *len);

/* ---- recording.json -------------------------------------------------- */

/* What a recording.json says. Read back, a field that is absent, of the
 * wrong type or out of range is unknown: "" for names, 0 for times, -1 for
 * the numbers and finished. Written, every field must be known (except
 * ended_ms: 0 is written as null, the recording not having ended). */
typedef struct lr_recording_meta {
    char    lecture[LR_LECTURE_NAME_MAX + 1];
    char    id[LR_RECORDING_ID_LEN + 1];
    int64_t started_ms;    /* wall clock of the start */
    int64_t ended_ms;      /* wall clock of the last segment's end */
    double  duration_s;    /* the longest rendition's, written to the ms */
    int64_t bytes;         /* segments and init sections of every rendition */
    int     finished;      /* 1: a VOD, never resumed; 0: still recording */
    int     nb_renditions; /* the valid names read, at most LR_RECORDING_MAX_RENDS */
    char    renditions[LR_RECORDING_MAX_RENDS][LR_RECORDING_REND_MAX + 1];
} lr_recording_meta;

/* Makes every field of *m unknown. */
void lr_recording_meta_clear(lr_recording_meta *m);

/* Parses a recording.json's text (len bytes, no NUL needed) into *m.
 * Returns 0 (fields it lacks are unknown), AVERROR_INVALIDDATA when the text
 * is not one JSON object (or repeats a key), AVERROR(ENOMEM). */
int lr_recording_meta_parse(const char *text, size_t len, lr_recording_meta *m);

/* Reads <rec_dir>/recording.json into *m (all unknown on error). Returns 0,
 * AVERROR(ENOENT) when there is none, AVERROR(EFBIG) when it is larger than
 * LR_RECORDING_JSON_MAX, AVERROR_INVALIDDATA when it is malformed, or the
 * error of the disk. */
int lr_recording_meta_read(const char *rec_dir, lr_recording_meta *m);

/* Writes *m to <rec_dir>/recording.json with lr_recording_write_file().
 * Returns 0, AVERROR(EINVAL) (nothing written) when a field is unknown or a
 * name not valid, AVERROR(ENOMEM) or the error of the disk. */
int lr_recording_meta_write(const char *rec_dir, const lr_recording_meta *m);

/* ---- lists ----------------------------------------------------------- */

/* The lectures under root (folders with a valid lecture name), sorted, as a
 * NUL-separated list ending with "" in a new av_malloc'd *names; the first
 * max of them (max <= 0: all). Returns 0, AVERROR(ENOMEM), or the error of
 * opening root (*names NULL). */
int lr_recording_lectures(const char *root, int max, char **names);

enum lr_recording_ids_flags {
    LR_RECORDING_IDS_NEWEST_FIRST = 1, /* else oldest first */
    LR_RECORDING_IDS_REMOVING = 2,     /* the ids of <lecture>/.del-<id> instead */
};

/* The ids of lecture's recordings under root, sorted as flags say, the first
 * max of them (max <= 0: all), in a new av_malloc'd *ids (NULL when *nb is
 * 0). Returns 0 (also when the lecture has no folder), AVERROR(EINVAL) for
 * a lecture name that is not valid, AVERROR(ENOMEM), or the error of opening
 * the lecture's folder. */
int lr_recording_ids(const char *root, const char *lecture, unsigned flags, int max,
                     lr_recording_id **ids, int *nb);

#endif
