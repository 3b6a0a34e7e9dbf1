/* egress/http.c — the egress's HTTP/1.1 and HTTP/2 server on one libh2o evloop
 * thread: /live/ from the store (zero-copy), /watch/ player pages, /assets/,
 * the lecture list and /healthz. Started and stopped by the egress role. */
#include "http.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <netinet/in.h>

#include <h2o.h>
#include <h2o/version.h>

#include <libavutil/bprint.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "common/log.h"
#include "common/metrics.h"
#include "common/tcp_listen.h"
#include "common/streamid.h"
#include "player_page.h"

#define MAX_PATH_LEN     1024
#define MAX_ASSET_SIZE   (16 * 1024 * 1024)
#define DRAIN_TIMEOUT_MS 5000
#define HLS_JS_NAME      "hls.min.js"

/* libh2o 2.2's evloop h2o_multithread_destroy_queue() leaves the queue
 * struct allocated (fixed in 2.3), so we free it after destroying. */
#if H2O_VERSION_MAJOR == 2 && H2O_VERSION_MINOR < 3
#define FREE_DESTROYED_QUEUE 1
#else
#define FREE_DESTROYED_QUEUE 0
#endif

typedef struct conn {
    h2o_linklist_t link; /* in lr_http.conns */
    h2o_socket_t  *sock;
} conn;

typedef struct route_handler {
    h2o_handler_t super;
    struct lr_http *h;
} route_handler;

struct lr_http {
    lr_store                  *store;
    AVBufferRef               *hls_js; /* NULL when the asset is missing */
    int                        port;
    int                        listen_fd;

    h2o_globalconf_t           config;
    int                        config_inited;
    h2o_context_t              ctx;
    int                        ctx_inited;
    h2o_accept_ctx_t           accept_ctx;
    h2o_evloop_t              *loop;
    h2o_socket_t              *listener;
    h2o_linklist_t             conns;

    h2o_multithread_queue_t   *queue;
    h2o_multithread_receiver_t stop_receiver;
    int                        receiver_registered;
    h2o_multithread_message_t  stop_msg;
    int                        stopping; /* loop thread only */
    int                        drained;

    pthread_t                  thread;
    int                        thread_started;
};

/* ---- responses ---------------------------------------------------------- */

typedef struct held_buffer {
    AVBufferRef *buf;
} held_buffer;

static void held_buffer_dispose(void *p)
{
    held_buffer *hb = p;
    av_buffer_unref(&hb->buf);
}

static int is_head(const h2o_req_t *req)
{
    return h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
}

static void add_header(h2o_req_t *req, const h2o_token_t *token, const char *value)
{
    h2o_add_header(&req->pool, &req->res.headers, token, NULL, value, strlen(value));
}

/* Sends buf's bytes as the whole body without copying. Takes ownership of
 * *buf (one reference), released when the request's pool is cleared, i.e.
 * after the body has been written or the connection has gone. */
static void send_buffer(h2o_req_t *req, AVBufferRef **buf, const char *content_type,
                        const char *cache_control)
{
    static h2o_generator_t generator = { NULL, NULL };
    held_buffer *hb = h2o_mem_alloc_shared(&req->pool, sizeof(*hb), held_buffer_dispose);
    h2o_iovec_t body;

    hb->buf = *buf;
    *buf = NULL;
    body = h2o_iovec_init(hb->buf->data, hb->buf->size);

    req->res.status = 200;
    req->res.reason = "OK";
    req->res.content_length = body.len;
    add_header(req, H2O_TOKEN_CONTENT_TYPE, content_type);
    add_header(req, H2O_TOKEN_CACHE_CONTROL, cache_control);
    add_header(req, H2O_TOKEN_ACCESS_CONTROL_ALLOW_ORIGIN, "*");
    h2o_start_response(req, &generator);
    if (is_head(req))
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
    else
        h2o_send(req, &body, 1, H2O_SEND_STATE_FINAL);
}

/* Sends an av_malloc'd body (taking ownership of *body, even on failure). */
static void send_owned(h2o_req_t *req, char **body, size_t len, const char *content_type,
                       const char *cache_control)
{
    AVBufferRef *buf = av_buffer_create((uint8_t *)*body, len, av_buffer_default_free, NULL, 0);
    if (!buf) {
        av_freep(body);
        h2o_send_error_500(req, "Internal Server Error", "out of memory\n", 0);
        return;
    }
    *body = NULL;
    send_buffer(req, &buf, content_type, cache_control);
}

