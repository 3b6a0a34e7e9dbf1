/* app/scrape.c — see scrape.h. Each target is a small state machine
 * (connect, TLS handshake, send the request, read the response) driven by
 * one poll() over all of them. The request says "Connection: close", so a
 * response ends at its Content-Length, its last chunk, or the close. The
 * responses are a role's own /metrics: small (capped at BODY_MAX) and
 * plain, so the little of HTTP/1.1 they need is read here. */
#include "scrape.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <h2o.h>
#include <h2o/url.h>
#include <libavutil/bprint.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "lr_build_config.h"

#define BODY_MAX (16 << 20) /* a role's /metrics is tens of KiB */

enum step { STEP_CONNECT, STEP_HANDSHAKE, STEP_SEND, STEP_RECV, STEP_DONE };

typedef struct fetch {
    const lr_scrape_target *t;
    lr_scrape_result       *r;
    int64_t                 start_ms;
    struct addrinfo        *addrs, *next_addr;
    int                     fd;
    SSL                    *ssl;
    enum step               step;
    short                   events; /* what poll() waits for */
    AVBPrint                req;
    size_t                  sent;
    AVBPrint                in;
    char                    connect_error[128];
} fetch;

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- URLs and tokens ------------------------------------------------------ */

static int host_valid(const char *h)
{
    if (!*h)
        return 0;
    for (const char *c = h; *c; c++)
        if (!(*c >= 'a' && *c <= 'z') && !(*c >= 'A' && *c <= 'Z') && !(*c >= '0' && *c <= '9') &&
            !strchr(".-:_%", *c))
            return 0;
    return 1;
}

static int path_valid(const char *p)
{
    for (const char *c = p; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f)
            return 0;
    return 1;
}

int lr_scrape_parse_url(const char *url, lr_scrape_target *t, char *err, size_t err_size)
{
    char      full[sizeof(t->url) + 8];
    h2o_url_t u;

    memset(t, 0, sizeof(*t));
    if (strlen(url) >= sizeof(t->url)) {
        snprintf(err, err_size, "%.40s...: URL too long", url);
        return AVERROR(EINVAL);
    }
    memcpy(t->url, url, strlen(url) + 1);  /* fits: checked above */
    /* a bare HOST:PORT is taken as http:// */
    snprintf(full, sizeof(full), "%s%s", strstr(url, "://") ? "" : "http://", url);
    if (h2o_url_parse(full, strlen(full), &u) < 0 || !u.host.len ||
        u.authority.len >= sizeof(t->authority) || u.host.len >= sizeof(t->host) ||
        !h2o_url_get_port(&u)) {
        snprintf(err, err_size, "%s: not an http:// or https:// URL with a host and a port", url);
        return AVERROR(EINVAL);
    }
    t->tls = u.scheme == &H2O_URL_SCHEME_HTTPS;
    snprintf(t->authority, sizeof(t->authority), "%.*s", (int)u.authority.len, u.authority.base);
    snprintf(t->host, sizeof(t->host), "%.*s", (int)u.host.len, u.host.base);
    snprintf(t->port, sizeof(t->port), "%u", h2o_url_get_port(&u));
    size_t pl = u.path.len;
    while (pl && u.path.base[pl - 1] == '/')
        pl--;
    int has_metrics = pl >= 8 && !memcmp(u.path.base + pl - 8, "/metrics", 8);
    snprintf(t->path, sizeof(t->path), "%.*s%s", (int)pl, u.path.base,
             has_metrics ? "" : "/metrics");
    if (!host_valid(t->host) || strchr(t->host, '@') || !path_valid(t->path) ||
        strchr(t->path, '?') || strchr(t->path, '#')) {
        snprintf(err, err_size, "%s: unexpected characters in the host or path", url);
        return AVERROR(EINVAL);
    }
    return 0;
}

int lr_scrape_token_valid(const char *token)
{
    if (!*token)
        return 0;
    for (const char *c = token; *c; c++)
        if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f)
            return 0;
    return 1;
}

/* ---- TLS: OpenSSL's errors are read in this one place -------------------- */

