/* common/streamid.c — parses and writes SRT stream ids: the Access Control form
 * "#!::r=<lecture>,m=publish" and the plain "<lecture>" form OBS users type.
 * Called by common/link.c (listeners and callers) and the roles that name links. */
#include <stdio.h>
#include <string.h>

#include <libavutil/error.h>

#include "common/streamid.h"

#define SID_MAX_LEN 512 /* SRTO_STREAMID's limit */

static int is_alnum(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

int lr_lecture_name_valid(const char *name)
{
    size_t i;

    if (!name || !is_alnum(name[0]))
        return 0;
    for (i = 0; name[i]; i++) {
        if (i >= LR_LECTURE_NAME_MAX)
            return 0;
        if (!is_alnum(name[i]) && name[i] != '_' && name[i] != '-')
            return 0;
    }
    return 1;
}

/* SRT Access Control modes; anything else is a malformed id. */
static int mode_valid(const char *mode, size_t len)
{
    static const char *const modes[] = { "request", "publish", "bidirectional" };

    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
        if (strlen(modes[i]) == len && !memcmp(modes[i], mode, len))
            return 1;
    return 0;
}

/* Values are printable ASCII without the list's own separators. */
static int value_valid(const char *v, size_t len)
{
    if (!len)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (v[i] <= ' ' || v[i] > '~' || v[i] == ',' || v[i] == '=')
            return 0;
    return 1;
}

static int copy_value(char *dst, size_t dst_size, const char *v, size_t len)
{
    if (len >= dst_size)
        return AVERROR(EINVAL);
    memcpy(dst, v, len);
    dst[len] = 0;
    return 0;
}

/* "key=value[,key=value...]" after the "#!::" prefix. */
static int parse_keys(const char *p, lr_streamid *out)
{
    static const char known[] = "rmusth"; /* resource mode user session type host */
    unsigned seen = 0;

    for (;;) {
        const char *eq, *end, *k;
        size_t vlen;
        unsigned bit;

        end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        eq = memchr(p, '=', (size_t)(end - p));
        /* keys are one letter: long or empty keys are not in the standard set */
        if (!eq || eq - p != 1 || !p[0] || !(k = strchr(known, p[0])))
            return AVERROR(EINVAL);
        bit = 1u << (k - known);
        if (seen & bit)
            return AVERROR(EINVAL);
        seen |= bit;
        vlen = (size_t)(end - eq - 1);
        if (!value_valid(eq + 1, vlen))
            return AVERROR(EINVAL);
        switch (p[0]) {
        case 'r':
            if (copy_value(out->resource, sizeof(out->resource), eq + 1, vlen) < 0 ||
                !lr_lecture_name_valid(out->resource))
                return AVERROR(EINVAL);
            break;
        case 'm':
            if (!mode_valid(eq + 1, vlen))
                return AVERROR(EINVAL);
            copy_value(out->mode, sizeof(out->mode), eq + 1, vlen);
            break;
        case 'u':
            if (copy_value(out->user, sizeof(out->user), eq + 1, vlen) < 0)
                return AVERROR(EINVAL);
            break;
        case 's':
            if (copy_value(out->session, sizeof(out->session), eq + 1, vlen) < 0)
                return AVERROR(EINVAL);
            break;
        default: /* t, h: known, checked for shape, not needed here */
            break;
        }
        if (!*end)
            break;
        p = end + 1;
    }
    return out->resource[0] ? 0 : AVERROR(EINVAL);
}

int lr_streamid_parse(const char *sid, lr_streamid *out)
{
    lr_streamid id = { .mode = "request" };
    const char *p;
    int ret;

    if (!sid || !out || strnlen(sid, SID_MAX_LEN + 1) > SID_MAX_LEN)
        return AVERROR(EINVAL);
    if (!strncmp(sid, "#!::", 4)) {
        p = sid + 4;
        if ((ret = parse_keys(p, &id)) < 0)
            return ret;
    } else {
        if (!lr_lecture_name_valid(sid))
            return AVERROR(EINVAL);
        copy_value(id.resource, sizeof(id.resource), sid, strlen(sid));
        id.plain = 1;
    }
    *out = id;
    return 0;
}

int lr_streamid_format(char *buf, size_t size, const char *lecture, const char *mode)
{
    int n;

    if (!buf || !size)
        return AVERROR(EINVAL);
    buf[0] = 0;
    if (!lr_lecture_name_valid(lecture))
        return AVERROR(EINVAL);
    if (!mode)
        mode = "request";
    if (!mode_valid(mode, strlen(mode)))
        return AVERROR(EINVAL);
    n = snprintf(buf, size, "#!::r=%s,m=%s", lecture, mode);
    if (n < 0 || (size_t)n >= size) {
        buf[0] = 0;
        return AVERROR(EINVAL);
    }
    return 0;
}