static void send_static(h2o_req_t *req, const char *body, const char *content_type)
{
    static h2o_generator_t generator = { NULL, NULL };
    h2o_iovec_t b = h2o_iovec_init(body, strlen(body));

    req->res.status = 200;
    req->res.reason = "OK";
    req->res.content_length = b.len;
    add_header(req, H2O_TOKEN_CONTENT_TYPE, content_type);
    add_header(req, H2O_TOKEN_CACHE_CONTROL, "no-cache");
    h2o_start_response(req, &generator);
    h2o_send(req, is_head(req) ? NULL : &b, is_head(req) ? 0 : 1, H2O_SEND_STATE_FINAL);
}

static void send_404(h2o_req_t *req)
{
    h2o_send_error_404(req, "Not Found", "not found\n", 0);
}

static void send_400(h2o_req_t *req)
{
    h2o_send_error_400(req, "Bad Request", "bad request\n", 0);
}

/* ---- routes ------------------------------------------------------------- */

static void serve_live(lr_http *h, h2o_req_t *req, const char *key, size_t len)
{
    lr_store_obj obj;
    char cache[64];

    if (!len || lr_store_get(h->store, key, len, &obj) < 0) {
        send_404(req);
        return;
    }
    if (obj.max_age_s <= 0)
        snprintf(cache, sizeof(cache), "no-cache");
    else
        snprintf(cache, sizeof(cache), "public, max-age=%d%s", obj.max_age_s,
                 obj.immutable ? ", immutable" : "");
    /* h2o keeps pointers to header values: put ours in the request's pool. */
    char *cc = h2o_mem_alloc_pool(&req->pool, strlen(cache) + 1);
    memcpy(cc, cache, strlen(cache) + 1);
    send_buffer(req, &obj.data, obj.content_type ? obj.content_type : "application/octet-stream",
                cc);
}

static void serve_watch(h2o_req_t *req, const char *name, size_t len)
{
    char lecture[LR_LECTURE_NAME_MAX + 1];
    char *html = NULL;
    size_t html_len;

    if (!len || len > LR_LECTURE_NAME_MAX) {
        send_404(req);
        return;
    }
    memcpy(lecture, name, len);
    lecture[len] = '\0';
    int ret = lr_player_page_render(lecture, &html, &html_len);
    if (ret == AVERROR(EINVAL)) {
        send_404(req);
        return;
    }
    if (ret < 0) {
        h2o_send_error_500(req, "Internal Server Error", "out of memory\n", 0);
        return;
    }
    send_owned(req, &html, html_len, "text/html; charset=utf-8", "no-cache");
}

static void serve_index(lr_http *h, h2o_req_t *req)
{
    char *names = NULL, *html = NULL;
    AVBPrint bp;

    if (lr_store_list_lectures(h->store, &names) < 0) {
        h2o_send_error_500(req, "Internal Server Error", "out of memory\n", 0);
        return;
    }
    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    av_bprintf(&bp, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                    "<title>Live lectures</title>\n</head>\n<body>\n<h1>Live lectures</h1>\n");
    int n = 0;
    for (const char *p = names; *p; p += strlen(p) + 1) {
        if (!lr_lecture_name_valid(p))
            continue; /* never put an unchecked name into HTML */
        if (!n++)
            av_bprintf(&bp, "<ul>\n");
        av_bprintf(&bp, "<li><a href=\"/watch/%s\">%s</a></li>\n", p, p);
    }
    av_bprintf(&bp, n ? "</ul>\n" : "<p>No lecture is live right now.</p>\n");
    av_bprintf(&bp, "</body>\n</html>\n");
    av_free(names);

    if (!av_bprint_is_complete(&bp)) {
        av_bprint_finalize(&bp, NULL);
        h2o_send_error_500(req, "Internal Server Error", "out of memory\n", 0);
        return;
    }
    size_t len = bp.len;
    if (av_bprint_finalize(&bp, &html) < 0) {
        h2o_send_error_500(req, "Internal Server Error", "out of memory\n", 0);
        return;
    }
    send_owned(req, &html, len, "text/html; charset=utf-8", "no-cache");
}

/* Every role's collectors in this process (in `run`, all three). */
static void serve_metrics(h2o_req_t *req)
{
    AVBPrint bp;
    char *text;

    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    lr_metrics_render(&bp);
    if (av_bprint_finalize(&bp, &text) < 0 || !text) {
        h2o_send_error_500(req, "Internal Server Error", "out of memory\n", 0);
        return;
    }
    send_owned(req, &text, strlen(text), "text/plain; version=0.0.4; charset=utf-8", "no-store");
}

static void serve_asset(lr_http *h, h2o_req_t *req)
{
    AVBufferRef *ref;

    if (!h->hls_js || !(ref = av_buffer_ref(h->hls_js))) {
        send_404(req);
        return;
    }
    send_buffer(req, &ref, "application/javascript", "public, max-age=86400");
}