static void tls_error(const SSL *ssl, const char *what, char *buf, size_t size)
{
    unsigned long e = ERR_get_error();
    long          verify = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    char          detail[200];

    if (verify != X509_V_OK)
        snprintf(detail, sizeof(detail), "certificate not accepted: %s",
                 X509_verify_cert_error_string(verify));
    else if (e && ERR_GET_REASON(e) == SSL_R_WRONG_VERSION_NUMBER)
        snprintf(detail, sizeof(detail), "not TLS (an http:// address?)");
    else if (e && ERR_reason_error_string(e))
        snprintf(detail, sizeof(detail), "%s", ERR_reason_error_string(e));
    else if (e)
        ERR_error_string_n(e, detail, sizeof(detail));
    else if (errno)
        snprintf(detail, sizeof(detail), "%s", strerror(errno));
    else
        snprintf(detail, sizeof(detail), "the connection closed");
    ERR_clear_error();
    snprintf(buf, size, "%s: %s", what, detail);
}

int lr_scrape_tls_new(const char *cafile, SSL_CTX **out, char *err, size_t err_size)
{
    static const unsigned char alpn[] = "\x08http/1.1";
    SSL_CTX                   *ctx = SSL_CTX_new(TLS_client_method());

    *out = NULL;
    if (cafile && access(cafile, R_OK) < 0) {
        int e = errno;
        snprintf(err, err_size, "%s: %s", cafile, strerror(e));
        SSL_CTX_free(ctx);
        return AVERROR(e);
    }
    if (!ctx) {
        tls_error(NULL, "TLS", err, err_size);
        return AVERROR(ENOMEM);
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    /* the Content-Length tells whether a body is whole; a server that
     * closes without close_notify is not an error */
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    if ((cafile ? SSL_CTX_load_verify_locations(ctx, cafile, NULL)
                : SSL_CTX_set_default_verify_paths(ctx)) != 1 ||
        SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1) != 0) {
        tls_error(NULL, cafile ? cafile : "the system's CA certificates", err, err_size);
        SSL_CTX_free(ctx);
        return AVERROR(EINVAL);
    }
    *out = ctx;
    return 0;
}

void lr_scrape_tls_free(SSL_CTX **ctx)
{
    SSL_CTX_free(*ctx);
    *ctx = NULL;
}

/* ---- one fetch ------------------------------------------------------------ */

/* The steps below return 0 while the fetch goes on or once it is done,
 * and a negative AVERROR once it failed (the reason in f->r->error). */

static void close_conn(fetch *f)
{
    if (f->ssl)
        SSL_free(f->ssl);
    f->ssl = NULL;
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
}

static void done(fetch *f)
{
    close_conn(f);
    f->step = STEP_DONE;
    f->r->elapsed_ms = now_ms() - f->start_ms;
}

static int fail(fetch *f, const char *fmt, ...)
{
    char    msg[sizeof(f->r->error)];
    va_list ap;

    va_start(ap, fmt); /* fmt's arguments may be f->r->error itself */
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    memcpy(f->r->error, msg, sizeof(msg));
    f->r->ok = 0;
    done(f);
    return AVERROR(EIO);
}

/* Writes or reads through TLS or the socket: > 0 bytes moved, 0 at the
 * end of the stream, AVERROR(EAGAIN) with f->events set to what to wait
 * for, or another negative AVERROR with the reason in f->r->error. */
static int io(fetch *f, int writing, void *buf, size_t n)
{
    if (f->ssl) {
        ERR_clear_error();
        errno = 0;
        int r = writing ? SSL_write(f->ssl, buf, (int)n) : SSL_read(f->ssl, buf, (int)n);
        if (r > 0)
            return r;
        switch (SSL_get_error(f->ssl, r)) {
        case SSL_ERROR_WANT_READ:
            f->events = POLLIN;
            return AVERROR(EAGAIN);
        case SSL_ERROR_WANT_WRITE:
            f->events = POLLOUT;
            return AVERROR(EAGAIN);
        case SSL_ERROR_ZERO_RETURN:
            return 0;
        default:
            tls_error(f->ssl, "TLS", f->r->error, sizeof(f->r->error));
            return AVERROR(EIO);
        }
    }
    ssize_t r = writing ? send(f->fd, buf, n, MSG_NOSIGNAL) : recv(f->fd, buf, n, 0);
    if (r >= 0)
        return (int)r;
    if (errno == EAGAIN || errno == EINTR) {
        f->events = writing ? POLLOUT : POLLIN;
        return AVERROR(EAGAIN);
    }
    snprintf(f->r->error, sizeof(f->r->error), "%s", strerror(errno));
    return AVERROR(errno);
}

