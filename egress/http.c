/* egress/http.c — the egress's HTTP server itself: N libh2o evloop threads
 * sharing the listen ports (SO_REUSEPORT), accept with the per-IP cap, TLS
 * and its reload on SIGHUP, drain on stop. Requests go to http_routes.c.
 * Started and stopped by the egress role; design in docs/http.md. */
#include "http_internal.h"
#include "common/tls_policy.h"
#include "http_clock.h"

/* ---- connections and the loop ------------------------------------------- */

void lr__http_conn_free(conn *c)
{
    if (c->capped)
        lr__http_ip_release(c->w->h, c->ip);
    if (c->refused)
        c->w->nb_refused--;
    atomic_fetch_sub(&c->w->nb_conns, 1);
    av_free(c);
}

/* libh2o has closed the socket: the connection ends, or lingers while its
 * last answer goes out (http_linger.c). */
static void on_conn_close(void *data)
{
    conn *c = data;

    h2o_linklist_unlink(&c->link);
    if (h2o_timeout_is_linked(&c->accept_timeout))
        h2o_timeout_unlink(&c->accept_timeout);
    av_freep(&c->h2.block);
    if (!lr__http_linger_start(c))
        lr__http_conn_free(c);
}

/* The connection a request came on, if it is one of ours. */
conn *lr__http_req_conn(h2o_req_t *req)
{
    h2o_socket_t *sock = req->conn->callbacks->get_socket ?
                         req->conn->callbacks->get_socket(req->conn) : NULL;

    return sock && sock->on_close.cb == on_conn_close ? sock->on_close.data : NULL;
}

/* The TLS context for a new connection: the current one, referenced. */
static SSL_CTX *current_ssl_ctx(lr_http *h)
{
    pthread_mutex_lock(&h->ssl_lock);
    SSL_CTX *ctx = h->ssl_ctx;
    if (ctx)
        SSL_CTX_up_ref(ctx);
    pthread_mutex_unlock(&h->ssl_lock);
    return ctx;
}

int64_t lr__http_cert_not_after(lr_http *h)
{
    SSL_CTX *ctx = current_ssl_ctx(h);
    const ASN1_TIME *end;
    struct tm tm;
    int64_t t = 0;

    if (!ctx)
        return 0;
    X509 *cert = SSL_CTX_get0_certificate(ctx);
    if (cert && (end = X509_get0_notAfter(cert)) && ASN1_TIME_to_tm(end, &tm) == 1)
        t = (int64_t)timegm(&tm);
    SSL_CTX_free(ctx);
    return t;
}

/* A plain HTTP connection over the per-IP cap gets a canned 503 (RFC 9110
 * 15.6.4) rather than a bare close, so a client can tell why; what it has
 * sent is read and discarded first, so that the close is a FIN, not a reset
 * that could destroy the answer. Best effort, never blocks. (Over TLS the
 * answer needs the handshake: such a connection is accepted as refused and
 * lr__http_on_req answers it, see MAX_REFUSED.) */
