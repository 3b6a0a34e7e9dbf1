/* ingest/hls_state.c — see hls_state.h. The playlist is read through
 * libavformat's own I/O (avio_open2: http, https, file, with the caller's
 * stop as its interrupt), only the few tags that tell an end are parsed. */
#include "hls_state.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

#include <libavformat/avio.h>
#include <libavutil/avstring.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>
#include <libavutil/opt.h>

#include "common/log.h"

#define MAX_PLAYLIST (4 << 20)  /* a 3-hour EVENT playlist with dates is ~0.5 MB */
#define MAX_URL      4096

/* ---- parsing ----------------------------------------------------------- */

/* The next line of text from *p (without CR/LF); NULL at the end. */
static const char *next_line(const char **p, size_t *len)
{
    const char *s = *p;

    if (!*s)
        return NULL;
    *len = strcspn(s, "\r\n");
    *p = s + *len;
    *p += strspn(*p, "\r\n");
    return s;
}

static int starts(const char *line, size_t len, const char *tag)
{
    size_t n = strlen(tag);
    return len >= n && !memcmp(line, tag, n);
}

int lr_hls_state_parse(const char *text, char *variant, size_t variant_size)
{
    const char *p = text, *line;
    int want_uri = 0, ended = 0;
    size_t len;

    if (!strncmp(p, "\xEF\xBB\xBF", 3))  /* a UTF-8 byte order mark */
        p += 3;
    if (!(line = next_line(&p, &len)) || !starts(line, len, "#EXTM3U"))
        return AVERROR_INVALIDDATA;
    while ((line = next_line(&p, &len))) {
        while (len && isspace((unsigned char)line[len - 1]))
            len--;
        if (!len)
            continue;
        if (want_uri && line[0] != '#') {
            if (len >= variant_size)
                return AVERROR(ENAMETOOLONG);
            memcpy(variant, line, len);
            variant[len] = '\0';
            return LR_HLS_MASTER;
        }
        if (starts(line, len, "#EXT-X-STREAM-INF:"))
            want_uri = 1;
        else if (starts(line, len, "#EXT-X-ENDLIST"))
            ended = 1;
        else if (starts(line, len, "#EXT-X-PLAYLIST-TYPE:") &&
                 len - 21 == 3 && !memcmp(line + 21, "VOD", 3))
            ended = 1;
    }
    if (want_uri)
        return AVERROR_INVALIDDATA;  /* a variant without its URI */
    return ended ? LR_HLS_ENDED : LR_HLS_LIVE;
}

/* ---- resolving URIs ---------------------------------------------------- */

typedef struct outbuf {
    char  *s;
    size_t size, len;
    int    overflow;
} outbuf;

static void put(outbuf *o, const char *s, size_t n)
{
    if (o->len + n >= o->size) {
        o->overflow = 1;
        return;
    }
    memcpy(o->s + o->len, s, n);
    o->len += n;
    o->s[o->len] = '\0';
}

/* Length of "scheme:" at the start of s (RFC 3986 3.1), 0 if none. */
static size_t scheme_len(const char *s)
{
    size_t n = 0;

    if (!isalpha((unsigned char)s[0]))
        return 0;
    while (isalnum((unsigned char)s[n]) || s[n] == '+' || s[n] == '-' || s[n] == '.')
        n++;
    return s[n] == ':' && n > 1 ? n + 1 : 0;  /* one letter: a drive, not a scheme */
}

/* path[0..n) into o without its . and .. segments (RFC 3986 5.2.4); a ..
 * never climbs above the root, and a relative path keeps the ones it can't
 * resolve. */
static void put_path(outbuf *o, const char *path, size_t n)
{
    size_t start = o->len, i = 0;
    int abs = n && path[0] == '/';

    if (abs) {
        put(o, "/", 1);
        i = 1;
    }
    while (i <= n && !o->overflow) {
        size_t j = i;
        while (j < n && path[j] != '/')
            j++;
        size_t len = j - i;
        int more = j < n;
        if (len == 1 && path[i] == '.') {
            /* nothing */
        } else if (len == 2 && path[i] == '.' && path[i + 1] == '.') {
            size_t k = o->len;
            if (k > start + abs) {
                k--;                             /* the '/' ending the last segment */
                while (k > start + abs && o->s[k - 1] != '/')
                    k--;
                if (o->len - k == 3 && !memcmp(o->s + k, "../", 3))
                    put(o, "../", 3);            /* relative, already above its start */
                else
                    o->s[o->len = k] = '\0';
            } else if (!abs) {
                put(o, "../", 3);
            }
        } else {
            put(o, path + i, len);
            if (more)
                put(o, "/", 1);
        }
        if (!more)
            break;
        i = j + 1;
    }
}