/* Decodes a chunked body in place; its new length, or -1 if malformed. */
static long long dechunk(char *b, size_t len)
{
    size_t in = 0, out = 0;

    for (;;) {
        char *eol = memmem(b + in, len - in, "\r\n", 2), *e;
        if (!eol)
            return -1;
        unsigned long long n = strtoull(b + in, &e, 16);
        if (e == b + in || (e != eol && *e != ';' && *e != ' '))
            return -1;
        in = (size_t)(eol - b) + 2;
        if (n == 0)
            return (long long)out; /* trailers, if any, are not wanted */
        if (n > len - in || len - in - n < 2 || memcmp(b + in + n, "\r\n", 2))
            return -1;
        memmove(b + out, b + in, n);
        out += n;
        in += n + 2;
    }
}

typedef struct head {
    int       status;
    size_t    size;           /* up to and with the blank line */
    long long content_length; /* -1 if not given */
    int       chunked;
} head;

/* Reads the status line and the two headers that say where the body
 * ends. 0, AVERROR(EAGAIN) while the head is incomplete, or
 * AVERROR_INVALIDDATA. */
static int parse_head(const char *s, size_t len, head *h)
{
    const char *end = memmem(s, len, "\r\n\r\n", 4);
    int         minor;

    *h = (head){ .content_length = -1 };
    if (!end)
        return AVERROR(EAGAIN);
    h->size = (size_t)(end - s) + 4;
    if (sscanf(s, "HTTP/1.%d %3d", &minor, &h->status) != 2)
        return AVERROR_INVALIDDATA;
    for (const char *line = strstr(s, "\r\n") + 2; line < end;) {
        const char *eol = strstr(line, "\r\n");
        if (!strncasecmp(line, "Content-Length:", 15)) {
            h->content_length = strtoll(line + 15, NULL, 10);
        } else if (!strncasecmp(line, "Transfer-Encoding:", 18)) {
            const char *v = line + 18;
            while (*v == ' ' || *v == '\t')
                v++;
            h->chunked = !strncasecmp(v, "chunked", 7);
        }
        line = eol + 2;
    }
    return 0;
}

/* 1 once what was read holds the whole response (no need to wait for the
 * close). */
static int response_whole(const fetch *f)
{
    head h;

    if (parse_head(f->in.str, f->in.len, &h) < 0)
        return 0;
    if (h.chunked)
        return f->in.len >= h.size + 5 && !memcmp(f->in.str + f->in.len - 5, "0\r\n\r\n", 5);
    return h.content_length >= 0 && f->in.len - h.size >= (unsigned long long)h.content_length;
}

static const char *status_hint(int status)
{
    if (status == 404)
        return " (not a metrics address, or one that wants --token from another machine)";
    if (status == 401 || status == 403)
        return " (the token was refused)";
    return "";
}

static int finish_response(fetch *f)
{
    lr_scrape_result *r = f->r;
    head              h;
    int               ret = parse_head(f->in.str, f->in.len, &h);

    if (f->in.len && (ret == AVERROR_INVALIDDATA || strncmp(f->in.str, "HTTP/1.", 7)))
        return fail(f, "not an HTTP/1.x response");
    if (ret < 0)
        return fail(f, f->in.len ? "the connection closed in the middle of the response head"
                                 : "the connection closed without a response");
    r->status = h.status;
    if (h.status != 200)
        return fail(f, "HTTP %d%s", h.status, status_hint(h.status));
    char     *body = f->in.str + h.size;
    long long len = (long long)(f->in.len - h.size);
    if (h.chunked && (len = dechunk(body, (size_t)len)) < 0)
        return fail(f, "a malformed chunked body");
    if (!h.chunked && h.content_length >= 0) {
        if (len < h.content_length)
            return fail(f, "the response was cut short (%lld of %lld bytes)", len,
                        h.content_length);
        len = h.content_length;
    }
    if (!(r->body = av_malloc((size_t)len + 1)))
        return fail(f, "out of memory");
    memcpy(r->body, body, (size_t)len);
    r->body[len] = '\0';
    r->body_len = (size_t)len;
    r->ok = 1;
    done(f);
    return 0;
}

