/* common/redact.c — see redact.h. */
#include "common/redact.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#define HIDDEN "***"

/* Query options whose values are settings, never secrets. */
static const char *const plain_options[] = {
    "mode", "latency", "rcvlatency", "peerlatency", "transtype", "tlpktdrop", "pkt_size",
    "payload_size", "maxbw", "oheadbw", "inputbw", "connect_timeout", "timeout",
    "listen_timeout", "rw_timeout", "tsbpd", "nakreport", "linger", "conntimeo", "lossmaxttl",
    "minversion", "ffs", "ipttl", "iptos", "congestion", "messageapi", "enforced_encryption",
    "pbkeylen", "recv_buffer_size", "send_buffer_size", "buffer_size", "fifo_size",
    "overrun_nonfatal", "listen", "_HLS_msn", "_HLS_part", "_HLS_skip", NULL,
};

typedef struct out {
    char  *p;
    size_t size, len;
} out;

static void put(out *o, const char *s, size_t n)
{
    size_t room = o->size - 1 - o->len;

    if (n > room)
        n = room;
    memcpy(o->p + o->len, s, n);
    o->len += n;
    o->p[o->len] = '\0';
}

static int plain_option(const char *name, size_t n)
{
    for (const char *const *p = plain_options; *p; p++)
        if (strlen(*p) == n && !strncasecmp(*p, name, n))
            return 1;
    return 0;
}

/* Where a token (a URL, a stream id) ends: white space, a quote, an angle
 * bracket or a parenthesis (square brackets belong to IPv6 hosts). */
static size_t token_len(const char *s)
{
    size_t n = 0;

    while (s[n] && !isspace((unsigned char)s[n]) && !strchr("'\"<>(){}", s[n]))
        n++;
    return n;
}

/* The key=value list of a stream id after "#!::" (n bytes), s= hidden. */
static void put_streamid_fields(out *o, const char *s, size_t n)
{
    while (n > 0) {
        const char *comma = memchr(s, ',', n);
        size_t f = comma ? (size_t)(comma - s) : n;

        if (f >= 2 && s[0] == 's' && s[1] == '=') {
            put(o, "s=" HIDDEN, strlen("s=" HIDDEN));
        } else {
            put(o, s, f);
        }
        if (!comma)
            break;
        put(o, ",", 1);
        s += f + 1;
        n -= f + 1;
    }
}

/* A value that may hold a stream id (streamid=#!::…): its s= hidden. */
static void put_value_with_streamid(out *o, const char *v, size_t n)
{
    if (n >= 4 && !memcmp(v, "#!::", 4)) {
        put(o, v, 4);
        put_streamid_fields(o, v + 4, n - 4);
    } else {
        put(o, v, n);
    }
}

/* One URL token of n bytes starting at its scheme. */
static void put_url(out *o, const char *u, size_t n)
{
    const char *sep = strstr(u, "://");
    size_t auth = (size_t)(sep - u) + 3, end = auth;

    put(o, u, auth);
    while (end < n && !strchr("/?#", u[end]))
        end++;
    /* user:password@host */
    const char *at = NULL;
    for (size_t i = auth; i < end; i++)
        if (u[i] == '@')
            at = u + i;
    if (at) {
        const char *colon = memchr(u + auth, ':', (size_t)(at - (u + auth)));
        if (colon) {
            put(o, u + auth, (size_t)(colon - (u + auth)) + 1);
            put(o, HIDDEN, strlen(HIDDEN));
            put(o, at, (size_t)(u + end - at));
        } else {
            put(o, u + auth, end - auth);
        }
    } else {
        put(o, u + auth, end - auth);
    }
    const char *q = memchr(u + end, '?', n - end);
    if (!q) {
        put(o, u + end, n - end);
        return;
    }
    put(o, u + end, (size_t)(q - (u + end)) + 1);
    const char *s = q + 1, *stop = u + n;
    while (s < stop) {
        const char *amp = memchr(s, '&', (size_t)(stop - s));
        const char *f_end = amp ? amp : stop;
        const char *eq = memchr(s, '=', (size_t)(f_end - s));

        if (!eq) {
            put(o, s, (size_t)(f_end - s));
        } else {
            size_t name = (size_t)(eq - s);
            put(o, s, name + 1);
            if (plain_option(s, name))
                put(o, eq + 1, (size_t)(f_end - eq - 1));
            else if (name == 8 && !strncasecmp(s, "streamid", 8))
                put_value_with_streamid(o, eq + 1, (size_t)(f_end - eq - 1));
            else
                put(o, HIDDEN, strlen(HIDDEN));
        }
        if (!amp)
            break;
        put(o, "&", 1);
        s = amp + 1;
    }
}

void lr_redact(const char *in, char *buf, size_t size)
{
    out o = { buf, size, 0 };
    const char *s = in;

    buf[0] = '\0';
    while (*s) {
        const char *url = strstr(s, "://"), *sid = strstr(s, "#!::");
        const char *start = NULL;
        int is_url = 0;

        if (url) {
            /* back to the scheme's first letter */
            const char *b = url;
            while (b > s && (isalnum((unsigned char)b[-1]) || strchr("+.-", b[-1])))
                b--;
            if (b < url) {
                start = b;
                is_url = 1;
            }
        }
        if (sid && (!start || sid < start)) {
            start = sid;
            is_url = 0;
        }
        if (!start && url) {    /* "://" with no scheme before it */
            put(&o, s, (size_t)(url + 3 - s));
            s = url + 3;
            continue;
        }
        if (!start) {
            put(&o, s, strlen(s));
            break;
        }
        put(&o, s, (size_t)(start - s));
        size_t n = token_len(start);
        if (n == 0) {           /* a stray "://" after a bracket: copy on */
            put(&o, start, 1);
            s = start + 1;
            continue;
        }
        if (is_url) {
            put_url(&o, start, n);
        } else {
            put(&o, start, 4);
            put_streamid_fields(&o, start + 4, n - 4);
        }
        s = start + n;
    }
}