static void refuse_busy(int fd, int whole_server)
{
    static const char here[] = "HTTP/1.1 503 Service Unavailable\r\n"
                               "Retry-After: 10\r\n"
                               "Content-Type: text/plain; charset=utf-8\r\n"
                               "Content-Length: 32\r\n"
                               "Connection: close\r\n\r\n"
                               "too many connections from here\r\n";
    static const char full[] = "HTTP/1.1 503 Service Unavailable\r\n"
                               "Retry-After: 10\r\n"
                               "Content-Type: text/plain; charset=utf-8\r\n"
                               "Content-Length: 29\r\n"
                               "Connection: close\r\n\r\n"
                               "the server is at its limit\r\n";
    const char *busy = whole_server ? full : here;
    size_t len = whole_server ? sizeof(full) - 1 : sizeof(here) - 1;
    char sink[4096];

    if (fd < 0)
        return;
    while (recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
        ;
    if (send(fd, busy, len, MSG_DONTWAIT | MSG_NOSIGNAL) > 0)
        shutdown(fd, SHUT_WR);
}

/* A connection over a cap (kind: 1 per address, 2 the whole server). Over
 * TLS it is kept, as refused, while the worker has room for it (the 503
 * needs the handshake: lr__http_on_req answers it); returns 0 then. Else it
 * gets refuse_busy's answer and is closed, c freed; returns 1. */
static int refuse_at_accept(worker *w, conn *c, h2o_socket_t *sock, int tls, int kind)
{
    if (tls && w->nb_refused < MAX_REFUSED) {
        c->refused = kind;
        w->nb_refused++;
        return 0;
    }
    av_free(c);
    if (!tls)
        refuse_busy(h2o_socket_get_fd(sock), kind == 2);
    h2o_socket_close(sock);
    return 1;
}

static void accept_all(worker *w, h2o_socket_t *listener, int tls)
{
    lr_http *h = w->h;
    h2o_socket_t *sock;

    while ((sock = h2o_evloop_socket_accept(listener))) {
        conn *c = av_mallocz(sizeof(*c));
        if (!c) {
            h2o_socket_close(sock);
            continue;
        }
        c->w = w;
        if (lr__http_at_max_conns(h)) {
            lr_debug("http: at max_conns (%d): connection refused", h->conf->max_conns);
            if (refuse_at_accept(w, c, sock, tls, 2))
                continue;
        } else if (h->conf->max_conns_per_ip > 0) {
            struct sockaddr_storage ss;
            socklen_t sl = h2o_socket_getpeername(sock, (struct sockaddr *)&ss);
            char host[NI_MAXHOST] = "";
            if (sl)
                h2o_socket_getnumerichost((struct sockaddr *)&ss, sl, host);
            snprintf(c->ip, sizeof(c->ip), "%s", host);
            if (lr__http_ip_uncapped(h, c->ip)) {
                /* a cache or proxy in front, a campus NAT: not counted */
            } else if (lr__http_ip_acquire(h, c->ip) < 0) {
                lr_debug("http: %s is at max_conns_per_ip (%d): connection refused", c->ip,
                         h->conf->max_conns_per_ip);
                if (refuse_at_accept(w, c, sock, tls, 1))
                    continue;
            } else {
                c->capped = 1;
            }
        }
        c->sock = sock;
        lr__http_linger_keep(c);
        h2o_linklist_insert(&w->conns, &c->link);
        atomic_fetch_add(&w->nb_conns, 1);
        sock->on_close.cb = on_conn_close;
        sock->on_close.data = c;
        if (tls) {
            SSL_CTX *ctx = current_ssl_ctx(h);
            lr__http_accept_tls(c, ctx);
            SSL_CTX_free(ctx); /* the connection's SSL holds its own reference */
        } else {
            lr__http_accept_plain(c);
        }
    }
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    if (!err)
        accept_all(listener->data, listener, 0);
}

static void on_accept_tls(h2o_socket_t *listener, const char *err)
{
    if (!err)
        accept_all(listener->data, listener, 1);
}

static void on_stop_message(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    worker *w = H2O_STRUCT_FROM_MEMBER(worker, stop_receiver, receiver);
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *m =
            H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        h2o_linklist_unlink(&m->link);
    }
    w->stopping = 1;
}

/* ---- TLS ---------------------------------------------------------------- */

static void log_ssl_error(const char *what)
{
    char buf[256];
    unsigned long e = ERR_get_error();
    ERR_error_string_n(e, buf, sizeof(buf));
    lr_error("http: %s: %s", what, e ? buf : "unknown OpenSSL error");
    ERR_clear_error();
}

