/* common/ts_mux.h — opens an MPEG-TS muxer on an AVIOContext with the
 * settings every role's TS output shares (timestamps kept as given, PAT/PMT
 * repeated often so a receiver joining late syncs fast). Used by ingest and
 * transcode for the link, by egress for TS segments. */
#ifndef LR_COMMON_TS_MUX_H
#define LR_COMMON_TS_MUX_H

#include <libavformat/avformat.h>

/* Allocates an mpegts output context writing to pb (not owned). Returns 0 or
 * a negative AVERROR. The caller adds streams, then calls lr_ts_mux_begin. */
int  lr_ts_mux_alloc(AVIOContext *pb, AVFormatContext **out);
/* Writes the header with the shared options. */
int  lr_ts_mux_begin(AVFormatContext *oc);
/* Frees the context (not its pb); NULLs *oc. */
void lr_ts_mux_free(AVFormatContext **oc);
/* Writes the trailer first if trailer (a link ending in order), then frees. */
void lr_ts_mux_end(AVFormatContext **oc, int trailer);

#endif
