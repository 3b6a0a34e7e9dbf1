/* egress/recorder.h — writes a lecture's recording to disk as it streams: the
 * segments, init sections and master playlist the packager makes, plus an
 * EVENT media playlist per rendition that becomes a VOD (EXT-X-ENDLIST) when
 * the lecture ends. The same files back the live time-shift window once memory
 * no longer holds it. Called by egress.c; the HTTP server reads the files
 * (/vod/<lecture>/<id>/...). Layout, crash safety, retention, resume:
 * docs/recordings.md; the names, recording.json and the atomic writes are
 * recording_disk.h's.
 *
 *   <root>/<lecture>/<id>/recording.json
 *                         master.m3u8
 *                         <rend>/init.mp4        (fMP4 only)
 *                         <rend>/<seq>.m4s|.ts
 *                         <rend>/index.m3u8
 *
 * <id> is the UTC start time, YYYYMMDDTHHMMSSZ (the next free second if
 * taken). Every file is written to a hidden temporary name in its directory,
 * fsync'ed and renamed; a playlist names a segment only after the segment's
 * rename, so a crash at any moment leaves only whole segments named.
 *
 * Threads: the put functions only queue (a bounded queue per recorder, one
 * writer thread per recorder); they never wait on the disk. When the queue
 * is full a segment is dropped (one log line per run of drops, counted in
 * lr_recorder_dropped()); init sections and the master are never dropped.
 * A recorder is used by one caller thread at a time; lr_recorder_segments()
 * and the getters may be called from any thread. */
#ifndef LR_EGRESS_RECORDER_H
#define LR_EGRESS_RECORDER_H

#include <stddef.h>
#include <stdint.h>

#include <libavutil/buffer.h>

#include "playlist.h"

typedef struct lr_recorder_conf {
    const char *root;           /* directory holding every lecture's recordings */
    double      retention_days; /* finished recordings older than this are
                                   removed by lr_recordings_sweep(); 0: no limit */
    int64_t     quota_bytes;    /* the root's total size limit; 0: no limit */
    double      min_free_pct;   /* the root's file system kept this free (percent
                                   of its size) by lr_recordings_keep_free(); 0: no floor */
    int         quiet;          /* lr_recorder_open() logs no disk error (its caller
                                   retries and has said so once) */
} lr_recorder_conf;

typedef struct lr_recorder lr_recorder;

/* Segments queued but not yet written, at most (about 16 s of a 4-rung
 * ladder with 2 s segments). */
#define LR_RECORDER_QUEUE_SEGMENTS 32

/* Opens a recording of `lecture` (a valid lecture name, see
 * lr_lecture_name_valid()) whose segments have extension ext ("m4s" or "ts").
 * resume = 1: if the lecture's newest recording is unfinished, it is
 * continued (its state is read back from its playlists; temporary files left
 * by a crash are removed) and the first segment written to each rendition is
 * marked discontinuous. Otherwise a new recording starts.
 * Returns 0, AVERROR(EINVAL) for a bad name or ext, or the error of the disk
 * (root not writable...), logged once with the lecture and path. */
int  lr_recorder_open(const lr_recorder_conf *c, const char *lecture, const char *ext,
                      int resume, lr_recorder **out);

/* The media sequence number to continue from: the highest segment seq on
 * disk in any rendition + 1 after a resume, 0 for a new recording. Segment
 * seq numbers given to put_segment should not go below it. */
int64_t     lr_recorder_next_seq(const lr_recorder *r);
/* The recording's directory, "<root>/<lecture>/<id>", and its id. */
const char *lr_recorder_dir(const lr_recorder *r);
const char *lr_recorder_id(const lr_recorder *r);
/* Segments dropped so far (queue full or disk error). */
int64_t     lr_recorder_dropped(const lr_recorder *r);
/* 1 from a failed write (a full disk...) until the next write succeeds. A
 * failure is logged once with its reason, and the recovery once with the
 * segments lost in between; the recording goes on by itself, its next
 * segment marked discontinuous. */
int         lr_recorder_failing(const lr_recorder *r);
/* Media bytes written to disk (segments; not init sections or playlists). */
int64_t     lr_recorder_bytes_written(const lr_recorder *r);

/* Each queues a write and returns at once. rend: 1..32 chars of
 * [A-Za-z0-9_-], starting alphanumeric (AVERROR(EINVAL) otherwise). data is
 * immutable; the recorder takes its own reference (the caller keeps its own).
 * put_segment: info->seq, duration, discontinuity and pdt_ms are used
 * (parts and bytes are ignored); seq must grow within a rendition
 * (AVERROR(EINVAL) otherwise). Returns 0, AVERROR(EAGAIN) when the segment
 * was dropped (queue full), AVERROR(ENOMEM). */
int  lr_recorder_put_init(lr_recorder *r, const char *rend, AVBufferRef *data);
int  lr_recorder_put_segment(lr_recorder *r, const char *rend, const lr_seg_info *info,
                             AVBufferRef *data);
int  lr_recorder_put_master(lr_recorder *r, const char *text, size_t len);

/* Waits until everything queued so far is on disk. */
void lr_recorder_flush(lr_recorder *r);

/* The recorded segments of rend whose end lies within window_s seconds of
 * the newest one's end (all of them for window_s <= 0), oldest first, in a
 * new av_malloc'd array (parts NULL). Where seq jumps (a segment dropped, or
 * this rendition was behind the others at a restart) the segment after the
 * jump has discontinuity = 1. *nb = 0 and *out = NULL when there are none.
 * Returns 0, AVERROR(EINVAL) or AVERROR(ENOMEM). */
int  lr_recorder_segments(lr_recorder *r, const char *rend, double window_s,
                          lr_seg_info **out, int *nb);

/* Both write everything queued, then free *r and set it to NULL (NULL is
 * fine). finish makes the recording a VOD: every playlist VOD with
 * EXT-X-ENDLIST, recording.json finished, ended and duration. close leaves
 * it unfinished, to be resumed (egress shutdown). They wait for the disk. */
void lr_recorder_finish(lr_recorder **r);
void lr_recorder_close(lr_recorder **r);

/* Removes finished recordings whose end is older than retention_days, then,
 * oldest first, finished recordings until the root's total size is at most
 * quota_bytes. Unfinished recordings are never removed. Each removal is
 * logged. Returns how many were removed, or a negative AVERROR when the
 * root can't be read. */
int  lr_recordings_sweep(const lr_recorder_conf *c);
/* When the root's file system has less than min_free_pct free, removes
 * finished recordings, the oldest first, until it has (a disk that fills
 * up stops every recording, the live ones too). Cheap when there is room
 * (one statvfs). Returns how many were removed, or a negative AVERROR. */
int  lr_recordings_keep_free(const lr_recorder_conf *c);

/* Finishes (as lr_recorder_finish) every unfinished recording whose newest
 * write is older than grace_s seconds: a lecture that ended while the egress
 * was down still becomes a VOD. Call at egress start, before opening
 * recorders. Returns how many were finished, or a negative AVERROR. */
int  lr_recordings_finish_stale(const lr_recorder_conf *c, double grace_s);

/* Makes the root folder (and its parents) if missing; logs why not.
 * Returns 0 or a negative AVERROR. */
int  lr_recordings_make_root(const lr_recorder_conf *c);

#endif