static SSL_CTX *make_ssl_ctx(const char *cert, const char *key)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        log_ssl_error("cannot create a TLS context");
        return NULL;
    }
    if (lr_tls_server_policy(ctx) < 0) {
        log_ssl_error("cannot set the TLS policy");
        goto fail;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        log_ssl_error("cannot load egress.tls_cert");
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        log_ssl_error("cannot load egress.tls_key (or it does not match the certificate)");
        goto fail;
    }
    h2o_ssl_register_alpn_protocols(ctx, h2o_http2_alpn_protocols);
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

/* SIGHUP reloads the certificate: app/roles.c takes the signal and calls
 * lr_http_reload, which writes a byte to a pipe that worker 0's loop reads. */
static void warn_unsigned(const lr_egress_conf *conf)
{
    if (conf->require_token && conf->nb_token_secrets == 0)
        lr_warn("http: egress.require_token without egress.token_secrets: every /live/, "
                "/vod/ and /watch/ request will get 403");
}

void lr_http_reload(lr_http *h, const lr_egress_conf *conf)
{
    char b = 1;

    if (conf && conf != lr__http_access(h)) {
        atomic_store_explicit(&h->access, conf, memory_order_release);
        warn_unsigned(conf);
        lr_info("http: reloaded: %d token secret(s), require_token %s, metrics_token %s",
                conf->nb_token_secrets, conf->require_token ? "on" : "off",
                conf->metrics_token[0] ? "set" : "none");
    }
    if (h->hup_pipe[1] < 0)
        lr_info("http: SIGHUP: no TLS, so no certificate to reload");
    else if (write(h->hup_pipe[1], &b, 1) < 0) {
        /* a full pipe already has a reload pending */
    }
}

static void on_hup_readable(h2o_socket_t *sock, const char *err)
{
    worker *w = sock->data;
    lr_http *h = w->h;
    if (err)
        return;
    h2o_buffer_consume(&sock->input, sock->input->size);
    const lr_egress_conf *ac = lr__http_access(h);
    SSL_CTX *ctx = make_ssl_ctx(ac->tls_cert, ac->tls_key);
    if (!ctx) {
        lr_error("http: SIGHUP: keeping the previous certificate");
        return;
    }
    pthread_mutex_lock(&h->ssl_lock);
    SSL_CTX *old = h->ssl_ctx;
    h->ssl_ctx = ctx;
    pthread_mutex_unlock(&h->ssl_lock);
    SSL_CTX_free(old);
    lr_info("http: SIGHUP: reloaded the certificate %s", ac->tls_cert);
}

/* ---- drain and thread ---------------------------------------------------- */

/* Answers parked requests (503), stops accepting, then shuts connections
 * down as soon as nothing is being written on them, so responses in
 * flight finish (at most DRAIN_TIMEOUT_MS). (h2o_context_request_shutdown
 * is not used: in 2.2 it arms an HTTP/2 GOAWAY timer that nothing cancels,
 * and h2o_context_dispose then asserts on it.) */
static void drain(worker *w)
{
    for (int b = 0; b < PARK_BUCKETS; b++) {
        while (w->park[b]) {
            waitlist *wl = w->park[b];
            parked *p = H2O_STRUCT_FROM_MEMBER(parked, link, wl->parked.next);
            h2o_req_t *req = p->req;
            lr__http_unpark(p);
            lr__http_send_error(req, 503, "Service Unavailable", ERROR_CC);
        }
    }
    if (w->listener) {
        h2o_socket_read_stop(w->listener);
        h2o_socket_close(w->listener);
        w->listener = NULL;
        w->fd = -1;
    }
    if (w->tls_listener) {
        h2o_socket_read_stop(w->tls_listener);
        h2o_socket_close(w->tls_listener);
        w->tls_listener = NULL;
        w->tls_fd = -1;
    }
    if (w->hup_sock) {
        h2o_socket_read_stop(w->hup_sock);
        h2o_socket_close(w->hup_sock);
        w->hup_sock = NULL;
    }
    uint64_t deadline = h2o_now(w->loop) + DRAIN_TIMEOUT_MS;
    while (!h2o_linklist_is_empty(&w->conns) || !h2o_linklist_is_empty(&w->lingering)) {
        for (h2o_linklist_t *n = w->conns.next; n != &w->conns; n = n->next) {
            conn *c = H2O_STRUCT_FROM_MEMBER(conn, link, n);
            int fd = h2o_socket_get_fd(c->sock);
            if (!c->shut && fd >= 0 && !h2o_socket_is_writing(c->sock)) {
                shutdown(fd, SHUT_RDWR);
                c->shut = 1;
            }
        }
        uint64_t now = h2o_now(w->loop);
        if (now >= deadline)
            break;
        uint64_t step = deadline - now < DRAIN_STEP_MS ? deadline - now : DRAIN_STEP_MS;
        if (h2o_evloop_run(w->loop, (int32_t)step) != 0 && errno != EINTR)
            break;
    }
    w->drained = h2o_linklist_is_empty(&w->conns);
    lr__http_linger_dispose(w); /* what still lingers is closed */
}