static int has_prefix(const char *p, size_t len, const char *prefix, size_t plen)
{
    return len >= plen && !memcmp(p, prefix, plen);
}

/* Rejects what no client of ours sends and what could escape a prefix:
 * "..", NUL, percent-encoding, over-long paths. */
static int path_is_safe(const char *p, size_t len)
{
    if (!len || len > MAX_PATH_LEN || p[0] != '/')
        return 0;
    if (memchr(p, '\0', len) || memchr(p, '%', len) || memchr(p, '\\', len))
        return 0;
    for (size_t i = 0; i + 1 < len; i++)
        if (p[i] == '.' && p[i + 1] == '.')
            return 0;
    return 1;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    lr_http *h = ((route_handler *)self)->h;
    const char *p = req->path.base;
    size_t len = req->path.len;

    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) && !is_head(req)) {
        add_header(req, H2O_TOKEN_ALLOW, "GET, HEAD");
        h2o_send_error_405(req, "Method Not Allowed", "method not allowed\n",
                           H2O_SEND_ERROR_KEEP_HEADERS);
        return 0;
    }
    if (req->query_at != SIZE_MAX && req->query_at < len)
        len = req->query_at;
    if (!p || !path_is_safe(p, len)) {
        send_400(req);
        return 0;
    }

#define ROUTE(lit) (sizeof(lit) - 1)
    if (len == 1) {
        serve_index(h, req);
    } else if (len == ROUTE("/healthz") && !memcmp(p, "/healthz", len)) {
        send_static(req, "ok\n", "text/plain; charset=utf-8");
    } else if (len == ROUTE("/metrics") && !memcmp(p, "/metrics", len)) {
        serve_metrics(req);
    } else if (len == ROUTE("/assets/" HLS_JS_NAME) && !memcmp(p, "/assets/" HLS_JS_NAME, len)) {
        serve_asset(h, req);
    } else if (has_prefix(p, len, "/watch/", ROUTE("/watch/"))) {
        serve_watch(req, p + ROUTE("/watch/"), len - ROUTE("/watch/"));
    } else if (has_prefix(p, len, "/live/", ROUTE("/live/"))) {
        serve_live(h, req, p + ROUTE("/live/"), len - ROUTE("/live/"));
    } else {
        send_404(req);
    }
#undef ROUTE
    return 0;
}

/* ---- connections and the loop ------------------------------------------- */

static void on_conn_close(void *data)
{
    conn *c = data;
    h2o_linklist_unlink(&c->link);
    av_free(c);
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    lr_http *h = listener->data;
    h2o_socket_t *sock;

    if (err)
        return;
    while ((sock = h2o_evloop_socket_accept(listener))) {
        conn *c = av_mallocz(sizeof(*c));
        if (!c) {
            h2o_socket_close(sock);
            continue;
        }
        c->sock = sock;
        h2o_linklist_insert(&h->conns, &c->link);
        sock->on_close.cb = on_conn_close;
        sock->on_close.data = c;
        h2o_accept(&h->accept_ctx, sock);
    }
}

static void on_stop_message(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    lr_http *h = H2O_STRUCT_FROM_MEMBER(lr_http, stop_receiver, receiver);
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *m =
            H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        h2o_linklist_unlink(&m->link);
    }
    h->stopping = 1;
}

/* libh2o 2.2 has no way to shut idle HTTP/1 keep-alive connections down, so
 * we shut down the sockets we accepted: each connection then sees EOF or
 * EPIPE and closes itself through the loop. (h2o_context_request_shutdown is
 * not used: in 2.2 it arms an HTTP/2 GOAWAY timer on one_sec_timeout that
 * nothing cancels, and h2o_context_dispose then asserts on it.) */
static void drain(lr_http *h)
{
    h2o_socket_read_stop(h->listener);
    h2o_socket_close(h->listener);
    h->listener = NULL;
    h->listen_fd = -1; /* closed along with its socket */

    for (h2o_linklist_t *n = h->conns.next; n != &h->conns; n = n->next) {
        conn *c = H2O_STRUCT_FROM_MEMBER(conn, link, n);
        int fd = h2o_socket_get_fd(c->sock);
        if (fd >= 0)
            shutdown(fd, SHUT_RDWR);
    }
    uint64_t deadline = h2o_now(h->loop) + DRAIN_TIMEOUT_MS;
    while (!h2o_linklist_is_empty(&h->conns)) {
        uint64_t now = h2o_now(h->loop);
        if (now >= deadline)
            break;
        if (h2o_evloop_run(h->loop, (int32_t)(deadline - now)) != 0)
            break;
    }
    h->drained = h2o_linklist_is_empty(&h->conns);
}

/* libh2o keeps per-thread free lists of socket buffers that nothing releases
 * when the thread ends; empty the one it exports through its public
 * allocator calls. (Its memory-pool free list is static to libh2o: at most a
 * few chunks per loop thread stay behind.) */
