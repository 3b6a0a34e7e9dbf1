/* egress/http_parse.c — see http_parse.h. */
#include "http_parse.h"

#include <string.h>

int lr_http_parse_number(const char *p, size_t len, int64_t max, int64_t *out)
{
    int64_t v = 0;

    if (!len || len > 18)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

int lr_http_path_is_safe(const char *p, size_t len)
{
    if (!len || p[0] != '/')
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x21 || c >= 0x7f || c == '%' || c == '\\')
            return 0;
        if (i + 1 < len && ((c == '.' && p[i + 1] == '.') || (c == '/' && p[i + 1] == '/')))
            return 0;
    }
    return 1;
}

int lr_http_component_valid(const char *p, size_t len)
{
    if (!len || len > 128 || p[0] == '.')
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

int lr_http_parse_directives(const char *q, size_t len, lr_ll_directives *d)
{
    int seen_msn = 0, seen_part = 0, seen_skip = 0;

    d->msn = -1;
    d->part = -1;
    d->skip = 0;
    while (len) {
        size_t n = 0;
        while (n < len && q[n] != '&')
            n++;
        const char *eq = memchr(q, '=', n);
        size_t kl = eq ? (size_t)(eq - q) : n;
        const char *v = eq ? eq + 1 : q + n;
        size_t vl = eq ? n - kl - 1 : 0;
        int64_t num;
        if (kl == 8 && !memcmp(q, "_HLS_msn", 8)) {
            if (seen_msn++ || lr_http_parse_number(v, vl, INT64_MAX / 2, &num) < 0)
                return -1;
            d->msn = num;
        } else if (kl == 9 && !memcmp(q, "_HLS_part", 9)) {
            if (seen_part++ || lr_http_parse_number(v, vl, 1000000, &num) < 0)
                return -1;
            d->part = (int)num;
        } else if (kl == 9 && !memcmp(q, "_HLS_skip", 9)) {
            if (seen_skip++ || !((vl == 3 && !memcmp(v, "YES", 3)) ||
                                 (vl == 2 && !memcmp(v, "v2", 2))))
                return -1;
            d->skip = 1;
        }
        q += n;
        len -= n;
        if (len) {
            q++;
            len--;
        }
    }
    if (d->part >= 0 && d->msn < 0)
        return -1;
    return 0;
}

static int ends_with(const char *p, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len >= n && !memcmp(p + len - n, suffix, n);
}

int lr_http_parse_part_name(const char *name, size_t len, int64_t *seq, int *part)
{
    size_t ext = ends_with(name, len, ".m4s") ? 4 : ends_with(name, len, ".ts") ? 3 : 0;
    const char *dot;
    int64_t s, p;

    if (!ext)
        return 0;
    dot = memchr(name, '.', len - ext);
    if (!dot || lr_http_parse_number(name, (size_t)(dot - name), INT64_MAX / 2, &s) < 0 ||
        lr_http_parse_number(dot + 1, (size_t)(name + len - ext - dot - 1), 1000000, &p) < 0)
        return 0;
    *seq = s;
    *part = (int)p;
    return 1;
}

int lr_http_parse_range(const char *v, size_t len, size_t size, size_t *first, size_t *last)
{
    char buf[64];
    char *dash;
    int64_t a = -1, b = -1;

    if (len >= sizeof(buf) || len < 7 || memcmp(v, "bytes=", 6))
        return 0;
    memcpy(buf, v + 6, len - 6);
    buf[len - 6] = '\0';
    if (strlen(buf) != len - 6 || strchr(buf, ','))  /* a NUL inside, or several */
        return 0;
    dash = strchr(buf, '-');
    if (!dash || strspn(buf, "0123456789-") != strlen(buf))
        return 0;
    *dash = '\0';
    if (*buf && lr_http_parse_number(buf, strlen(buf), INT64_MAX / 2, &a) < 0)
        return 0;
    if (dash[1] && lr_http_parse_number(dash + 1, strlen(dash + 1), INT64_MAX / 2, &b) < 0)
        return 0;
    if (a < 0 && b < 0)
        return 0;
    if (a < 0) { /* the last b bytes */
        if (b == 0 || !size)
            return -1;
        *first = (size_t)b >= size ? 0 : size - (size_t)b;
        *last = size - 1;
        return 1;
    }
    if ((size_t)a >= size || (b >= 0 && b < a))
        return -1;
    *first = (size_t)a;
    *last = b < 0 || (size_t)b >= size ? size - 1 : (size_t)b;
    return 1;
}