/* libh2o keeps per-thread free lists of socket buffers that nothing releases
 * when the thread ends; empty the one it exports through its public
 * allocator calls. */
static void release_thread_caches(void)
{
    h2o_mem_recycle_t *a = &h2o_socket_buffer_prototype.allocator;
    while (a->cnt)
        free(h2o_mem_alloc_recycle(a, 1));
}

static void *loop_thread(void *arg)
{
    worker *w = arg;
    sigset_t set;

    /* evloop writes with writev(): a peer that went away must give EPIPE,
     * not kill the process. */
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    while (!w->stopping) {
        /* EINTR (a debugger, a signal delivered to this thread) is not a failure. */
        if (h2o_evloop_run(w->loop, INT32_MAX) != 0 && errno != EINTR) {
            lr_error("http: event loop failed: %s", strerror(errno));
            break;
        }
    }
    drain(w);
    release_thread_caches();
    return NULL;
}

/* ---- start and stop ------------------------------------------------------ */

/* The player's settings are a static string: nothing to free. */
static void free_nothing(void *opaque, uint8_t *data)
{
    (void)opaque;
    (void)data;
}

static int load_asset(lr_http *h, const char *assets_dir)
{
    char path[4096];
    struct stat st;
    uint8_t *data = NULL;
    int fd = -1, ret = 0;

    if (!assets_dir || !*assets_dir) {
        lr_warn("http: no assets directory: /assets/" HLS_JS_NAME " will answer 404");
        return 0;
    }
    snprintf(path, sizeof(path), "%s/%s", assets_dir, HLS_JS_NAME);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
        st.st_size > MAX_ASSET_SIZE) {
        lr_warn("http: cannot load %s (%s): /assets/" HLS_JS_NAME " will answer 404", path,
                fd < 0 ? strerror(errno) : "not a regular file of a sane size");
        goto done;
    }
    size_t size = st.st_size, got = 0;
    data = av_malloc(size);
    if (!data) {
        ret = AVERROR(ENOMEM);
        goto done;
    }
    while (got < size) {
        ssize_t r = read(fd, data + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            lr_warn("http: cannot read %s (%s): /assets/" HLS_JS_NAME " will answer 404", path,
                    r < 0 ? strerror(errno) : "short file");
            goto done;
        }
        got += r;
    }
    h->hls_js = av_buffer_create(data, size, av_buffer_default_free, NULL, 0);
    if (!h->hls_js) {
        ret = AVERROR(ENOMEM);
        goto done;
    }
    data = NULL;

done:
    av_free(data);
    if (fd >= 0)
        close(fd);
    return ret;
}

/* 1 when a plain bind to host:port fails with EADDRINUSE. */
static int port_taken(const char *host, const char *port)
{
    struct addrinfo hints = { 0 }, *res = NULL;
    int taken = 0, one = 1;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if (getaddrinfo(host[0] ? host : NULL, port, &hints, &res))
        return 0;
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        taken = bind(fd, res->ai_addr, res->ai_addrlen) < 0 && errno == EADDRINUSE;
        close(fd);
    }
    freeaddrinfo(res);
    return taken;
}

