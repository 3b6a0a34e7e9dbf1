/* egress/http_h2guard.c — what one HTTP/2 client may make the server do.
 *
 * libh2o 2.2.5 (Debian 12's) predates the fixes for Rapid Reset
 * (CVE-2023-44487) and the CONTINUATION flood (2024), and bounds the 2019
 * family (CVE-2019-9511 to 9518) only by stopping to read when 512 KiB of
 * output wait. So the server chooses HTTP/1.1 or HTTP/2 itself (plain: the
 * client's first bytes, h2c by prior knowledge; TLS: ALPN after our own
 * handshake) and hands an HTTP/2 connection to libh2o with a guard in front
 * of its frame parser: h2o_http2_conn_t._read_expect, which parse_input()
 * calls once per frame, whatever read brought it. The guard reads each
 * whole frame's header before libh2o acts on it and refuses a connection
 * that spends a budget below with GOAWAY(ENHANCE_YOUR_CALM), which libh2o
 * sends and then closes the connection. The budgets and why: docs/http.md,
 * "HTTP/2 abuse". (libh2o's own Upgrade: h2c path is off: upgrade_to_http2
 * is 0, so HTTP/1.1 never turns into HTTP/2 behind the guard's back.) */
#include "http_internal.h"

#include <h2o/http1.h>
#include <h2o/http2.h>
#include <h2o/http2_internal.h>

/* The guard reaches into libh2o 2.2's HTTP/2 connection struct: another
 * version must be read again before it is built against. */
#if H2O_VERSION_MAJOR != 2 || H2O_VERSION_MINOR != 2
#error "egress/http_h2guard.c is written against libh2o 2.2's http2_internal.h"
#endif

static const char PREFACE[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
#define PREFACE_LEN (sizeof(PREFACE) - 1)
#define FRAME_HEADER_LEN 9
#define LOOK_AHEAD_FRAMES 8  /* frames after a HEADERS searched for its RST_STREAM */

/* Each budget: its label in the metrics, and what the log and GOAWAY say. */
static const struct {
    const char *name, *text;
} ABUSE[H2_ABUSE_KINDS] = {
    [H2_ABUSE_RESETS]       = { "rapid_reset", "more streams reset than answered" },
    [H2_ABUSE_HEADER_BLOCK] = { "header_block", "header block too long or too many fields" },
    [H2_ABUSE_CONTROL]      = { "control_frames", "too many control frames" },
    [H2_ABUSE_UNFINISHED]   = { "unfinished_requests", "too many requests without their end" },
};

const char *lr__http_h2_abuse_name(int kind)
{
    return ABUSE[kind].name;
}

static uint32_t be24(const uint8_t *p)
{
    return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static uint32_t be31(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]) &
           0x7fffffffu;
}

/* HPACK integers (RFC 7541 5.1) with an n-bit prefix; -1 when cut short
 * or past 2^28 (no field of a request is that long). */
static int hpack_int(const uint8_t **pp, const uint8_t *end, int n, uint32_t *out)
{
    const uint8_t *p = *pp;
    uint32_t max = (1u << n) - 1, v = *p++ & max;

    if (v == max) {
        for (int shift = 0;; shift += 7) {
            if (p >= end || shift > 21)
                return -1;
            uint8_t b = *p++;
            v += (uint32_t)(b & 0x7f) << shift;
            if (!(b & 0x80))
                break;
        }
    }
    *pp = p;
    *out = v;
    return 0;
}

static int hpack_skip_string(const uint8_t **pp, const uint8_t *end)
{
    uint32_t len;
    if (*pp >= end || hpack_int(pp, end, 7, &len) < 0 || (size_t)(end - *pp) < len)
        return -1;
    *pp += len;
    return 0;
}

/* How many header fields a header block decodes to, read without decoding
 * it (RFC 7541 6): a 1-byte reference to a large entry of the dynamic
 * table is a whole field to decode. -1: malformed (libh2o refuses it). */
static int hpack_fields(const uint8_t *p, size_t n)
{
    const uint8_t *end = p + n;
    int fields = 0;
    uint32_t v;

    while (p < end) {
        uint8_t b = *p;
        if (b & 0x80) {                                  /* indexed */
            if (hpack_int(&p, end, 7, &v) < 0)
                return -1;
            fields++;
        } else if ((b & 0xe0) == 0x20) {                 /* dynamic table size update */
            if (hpack_int(&p, end, 5, &v) < 0)
                return -1;
        } else {                                         /* a literal, indexed name or new */
            if (hpack_int(&p, end, b & 0x40 ? 6 : 4, &v) < 0 ||
                (v == 0 && hpack_skip_string(&p, end) < 0) || hpack_skip_string(&p, end) < 0)
                return -1;
            fields++;
        }
    }
    return fields;
}

