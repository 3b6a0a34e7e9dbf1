/* ingest/rtmp_listener.c — see rtmp_listener.h. Non-blocking sockets, every
 * wait a poll() of at most 100 ms so stop flags and deadlines are seen in
 * time; OpenSSL's errors are converted in tls_error() only. After the hand
 * over, the caller's thread drives the connection through the AVIOContext. */
#include "rtmp_listener.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libavutil/avstring.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/log.h"
#include "common/tcp_listen.h"
#include "common/tls_policy.h"

#define SLICE_MS       100
#define RECV_SIZE      (16 << 10)
#define AVIO_BUF_SIZE  (32 << 10)
#define LINGER_MS      2000

/* Counts live connections; shared by the listener and the connections it
 * handed over, which may outlive it. */
typedef struct conn_count {
    atomic_int refs;
    atomic_int live;
} conn_count;

struct lr_rtmp_conn {
    int              fd;
    SSL             *ssl;
    char             peer[64];
    lr_rtmp_session *s;
    conn_count      *count;
    atomic_int      *lstop;   /* the listener's flag, until the hand-over */
    atomic_int      *evict;   /* its slot's flag, until the hand-over */
    lr_stop         *stop;    /* the reader's, after it */
    int              idle_ms;
    int64_t          last_rx;
    int              final;   /* how the connection ended, once it did */
};

typedef struct slot {
    pthread_t        thread;
    atomic_int       done;
    int              used;
    lr_rtmp_conn    *c;
    lr_rtmp_listener *l;
    char             host[INET6_ADDRSTRLEN + 1]; /* the peer's address, no port */
    int64_t          started;                    /* when it was accepted (ns) */
    atomic_int       evict;  /* the listener needs its place: no publish yet */
} slot;

struct lr_rtmp_listener {
    int                fd;
    int                port;
    SSL_CTX           *tls;       /* under tls_lock once the thread runs (SIGHUP swaps it) */
    pthread_mutex_t    tls_lock;
    char              *cert, *key; /* the files, read again on SIGHUP */
    int                max_conns, setup_ms, idle_ms;
    lr_rtmp_admit_fn  *admit;
    lr_rtmp_accept_fn *accept;
    void              *opaque;
    atomic_int         stop;
    pthread_t          thread;
    int                thread_started;
    slot              *slots;
    conn_count        *count;
};

static void count_unref(conn_count **pc)
{
    conn_count *c = *pc;

    *pc = NULL;
    if (c && atomic_fetch_sub(&c->refs, 1) == 1)
        av_free(c);
}

/* OpenSSL's errors, converted and logged in one place. */
static int tls_error(const char *what, const char *peer, SSL *ssl, int ret)
{
    int e = ssl ? SSL_get_error(ssl, ret) : SSL_ERROR_SSL;
    unsigned long code = ERR_get_error();
    char buf[256] = "";

    if (code)
        ERR_error_string_n(code, buf, sizeof(buf));
    ERR_clear_error();
    switch (e) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        return AVERROR(EAGAIN);
    case SSL_ERROR_ZERO_RETURN:
        return AVERROR_EOF;
    case SSL_ERROR_SYSCALL:
        if (!code && !errno)
            return AVERROR_EOF;  /* closed without close_notify */
        if (!code && (errno == ECONNRESET || errno == EPIPE)) {
            lr_debug("rtmp: peer=%s tls %s: %s", peer ? peer : "-", what, strerror(errno));
            return AVERROR(errno);
        }
        lr_warn("rtmp: peer=%s tls %s: %s", peer ? peer : "-", what, code ? buf : strerror(errno));
        return AVERROR(errno ? errno : ECONNRESET);
    default:
        lr_warn("rtmp: %s%s%stls %s: %s", peer ? "peer=" : "", peer ? peer : "", peer ? " " : "",
                what, code ? buf : "error");
        return ssl ? AVERROR(EPROTO) : AVERROR(EINVAL);
    }
}

static int stopped(lr_rtmp_conn *c)
{
    return (c->lstop && atomic_load(c->lstop)) || (c->stop && lr_stop_requested(c->stop)) ||
           (c->evict && atomic_load(c->evict));
}