/* A listening socket with SO_REUSEPORT on addr ("host:port", "[v6]:port",
 * ":port"); port > 0 overrides addr's (the second and later workers). */
static int listen_reuseport(const char *addr, int port, int *out_fd, int *out_port)
{
    char host[256];
    const char *colon = strrchr(addr, ':');
    struct addrinfo hints = { 0 }, *res = NULL;
    char portstr[16];
    int fd = -1, one = 1, err;

    if (!colon || (size_t)(colon - addr) >= sizeof(host) || !colon[1] ||
        strspn(colon + 1, "0123456789") != strlen(colon + 1) || strlen(colon + 1) > 5 ||
        atoi(colon + 1) > 65535) {
        lr_error("http: bad listen address '%s' (want host:port)", addr);
        return AVERROR(EINVAL);
    }
    memcpy(host, addr, colon - addr);
    host[colon - addr] = '\0';
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host) - 2);
        host[strlen(host) - 2] = '\0';
    }
    snprintf(portstr, sizeof(portstr), "%d", port > 0 ? port : atoi(colon + 1));
    /* SO_REUSEPORT would let us share a port another server holds: make
     * sure nobody listens there first (port 0 is always a fresh one). */
    if (port <= 0 && atoi(colon + 1) > 0 && port_taken(host, portstr)) {
        lr_error("http: cannot listen on %s: %s", addr, strerror(EADDRINUSE));
        return AVERROR(EADDRINUSE);
    }
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if ((err = getaddrinfo(host[0] ? host : NULL, portstr, &hints, &res))) {
        lr_error("http: cannot resolve '%s': %s", addr, gai_strerror(err));
        return AVERROR(EINVAL);
    }
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 4096) < 0) {
        err = errno;
        lr_error("http: cannot listen on %s: %s", addr, strerror(err));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return AVERROR(err);
    }
    freeaddrinfo(res);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *out_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    *out_fd = fd;
    return 0;
}

static void worker_destroy(worker *w)
{
    lr__http_linger_dispose(w);
    if (w->beat_inited) {
        lr_heartbeat_unregister(&w->hb);
        if (h2o_timeout_is_linked(&w->beat_e))
            h2o_timeout_unlink(&w->beat_e);
        h2o_timeout_dispose(w->loop, &w->beat_t);
    }
    if (w->listener)
        h2o_socket_close(w->listener);
    else if (w->fd >= 0)
        close(w->fd);
    if (w->tls_listener)
        h2o_socket_close(w->tls_listener);
    else if (w->tls_fd >= 0)
        close(w->tls_fd);
    if (w->hup_sock)
        h2o_socket_close(w->hup_sock);
    if (w->receivers_registered) {
        h2o_multithread_unregister_receiver(w->queue, &w->stop_receiver);
        h2o_multithread_unregister_receiver(w->queue, &w->publish_receiver);
    }
    if (w->queue) {
        h2o_multithread_destroy_queue(w->queue);
        if (FREE_DESTROYED_QUEUE)
            free(w->queue);
    }
    for (int i = 0; i < w->nb_tq; i++)
        h2o_timeout_dispose(w->loop, &w->tq[i].t);
    if (w->ctx_inited) {
        h2o_multithread_queue_t *ctx_queue = w->ctx.queue;
        h2o_context_dispose(&w->ctx);
        if (FREE_DESTROYED_QUEUE)
            free(ctx_queue);
    }
    if (w->loop)
        h2o_evloop_destroy(w->loop);
}

