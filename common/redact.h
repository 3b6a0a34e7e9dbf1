/* common/redact.h — secrets out of log lines. Every line common/log.c
 * writes passes through here, the libraries' (FFmpeg, libsrt) included:
 *   - a URL's password (scheme://user:PASSWORD@host) becomes ***;
 *   - a URL's query values become *** except those of options known to
 *     carry no secret (mode, latency and the other SRT and FFmpeg transport
 *     options, _HLS_msn and the other LL-HLS directives); a streamid value
 *     keeps its text but its s= (the publish key);
 *   - an SRT stream id in Access Control syntax (#!::r=…,s=KEY) anywhere in
 *     the line has its s= value replaced.
 * What is not a URL or a stream id is the caller's business (a stream key
 * sent as the RTMP stream name: ingest/rtmp_session.c never logs it). */
#ifndef LR_COMMON_REDACT_H
#define LR_COMMON_REDACT_H

#include <stddef.h>

/* Writes in with its secrets replaced into out (size > 0; cut to fit, always
 * terminated). */
void lr_redact(const char *in, char *out, size_t size);

#endif
