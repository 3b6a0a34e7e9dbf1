/* egress/recordings_index.h — the recordings the recorder left on disk
 * (<recordings_dir>/<lecture>/<id>/recording.json, read through
 * recording_disk.h) as the lecture list, /api/v1/lectures and the player page
 * show them. Started by egress/http.c, read by egress/http_pages.c. */
#ifndef LR_EGRESS_RECORDINGS_INDEX_H
#define LR_EGRESS_RECORDINGS_INDEX_H

#include <libavutil/bprint.h>

#include "playlist_sign.h"

/* What the recordings folder holds, as a snapshot kept by a thread of its
 * own that rereads the disk every LR_RECORDINGS_INDEX_REFRESH_MS (a
 * recording.json is read again only when it changed), so that a request
 * costs what a playlist costs, whatever is on disk: the HTTP loops never
 * touch the disk for it. */
typedef struct lr_recordings_index lr_recordings_index;

#define LR_RECORDINGS_INDEX_REFRESH_MS 1000

/* Reads dir once (NULL or "": an index of nothing), then starts the thread.
 * Returns 0 or a negative AVERROR. */
int  lr_recordings_index_start(const char *dir, lr_recordings_index **out);
/* Stops the thread, frees; NULLs *ix. */
void lr_recordings_index_stop(lr_recordings_index **ix);

/* The lectures with recordings (names valid, lr_lecture_name_valid),
 * sorted, at most 1000, as a NUL-separated list ending with "" (av_free it).
 * Returns 0 or AVERROR(ENOMEM). */
int lr_recordings_list_lectures(lr_recordings_index *ix, char **names);

/* Appends lecture's recordings, newest first (at most 1000), to out as a
 * JSON array of {"id","started","ended","duration_s","finished","bytes"}
 * objects (values read from recording.json; absent or malformed ones are
 * null). */
void lr_recordings_json(lr_recordings_index *ix, const char *lecture, AVBPrint *out);

/* Same as HTML <li> items linking to prefix/vod/<lecture>/<id>/master.m3u8
 * (data-src attributes for the player page), each link signed in its query
 * by sign (playlist_sign.h) when it is not NULL; returns how many. */
int lr_recordings_html(lr_recordings_index *ix, const char *lecture, const char *prefix,
                       lr_path_signer sign, void *opaque, AVBPrint *out);

#endif