/* Frees everything; the loop threads, if any, must have exited. */
static void destroy(lr_http *h)
{
    lr_steer_peers_stop(&h->peers);
    lr_recordings_index_stop(&h->recs);
    if (h->publish_cb_set)
        lr_store_set_publish_cb(h->store, NULL, NULL);
    if (h->metrics_handle > 0)
        lr_metrics_unregister(h->metrics_handle);
    for (int i = 0; h->workers && i < h->nb_workers; i++) {
        worker *w = &h->workers[i];
        if (w->loop && w->thread_started && !w->drained)
            /* connections still hold sockets and timers; tearing the loop
             * down under them would crash, so leave it all to the exit. */
            return;
    }
    for (int i = 0; h->workers && i < h->nb_workers; i++)
        worker_destroy(&h->workers[i]);
    if (h->hup_pipe[1] >= 0)
        close(h->hup_pipe[1]);
    if (h->hup_pipe[0] >= 0)
        close(h->hup_pipe[0]); /* unless worker 0's hup_sock took it */
    SSL_CTX_free(h->ssl_ctx);
    if (h->config_inited)
        h2o_config_dispose(&h->config);
    for (int b = 0; b < IP_BUCKETS; b++)
        while (h->ips[b]) {
            ip_count *c = h->ips[b];
            h->ips[b] = c->next;
            av_free(c);
        }
    av_free(h->viewers);
    av_free(h->workers);
    pthread_mutex_destroy(&h->ssl_lock);
    pthread_mutex_destroy(&h->viewers_lock);
    pthread_mutex_destroy(&h->ip_lock);
    av_buffer_unref(&h->hls_js);
    av_buffer_unref(&h->player_config);
    av_free(h);
}

static void on_beat(h2o_timeout_entry_t *e)
{
    worker *w = H2O_STRUCT_FROM_MEMBER(worker, beat_e, e);

    lr_heartbeat_beat(&w->hb);
    h2o_timeout_link(w->loop, &w->beat_t, &w->beat_e);
}

static int worker_init(lr_http *h, worker *w, int idx)
{
    const lr_egress_conf *c = h->conf;
    int ret, port;

    w->h = h;
    w->idx = idx;
    w->fd = w->tls_fd = -1;
    h2o_linklist_init_anchor(&w->conns);
    h2o_linklist_init_anchor(&w->lingering);
    if ((ret = listen_reuseport(c->http, idx ? h->port : 0, &w->fd, &port)) < 0)
        return ret;
    if (!idx)
        h->port = port;
    if (h->ssl_ctx) {
        if ((ret = listen_reuseport(c->tls_listen, idx ? h->tls_port : 0, &w->tls_fd, &port)) < 0)
            return ret;
        if (!idx)
            h->tls_port = port;
    }
    w->loop = h2o_evloop_create();
    lr__http_linger_init(w);
    h2o_context_init(&w->ctx, w->loop, &h->config);
    w->ctx_inited = 1;
    w->accept_ctx.ctx = &w->ctx;
    w->accept_ctx.hosts = h->config.hosts;

    w->queue = h2o_multithread_create_queue(w->loop);
    h2o_multithread_register_receiver(w->queue, &w->stop_receiver, on_stop_message);
    h2o_multithread_register_receiver(w->queue, &w->publish_receiver, lr__http_on_publish_message);
    w->receivers_registered = 1;

    w->listener = h2o_evloop_socket_create(w->loop, w->fd, H2O_SOCKET_FLAG_DONT_READ);
    w->listener->data = w;
    h2o_socket_read_start(w->listener, on_accept);
    if (w->tls_fd >= 0) {
        w->tls_listener = h2o_evloop_socket_create(w->loop, w->tls_fd, H2O_SOCKET_FLAG_DONT_READ);
        w->tls_listener->data = w;
        h2o_socket_read_start(w->tls_listener, on_accept_tls);
    }
    if (!idx && h->hup_pipe[0] >= 0) {
        w->hup_sock = h2o_evloop_socket_create(w->loop, h->hup_pipe[0], 0);
        h->hup_pipe[0] = -1; /* closed with the socket */
        w->hup_sock->data = w;
        h2o_socket_read_start(w->hup_sock, on_hup_readable);
    }
    char name[64];
    snprintf(name, sizeof(name), "http loop %d", idx);
    lr_heartbeat_register(&w->hb, name, LR_HTTP_BEAT_MAX_MS);
    h2o_timeout_init(w->loop, &w->beat_t, 1000);
    w->beat_e.cb = on_beat;
    h2o_timeout_link(w->loop, &w->beat_t, &w->beat_e);
    w->beat_inited = 1;
    return 0;
}