static int receive(fetch *f)
{
    char buf[16384];
    int  n;

    while ((n = io(f, 0, buf, sizeof(buf))) > 0) {
        av_bprint_append_data(&f->in, buf, (unsigned)n);
        if (f->in.len > BODY_MAX) /* counted even where the buffer stopped */
            return fail(f, "the response is larger than %d MiB", BODY_MAX >> 20);
        if (!av_bprint_is_complete(&f->in))
            return fail(f, "out of memory");
        if (response_whole(f))
            return finish_response(f);
    }
    if (n == 0)
        return finish_response(f);
    if (n == AVERROR(EAGAIN))
        return 0;
    return fail(f, "reading the response: %s", f->r->error);
}

static int send_request(fetch *f)
{
    f->step = STEP_SEND;
    while (f->sent < f->req.len) {
        int n = io(f, 1, f->req.str + f->sent, f->req.len - f->sent);
        if (n == AVERROR(EAGAIN))
            return 0;
        if (n <= 0)
            return fail(f, "sending the request: %s", n ? f->r->error : "connection closed");
        f->sent += (size_t)n;
    }
    f->step = STEP_RECV;
    f->events = POLLIN;
    return receive(f);
}

static int handshake(fetch *f)
{
    ERR_clear_error();
    errno = 0;
    int r = SSL_connect(f->ssl);
    if (r == 1)
        return send_request(f);
    switch (SSL_get_error(f->ssl, r)) {
    case SSL_ERROR_WANT_READ:
        f->events = POLLIN;
        return 0;
    case SSL_ERROR_WANT_WRITE:
        f->events = POLLOUT;
        return 0;
    default:
        tls_error(f->ssl, "TLS handshake", f->r->error, sizeof(f->r->error));
        return fail(f, "%s", f->r->error);
    }
}

/* Verifies the certificate against the URL's host: its name (also sent
 * as SNI), or its address for an IP literal. */
static int start_tls(fetch *f, SSL_CTX *tls)
{
    unsigned char addr[16];
    const char   *host = f->t->host;
    int is_ip = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;

    if (!tls)
        return fail(f, "https:// without a TLS context");
    if (!(f->ssl = SSL_new(tls)) || SSL_set_fd(f->ssl, f->fd) != 1 ||
        (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(f->ssl), host) != 1
               : SSL_set_tlsext_host_name(f->ssl, host) != 1 || SSL_set1_host(f->ssl, host) != 1)) {
        tls_error(NULL, "TLS", f->r->error, sizeof(f->r->error));
        return fail(f, "%s", f->r->error);
    }
    f->step = STEP_HANDSHAKE;
    return handshake(f);
}

static int connected(fetch *f, SSL_CTX *tls)
{
    return f->t->tls ? start_tls(f, tls) : send_request(f);
}

/* Tries the addresses the name resolved to, in order, until one connects
 * or is in progress. */
static int connect_next(fetch *f, SSL_CTX *tls)
{
    while (f->next_addr) {
        struct addrinfo *a = f->next_addr;
        f->next_addr = a->ai_next;
        f->fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (f->fd >= 0 && connect(f->fd, a->ai_addr, a->ai_addrlen) == 0)
            return connected(f, tls);
        if (f->fd >= 0 && errno == EINPROGRESS) {
            f->step = STEP_CONNECT;
            f->events = POLLOUT;
            return 0;
        }
        snprintf(f->connect_error, sizeof(f->connect_error), "%s", strerror(errno));
        close_conn(f);
    }
    return fail(f, "cannot connect: %s", f->connect_error);
}

static int connect_finished(fetch *f, SSL_CTX *tls)
{
    int       e = 0;
    socklen_t l = sizeof(e);

    if (getsockopt(f->fd, SOL_SOCKET, SO_ERROR, &e, &l) < 0)
        e = errno;
    if (!e)
        return connected(f, tls);
    snprintf(f->connect_error, sizeof(f->connect_error), "%s", strerror(e));
    close_conn(f);
    return connect_next(f, tls);
}