/* The header block fragment of a HEADERS frame's payload (padding and
 * priority taken off); 0 when malformed (libh2o refuses it). */
static size_t headers_fragment(const uint8_t *payload, uint32_t len, uint8_t flags,
                               const uint8_t **frag)
{
    uint32_t pad = 0;
    if (flags & 0x8 /* PADDED */) {
        if (len < 1)
            return 0;
        pad = payload[0];
        payload++;
        len--;
    }
    if (flags & 0x20 /* PRIORITY */) {
        if (len < 5)
            return 0;
        payload += 5;
        len -= 5;
    }
    if (pad > len)
        return 0;
    *frag = payload;
    return len - pad;
}

/* A header block's fields, counted once it is whole: at its END_HEADERS,
 * before libh2o decodes it. A block in several frames is gathered in
 * g->block (at most MAX_HEADER_BYTES: the frames' own budget). */
static int block_too_many_fields(lr_h2_guard *g, const uint8_t *frag, size_t n, int first,
                                 int last)
{
    if (first && last) {
        int f = hpack_fields(frag, n);
        return f > H2_MAX_FIELDS;
    }
    if (first)
        g->block_len = 0;
    if (!g->block && !(g->block = av_malloc(MAX_HEADER_BYTES)))
        return 1;  /* no memory for it: as if it were too long */
    if (g->block_len + n > MAX_HEADER_BYTES)
        return 1;
    memcpy(g->block + g->block_len, frag, n);
    g->block_len += n;
    if (!last)
        return 0;
    int f = hpack_fields(g->block, g->block_len);
    av_freep(&g->block);
    return f > H2_MAX_FIELDS;
}

/* Whether a RST_STREAM for stream `id` follows within the next few whole
 * frames of what is already read: the request is cancelled before an answer
 * could leave, so it is not worth rendering. */
static int reset_follows(const uint8_t *p, const uint8_t *end, uint32_t id)
{
    for (int i = 0; i < LOOK_AHEAD_FRAMES && end - p >= FRAME_HEADER_LEN; i++) {
        uint32_t len = be24(p);
        if (p[3] == H2O_HTTP2_FRAME_TYPE_RST_STREAM && be31(p + 5) == id)
            return 1;
        if ((size_t)(end - p) < FRAME_HEADER_LEN + (size_t)len)
            break;
        p += FRAME_HEADER_LEN + len;
    }
    return 0;
}

/* A control frame takes a token; tokens come back at H2_CONTROL_RATE a
 * second, up to H2_CONTROL_BURST. Control frames: PING, SETTINGS, PRIORITY,
 * a WINDOW_UPDATE below H2_SMALL_WINDOW_UPDATE (0 included), DATA other
 * than an empty one that ends a request, HEADERS on a stream already
 * opened, unknown types: each is work for the server and none is needed
 * at any rate for a player's GETs. The frames a client can make libh2o
 * reset a stream with (MadeYouReset, CVE-2025-8671) are all among them. */
static int take_control_token(conn *c)
{
    uint64_t now = h2o_now(c->w->loop);
    c->h2.tokens += (double)(now - c->h2.refilled_ms) * H2_CONTROL_RATE / 1000.0;
    if (c->h2.tokens > H2_CONTROL_BURST)
        c->h2.tokens = H2_CONTROL_BURST;
    c->h2.refilled_ms = now;
    if (c->h2.tokens < 1)
        return -1;
    c->h2.tokens -= 1;
    return 0;
}

/* Which budget the whole frame at p spends past its end, if any
 * (-1: none). Counts the frame. */