int lr_http_start(const lr_egress_conf *conf, lr_store *store, lr_http **out)
{
    lr_http *h;
    int ret;

    *out = NULL;
    if (!conf || !conf->http || !store)
        return AVERROR(EINVAL);
    if (!lr_http_clock_setup())
        lr_warn("http: libh2o not found among the loaded libraries: its timers follow the "
                "wall clock, and a clock step moves them (docs/http.md)");
    h = av_mallocz(sizeof(*h));
    if (!h)
        return AVERROR(ENOMEM);
    h->conf = conf;
    /* (a section built by hand, as the unit tests do, may leave the newer keys NULL) */
    h->url_sign_kind = conf->url_signing ? lr_url_sign_kind_parse(conf->url_signing) : -1;
    if (h->url_sign_kind < 0)
        h->url_sign_kind = LR_URL_SIGN_PATH;
    h->store = store;
    h->tls_port = -1;
    h->hup_pipe[0] = h->hup_pipe[1] = -1;
    pthread_mutex_init(&h->ssl_lock, NULL);
    pthread_mutex_init(&h->viewers_lock, NULL);
    pthread_mutex_init(&h->ip_lock, NULL);
    h->nb_workers = conf->http_threads > 0 ? conf->http_threads : 1;
    if (h->nb_workers > MAX_WORKERS)
        h->nb_workers = MAX_WORKERS;
    h->workers = av_calloc(h->nb_workers, sizeof(*h->workers));
    h->viewers = av_calloc(VIEWER_SLOTS, sizeof(*h->viewers));
    if (!h->workers || !h->viewers) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    atomic_init(&h->access, conf);
    warn_unsigned(conf);

    if ((ret = load_asset(h, conf->assets_dir)) < 0)
        goto fail;
    if ((ret = lr_recordings_index_start(conf->recordings_dir, &h->recs)) < 0)
        goto fail;
    /* the steering prefixes, parsed once (egress_conf.c checked them; one
     * that failed anyway has length 0 and matches no address) */
    for (int i = 0; i < conf->steering.nb_prefixes; i++, h->nb_prefixes++)
        if (lr_cidr_parse(conf->steering.prefixes[i].prefix, &h->prefixes[i]) < 0)
            memset(&h->prefixes[i], 0, sizeof(h->prefixes[i]));
    for (int i = 0; i < conf->nb_uncapped; i++) {
        if (!strcmp(conf->uncapped[i], "loopback"))
            h->uncapped_loopback = 1;
        else if (lr_cidr_parse(conf->uncapped[i], &h->uncapped[h->nb_uncapped]) == 0)
            h->nb_uncapped++;
    }
    /* peers polled twice a TTL (at most every 2 s), answers within 1 s */
    if ((ret = lr_steer_peers_start(&conf->steering, FFMIN(2000, conf->steering.ttl * 500), 1000,
                                    &h->peers)) < 0)
        goto fail;
    h->player_config = av_buffer_create((uint8_t *)lr_player_config_js, lr_player_config_js_len,
                                        free_nothing, NULL, AV_BUFFER_FLAG_READONLY);
    if (!h->player_config) {
        ret = AVERROR(ENOMEM);
        goto fail;
    }
    if (conf->tls_listen && conf->tls_listen[0]) {
        if (!conf->tls_cert[0] || !conf->tls_key[0]) {
            lr_error("http: egress.tls_listen needs egress.tls_cert and egress.tls_key");
            ret = AVERROR(EINVAL);
            goto fail;
        }
        if (!(h->ssl_ctx = make_ssl_ctx(conf->tls_cert, conf->tls_key))) {
            ret = AVERROR(EINVAL);
            goto fail;
        }
        /* a socket pair, not a pipe: the loop reads it with recv() */
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, h->hup_pipe) < 0) {
            ret = AVERROR(errno);
            goto fail;
        }
    }

    h2o_config_init(&h->config);
    h->config_inited = 1;
    h->config.server_name = h2o_iovec_init(H2O_STRLIT("lecture-relay"));
    h->config.http1.req_timeout = 10000; /* a request's head must arrive within 10 s */
    h->config.http2.idle_timeout = 30000;
    /* HTTP/2 starts only where http_h2guard.c can guard it: by prior
     * knowledge or ALPN, never by an HTTP/1.1 Upgrade: h2c. */
    h->config.http1.upgrade_to_http2 = 0;
    /* GET, HEAD and OPTIONS only: a body is read and then refused (405), one
     * over 16 KiB at once (413), not buffered up to libh2o's default 1 GiB */
    h->config.max_request_entity_size = 16 * 1024;
    h->config.handshake_timeout = 10000;
    h2o_hostconf_t *host = h2o_config_register_host(&h->config,
                                                    h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    route_handler *rh = (route_handler *)h2o_create_handler(path, sizeof(*rh));
    rh->super.on_req = lr__http_on_req;
    rh->h = h;

    for (int i = 0; i < h->nb_workers; i++)
        if ((ret = worker_init(h, &h->workers[i], i)) < 0)
            goto fail;
    if ((ret = lr_metrics_register(lr__http_collect_http, h)) < 0)
        goto fail;
    h->metrics_handle = ret;
    lr_store_set_publish_cb(store, lr__http_on_store_publish, h);
    h->publish_cb_set = 1;

    for (int i = 0; i < h->nb_workers; i++) {
        worker *w = &h->workers[i];
        ret = pthread_create(&w->thread, NULL, loop_thread, w);
        if (ret) {
            lr_error("http: cannot start a server thread: %s", strerror(ret));
            ret = AVERROR(ret);
            *out = h;
            lr_http_stop(out);
            return ret;
        }
        w->thread_started = 1;
    }
    if (h->ssl_ctx)
        lr_info("http: listening on %s (port %d) and TLS %s (port %d), %d thread(s)", conf->http,
                h->port, conf->tls_listen, h->tls_port, h->nb_workers);
    else
        lr_info("http: listening on %s (port %d), %d thread(s)", conf->http, h->port,
                h->nb_workers);
    *out = h;
    return 0;

fail:
    destroy(h);
    return ret;
}

int lr_http_port(const lr_http *h)
{
    return h ? h->port : -1;
}

int lr_http_tls_port(const lr_http *h)
{
    return h ? h->tls_port : -1;
}

void lr_http_stop(lr_http **ph)
{
    lr_http *h = *ph;
    if (!h)
        return;
    *ph = NULL;
    /* no more wake-ups from the packager once this returns */
    lr_store_set_publish_cb(h->store, NULL, NULL);
    h->publish_cb_set = 0;
    int drained = 1;
    for (int i = 0; i < h->nb_workers; i++)
        if (h->workers[i].thread_started)
            h2o_multithread_send_message(&h->workers[i].stop_receiver, &h->workers[i].stop_msg);
    for (int i = 0; i < h->nb_workers; i++) {
        if (!h->workers[i].thread_started)
            continue;
        pthread_join(h->workers[i].thread, NULL);
        drained &= h->workers[i].drained;
    }
    if (!drained)
        lr_error("http: connections did not close within %d ms; leaving the server's "
                 "memory to the process exit", DRAIN_TIMEOUT_MS);
    destroy(h);
}
