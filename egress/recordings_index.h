/* egress/recordings_index.h — the recordings the recorder left on disk
 * (<recordings_dir>/<lecture>/<id>/recording.json, read through
 * recording_disk.h) as the lecture list, /api/v1/lectures and the player page
 * show them. Called by egress/http_pages.c. */
#ifndef LR_EGRESS_RECORDINGS_INDEX_H
#define LR_EGRESS_RECORDINGS_INDEX_H

#include <libavutil/bprint.h>

#include "playlist_sign.h"

/* The entries of dir with a lecture's name (lr_lecture_name_valid), sorted,
 * at most 1000, as a NUL-separated list ending with "" (av_free it); an
 * empty list when dir is unset or can't be read. Returns 0 or
 * AVERROR(ENOMEM). */
int lr_recordings_list_lectures(const char *dir, char **names);

/* Appends lecture's recordings, newest first (at most 1000), to out as a
 * JSON array of {"id","started","ended","duration_s","finished","bytes"}
 * objects (values read from recording.json; absent or malformed ones are
 * null). */
void lr_recordings_json(const char *dir, const char *lecture, AVBPrint *out);

/* Same as HTML <li> items linking to prefix/vod/<lecture>/<id>/master.m3u8
 * (data-src attributes for the player page), each link signed in its query
 * by sign (playlist_sign.h) when it is not NULL; returns how many. */
int lr_recordings_html(const char *dir, const char *lecture, const char *prefix,
                       lr_path_signer sign, void *opaque, AVBPrint *out);

#endif