static void release_thread_caches(void)
{
    h2o_mem_recycle_t *a = &h2o_socket_buffer_prototype.allocator;
    while (a->cnt)
        free(h2o_mem_alloc_recycle(a, 1));
}

static void *loop_thread(void *arg)
{
    lr_http *h = arg;
    sigset_t set;

    /* evloop writes with writev(): a peer that went away must give EPIPE,
     * not kill the process. SIGPIPE is thread-directed, so blocking it here
     * is enough. */
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    while (!h->stopping) {
        /* EINTR (a debugger, a signal delivered to this thread) is not a failure. */
        if (h2o_evloop_run(h->loop, INT32_MAX) != 0 && errno != EINTR) {
            lr_error("http: event loop failed: %s", strerror(errno));
            break;
        }
    }
    drain(h);
    release_thread_caches();
    return NULL;
}

/* ---- start and stop ------------------------------------------------------ */

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


/* Frees everything; the loop thread, if any, must have exited. */
static void destroy(lr_http *h)
{
    if (h->loop && h->thread_started && !h->drained)
        /* connections still hold sockets and timers; tearing the loop
         * down under them would crash, so leave it all to the exit. */
        return;
    if (h->listener) {
        h2o_socket_close(h->listener);
        h->listener = NULL;
        h->listen_fd = -1;
    }
    if (h->listen_fd >= 0)
        close(h->listen_fd);
    if (h->receiver_registered)
        h2o_multithread_unregister_receiver(h->queue, &h->stop_receiver);
    if (h->queue) {
        h2o_multithread_destroy_queue(h->queue);
        if (FREE_DESTROYED_QUEUE)
            free(h->queue);
    }
    if (h->ctx_inited) {
        h2o_multithread_queue_t *ctx_queue = h->ctx.queue;
        h2o_context_dispose(&h->ctx);
        if (FREE_DESTROYED_QUEUE)
            free(ctx_queue);
    }
    if (h->loop)
        h2o_evloop_destroy(h->loop);
    if (h->config_inited)
        h2o_config_dispose(&h->config);
    av_buffer_unref(&h->hls_js);
    av_free(h);
}

int lr_http_start(const char *listen_addr, lr_store *store, const char *assets_dir, lr_http **out)
{
    lr_http *h;
    int ret;

    *out = NULL;
    if (!listen_addr || !store)
        return AVERROR(EINVAL);
    h = av_mallocz(sizeof(*h));
    if (!h)
        return AVERROR(ENOMEM);
    h->store = store;
    h->listen_fd = -1;
    h2o_linklist_init_anchor(&h->conns);

    if ((ret = lr_tcp_listen(listen_addr, "http", &h->listen_fd, &h->port)) < 0)
        goto fail;
    if ((ret = load_asset(h, assets_dir)) < 0)
        goto fail;

    h2o_config_init(&h->config);
    h->config_inited = 1;
    h2o_hostconf_t *host = h2o_config_register_host(&h->config,
                                                    h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    route_handler *rh = (route_handler *)h2o_create_handler(path, sizeof(*rh));
    rh->super.on_req = on_req;
    rh->h = h;

    h->loop = h2o_evloop_create();
    h2o_context_init(&h->ctx, h->loop, &h->config);
    h->ctx_inited = 1;
    h->accept_ctx.ctx = &h->ctx;
    h->accept_ctx.hosts = h->config.hosts;

    h->queue = h2o_multithread_create_queue(h->loop);
    h2o_multithread_register_receiver(h->queue, &h->stop_receiver, on_stop_message);
    h->receiver_registered = 1;

    h->listener = h2o_evloop_socket_create(h->loop, h->listen_fd, H2O_SOCKET_FLAG_DONT_READ);
    h->listener->data = h;
    h2o_socket_read_start(h->listener, on_accept);

    ret = pthread_create(&h->thread, NULL, loop_thread, h);
    if (ret) {
        lr_error("http: cannot start the server thread: %s", strerror(ret));
        ret = AVERROR(ret);
        goto fail;
    }
    h->thread_started = 1;
    lr_info("http: listening on %s (port %d)", listen_addr, h->port);
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

void lr_http_stop(lr_http **ph)
{
    lr_http *h = *ph;
    if (!h)
        return;
    *ph = NULL;
    if (h->thread_started) {
        h2o_multithread_send_message(&h->stop_receiver, &h->stop_msg);
        pthread_join(h->thread, NULL);
        if (!h->drained)
            lr_error("http: connections did not close within %d ms; leaving the server's "
                     "memory to the process exit", DRAIN_TIMEOUT_MS);
    }
    destroy(h);
}
