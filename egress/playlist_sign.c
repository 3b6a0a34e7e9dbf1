/* egress/playlist_sign.c — a signature after every URI of a playlist (see
 * playlist_sign.h). */
#include "playlist_sign.h"

#include <string.h>

#include <libavutil/error.h>
#include <libavutil/mem.h>

#define MAX_PATH 2048

/* Appends segment (n bytes) to path (*len bytes) as RFC 3986 5.2.4 would:
 * "." stays, ".." drops the last segment. -1 past the root or too long. */
static int push_segment(char *path, size_t *len, size_t size, const char *seg, size_t n)
{
    if (n == 1 && seg[0] == '.')
        return 0;
    if (n == 2 && seg[0] == '.' && seg[1] == '.') {
        if (!*len)
            return -1;
        while (*len && path[*len - 1] != '/')
            (*len)--;
        if (*len)
            (*len)--;  /* the '/' before the dropped segment */
        return 0;
    }
    if (*len + 1 + n >= size)
        return -1;
    path[(*len)++] = '/';
    memcpy(path + *len, seg, n);
    *len += n;
    return 0;
}

int lr_playlist_resolve_path(const char *dir, size_t dir_len, const char *uri, size_t uri_len,
                             char *path, size_t size)
{
    const char *q = memchr(uri, '?', uri_len), *sep = memmem(uri, uri_len, "://", 3);
    size_t n = q ? (size_t)(q - uri) : uri_len, len = 0;

    if (sep && sep < uri + n) {  /* scheme://host/path */
        const char *p = memchr(sep + 3, '/', uri + n - (sep + 3));
        if (!p)
            p = "/", n = 1;
        else
            n -= p - uri;
        uri = p;
    } else if (!n || uri[0] != '/') {  /* relative: from dir */
        if (dir_len >= size || (dir_len && dir[0] != '/'))
            return -1;
        memcpy(path, dir, dir_len);
        len = dir_len;
        while (len && path[len - 1] == '/')
            len--;
    }
    for (size_t i = 0, start = 0; i <= n; i++) {
        if (i == n || uri[i] == '/') {
            if (i > start && push_segment(path, &len, size, uri + start, i - start) < 0)
                return -1;
            start = i + 1;
        }
    }
    if (!len || (n && uri[n - 1] == '/')) {  /* "/" itself, or a folder */
        if (len + 1 >= size)
            return -1;
        path[len++] = '/';
    }
    path[len] = '\0';
    return (int)len;
}

typedef struct rewrite_ctx {
    const char     *dir;
    size_t          dir_len;
    lr_uri_rewriter rewrite;
    void           *opaque;
} rewrite_ctx;

static int rewrite_one(AVBPrint *bp, const rewrite_ctx *c, const char *uri, size_t n)
{
    char path[MAX_PATH];
    int plen = lr_playlist_resolve_path(c->dir, c->dir_len, uri, n, path, sizeof(path));

    if (plen < 0)
        return AVERROR(EINVAL);
    return c->rewrite(c->opaque, uri, n, path, (size_t)plen, bp);
}

/* A tag line: each URI="..." (and SERVER-URI="...") rewritten. */
static int rewrite_tag(AVBPrint *bp, const char *line, size_t n, const rewrite_ctx *c)
{
    size_t i = 0;
    int ret;

    while (i < n) {
        const char *a = memmem(line + i, n - i, "URI=\"", 5);
        if (!a) {
            av_bprint_append_data(bp, line + i, (unsigned)(n - i));
            return 0;
        }
        /* an attribute name ends in URI: ":URI", ",URI", "SERVER-URI" */
        size_t at = a - line;
        int is_attr = at > 0 && (line[at - 1] == ':' || line[at - 1] == ',' ||
                                 (at >= 7 && !memcmp(line + at - 7, "SERVER-", 7)));
        const char *v = a + 5, *end = memchr(v, '"', line + n - v);
        if (!end)
            return AVERROR(EINVAL);
        av_bprint_append_data(bp, line + i, (unsigned)(v - (line + i)));
        if (is_attr && end > v) {
            if ((ret = rewrite_one(bp, c, v, end - v)) < 0)
                return ret;
        } else {
            av_bprint_append_data(bp, v, (unsigned)(end - v));
        }
        i = end - line;
    }
    return 0;
}

int lr_playlist_rewrite_uris(const char *in, size_t len, const char *dir, size_t dir_len,
                             lr_uri_rewriter rewrite, void *opaque, char **out, size_t *out_len)
{
    const rewrite_ctx c = { dir, dir_len, rewrite, opaque };
    AVBPrint bp;
    int ret = 0;

    *out = NULL;
    *out_len = 0;
    av_bprint_init(&bp, len + len / 2 + 1, AV_BPRINT_SIZE_UNLIMITED);
    for (size_t i = 0; i < len && ret >= 0;) {
        const char *line = in + i, *nl = memchr(line, '\n', len - i);
        size_t n = nl ? (size_t)(nl - line) : len - i;
        size_t body = n && line[n - 1] == '\r' ? n - 1 : n;

        i += n + (nl != NULL);
        if (body && line[0] == '#')
            ret = rewrite_tag(&bp, line, body, &c);
        else if (body)
            ret = rewrite_one(&bp, &c, line, body);
        av_bprint_append_data(&bp, line + body, (unsigned)(n - body));
        if (nl)
            av_bprint_chars(&bp, '\n', 1);
    }
    if (ret >= 0 && !av_bprint_is_complete(&bp))
        ret = AVERROR(ENOMEM);
    if (ret < 0) {
        av_bprint_finalize(&bp, NULL);
        return ret;
    }
    *out_len = bp.len;
    return av_bprint_finalize(&bp, out);
}

typedef struct sign_ctx {
    lr_path_signer sign;
    void          *opaque;
} sign_ctx;

/* the URI as it was, then "?" or "&" and the signature of its path */
static int append_signature(void *opaque, const char *uri, size_t n, const char *path,
                            size_t plen, AVBPrint *out)
{
    const sign_ctx *s = opaque;
    av_bprint_append_data(out, uri, (unsigned)n);
    av_bprint_chars(out, memchr(uri, '?', n) ? '&' : '?', 1);
    return s->sign(s->opaque, path, plen, out);
}

int lr_playlist_sign_uris(const char *in, size_t len, const char *dir, size_t dir_len,
                          lr_path_signer sign, void *opaque, char **out, size_t *out_len)
{
    sign_ctx s = { sign, opaque };
    return lr_playlist_rewrite_uris(in, len, dir, dir_len, append_signature, &s, out, out_len);
}
