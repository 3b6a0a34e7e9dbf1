/* egress/recordings_index.h — reads the recordings the recorder left on disk
 * (<recordings_dir>/<lecture>/<id>/recording.json) for the lecture list,
 * /api/v1/lectures and the player page. Called by egress/http_pages.c. */
#ifndef LR_EGRESS_RECORDINGS_INDEX_H
#define LR_EGRESS_RECORDINGS_INDEX_H

#include <stddef.h>
#include <libavutil/bprint.h>

/* 1 if id is a recording id: [0-9]{8}T[0-9]{6}Z (len bytes). */
int lr_recording_id_valid(const char *id, size_t len);

/* Lectures with at least one recording directory, sorted, as a
 * NUL-separated list ending with "" (av_free it). */
int lr_recordings_list_lectures(const char *dir, char **names);

/* Appends lecture's recordings, newest first, to out as a JSON array of
 * {"id","started","ended","duration_s","finished","bytes"} objects (values
 * read from recording.json; absent or malformed ones are null). */
void lr_recordings_json(const char *dir, const char *lecture, AVBPrint *out);

/* Same as HTML <li> items linking to prefix/vod/<lecture>/<id>/master.m3u8
 * (data-src attributes for the player page); returns how many. */
int lr_recordings_html(const char *dir, const char *lecture, const char *prefix, AVBPrint *out);

#endif