/* Waits up to SLICE_MS for events; >0 ready, 0 not yet, <0 error. */
static int wait_fd(int fd, short events)
{
    struct pollfd p = { .fd = fd, .events = events };
    int n = poll(&p, 1, SLICE_MS);

    if (n < 0)
        return errno == EINTR ? 0 : AVERROR(errno);
    return n;
}

/* >0 bytes, 0 nothing yet, AVERROR_EOF when the peer closed, <0 error. */
static int conn_recv(lr_rtmp_conn *c, uint8_t *buf, int size)
{
    ssize_t n;

    if (c->ssl) {
        int r = SSL_read(c->ssl, buf, size);
        if (r > 0)
            return r;
        r = tls_error("read", c->peer, c->ssl, r);
        return r == AVERROR(EAGAIN) ? 0 : r;
    }
    n = recv(c->fd, buf, size, 0);
    if (n > 0)
        return (int)n;
    if (n == 0)
        return AVERROR_EOF;
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : AVERROR(errno);
}

/* Sends everything; gives up after timeout_ms without progress or on stop. */
static int conn_send_all(lr_rtmp_conn *c, const uint8_t *buf, size_t size, int timeout_ms)
{
    int64_t deadline = lr_now_ns() + (int64_t)timeout_ms * 1000000;

    while (size) {
        ssize_t n;
        short ev = POLLOUT;

        if (c->ssl) {
            int r = SSL_write(c->ssl, buf, (int)FFMIN(size, INT32_MAX));
            if (r > 0) {
                n = r;
            } else {
                int e = SSL_get_error(c->ssl, r);
                if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
                    return tls_error("write", c->peer, c->ssl, r);
                ERR_clear_error();
                ev = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
                n = 0;
            }
        } else {
            n = send(c->fd, buf, size, MSG_NOSIGNAL);
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                return AVERROR(errno);
            if (n < 0)
                n = 0;
        }
        if (n > 0) {
            buf += n;
            size -= n;
            deadline = lr_now_ns() + (int64_t)timeout_ms * 1000000;
            continue;
        }
        if (stopped(c))
            return AVERROR_EXIT;
        if (lr_now_ns() > deadline)
            return AVERROR(ETIMEDOUT);
        if ((n = wait_fd(c->fd, ev)) < 0)
            return (int)n;
    }
    return 0;
}

/* Sends what the session has for the peer. */
static int flush_out(lr_rtmp_conn *c)
{
    AVFifo *out = lr_rtmp_session_out(c->s);
    uint8_t buf[4096];
    size_t n;
    int ret;

    while ((n = FFMIN(av_fifo_can_read(out), sizeof(buf)))) {
        av_fifo_read(out, buf, n);
        if ((ret = conn_send_all(c, buf, n, 5000)) < 0)
            return ret;
    }
    return 0;
}

/* One receive (waiting at most SLICE_MS) fed to the session, answers sent.
 * Returns 1 if bytes came, 0 if none, or the session's or socket's error. */
static int conn_step(lr_rtmp_conn *c)
{
    uint8_t buf[RECV_SIZE];
    int n, ret, fret;

    if (!(c->ssl && SSL_pending(c->ssl)) && (n = wait_fd(c->fd, POLLIN)) <= 0)
        return n;
    if ((n = conn_recv(c, buf, sizeof(buf))) <= 0)
        return n;
    c->last_rx = lr_now_ns();
    ret = lr_rtmp_session_feed(c->s, buf, n);
    fret = flush_out(c);  /* a refusal's onStatus goes out before the close */
    return ret < 0 ? ret : fret < 0 ? fret : 1;
}

