/* egress/playlist_sign.h — a playlist with a signature added to each of its
 * URIs, for signatures that cover one path (url_sign.h): the URI lines and
 * every URI="..." attribute (EXT-X-MAP, EXT-X-PART, EXT-X-PRELOAD-HINT,
 * EXT-X-RENDITION-REPORT, EXT-X-MEDIA, EXT-X-I-FRAME-STREAM-INF,
 * EXT-X-CONTENT-STEERING's SERVER-URI). Pure; called by egress/http_respond.c
 * for each playlist answered to a request signed that way. */
#ifndef LR_EGRESS_PLAYLIST_SIGN_H
#define LR_EGRESS_PLAYLIST_SIGN_H

#include <stddef.h>

#include <libavutil/bprint.h>

/* Appends to out the query (no '?') that signs path (len bytes). */
typedef int (*lr_path_signer)(void *opaque, const char *path, size_t len, AVBPrint *out);

/* Writes in (len bytes) to *out (av_malloc'd, NUL-terminated, length in
 * *out_len) with "?<signature>" (or "&…" when the URI has a query) after
 * each URI. The path signed is the URI's: an absolute URL's path, or a
 * relative one resolved against dir, the playlist's own folder ("/live/cs101/720p",
 * no trailing '/'). The URIs themselves are written as they were. Returns
 * 0, AVERROR(EINVAL) (a URI that can't be resolved, an unterminated
 * attribute) or what sign returned. */
int lr_playlist_sign_uris(const char *in, size_t len, const char *dir, size_t dir_len,
                          lr_path_signer sign, void *opaque, char **out, size_t *out_len);

/* The general form: rewrite(opaque, uri, uri_len, path, path_len, out)
 * writes each URI's replacement (path: what it resolves to, as above). */
typedef int (*lr_uri_rewriter)(void *opaque, const char *uri, size_t uri_len, const char *path,
                               size_t path_len, AVBPrint *out);
int lr_playlist_rewrite_uris(const char *in, size_t len, const char *dir, size_t dir_len,
                             lr_uri_rewriter rewrite, void *opaque, char **out, size_t *out_len);

/* The path a URI stands for, seen from dir (as above): written to path
 * (size bytes), its length returned, or -1. Exposed for the unit tests. */
int lr_playlist_resolve_path(const char *dir, size_t dir_len, const char *uri, size_t uri_len,
                             char *path, size_t size);

#endif