int lr_hls_state_resolve(const char *base, const char *ref, char *out, size_t size)
{
    outbuf o = { out, size, 0, 0 };
    size_t bscheme = scheme_len(base), prefix = 0, path_end;
    const char *ref_path_end = ref + strcspn(ref, "?#");
    const char *slash;

    if (!size)
        return AVERROR(ENAMETOOLONG);
    out[0] = '\0';
    if (scheme_len(ref)) {
        put(&o, ref, strlen(ref));
        return o.overflow ? AVERROR(ENAMETOOLONG) : 0;
    }
    /* base = prefix (scheme://authority) + path (+ query, fragment: dropped) */
    if (bscheme && !strncmp(base + bscheme, "//", 2))
        prefix = bscheme + 2 + strcspn(base + bscheme + 2, "/?#");
    else
        prefix = bscheme;
    path_end = prefix + strcspn(base + prefix, "?#");

    if (!strncmp(ref, "//", 2)) {
        put(&o, base, bscheme);
        put(&o, ref, strlen(ref));
    } else if (ref[0] == '/') {
        put(&o, base, prefix);
        put_path(&o, ref, (size_t)(ref_path_end - ref));
        put(&o, ref_path_end, strlen(ref_path_end));
    } else if (!ref[0] || ref[0] == '?' || ref[0] == '#') {
        put(&o, base, ref[0] == '#' ? prefix + strcspn(base + prefix, "#") : path_end);
        put(&o, ref, strlen(ref));
    } else {
        char merged[MAX_URL];
        outbuf m = { merged, sizeof(merged), 0, 0 };
        /* base's folder (up to its last '/'), then ref's path */
        slash = NULL;
        for (const char *c = base + prefix; c < base + path_end; c++)
            if (*c == '/')
                slash = c;
        if (slash)
            put(&m, base + prefix, (size_t)(slash + 1 - (base + prefix)));
        else if (prefix > bscheme)  /* scheme://host with no path */
            put(&m, "/", 1);
        put(&m, ref, (size_t)(ref_path_end - ref));
        if (m.overflow)
            return AVERROR(ENAMETOOLONG);
        put(&o, base, prefix);
        put_path(&o, merged, m.len);
        put(&o, ref_path_end, strlen(ref_path_end));
    }
    return o.overflow ? AVERROR(ENAMETOOLONG) : 0;
}

int lr_hls_state_likely(const char *url)
{
    size_t bscheme = scheme_len(url), start = bscheme, end;

    if (bscheme && !strncmp(url + bscheme, "//", 2))
        start = bscheme + 2 + strcspn(url + bscheme + 2, "/?#");
    end = start + strcspn(url + start, "?#");
    return (end - start >= 5 && !av_strncasecmp(url + end - 5, ".m3u8", 5)) ||
           (end - start >= 4 && !av_strncasecmp(url + end - 4, ".m3u", 4));
}

/* ---- fetching ---------------------------------------------------------- */

typedef struct probe {
    lr_stop *stop;
    int64_t  deadline_ns;
} probe;

static int interrupted(void *opaque)
{
    probe *p = opaque;
    return (p->stop && lr_stop_requested(p->stop)) || lr_now_ns() > p->deadline_ns;
}

/* The whole body at url, NUL-terminated, in *text (av_free it); where it
 * came from after redirects in location (the URI base). */
static int fetch(const char *url, probe *p, char **text, char *location, size_t loc_size)
{
    AVIOInterruptCB cb = { interrupted, p };
    AVIOContext *pb = NULL;
    uint8_t *loc = NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int ret;

    *text = NULL;
    if ((ret = avio_open2(&pb, url, AVIO_FLAG_READ, &cb, NULL)) < 0)
        return interrupted(p) ? AVERROR_EXIT : ret;
    av_strlcpy(location, url, loc_size);
    if (av_opt_get(pb, "location", AV_OPT_SEARCH_CHILDREN, &loc) >= 0 && loc && loc[0])
        av_strlcpy(location, (const char *)loc, loc_size);
    av_freep(&loc);
    for (;;) {
        if (cap - len < 4096) {
            char *bigger;
            if (cap >= MAX_PLAYLIST) {
                ret = AVERROR_INVALIDDATA;  /* no playlist is that long */
                goto done;
            }
            if (!(bigger = av_realloc(buf, cap ? cap * 2 : 16384))) {
                ret = AVERROR(ENOMEM);
                goto done;
            }
            buf = bigger;
            cap = cap ? cap * 2 : 16384;
        }
        ret = avio_read(pb, (unsigned char *)buf + len, (int)(cap - len - 1));
        if (ret == AVERROR_EOF || ret == 0)
            break;
        if (ret < 0)
            goto done;
        len += (size_t)ret;
    }
    buf[len] = '\0';
    if (memchr(buf, '\0', len)) {
        ret = AVERROR_INVALIDDATA;  /* binary: a segment, not a playlist */
        goto done;
    }
    *text = buf;
    buf = NULL;
    ret = 0;
done:
    av_free(buf);
    avio_closep(&pb);
    return ret < 0 && interrupted(p) ? AVERROR_EXIT : ret;
}

int lr_hls_state_probe(const char *url, lr_stop *stop, int timeout_ms)
{
    probe p = { stop, lr_now_ns() + (int64_t)timeout_ms * 1000000 };
    char cur[MAX_URL], base[MAX_URL], variant[MAX_URL];
    int ret = AVERROR_INVALIDDATA;

    av_strlcpy(cur, url, sizeof(cur));
    for (int depth = 0; depth < 2; depth++) {
        char *text;
        if ((ret = fetch(cur, &p, &text, base, sizeof(base))) < 0)
            break;
        ret = lr_hls_state_parse(text, variant, sizeof(variant));
        av_free(text);
        if (ret != LR_HLS_MASTER)
            break;
        if ((ret = lr_hls_state_resolve(base, variant, cur, sizeof(cur))) < 0)
            break;
        ret = AVERROR_INVALIDDATA;  /* a master naming another master */
    }
    lr_debug("hls %s: %s", url, ret == LR_HLS_ENDED ? "ended" : ret == LR_HLS_LIVE ? "live"
                                : av_err2str(ret));
    return ret;
}