/* "IP:PORT" into out, the IP alone into host (INET6_ADDRSTRLEN + 1). */
static void peer_name(const struct sockaddr_storage *sa, socklen_t len, char *out, size_t size,
                      char *host)
{
    char port[8];

    if (getnameinfo((const struct sockaddr *)sa, len, host, INET6_ADDRSTRLEN + 1, port,
                    sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV)) {
        av_strlcpy(out, "?", size);
        av_strlcpy(host, "?", INET6_ADDRSTRLEN + 1);
        return;
    }
    snprintf(out, size, sa->ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
}

/* Connections not yet publishing have a pool of their own, so that sockets
 * left idle can't keep a lecturer out: at most LR_RTMP_PENDING_PER_IP from
 * one address, and when the pool is full a new one takes the place of the
 * oldest (a real encoder publishes within a second of connecting). Returns
 * 0 to go on, or -1 to refuse the connection. */
static int make_room(lr_rtmp_listener *l, const char *host, const char *peer)
{
    slot *oldest = NULL;
    int pending = 0, same = 0;

    for (int i = 0; i < l->max_conns; i++) {
        slot *sl = &l->slots[i];

        if (!sl->used || atomic_load(&sl->done))
            continue;
        pending++;
        same += !strcmp(sl->host, host);
        if (!atomic_load(&sl->evict) && (!oldest || sl->started < oldest->started))
            oldest = sl;
    }
    if (same >= LR_RTMP_PENDING_PER_IP) {
        lr_warn("rtmp: peer=%s refused: %d connections from that address not yet publishing",
                peer, same);
        return -1;
    }
    if (pending >= LR_RTMP_PENDING_POOL && oldest)
        atomic_store(&oldest->evict, 1);
    return 0;
}

/* After an unpublish, lets the publisher close first (up to LINGER_MS):
 * clients such as GStreamer's rtmp2sink send deleteStream after FCUnpublish
 * and report an error if the server hung up in between. */
static void linger(lr_rtmp_conn *c)
{
    int64_t deadline = lr_now_ns() + (int64_t)LINGER_MS * 1000000;
    uint8_t buf[4096];

    c->lstop = NULL;
    c->stop = NULL;
    if (flush_out(c) < 0)
        return;
    while (lr_now_ns() < deadline) {
        int n = c->ssl && SSL_pending(c->ssl) ? 1 : wait_fd(c->fd, POLLIN);
        if (n < 0 || (n > 0 && conn_recv(c, buf, sizeof(buf)) < 0))
            return;
    }
}

void lr_rtmp_conn_free(lr_rtmp_conn **pc)
{
    lr_rtmp_conn *c = *pc;

    if (!c)
        return;
    if (c->fd >= 0 && c->s && lr_rtmp_session_unpublished(c->s))
        linger(c);
    if (c->ssl) {
        SSL_shutdown(c->ssl);  /* best effort close_notify; the socket is non-blocking */
        ERR_clear_error();
        SSL_free(c->ssl);
    }
    if (c->fd >= 0)
        close(c->fd);
    lr_rtmp_session_free(&c->s);
    if (c->count) {
        atomic_fetch_sub(&c->count->live, 1);
        count_unref(&c->count);
    }
    av_freep(pc);
}

const lr_rtmp_publish *lr_rtmp_conn_publish(const lr_rtmp_conn *c)
{
    return lr_rtmp_session_publish(c->s);
}

static int tls_accept(lr_rtmp_conn *c, int64_t deadline)
{
    for (;;) {
        int r = SSL_accept(c->ssl), e;

        if (r == 1)
            return 0;
        e = SSL_get_error(c->ssl, r);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
            return tls_error("handshake", c->peer, c->ssl, r);
        ERR_clear_error();
        if (stopped(c))
            return AVERROR_EXIT;
        if (lr_now_ns() > deadline) {
            lr_warn("rtmp: peer=%s dropped: no TLS handshake in time", c->peer);
            return AVERROR(ETIMEDOUT);
        }
        if ((r = wait_fd(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT)) < 0)
            return r;
    }
}

/* The connection's thread: everything up to an admitted publish. */
static void *negotiate(void *arg)
{
    slot *sl = arg;
    lr_rtmp_listener *l = sl->l;
    lr_rtmp_conn *c = sl->c;
    int64_t deadline = lr_now_ns() + (int64_t)l->setup_ms * 1000000;
    sigset_t set;
    int ret = 0;

    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    if (c->ssl && (ret = tls_accept(c, deadline)) < 0)
        goto end;
    c->last_rx = lr_now_ns();
    while (!lr_rtmp_session_publishing(c->s)) {
        int64_t now = lr_now_ns();

        if (stopped(c)) {
            if (c->evict && atomic_load(c->evict))
                lr_warn("rtmp: peer=%s dropped before its publish: the oldest of %d "
                        "connections not yet publishing, and another came", c->peer,
                        LR_RTMP_PENDING_POOL);
            ret = AVERROR_EXIT;
            goto end;
        }
        if (now - c->last_rx > (int64_t)l->idle_ms * 1000000) {
            lr_warn("rtmp: peer=%s dropped: nothing received for %d ms before its publish",
                    c->peer, l->idle_ms);
            ret = AVERROR(ETIMEDOUT);
            goto end;
        }
        if (now > deadline) {
            lr_warn("rtmp: peer=%s dropped: no publish within %d ms", c->peer, l->setup_ms);
            ret = AVERROR(ETIMEDOUT);
            goto end;
        }
        if ((ret = conn_step(c)) < 0) {
            if (ret == AVERROR_EOF || ret == AVERROR(ECONNRESET))
                lr_info("rtmp: peer=%s closed the connection before publishing", c->peer);
            else if (ret == AVERROR(ETIMEDOUT) || ret == AVERROR(EPIPE))
                lr_warn("rtmp: peer=%s dropped: %s", c->peer, av_err2str(ret));
            goto end;
        }
    }
    /* from here the caller drives the connection; the listener may go */
    c->lstop = NULL;
    c->evict = NULL;
    if ((ret = l->accept ? l->accept(l->opaque, c) : AVERROR(ENOSYS)) == 0)
        c = NULL;
    else
        lr_warn("rtmp: lecture=%s peer=%s dropped: not taken (%s)",
                lr_rtmp_conn_publish(c)->lecture ? lr_rtmp_conn_publish(c)->lecture : "?", c->peer,
                av_err2str(ret));
end:
    lr_rtmp_conn_free(&c);
    sl->c = NULL;
    atomic_store(&sl->done, 1);
    return NULL;
}

/* Joins the threads that finished. */
static void reap(lr_rtmp_listener *l, int all)
{
    for (int i = 0; i < l->max_conns; i++) {
        slot *sl = &l->slots[i];
        if (sl->used && (all || atomic_load(&sl->done))) {
            pthread_join(sl->thread, NULL);
            sl->used = 0;
        }
    }
}

static void take(lr_rtmp_listener *l, int fd, const struct sockaddr_storage *sa, socklen_t len)
{
    lr_rtmp_conn *c = NULL;
    slot *sl = NULL;
    char peer[64], host[INET6_ADDRSTRLEN + 1];
    int ret;

    peer_name(sa, len, peer, sizeof(peer), host);
    reap(l, 0);
    if (make_room(l, host, peer) < 0)
        goto fail;
    for (int i = 0; i < l->max_conns && !sl; i++)
        if (!l->slots[i].used)
            sl = &l->slots[i];
    if (!sl || atomic_load(&l->count->live) >= l->max_conns) {
        lr_warn("rtmp: peer=%s refused: %d connections already", peer, l->max_conns);
        goto fail;
    }
    av_strlcpy(sl->host, host, sizeof(sl->host));
    sl->started = lr_now_ns();
    atomic_store(&sl->evict, 0);
    if (!(c = av_mallocz(sizeof(*c))))
        goto fail;
    c->fd = fd;
    fd = -1;
    av_strlcpy(c->peer, peer, sizeof(c->peer));
    c->lstop = &l->stop;
    c->evict = &sl->evict;
    c->final = 0;
    if (lr_rtmp_session_alloc(peer, l->admit, l->opaque, &c->s) < 0)
        goto fail;
    if (l->tls) {
        pthread_mutex_lock(&l->tls_lock);
        c->ssl = SSL_new(l->tls);
        pthread_mutex_unlock(&l->tls_lock);
        if (!c->ssl || !SSL_set_fd(c->ssl, c->fd)) {
            tls_error("setup", peer, NULL, 0);
            goto fail;
        }
        SSL_set_accept_state(c->ssl);
    }
    atomic_fetch_add(&l->count->live, 1);
    atomic_fetch_add(&l->count->refs, 1);
    c->count = l->count;
    sl->c = c;
    sl->l = l;
    atomic_store(&sl->done, 0);
    if ((ret = pthread_create(&sl->thread, NULL, negotiate, sl))) {
        lr_error("rtmp: peer=%s dropped: no thread: %s", peer, strerror(ret));
        goto fail;
    }
    sl->used = 1;
    lr_debug("rtmp: peer=%s connected", peer);
    return;
fail:
    if (sl)
        sl->c = NULL;
    lr_rtmp_conn_free(&c);
    if (fd >= 0)
        close(fd);
}

static void *accept_loop(void *arg)
{
    lr_rtmp_listener *l = arg;

    while (!atomic_load(&l->stop)) {
        struct sockaddr_storage sa;
        socklen_t len = sizeof(sa);
        int fd, r;

        if ((r = wait_fd(l->fd, POLLIN)) <= 0) {
            if (r < 0) {
                lr_error("rtmp: listener: poll: %s", av_err2str(r));
                break;
            }
            reap(l, 0);
            continue;
        }
        fd = accept4(l->fd, (struct sockaddr *)&sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            /* out of descriptors: the pending connection stays readable, so
             * back off one slice instead of spinning on it */
            if (errno == EMFILE || errno == ENFILE) {
                lr_warn("rtmp: listener: accept: %s", strerror(errno));
                poll(NULL, 0, SLICE_MS);
            }
            continue;
        }
        take(l, fd, &sa, len);
    }
    return NULL;
}

/* A TLS context with the certificate and key files; NULL (the reason
 * logged) when they don't load. */
static SSL_CTX *make_tls(const char *cert, const char *key)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    if (!ctx) {
        tls_error("context", NULL, NULL, 0);
        return NULL;
    }
    if (lr_tls_server_policy(ctx) < 0) {
        tls_error("policy", NULL, NULL, 0);
        goto fail;
    }
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        lr_error("rtmp: listener: certificate %s unusable", cert);
        tls_error("certificate", NULL, NULL, 0);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        lr_error("rtmp: listener: private key %s unusable or not the certificate's", key);
        tls_error("private key", NULL, NULL, 0);
        goto fail;
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

void lr_rtmp_listener_reload_tls(lr_rtmp_listener *l)
{
    SSL_CTX *ctx, *old;

    if (!l || !l->tls)
        return;
    if (!(ctx = make_tls(l->cert, l->key))) {
        lr_error("rtmp: SIGHUP: keeping the previous certificate");
        return;
    }
    pthread_mutex_lock(&l->tls_lock);
    old = l->tls;
    l->tls = ctx;
    pthread_mutex_unlock(&l->tls_lock);
    SSL_CTX_free(old);  /* connections in their handshake hold their own reference */
    lr_info("rtmp: SIGHUP: reloaded the certificate %s", l->cert);
}

int lr_rtmp_listen(const lr_rtmp_listen_opts *o, lr_rtmp_admit_fn *admit,
                   lr_rtmp_accept_fn *accept, void *opaque, lr_rtmp_listener **out)
{
    lr_rtmp_listener *l = av_mallocz(sizeof(*l));
    int ret;

    if (!l)
        return AVERROR(ENOMEM);
    l->fd = -1;
    pthread_mutex_init(&l->tls_lock, NULL);
    l->max_conns = o->max_conns > 0 ? o->max_conns : 64;
    l->setup_ms  = o->setup_ms > 0 ? o->setup_ms : 10000;
    l->idle_ms   = o->idle_ms > 0 ? o->idle_ms : 5000;
    l->admit  = admit;
    l->accept = accept;
    l->opaque = opaque;
    atomic_init(&l->stop, 0);
    if (!o->listen || (!o->tls_cert != !o->tls_key)) {
        lr_error("rtmp: listener: no address, or only one of certificate and key given");
        ret = AVERROR(EINVAL);
        goto fail;
    }
    if (!(l->slots = av_calloc(l->max_conns, sizeof(*l->slots))) ||
        !(l->count = av_mallocz(sizeof(*l->count)))) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    atomic_init(&l->count->refs, 1);
    atomic_init(&l->count->live, 0);
    if (o->tls_cert) {
        if (!(l->cert = av_strdup(o->tls_cert)) || !(l->key = av_strdup(o->tls_key))) {
            ret = AVERROR(ENOMEM);
            goto fail;
        }
        if (!(l->tls = make_tls(o->tls_cert, o->tls_key))) {
            ret = AVERROR(EINVAL);
            goto fail;
        }
    }
    if ((ret = lr_tcp_listen(o->listen, o->tls_cert ? "rtmps" : "rtmp", &l->fd, &l->port)) < 0)
        goto fail;
    if ((ret = pthread_create(&l->thread, NULL, accept_loop, l))) {
        ret = AVERROR(ret);
        goto fail;
    }
    l->thread_started = 1;
    lr_debug("rtmp: listening on %s (port %d)%s", o->listen, l->port, l->tls ? " (rtmps)" : "");
    *out = l;
    return 0;
fail:
    lr_rtmp_listener_free(&l);
    return ret;
}

int lr_rtmp_listener_port(const lr_rtmp_listener *l)
{
    return l->port;
}

void lr_rtmp_listener_free(lr_rtmp_listener **pl)
{
    lr_rtmp_listener *l = *pl;

    if (!l)
        return;
    atomic_store(&l->stop, 1);
    if (l->thread_started)
        pthread_join(l->thread, NULL);
    if (l->slots)
        reap(l, 1);
    if (l->fd >= 0)
        close(l->fd);
    SSL_CTX_free(l->tls);
    pthread_mutex_destroy(&l->tls_lock);
    av_freep(&l->cert);
    av_freep(&l->key);
    av_freep(&l->slots);
    count_unref(&l->count);
    av_freep(pl);
}

/* ---- the hand-over: reads as FLV ---- */

static int conn_avio_read(void *opaque, uint8_t *buf, int size)
{
    lr_rtmp_conn *c = opaque;
    AVFifo *flv = lr_rtmp_session_flv(c->s);
    const char *lecture = lr_rtmp_conn_publish(c)->lecture ? lr_rtmp_conn_publish(c)->lecture : "?";

    for (;;) {
        size_t n = FFMIN(av_fifo_can_read(flv), (size_t)size);
        int ret;

        if (n) {
            av_fifo_read(flv, buf, n);
            return (int)n;
        }
        if (c->final)
            return c->final;
        if (stopped(c))
            return AVERROR_EXIT;
        if (c->idle_ms > 0 && lr_now_ns() - c->last_rx > (int64_t)c->idle_ms * 1000000) {
            lr_warn("rtmp: lecture=%s peer=%s dropped: nothing received for %d ms",
                    lecture, c->peer, c->idle_ms);
            c->final = AVERROR(ETIMEDOUT);
            continue;
        }
        if ((ret = conn_step(c)) >= 0)
            continue;
        if (ret == AVERROR_EXIT)
            return ret;  /* not final: the caller may still read what came */
        if (ret == AVERROR_EOF && !lr_rtmp_session_unpublished(c->s)) {
            /* the socket closed, but no unpublish came first */
            lr_warn("rtmp: lecture=%s peer=%s closed the connection without unpublishing",
                    lecture, c->peer);
            ret = AVERROR(ECONNRESET);
        } else if (ret != AVERROR_EOF && ret != AVERROR_INVALIDDATA) {
            lr_warn("rtmp: lecture=%s peer=%s dropped: %s", lecture, c->peer, av_err2str(ret));
        }
        c->final = ret;
    }
}

int lr_rtmp_conn_avio_open(lr_rtmp_conn *c, lr_stop *stop, int idle_ms, AVIOContext **pb)
{
    uint8_t *buf = av_malloc(AVIO_BUF_SIZE);
    AVIOContext *ctx;

    if (!buf)
        return AVERROR(ENOMEM);
    c->stop = stop;
    c->idle_ms = idle_ms;
    c->last_rx = lr_now_ns();
    if (!(ctx = avio_alloc_context(buf, AVIO_BUF_SIZE, 0, c, conn_avio_read, NULL, NULL))) {
        av_free(buf);
        return AVERROR(ENOMEM);
    }
    ctx->seekable = 0;
    *pb = ctx;
    return 0;
}

void lr_rtmp_conn_avio_close(AVIOContext **pb)
{
    if (!*pb)
        return;
    av_freep(&(*pb)->buffer);
    avio_context_free(pb);
}