static int judge(conn *c, h2o_http2_conn_t *h2, const uint8_t *p, const uint8_t *end)
{
    lr_h2_guard *g = &c->h2;
    uint32_t len = be24(p), id = be31(p + 5);
    uint8_t type = p[3], flags = p[4];
    int control = 0;

    if (g->in_block && type != H2O_HTTP2_FRAME_TYPE_CONTINUATION)
        g->in_block = 0;  /* libh2o refuses it: a protocol error */
    switch (type) {
    case H2O_HTTP2_FRAME_TYPE_HEADERS:
        if (id > g->last_stream) {  /* a new request */
            /* one without END_STREAM keeps its decoded headers while it
             * waits for a body (HPACK state amplification, CVE-2026-54340):
             * a few at once, as no GET needs more */
            const h2o_http2_conn_num_streams_t *n = &h2->num_streams.pull;
            if (!(flags & 0x1 /* END_STREAM */) && n->open - n->half_closed >= H2_MAX_UNFINISHED)
                return H2_ABUSE_UNFINISHED;
            g->last_stream = id;
            g->streams++;
            g->cancelled_ahead = reset_follows(p + FRAME_HEADER_LEN + len, end, id) ? id : 0;
        } else {
            control = 1;  /* trailers (we take no body) or an error libh2o resets */
        }
        {
            const uint8_t *frag = NULL;
            size_t n = headers_fragment(p + FRAME_HEADER_LEN, len, flags, &frag);
            if (frag && block_too_many_fields(g, frag, n, 1, flags & 0x4 /* END_HEADERS */))
                return H2_ABUSE_HEADER_BLOCK;
        }
        if (!(flags & 0x4 /* END_HEADERS */)) {
            g->in_block = 1;
            g->block_bytes = len;
            g->block_frames = 1;
        }
        break;
    case H2O_HTTP2_FRAME_TYPE_CONTINUATION:
        g->block_bytes += len;
        g->block_frames++;
        if (g->block_bytes > MAX_HEADER_BYTES || g->block_frames > H2_MAX_BLOCK_FRAMES ||
            (g->in_block &&
             block_too_many_fields(g, p + FRAME_HEADER_LEN, len, 0, flags & 0x4)))
            return H2_ABUSE_HEADER_BLOCK;
        if (flags & 0x4)
            g->in_block = 0;
        break;
    case H2O_HTTP2_FRAME_TYPE_RST_STREAM: {
        g->resets++;
        /* answered: opened, neither reset by the client nor still open */
        uint64_t open = h2->num_streams.pull.open, gone = g->resets + open;
        uint64_t answered = g->streams > gone ? g->streams - gone : 0;
        if (g->resets > answered + H2_RESET_BUDGET)
            return H2_ABUSE_RESETS;
        break;
    }
    case H2O_HTTP2_FRAME_TYPE_DATA:
        /* GET, HEAD and OPTIONS take no body: only an empty DATA that ends
         * the request is free; others are refused, or reset a stream */
        control = len > 0 || !(flags & 0x1 /* END_STREAM */);
        break;
    case H2O_HTTP2_FRAME_TYPE_WINDOW_UPDATE:
        control = len == 4 && be31(p + FRAME_HEADER_LEN) < H2_SMALL_WINDOW_UPDATE;
        break;
    case H2O_HTTP2_FRAME_TYPE_GOAWAY:
        break;
    default:  /* PRIORITY, SETTINGS, PING, PUSH_PROMISE (an error), unknown types */
        control = 1;
        break;
    }
    if (control && take_control_token(c) < 0)
        return H2_ABUSE_CONTROL;
    return -1;
}

static ssize_t guarded_read_expect(h2o_http2_conn_t *h2, const uint8_t *src, size_t len,
                                   const char **err_desc)
{
    conn *c = h2->sock->on_close.data;
    lr_h2_guard *g = &c->h2;
    ssize_t (*next)(h2o_http2_conn_t *, const uint8_t *, size_t, const char **) = g->next;

    if (g->preface_done && len >= FRAME_HEADER_LEN &&
        len - FRAME_HEADER_LEN >= be24(src)) {  /* a whole frame: libh2o acts on it now */
        int abuse = judge(c, h2, src, src + len);
        if (abuse >= 0) {
            atomic_fetch_add_explicit(&c->w->h2_refused[abuse], 1, memory_order_relaxed);
            uint64_t now = h2o_now(c->w->loop);
            if (now - c->w->h2_logged_ms >= 1000) {  /* one line a second, whoever repeats */
                c->w->h2_logged_ms = now;
                lr_warn("http: HTTP/2 client %s: %s (%llu streams, %llu reset): GOAWAY "
                        "(lr_http2_refused_connections_total counts them)",
                        c->ip[0] ? c->ip : "?", ABUSE[abuse].text,
                        (unsigned long long)g->streams, (unsigned long long)g->resets);
            }
            *err_desc = ABUSE[abuse].text;
            return H2O_HTTP2_ERROR_ENHANCE_YOUR_CALM;
        }
    }
    ssize_t ret = next(h2, src, len, err_desc);
    /* libh2o moves between its parsers (preface, frames, CONTINUATION) by
     * setting _read_expect: follow it, and stay in front. */
    if (h2->_read_expect != guarded_read_expect) {
        g->next = h2->_read_expect;
        h2->_read_expect = guarded_read_expect;
    }
    if (ret > 0)
        g->preface_done = 1;  /* the first thing consumed is the preface */
    return ret;
}