static int start(fetch *f, const char *token, SSL_CTX *tls)
{
    const lr_scrape_target *t = f->t;
    struct addrinfo         hints = { .ai_socktype = SOCK_STREAM,
                                      .ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG };

    av_bprintf(&f->req,
               "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: lecture-relay-top/%s\r\n"
               "Accept: text/plain\r\nConnection: close\r\n",
               t->path, t->authority, LR_VERSION);
    if (token)
        av_bprintf(&f->req, "Authorization: Bearer %s\r\n", token);
    av_bprintf(&f->req, "\r\n");
    if (!av_bprint_is_complete(&f->req))
        return fail(f, "out of memory");
    /* Name resolution blocks (getaddrinfo has no deadline); a metrics
     * address is usually a literal or in /etc/hosts. */
    int r = getaddrinfo(t->host, t->port, &hints, &f->addrs);
    if (r)
        return fail(f, "cannot resolve %s: %s", t->host, gai_strerror(r));
    f->next_addr = f->addrs;
    snprintf(f->connect_error, sizeof(f->connect_error), "no address");
    return connect_next(f, tls);
}

static int step(fetch *f, SSL_CTX *tls)
{
    switch (f->step) {
    case STEP_CONNECT:
        return connect_finished(f, tls);
    case STEP_HANDSHAKE:
        return handshake(f);
    case STEP_SEND:
        return send_request(f);
    case STEP_RECV:
        return receive(f);
    default:
        return 0;
    }
}

static void time_out(fetch *f, int timeout_ms, int cancelled)
{
    static const char *const what[] = {
        [STEP_CONNECT] = "no answer to the connection",
        [STEP_HANDSHAKE] = "the TLS handshake unfinished",
        [STEP_SEND] = "the request not taken",
        [STEP_RECV] = "no whole response",
    };

    if (cancelled)
        fail(f, "cancelled");
    else
        fail(f, "%s after %.1f s", what[f->step], timeout_ms / 1000.0);
}

void lr_scrape_result_reset(lr_scrape_result *r)
{
    av_freep(&r->body);
    memset(r, 0, sizeof(*r));
}

int lr_scrape_all(const lr_scrape_target *targets, int nb, const char *token, SSL_CTX *tls,
                  int timeout_ms, int cancel_fd, lr_scrape_result *results)
{
    fetch         *f = av_calloc(nb, sizeof(*f));
    struct pollfd *pfd = av_calloc(nb + 1, sizeof(*pfd));
    int           *which = av_calloc(nb + 1, sizeof(*which));
    int64_t        start_ms = now_ms(), deadline = start_ms + timeout_ms;
    int            ret = 0, cancelled = 0;

    for (int i = 0; i < nb; i++)
        lr_scrape_result_reset(&results[i]);
    if (!f || !pfd || !which) {
        for (int i = 0; i < nb; i++)
            snprintf(results[i].error, sizeof(results[i].error), "out of memory");
        ret = AVERROR(ENOMEM);
        goto end;
    }
    for (int i = 0; i < nb; i++) {
        f[i] = (fetch){ .t = &targets[i], .r = &results[i], .start_ms = start_ms, .fd = -1 };
        av_bprint_init(&f[i].req, 0, AV_BPRINT_SIZE_UNLIMITED);
        av_bprint_init(&f[i].in, 0, BODY_MAX + 1);
        start(&f[i], token, tls); /* a failure is in the result */
    }
    for (;;) {
        int n = 0;
        for (int i = 0; i < nb; i++) {
            if (f[i].step != STEP_DONE) {
                which[n] = i;
                pfd[n++] = (struct pollfd){ f[i].fd, f[i].events, 0 };
            }
        }
        int64_t left = deadline - now_ms();
        if (!n || left <= 0)
            break;
        if (cancel_fd >= 0)
            pfd[n] = (struct pollfd){ cancel_fd, POLLIN, 0 };
        int r = poll(pfd, (nfds_t)(n + (cancel_fd >= 0)), (int)left);
        if (r < 0 && errno != EINTR) {
            ret = AVERROR(errno);
            break;
        }
        if (cancel_fd >= 0 && pfd[n].revents) {
            cancelled = 1;
            ret = AVERROR_EXIT;
            break;
        }
        for (int k = 0; r > 0 && k < n; k++)
            if (pfd[k].revents)
                step(&f[which[k]], tls); /* a failure is in the result */
    }
end:
    for (int i = 0; f && i < nb; i++) {
        if (f[i].step != STEP_DONE)
            time_out(&f[i], timeout_ms, cancelled);
        if (f[i].addrs)
            freeaddrinfo(f[i].addrs);
        av_bprint_finalize(&f[i].req, NULL);
        av_bprint_finalize(&f[i].in, NULL);
    }
    av_free(f);
    av_free(pfd);
    av_free(which);
    return ret;
}