/* Hands the socket to libh2o's HTTP/2 with the guard in front. libh2o
 * parses what is already read inside h2o_http2_accept, so that input is
 * held back until the guard is in place. */
static void accept_h2(conn *c, h2o_accept_ctx_t *actx)
{
    h2o_socket_t *sock = c->sock;
    h2o_buffer_t *held = sock->input;

    h2o_buffer_init(&sock->input, &h2o_socket_buffer_prototype);
    h2o_http2_accept(actx, sock, c->connected_at);
    h2o_http2_conn_t *h2 = sock->data;
    c->h2.next = h2->_read_expect;
    h2->_read_expect = guarded_read_expect;
    c->h2.tokens = H2_CONTROL_BURST;
    c->h2.refilled_ms = h2o_now(c->w->loop);
    h2o_buffer_dispose(&sock->input);
    sock->input = held;
    if (sock->input->size)
        sock->_cb.read(sock, NULL);  /* what h2o_http2_accept does with input */
}

static void on_accept_timeout(h2o_timeout_entry_t *entry)
{
    conn *c = H2O_STRUCT_FROM_MEMBER(conn, accept_timeout, entry);
    h2o_socket_close(c->sock);  /* on_conn_close frees c */
}

static void arm_accept_timeout(conn *c)
{
    c->connected_at = *h2o_get_timestamp(&c->w->ctx, NULL, NULL);
    c->accept_timeout.cb = on_accept_timeout;
    h2o_timeout_link(c->w->loop, &c->w->ctx.handshake_timeout, &c->accept_timeout);
}

static void on_first_bytes(h2o_socket_t *sock, const char *err)
{
    conn *c = sock->on_close.data;
    size_t n = sock->input->size;

    if (err) {
        h2o_socket_close(sock);
        return;
    }
    if (memcmp(sock->input->bytes, PREFACE, n < PREFACE_LEN ? n : PREFACE_LEN) == 0 &&
        n < PREFACE_LEN)
        return;  /* perhaps HTTP/2: wait for the whole preface */
    h2o_timeout_unlink(&c->accept_timeout);
    if (n >= PREFACE_LEN && memcmp(sock->input->bytes, PREFACE, PREFACE_LEN) == 0)
        accept_h2(c, &c->w->accept_ctx);
    else
        h2o_http1_accept(&c->w->accept_ctx, sock, c->connected_at);
}

void lr__http_accept_plain(conn *c)
{
    arm_accept_timeout(c);
    h2o_socket_read_start(c->sock, on_first_bytes);
}

static void on_handshake(h2o_socket_t *sock, const char *err)
{
    conn *c = sock->on_close.data;

    h2o_timeout_unlink(&c->accept_timeout);
    if (err) {
        h2o_socket_close(sock);
        return;
    }
    h2o_iovec_t proto = h2o_socket_ssl_get_selected_protocol(sock);
    for (const h2o_iovec_t *id = h2o_http2_alpn_protocols; id->len; id++) {
        if (proto.len == id->len && memcmp(proto.base, id->base, proto.len) == 0) {
            accept_h2(c, &c->w->accept_ctx);
            return;
        }
    }
    h2o_http1_accept(&c->w->accept_ctx, sock, c->connected_at);
}

void lr__http_accept_tls(conn *c, SSL_CTX *ctx)
{
    arm_accept_timeout(c);
    h2o_socket_ssl_handshake(c->sock, ctx, NULL, on_handshake);
}

int lr__http_h2_cancelled(h2o_req_t *req, conn *c)
{
    if (!c || req->version < 0x200 || !c->h2.cancelled_ahead)
        return 0;
    h2o_http2_stream_t *stream = H2O_STRUCT_FROM_MEMBER(h2o_http2_stream_t, req, req);
    return stream->stream_id == c->h2.cancelled_ahead;
}
