/* egress/http.c — the egress's HTTP server: N libh2o evloop threads sharing
 * the listen ports (SO_REUSEPORT), HTTP/1.1, h2c by prior knowledge, h2 by
 * ALPN on TLS. Routes: /live/ from the store (zero-copy, LL-HLS blocking
 * reload and preload-hint holding woken by the store's publish callback),
 * DVR and /vod/ from disk (Range), /t/<token>/ signed paths, /watch/,
 * /assets/, /, /api/v1/lectures, /metrics, /healthz. Started and stopped by
 * the egress role; design and headers in docs/http.md. */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <h2o.h>
#include <h2o/version.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <libavutil/bprint.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "common/log.h"
#include "common/metrics.h"
#include "common/streamid.h"
#include "player_page.h"
#include "playlist.h"
#include "recordings_index.h"
#include "token.h"

#define MAX_PATH_LEN      1024   /* longer paths: 414 */
#define MAX_HEADER_BYTES  (16 * 1024) /* all request headers together: 431 */
#define MAX_ASSET_SIZE    (16 * 1024 * 1024)
#define DRAIN_TIMEOUT_MS  5000
#define DRAIN_STEP_MS     10
#define HLS_JS_NAME       "hls.min.js"
#define MAX_WORKERS       64
#define PARK_BUCKETS      1024   /* per worker: paths with parked requests */
#define MAX_TIMEOUT_QUEUES 8     /* per worker: one per distinct park timeout */
#define MAX_STATUS        600
#define MAX_REFUSED       64     /* per worker: TLS connections over the per-IP cap kept
                                    open to answer 503; beyond, closed at accept */
#define VIEWER_SLOTS      16384
#define VIEWER_WINDOW_S   30
#define IP_BUCKETS        1024
#define IMMUTABLE_CC      "public, max-age=31536000, immutable"
#define ERROR_CC          "no-store"
#define NOT_FOUND_CC      "public, max-age=1"
#define TOKEN_PREFIX      "/t/"

/* libh2o 2.2's evloop h2o_multithread_destroy_queue() leaves the queue
 * struct allocated (fixed in 2.3), so we free it after destroying. */
#if H2O_VERSION_MAJOR == 2 && H2O_VERSION_MINOR < 3
#define FREE_DESTROYED_QUEUE 1
#else
#define FREE_DESTROYED_QUEUE 0
#endif

typedef struct worker worker;

typedef struct conn {
    h2o_linklist_t link;   /* in worker.conns */
    h2o_socket_t  *sock;
    worker        *w;
    int            capped; /* counted in the per-IP table */
    int            refused; /* over the per-IP cap, over TLS: every request gets 503 */
    int            shut;
    char           ip[INET6_ADDRSTRLEN];
} conn;

typedef struct route_handler {
    h2o_handler_t super;
    struct lr_http *h;
} route_handler;

/* Requests parked on one path of the store. */
typedef struct waitlist {
    struct waitlist *next;
    h2o_linklist_t   parked;
    size_t           len;
    char             path[];
} waitlist;

enum park_kind { PARK_PLAYLIST, PARK_PART };

typedef struct parked {
    h2o_linklist_t      link; /* in waitlist.parked */
    h2o_timeout_entry_t timeout;
    h2o_req_t          *req;
    worker             *w;
    waitlist           *wl;   /* NULL once answered */
    enum park_kind      kind;
    int64_t             msn;
    int                 part; /* -1: none asked */
} parked;

typedef struct timeout_queue {
    uint64_t      ms;
    h2o_timeout_t t;
} timeout_queue;

typedef struct publish_msg {
    h2o_multithread_message_t super;
    char                      path[];
} publish_msg;

struct worker {
    struct lr_http            *h;
    int                        idx;
    h2o_evloop_t              *loop;
    h2o_context_t              ctx;
    int                        ctx_inited;
    h2o_accept_ctx_t           accept_ctx;
    int                        fd, tls_fd;
    h2o_socket_t              *listener, *tls_listener;
    h2o_linklist_t             conns;

    h2o_multithread_queue_t   *queue;
    h2o_multithread_receiver_t stop_receiver, publish_receiver;
    int                        receivers_registered;
    h2o_multithread_message_t  stop_msg;
    int                        stopping, drained;
    pthread_t                  thread;
    int                        thread_started;

    waitlist                  *park[PARK_BUCKETS];
    timeout_queue              tq[MAX_TIMEOUT_QUEUES];
    int                        nb_tq;
    atomic_int                 nb_parked;
    h2o_socket_t              *hup_sock; /* worker 0 with TLS: the SIGHUP pipe */

    /* counters: written by this worker's thread only, read when scraped */
    atomic_uint_fast64_t       status[MAX_STATUS];
    atomic_uint_fast64_t       bytes;
    atomic_uint_fast64_t       park_timeouts;
    atomic_int                 nb_conns;
    int                        nb_refused; /* TLS connections answered 503 (conn.refused) */
};

typedef struct viewer_slot {
    uint64_t hash;   /* 0: free */
    int64_t  seen;   /* CLOCK_MONOTONIC seconds */
    char     key[96]; /* "<lecture>/<rendition>" */
} viewer_slot;

typedef struct ip_count {
    struct ip_count *next;
    int              n;
    char             ip[INET6_ADDRSTRLEN];
} ip_count;

struct lr_http {
    const lr_egress_conf      *conf;
    lr_store                  *store;
    AVBufferRef               *hls_js; /* NULL when the asset is missing */
    AVBufferRef               *player_config; /* lr_player_config_js, not copied */
    int                        port, tls_port;
    int                        nb_workers;
    worker                    *workers;
    h2o_globalconf_t           config;
    int                        config_inited;
    int                        metrics_handle;
    int                        publish_cb_set;

    pthread_mutex_t            ssl_lock; /* guards ssl_ctx swaps */
    SSL_CTX                   *ssl_ctx;
    int                        hup_pipe[2];

    pthread_mutex_t            viewers_lock;
    viewer_slot               *viewers;

    pthread_mutex_t            ip_lock;
    ip_count                  *ips[IP_BUCKETS];
};

/* ---- small helpers ------------------------------------------------------ */

static uint64_t hash_bytes(const char *p, size_t len)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ULL;
    }
    return h ? h : 1;
}

static int64_t mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

static int has_prefix(const char *p, size_t len, const char *prefix)
{
    size_t plen = strlen(prefix);
    return len >= plen && !memcmp(p, prefix, plen);
}

static int has_suffix(const char *p, size_t len, const char *suffix)
{
    size_t sl = strlen(suffix);
    return len >= sl && !memcmp(p + len - sl, suffix, sl);
}

static int is_method(const h2o_req_t *req, const char *m)
{
    return h2o_memis(req->method.base, req->method.len, m, strlen(m));
}

static char *pool_strdup(h2o_req_t *req, const char *s, size_t len)
{
    char *d = h2o_mem_alloc_pool(&req->pool, len + 1);
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

static worker *req_worker(h2o_req_t *req)
{
    return H2O_STRUCT_FROM_MEMBER(worker, ctx, req->conn->ctx);
}

static void peer_ip(h2o_req_t *req, char *out, size_t size)
{
    struct sockaddr_storage ss;
    char tmp[NI_MAXHOST];
    socklen_t len = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);
    out[0] = '\0';
    if (len && h2o_socket_getnumerichost((struct sockaddr *)&ss, len, tmp) != SIZE_MAX)
        snprintf(out, size, "%.*s", INET6_ADDRSTRLEN - 1, tmp);
}

/* ---- responses ---------------------------------------------------------- */

typedef struct held_buffer {
    AVBufferRef *buf;
} held_buffer;

static void held_buffer_dispose(void *p)
{
    held_buffer *hb = p;
    av_buffer_unref(&hb->buf);
}

static void add_header(h2o_req_t *req, const h2o_token_t *token, const char *value)
{
    h2o_add_header(&req->pool, &req->res.headers, token, NULL, value, strlen(value));
}

/* For headers libh2o 2.2 has no token for; name is lower case and static. */
static void add_header_str(h2o_req_t *req, const char *name, const char *value)
{
    h2o_add_header_by_str(&req->pool, &req->res.headers, name, strlen(name), 0, NULL, value,
                          strlen(value));
}

/* Access-Control-Allow-Origin from egress.cors_origins: "*", or the
 * request's Origin when it is one of the listed ones (then Vary: Origin). */
static void add_cors(lr_http *h, h2o_req_t *req)
{
    const char *origins = h->conf->cors_origins;
    if (!origins || !*origins || !strcmp(origins, "*")) {
        add_header(req, H2O_TOKEN_ACCESS_CONTROL_ALLOW_ORIGIN, "*");
        return;
    }
    add_header(req, H2O_TOKEN_VARY, "Origin");
    ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("origin"), -1);
    if (i < 0)
        return;
    h2o_iovec_t o = req->headers.entries[i].value;
    for (const char *p = origins; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, " ,");
        if (n && n == o.len && !memcmp(p, o.base, n)) {
            h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ACCESS_CONTROL_ALLOW_ORIGIN,
                           NULL, o.base, o.len);
            return;
        }
        p += n;
    }
}

static void count_response(worker *w, int status, size_t bytes)
{
    if (status >= 100 && status < MAX_STATUS)
        atomic_fetch_add_explicit(&w->status[status], 1, memory_order_relaxed);
    if (bytes != SIZE_MAX)
        atomic_fetch_add_explicit(&w->bytes, bytes, memory_order_relaxed);
}

static void send_error(h2o_req_t *req, int status, const char *reason, const char *cc)
{
    lr_http *h = req_worker(req)->h;
    char body[64];
    snprintf(body, sizeof(body), "%s\n", reason);
    add_header(req, H2O_TOKEN_CACHE_CONTROL, cc);
    add_cors(h, req);
    count_response(req_worker(req), status, strlen(body));
    h2o_send_error_generic(req, status, reason, pool_strdup(req, body, strlen(body)),
                           H2O_SEND_ERROR_KEEP_HEADERS);
}

static void send_400(h2o_req_t *req)
{
    send_error(req, 400, "Bad Request", ERROR_CC);
}

static void send_403(h2o_req_t *req)
{
    send_error(req, 403, "Forbidden", ERROR_CC);
}

static void send_404(h2o_req_t *req)
{
    send_error(req, 404, "Not Found", NOT_FOUND_CC);
}

static void send_500(h2o_req_t *req)
{
    send_error(req, 500, "Internal Server Error", ERROR_CC);
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
    add_cors(req_worker(req)->h, req);
    count_response(req_worker(req), 200, is_method(req, "HEAD") ? 0 : body.len);
    h2o_start_response(req, &generator);
    if (is_method(req, "HEAD"))
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
        send_500(req);
        return;
    }
    *body = NULL;
    send_buffer(req, &buf, content_type, cache_control);
}

static void send_bprint(h2o_req_t *req, AVBPrint *bp, const char *content_type,
                        const char *cache_control)
{
    char *text = NULL;
    size_t len = bp->len;
    if (!av_bprint_is_complete(bp) || av_bprint_finalize(bp, &text) < 0 || !text) {
        if (!text)
            av_bprint_finalize(bp, NULL);
        send_500(req);
        return;
    }
    send_owned(req, &text, len, content_type, cache_control);
}

/* The Cache-Control of a published object, in the request's pool (h2o
 * keeps pointers to header values). */
static const char *obj_cache_control(h2o_req_t *req, const lr_store_obj *obj)
{
    char cache[64];

    if (obj->immutable)
        return IMMUTABLE_CC;
    if (obj->max_age_s <= 0)
        return "no-cache";
    snprintf(cache, sizeof(cache), "public, max-age=%d", obj->max_age_s);
    return pool_strdup(req, cache, strlen(cache));
}

/* A published redirect (a shed rendition's playlist: egress/packager.c):
 * 302 to the URI it holds, resolved against the request's path, with the
 * request's query kept (blocking-reload directives carry on there). */
static void send_redirect(h2o_req_t *req, lr_store_obj *obj)
{
    static h2o_generator_t generator = { NULL, NULL };
    size_t n = obj->data->size;
    size_t q = req->query_at != SIZE_MAX ? req->path.len - req->query_at : 0;
    char *loc = h2o_mem_alloc_pool(&req->pool, n + q + 1);

    memcpy(loc, obj->data->data, n);
    if (q)
        memcpy(loc + n, req->path.base + req->query_at, q);
    loc[n + q] = 0;
    req->res.status = 302;
    req->res.reason = "Found";
    req->res.content_length = 0;
    add_header(req, H2O_TOKEN_LOCATION, loc);
    add_header(req, H2O_TOKEN_CACHE_CONTROL, obj_cache_control(req, obj));
    add_cors(req_worker(req)->h, req);
    count_response(req_worker(req), 302, 0);
    h2o_start_response(req, &generator);
    h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
    lr_store_obj_unref(obj);
}

static void send_store_obj(h2o_req_t *req, lr_store_obj *obj, const char *cc_override)
{
    const char *cc;

    if (obj->redirect) {
        send_redirect(req, obj);
        return;
    }
    cc = cc_override ? pool_strdup(req, cc_override, strlen(cc_override))
                     : obj_cache_control(req, obj);

    send_buffer(req, &obj->data, obj->content_type ? obj->content_type : "application/octet-stream",
                cc);
    lr_store_obj_unref(obj);
}

/* The content type of a file served from disk, from its name; NULL: not
 * a kind we serve. in_audio: the file is under the "audio" rendition. */
static const char *file_content_type(const char *name, size_t len, int in_audio)
{
    if (has_suffix(name, len, ".m3u8"))
        return "application/vnd.apple.mpegurl";
    if (has_suffix(name, len, ".mp4"))
        return in_audio ? "audio/mp4" : "video/mp4";
    if (has_suffix(name, len, ".m4s"))
        return "video/iso.segment";
    if (has_suffix(name, len, ".ts"))
        return "video/mp2t";
    return NULL;
}

static int parse_number(const char *p, size_t len, int64_t max, int64_t *out);

typedef struct mapped_file {
    void  *addr;
    size_t size;
} mapped_file;

static void mapped_file_dispose(void *p)
{
    mapped_file *m = p;
    if (m->addr)
        munmap(m->addr, m->size);
}

/* Parses a single "bytes=a-b" / "bytes=a-" / "bytes=-n" range of a file of
 * size bytes. Returns 1 with [*first, *last], 0 when there is no usable
 * range header (multiple ranges, other units: the whole file is sent), or
 * -1 when the range can't be satisfied (416). */
static int parse_range(h2o_req_t *req, size_t size, size_t *first, size_t *last)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_RANGE, -1);
    if (i < 0)
        return 0;
    h2o_iovec_t v = req->headers.entries[i].value;
    char buf[64];
    if (v.len >= sizeof(buf) || v.len < 7 || memcmp(v.base, "bytes=", 6))
        return 0;
    memcpy(buf, v.base + 6, v.len - 6);
    buf[v.len - 6] = '\0';
    if (strchr(buf, ','))
        return 0;
    char *dash = strchr(buf, '-');
    if (!dash || strspn(buf, "0123456789- ") != strlen(buf))
        return 0;
    *dash = '\0';
    int64_t a = -1, b = -1;
    if (*buf && parse_number(buf, strlen(buf), INT64_MAX / 2, &a) < 0)
        return 0;
    if (dash[1] && parse_number(dash + 1, strlen(dash + 1), INT64_MAX / 2, &b) < 0)
        return 0;
    if (a < 0 && b < 0)
        return 0;
    if (a < 0) { /* the last b bytes */
        if (b == 0 || !size)
            return -1;
        *first = (size_t)b >= size ? 0 : size - b;
        *last = size - 1;
        return 1;
    }
    if ((size_t)a >= size || (b >= 0 && b < a))
        return -1;
    *first = a;
    *last = b < 0 || (size_t)b >= size ? size - 1 : (size_t)b;
    return 1;
}

/* Serves a regular file, mapped (the page cache's pages go straight to the
 * socket, nothing copied by us), with single-range support. Returns 0, or
 * -1 when the file can't be served (nothing sent). */
static int send_file(h2o_req_t *req, const char *path, const char *type, const char *cc)
{
    static h2o_generator_t generator = { NULL, NULL };
    struct stat st;
    size_t first = 0, last = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -1;
    }
    size_t size = st.st_size;
    mapped_file *m = h2o_mem_alloc_shared(&req->pool, sizeof(*m), mapped_file_dispose);
    m->addr = NULL;
    m->size = size;
    if (size) {
        void *a = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
        if (a == MAP_FAILED) {
            close(fd);
            return -1;
        }
        m->addr = a;
    }
    close(fd);

    add_header(req, H2O_TOKEN_CACHE_CONTROL, cc);
    add_header(req, H2O_TOKEN_ACCEPT_RANGES, "bytes");
    add_cors(req_worker(req)->h, req);
    int r = parse_range(req, size, &first, &last);
    if (r < 0) {
        char cr[64];
        snprintf(cr, sizeof(cr), "bytes */%zu", size);
        add_header(req, H2O_TOKEN_CONTENT_RANGE, pool_strdup(req, cr, strlen(cr)));
        count_response(req_worker(req), 416, 0);
        h2o_send_error_generic(req, 416, "Range Not Satisfiable", "range not satisfiable\n",
                               H2O_SEND_ERROR_KEEP_HEADERS);
        return 0;
    }
    h2o_iovec_t body = h2o_iovec_init(m->addr, size);
    req->res.status = 200;
    req->res.reason = "OK";
    if (r > 0) {
        char cr[96];
        snprintf(cr, sizeof(cr), "bytes %zu-%zu/%zu", first, last, size);
        add_header(req, H2O_TOKEN_CONTENT_RANGE, pool_strdup(req, cr, strlen(cr)));
        body = h2o_iovec_init((char *)m->addr + first, last - first + 1);
        req->res.status = 206;
        req->res.reason = "Partial Content";
    }
    req->res.content_length = body.len;
    add_header(req, H2O_TOKEN_CONTENT_TYPE, type);
    count_response(req_worker(req), req->res.status, is_method(req, "HEAD") ? 0 : body.len);
    h2o_start_response(req, &generator);
    if (is_method(req, "HEAD") || !body.len)
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
    else
        h2o_send(req, &body, 1, H2O_SEND_STATE_FINAL);
    return 0;
}

/* ---- paths -------------------------------------------------------------- */

/* Rejects what no client of ours sends and what could escape a prefix:
 * "..", NUL, percent-encoding, backslashes, control bytes, "//". */
static int path_is_safe(const char *p, size_t len)
{
    if (!len || p[0] != '/')
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = p[i];
        if (c < 0x21 || c >= 0x7f || c == '%' || c == '\\')
            return 0;
        if (i + 1 < len && ((c == '.' && p[i + 1] == '.') || (c == '/' && p[i + 1] == '/')))
            return 0;
    }
    return 1;
}

/* A file name component: [A-Za-z0-9_.-], not starting with '.'. */
static int component_valid(const char *p, size_t len)
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

/* Splits "<a>/<b>/<c>..." into at most max components, each valid.
 * Returns how many, or -1. */
static int split_components(const char *p, size_t len, h2o_iovec_t *out, int max)
{
    int n = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || p[i] == '/') {
            if (n == max || !component_valid(p + start, i - start))
                return -1;
            out[n++] = h2o_iovec_init(p + start, i - start);
            start = i + 1;
        }
    }
    return n;
}

/* ---- viewers and per-IP caps ------------------------------------------- */

/* Notes that ip fetched the media playlist of key ("<lecture>/<rend>"). */
static void viewer_seen(lr_http *h, const char *key, size_t key_len, const char *ip)
{
    char k[sizeof(((viewer_slot *)0)->key)];
    if (key_len >= sizeof(k))
        return;
    memcpy(k, key, key_len);
    k[key_len] = '\0';
    uint64_t hash = hash_bytes(k, key_len) ^ (hash_bytes(ip, strlen(ip)) * 31);
    hash = hash ? hash : 1;
    int64_t now = mono_s();

    pthread_mutex_lock(&h->viewers_lock);
    for (size_t n = 0, i = hash & (VIEWER_SLOTS - 1); n < 32; n++, i = (i + 1) & (VIEWER_SLOTS - 1)) {
        viewer_slot *s = &h->viewers[i];
        if (s->hash == hash || !s->hash || now - s->seen > VIEWER_WINDOW_S) {
            s->hash = hash;
            s->seen = now;
            memcpy(s->key, k, key_len + 1);
            break;
        }
    }
    pthread_mutex_unlock(&h->viewers_lock);
}

static int cmp_keys(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void render_viewers(lr_http *h, AVBPrint *out)
{
    int64_t now = mono_s();
    const char **keys = av_malloc_array(VIEWER_SLOTS, sizeof(*keys));
    size_t n = 0;

    if (!keys)
        return;
    pthread_mutex_lock(&h->viewers_lock);
    for (size_t i = 0; i < VIEWER_SLOTS; i++)
        if (h->viewers[i].hash && now - h->viewers[i].seen <= VIEWER_WINDOW_S)
            keys[n++] = av_strdup(h->viewers[i].key);
    pthread_mutex_unlock(&h->viewers_lock);
    qsort(keys, n, sizeof(*keys), cmp_keys);
    lr_metrics_family(out, "lr_http_viewers", "gauge",
                      "distinct client addresses that fetched the rendition's media playlist "
                      "in the last 30 s");
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && keys[j] && keys[i] && !strcmp(keys[j], keys[i]))
            j++;
        if (keys[i]) {
            const char *slash = strchr(keys[i], '/');
            char lec[96];
            snprintf(lec, sizeof(lec), "%.*s", slash ? (int)(slash - keys[i]) : 0, keys[i]);
            av_bprintf(out, "lr_http_viewers{lecture=\"");
            lr_metrics_label(out, lec);
            av_bprintf(out, "\",rendition=\"");
            lr_metrics_label(out, slash ? slash + 1 : "");
            av_bprintf(out, "\"} %zu\n", j - i);
        }
        i = j > i ? j : i + 1;
    }
    for (size_t i = 0; i < n; i++)
        av_free((void *)keys[i]);
    av_free(keys);
}

/* Counts a connection from ip; returns 0, or -1 when ip is at the cap. */
static int ip_acquire(lr_http *h, const char *ip)
{
    uint64_t b = hash_bytes(ip, strlen(ip)) & (IP_BUCKETS - 1);
    int ret = 0;
    pthread_mutex_lock(&h->ip_lock);
    ip_count *c = h->ips[b];
    while (c && strcmp(c->ip, ip))
        c = c->next;
    if (!c && (c = av_mallocz(sizeof(*c)))) {
        snprintf(c->ip, sizeof(c->ip), "%s", ip);
        c->next = h->ips[b];
        h->ips[b] = c;
    }
    if (!c || c->n >= h->conf->max_conns_per_ip)
        ret = -1;
    else
        c->n++;
    pthread_mutex_unlock(&h->ip_lock);
    return ret;
}

static void ip_release(lr_http *h, const char *ip)
{
    uint64_t b = hash_bytes(ip, strlen(ip)) & (IP_BUCKETS - 1);
    pthread_mutex_lock(&h->ip_lock);
    for (ip_count **pc = &h->ips[b]; *pc; pc = &(*pc)->next) {
        if (!strcmp((*pc)->ip, ip)) {
            ip_count *c = *pc;
            if (--c->n <= 0) {
                *pc = c->next;
                av_free(c);
            }
            break;
        }
    }
    pthread_mutex_unlock(&h->ip_lock);
}

/* ---- parking (blocking reload, preload hints) ---------------------------- */

static waitlist **park_slot(worker *w, const char *path, size_t len)
{
    waitlist **pw = &w->park[hash_bytes(path, len) & (PARK_BUCKETS - 1)];
    while (*pw && ((*pw)->len != len || memcmp((*pw)->path, path, len)))
        pw = &(*pw)->next;
    return pw;
}

/* p->wl of a request taken off its waitlist to be answered next. */
static waitlist answering;

/* Takes p off its waitlist (or the answering list) and timer, freeing an
 * emptied waitlist. */
static void unpark(parked *p)
{
    worker *w = p->w;
    if (!p->wl)
        return;
    if (p->wl == &answering) {
        h2o_linklist_unlink(&p->link);
        p->wl = NULL;
        return;
    }
    h2o_timeout_unlink(&p->timeout);
    h2o_linklist_unlink(&p->link);
    if (h2o_linklist_is_empty(&p->wl->parked)) {
        waitlist **pw = park_slot(w, p->wl->path, p->wl->len);
        if (*pw == p->wl) {
            *pw = p->wl->next;
            av_free(p->wl);
        }
    }
    p->wl = NULL;
    atomic_fetch_sub(&w->nb_parked, 1);
}

/* The request's pool is going (answered, or the client went away). */
static void parked_dispose(void *arg)
{
    unpark(arg);
}

static void on_park_timeout(h2o_timeout_entry_t *entry)
{
    parked *p = H2O_STRUCT_FROM_MEMBER(parked, timeout, entry);
    h2o_req_t *req = p->req;
    enum park_kind kind = p->kind;
    atomic_fetch_add_explicit(&p->w->park_timeouts, 1, memory_order_relaxed);
    unpark(p);
    /* RFC 8216bis 6.2.5.2: a playlist that can't be produced in time is a
     * temporary failure (503); a hinted part that never came is gone (404). */
    if (kind == PARK_PLAYLIST)
        send_error(req, 503, "Service Unavailable", ERROR_CC);
    else
        send_404(req);
}

static h2o_timeout_t *timeout_queue_for(worker *w, uint64_t ms)
{
    for (int i = 0; i < w->nb_tq; i++)
        if (w->tq[i].ms == ms)
            return &w->tq[i].t;
    if (w->nb_tq == MAX_TIMEOUT_QUEUES) {
        /* many distinct target durations: the nearest shorter queue */
        timeout_queue *best = &w->tq[0];
        for (int i = 1; i < w->nb_tq; i++)
            if (w->tq[i].ms <= ms && (best->ms > ms || w->tq[i].ms > best->ms))
                best = &w->tq[i];
        return &best->t;
    }
    timeout_queue *q = &w->tq[w->nb_tq++];
    q->ms = ms;
    h2o_timeout_init(w->ctx.loop, &q->t, ms);
    return &q->t;
}

/* Parks req until key is published (and satisfies it), or timeout_ms. */
static void park(h2o_req_t *req, const char *key, size_t len, enum park_kind kind, int64_t msn,
                 int part, uint64_t timeout_ms)
{
    worker *w = req_worker(req);
    waitlist **pw = park_slot(w, key, len);
    if (!*pw) {
        waitlist *wl = av_malloc(sizeof(*wl) + len + 1);
        if (!wl) {
            send_500(req);
            return;
        }
        wl->next = NULL;
        h2o_linklist_init_anchor(&wl->parked);
        wl->len = len;
        memcpy(wl->path, key, len);
        wl->path[len] = '\0';
        *pw = wl;
    }
    parked *p = h2o_mem_alloc_shared(&req->pool, sizeof(*p), parked_dispose);
    memset(p, 0, sizeof(*p));
    p->req = req;
    p->w = w;
    p->wl = *pw;
    p->kind = kind;
    p->msn = msn;
    p->part = part;
    p->timeout.cb = on_park_timeout;
    h2o_linklist_insert(&p->wl->parked, &p->link);
    h2o_timeout_link(w->ctx.loop, timeout_queue_for(w, timeout_ms), &p->timeout);
    atomic_fetch_add(&w->nb_parked, 1);
}

static int playlist_satisfies(const lr_store_obj *o, int64_t msn, int part)
{
    if (!o->ll || o->ll_ended)
        return 1;
    if (part < 0)
        return o->ll_msn_complete >= msn || o->ll_part_msn > msn;
    return o->ll_part_msn > msn || (o->ll_part_msn == msn && o->ll_part >= part);
}

static const char *blocking_cc(h2o_req_t *req, const lr_store_obj *o)
{
    char cc[64];
    int age = o->ll_target_duration > 0 ? 3 * o->ll_target_duration : 6;
    snprintf(cc, sizeof(cc), "public, max-age=%d", age);
    return pool_strdup(req, cc, strlen(cc));
}

/* A publication of path: answers what it satisfies among the requests this
 * worker has parked on it. Loop thread. */
static void wake_path(worker *w, const char *path, size_t len)
{
    waitlist **pw = park_slot(w, path, len);
    if (!*pw)
        return;
    lr_store_obj obj;
    if (lr_store_get(w->h->store, path, len, &obj) < 0)
        return;
    /* First move the satisfied ones to a list of their own: answering one
     * may close a connection and so dispose of others (which then take
     * themselves off whichever list they are on). */
    waitlist *wl = *pw;
    h2o_linklist_t ready;
    h2o_linklist_init_anchor(&ready);
    h2o_linklist_t *n = wl->parked.next;
    int emptied = 0;
    while (!emptied && n != &wl->parked) {
        parked *p = H2O_STRUCT_FROM_MEMBER(parked, link, n);
        n = n->next;
        if (p->kind == PARK_PLAYLIST && !playlist_satisfies(&obj, p->msn, p->part))
            continue;
        emptied = n == &wl->parked && wl->parked.next == &p->link;
        unpark(p); /* frees wl when p was its last */
        p->wl = &answering;
        h2o_linklist_insert(&ready, &p->link);
    }
    while (!h2o_linklist_is_empty(&ready)) {
        parked *p = H2O_STRUCT_FROM_MEMBER(parked, link, ready.next);
        h2o_req_t *req = p->req;
        enum park_kind kind = p->kind;
        unpark(p);
        lr_store_obj ref = obj;
        if (!(ref.data = av_buffer_ref(obj.data)))
            send_500(req);
        else
            send_store_obj(req, &ref, kind == PARK_PLAYLIST ? blocking_cc(req, &obj)
                                                            : IMMUTABLE_CC);
    }
    lr_store_obj_unref(&obj);
}

/* A published playlist whose newest part closed its segment (M, last part L)
 * tells that the preload hint "M.(L+1)" players may be holding will never
 * exist: those held requests get 404 now, not after the timeout, so the
 * player asks for (M+1).0 at once. Loop thread. */
static void fail_dead_hint(worker *w, const char *path, size_t len)
{
    static const char suffix[] = "index.m3u8";
    static const char *const exts[] = { "m4s", "ts" };
    lr_store_obj obj;

    if (len < sizeof(suffix) - 1 || memcmp(path + len - (sizeof(suffix) - 1), suffix,
                                            sizeof(suffix) - 1))
        return;
    if (lr_store_get(w->h->store, path, len, &obj) < 0)
        return;
    int dead = obj.ll && obj.ll_part >= 0 && obj.ll_part_msn == obj.ll_msn_complete;
    int64_t msn = obj.ll_part_msn;
    int part = obj.ll_part + 1;
    lr_store_obj_unref(&obj);
    if (!dead)
        return;
    for (size_t e = 0; e < sizeof(exts) / sizeof(exts[0]); e++) {
        char key[600];
        int n = snprintf(key, sizeof(key), "%.*s%" PRId64 ".%d.%s",
                         (int)(len - (sizeof(suffix) - 1)), path, msn, part, exts[e]);
        if (n <= 0 || n >= (int)sizeof(key))
            continue;
        waitlist **pw = park_slot(w, key, (size_t)n);
        if (!*pw)
            continue;
        /* As in wake_path: off the waitlist first, then answer. */
        h2o_linklist_t ready;
        h2o_linklist_init_anchor(&ready);
        while (*pw && (*pw)->len == (size_t)n && !memcmp((*pw)->path, key, (size_t)n)) {
            parked *p = H2O_STRUCT_FROM_MEMBER(parked, link, (*pw)->parked.next);
            unpark(p);  /* frees the waitlist (and moves *pw on) with its last */
            p->wl = &answering;
            h2o_linklist_insert(&ready, &p->link);
        }
        while (!h2o_linklist_is_empty(&ready)) {
            parked *p = H2O_STRUCT_FROM_MEMBER(parked, link, ready.next);
            h2o_req_t *req = p->req;
            unpark(p);
            send_404(req);
        }
    }
}

static void on_publish_message(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    worker *w = H2O_STRUCT_FROM_MEMBER(worker, publish_receiver, receiver);
    while (!h2o_linklist_is_empty(messages)) {
        publish_msg *m = H2O_STRUCT_FROM_MEMBER(publish_msg, super.link, messages->next);
        h2o_linklist_unlink(&m->super.link);
        if (!w->stopping) {
            wake_path(w, m->path, strlen(m->path));
            fail_dead_hint(w, m->path, strlen(m->path));
        }
        av_free(m);
    }
}

/* The store's publish callback (packager thread): a message to each loop
 * that has requests parked; nothing at all while none is. */
static void on_store_publish(void *opaque, const char *path)
{
    lr_http *h = opaque;
    size_t len = strlen(path);
    for (int i = 0; i < h->nb_workers; i++) {
        worker *w = &h->workers[i];
        if (!atomic_load_explicit(&w->nb_parked, memory_order_relaxed))
            continue;
        publish_msg *m = av_mallocz(sizeof(*m) + len + 1);
        if (!m) {
            lr_warn("http: out of memory waking parked requests for %s", path);
            continue;
        }
        memcpy(m->path, path, len + 1);
        h2o_multithread_send_message(&w->publish_receiver, &m->super);
    }
}

/* ---- /live/ ------------------------------------------------------------- */

typedef struct directives {
    int64_t msn;  /* -1: none */
    int     part; /* -1: none */
    int     skip; /* _HLS_skip=YES or v2 */
} directives;

static int parse_number(const char *p, size_t len, int64_t max, int64_t *out)
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

/* Reads _HLS_msn, _HLS_part, _HLS_skip from the query; others are ignored.
 * Returns 0, or -1 for anything RFC 8216bis calls a bad request. */
static int parse_directives(const char *q, size_t len, directives *d)
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
            if (seen_msn++ || parse_number(v, vl, INT64_MAX / 2, &num) < 0)
                return -1;
            d->msn = num;
        } else if (kl == 9 && !memcmp(q, "_HLS_part", 9)) {
            if (seen_part++ || parse_number(v, vl, 1000000, &num) < 0)
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

/* "<seq>.<part>.m4s" / ".ts": the part's numbers; 0 when name isn't a part. */
static int parse_part_name(const char *name, size_t len, int64_t *seq, int *part)
{
    size_t ext = has_suffix(name, len, ".m4s") ? 4 : has_suffix(name, len, ".ts") ? 3 : 0;
    if (!ext)
        return 0;
    const char *dot = memchr(name, '.', len - ext);
    int64_t s, p;
    if (!dot || parse_number(name, dot - name, INT64_MAX / 2, &s) < 0 ||
        parse_number(dot + 1, name + len - ext - dot - 1, 1000000, &p) < 0)
        return 0;
    *seq = s;
    *part = (int)p;
    return 1;
}

/* The next part after what pl lists: the one a preload hint names. */
static int is_next_part(const lr_store_obj *pl, int64_t seq, int part)
{
    if (!pl->ll || pl->ll_ended)
        return 0;
    return (seq == pl->ll_part_msn && part == pl->ll_part + 1) ||
           (seq == pl->ll_part_msn + 1 && part == 0);
}

/* DVR: "<rend>/<file>" of lecture from its disk dir. Returns 0 when served. */
static int serve_dvr(lr_http *h, h2o_req_t *req, const h2o_iovec_t *c)
{
    char dir[2048], path[4096];
    const char *type = file_content_type(c[2].base, c[2].len, h2o_memis(c[1].base, c[1].len,
                                                                        H2O_STRLIT("audio")));
    if (!type || has_suffix(c[2].base, c[2].len, ".m3u8"))
        return -1;
    if (lr_store_disk_dir(h->store, c[0].base, c[0].len, dir, sizeof(dir)) < 0)
        return -1;
    if (snprintf(path, sizeof(path), "%s/%.*s/%.*s", dir, (int)c[1].len, c[1].base,
                 (int)c[2].len, c[2].base) >= (int)sizeof(path))
        return -1;
    return send_file(req, path, type, IMMUTABLE_CC);
}

/* VLC 3 ("VLC/3.0.x LibVLC/3.0.x") gets the master without the audio-only
 * variant (playlist.h says why); everyone else the master as rendered. */
static int is_libvlc(h2o_req_t *req)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_USER_AGENT, -1);
    return i >= 0 && h2o_strstr(req->headers.entries[i].value.base,
                                req->headers.entries[i].value.len, H2O_STRLIT("LibVLC")) != SIZE_MAX;
}

/* A master playlist's bytes for this client: as they are, or rewritten for
 * VLC. Either way the answer varies with the User-Agent (caches must know). */
static void send_master(h2o_req_t *req, AVBufferRef **whole, const char *cache_control)
{
    add_header(req, H2O_TOKEN_VARY, "User-Agent");
    if (is_libvlc(req)) {
        char *text = NULL;
        size_t len = 0;
        int ret = lr_playlist_master_without_audio_only((const char *)(*whole)->data,
                                                        (*whole)->size, &text, &len);
        av_buffer_unref(whole);
        if (ret < 0) {
            send_500(req);
            return;
        }
        send_owned(req, &text, len, "application/vnd.apple.mpegurl", cache_control);
        return;
    }
    send_buffer(req, whole, "application/vnd.apple.mpegurl", cache_control);
}

static void serve_live(lr_http *h, h2o_req_t *req, const char *key, size_t len, const char *query,
                       size_t qlen)
{
    h2o_iovec_t c[3];
    int nc = split_components(key, len, c, 3);
    lr_store_obj obj;
    directives d = { -1, -1, 0 };

    if (nc < 2 || !lr_lecture_name_valid(pool_strdup(req, c[0].base, c[0].len))) {
        send_404(req);
        return;
    }
    int is_playlist = has_suffix(key, len, ".m3u8");
    if (is_playlist && parse_directives(query, qlen, &d) < 0) {
        send_400(req);
        return;
    }
    if (nc == 3 && is_playlist) {
        char ip[INET6_ADDRSTRLEN];
        peer_ip(req, ip, sizeof(ip));
        viewer_seen(h, key, c[2].base - 1 - key, ip);
    }

    /* the delta form when asked for and published; else the full playlist */
    const char *skey = key;
    size_t slen = len;
    if (d.skip) {
        char *k = h2o_mem_alloc_pool(&req->pool, len + sizeof("?_HLS_skip=YES"));
        memcpy(k, key, len);
        memcpy(k + len, "?_HLS_skip=YES", sizeof("?_HLS_skip=YES"));
        if (lr_store_get(h->store, k, len + sizeof("?_HLS_skip=YES") - 1, &obj) == 0) {
            skey = k;
            slen = len + sizeof("?_HLS_skip=YES") - 1;
            goto found;
        }
    }
    if (lr_store_get(h->store, key, len, &obj) < 0) {
        int64_t seq;
        int part;
        if (nc == 3 && parse_part_name(c[2].base, c[2].len, &seq, &part)) {
            char pk[512];
            int pkl = snprintf(pk, sizeof(pk), "%.*s/index.m3u8", (int)(c[2].base - 1 - key), key);
            lr_store_obj pl;
            if (pkl < (int)sizeof(pk) && lr_store_get(h->store, pk, pkl, &pl) == 0) {
                int next = is_next_part(&pl, seq, part);
                int td = pl.ll_target_duration > 0 ? pl.ll_target_duration : 2;
                lr_store_obj_unref(&pl);
                if (next) {
                    park(req, key, len, PARK_PART, seq, part, 3000ull * td);
                    return;
                }
            }
        }
        if (nc == 3 && serve_dvr(h, req, c) == 0)
            return;
        send_404(req);
        return;
    }
found:
    if (obj.ll && !obj.ll_ended && d.msn >= 0) {
        int64_t last = obj.ll_part >= 0 ? obj.ll_part_msn : obj.ll_msn_complete;
        if (d.msn > last + 2) {
            lr_store_obj_unref(&obj);
            send_400(req);
            return;
        }
        if (!playlist_satisfies(&obj, d.msn, d.part)) {
            int td = obj.ll_target_duration > 0 ? obj.ll_target_duration : 2;
            lr_store_obj_unref(&obj);
            park(req, skey, slen, PARK_PLAYLIST, d.msn, d.part, 3000ull * td);
            return;
        }
        send_store_obj(req, &obj, blocking_cc(req, &obj));
        return;
    }
    if (nc == 2 && h2o_memis(c[1].base, c[1].len, H2O_STRLIT("master.m3u8"))) {
        send_master(req, &obj.data, obj_cache_control(req, &obj));
        lr_store_obj_unref(&obj);
        return;
    }
    send_store_obj(req, &obj, NULL);
}

/* ---- /vod/ -------------------------------------------------------------- */

/* A recording's master playlist (written whole, atomically, small). */
static AVBufferRef *read_small_file(const char *path)
{
    uint8_t tmp[65536];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    ssize_t got = 0, n;
    AVBufferRef *b = NULL;

    if (fd < 0)
        return NULL;
    while (got < (ssize_t)sizeof(tmp) &&
           ((n = read(fd, tmp + got, sizeof(tmp) - got)) > 0 || (n < 0 && errno == EINTR)))
        got += n > 0 ? n : 0;
    close(fd);
    if (got > 0 && got < (ssize_t)sizeof(tmp) && (b = av_buffer_alloc(got)))
        memcpy(b->data, tmp, got);
    return b;
}

/* /vod/<lecture>/<id>/(master.m3u8 | recording.json | <rend>/<file>) */
static void serve_vod(lr_http *h, h2o_req_t *req, const char *rest, size_t len)
{
    const char *dir = h->conf->recordings_dir;
    h2o_iovec_t c[4];
    char path[4096];
    int nc = split_components(rest, len, c, 4);
    const char *type;

    if (!dir || !*dir || nc < 3 ||
        !lr_lecture_name_valid(pool_strdup(req, c[0].base, c[0].len)) ||
        !lr_recording_id_valid(c[1].base, c[1].len)) {
        send_404(req);
        return;
    }
    const h2o_iovec_t *file = &c[nc - 1];
    if (nc == 3 && h2o_memis(file->base, file->len, H2O_STRLIT("recording.json")))
        type = "application/json";
    else
        type = file_content_type(file->base, file->len,
                                 nc == 4 && h2o_memis(c[2].base, c[2].len, H2O_STRLIT("audio")));
    if (!type || (nc == 3 && !h2o_memis(file->base, file->len, H2O_STRLIT("master.m3u8")) &&
                  strcmp(type, "application/json"))) {
        send_404(req);
        return;
    }
    if (snprintf(path, sizeof(path), "%s/%.*s", dir, (int)len, rest) >= (int)sizeof(path)) {
        send_404(req);
        return;
    }
    /* playlists and the description change while recording; media never */
    const char *cc = has_suffix(file->base, file->len, ".m3u8") ||
                     has_suffix(file->base, file->len, ".json") ? "public, max-age=2"
                                                                 : IMMUTABLE_CC;
    if (nc == 3 && !strcmp(type, "application/vnd.apple.mpegurl")) {  /* the master */
        AVBufferRef *b = read_small_file(path);
        if (!b)
            send_404(req);
        else
            send_master(req, &b, cc);
        return;
    }
    if (send_file(req, path, type, cc) < 0)
        send_404(req);
}

/* ---- pages, lists, metrics ---------------------------------------------- */

static void serve_watch(lr_http *h, h2o_req_t *req, const char *name, size_t len,
                        const char *prefix)
{
    char lecture[LR_LECTURE_NAME_MAX + 1];
    char *html = NULL, *recs = NULL;
    size_t html_len;
    AVBPrint bp;

    if (!len || len > LR_LECTURE_NAME_MAX) {
        send_404(req);
        return;
    }
    memcpy(lecture, name, len);
    lecture[len] = '\0';
    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    lr_recordings_html(h->conf->recordings_dir, lecture, prefix, &bp);
    if (!av_bprint_is_complete(&bp) || av_bprint_finalize(&bp, &recs) < 0) {
        av_bprint_finalize(&bp, NULL);
        send_500(req);
        return;
    }
    int ret = lr_player_page_render(lecture, prefix, recs, &html, &html_len);
    av_free(recs);
    if (ret == AVERROR(EINVAL)) {
        send_404(req);
        return;
    }
    if (ret < 0) {
        send_500(req);
        return;
    }
    send_owned(req, &html, html_len, "text/html; charset=utf-8", "no-cache");
}

/* The live lectures (from the store) and the recorded ones (from disk), as
 * NUL-separated lists; on failure answers 500 and returns -1. */
static int list_lectures(lr_http *h, h2o_req_t *req, char **names, char **recorded)
{
    *names = *recorded = NULL;
    if (lr_store_list_lectures(h->store, names) < 0 ||
        lr_recordings_list_lectures(h->conf->recordings_dir, recorded) < 0) {
        av_freep(names);
        send_500(req);
        return -1;
    }
    return 0;
}

static void serve_index(lr_http *h, h2o_req_t *req)
{
    char *names, *recorded;
    AVBPrint bp;

    if (list_lectures(h, req, &names, &recorded) < 0)
        return;
    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    av_bprintf(&bp, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
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
    av_bprintf(&bp, "<h1>Recorded lectures</h1>\n");
    n = 0;
    for (const char *p = recorded; *p; p += strlen(p) + 1) {
        av_bprintf(&bp, "<h2>%s</h2>\n<ul>\n", p);
        AVBPrint items;
        av_bprint_init(&items, 0, AV_BPRINT_SIZE_UNLIMITED);
        lr_recordings_html(h->conf->recordings_dir, p, "", &items);
        av_bprintf(&bp, "%s</ul>\n", items.str);
        av_bprint_finalize(&items, NULL);
        n++;
    }
    if (!n)
        av_bprintf(&bp, "<p>No recordings.</p>\n");
    av_bprintf(&bp, "</body>\n</html>\n");
    av_free(names);
    av_free(recorded);
    send_bprint(req, &bp, "text/html; charset=utf-8", "no-cache");
}

static void json_names(AVBPrint *bp, const char *names)
{
    int first = 1;
    av_bprintf(bp, "[");
    for (const char *r = names; *r; r += strlen(r) + 1) {
        if (!component_valid(r, strlen(r)))
            continue;
        av_bprintf(bp, "%s\"%s\"", first ? "" : ",", r);
        first = 0;
    }
    av_bprintf(bp, "]");
}

/* {"live":[{"lecture","renditions":[...],"master","watch"}],
 *  "recorded":[{"lecture","recordings":[...]}]} */
static void serve_api_lectures(lr_http *h, h2o_req_t *req)
{
    char *names, *recorded;
    AVBPrint bp;

    if (list_lectures(h, req, &names, &recorded) < 0)
        return;
    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    av_bprintf(&bp, "{\"live\":[");
    int first = 1;
    for (const char *p = names; *p; p += strlen(p) + 1) {
        char *rends = NULL;
        if (!lr_lecture_name_valid(p) || lr_store_list_renditions(h->store, p, &rends) < 0)
            continue;
        av_bprintf(&bp, "%s{\"lecture\":\"%s\",\"master\":\"/live/%s/master.m3u8\","
                        "\"watch\":\"/watch/%s\",\"renditions\":", first ? "" : ",", p, p, p);
        json_names(&bp, rends);
        av_bprintf(&bp, "}");
        av_free(rends);
        first = 0;
    }
    av_bprintf(&bp, "],\"recorded\":[");
    first = 1;
    for (const char *p = recorded; *p; p += strlen(p) + 1) {
        av_bprintf(&bp, "%s{\"lecture\":\"%s\",\"recordings\":", first ? "" : ",", p);
        lr_recordings_json(h->conf->recordings_dir, p, &bp);
        av_bprintf(&bp, "}");
        first = 0;
    }
    av_bprintf(&bp, "]}\n");
    av_free(names);
    av_free(recorded);
    send_bprint(req, &bp, "application/json", "no-cache");
}

/* Every role's collectors in this process (in `run`, all three). */
static void serve_metrics(h2o_req_t *req)
{
    AVBPrint bp;
    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    lr_metrics_render(&bp);
    send_bprint(req, &bp, "text/plain; version=0.0.4; charset=utf-8", "no-store");
}

static void collect_http(void *opaque, AVBPrint *out)
{
    lr_http *h = opaque;
    uint64_t bytes = 0, timeouts = 0;
    int parked = 0, conns = 0;

    lr_metrics_family(out, "lr_http_responses_total", "counter",
                      "HTTP responses by status code (the server's own; libh2o's protocol "
                      "errors excluded)");
    for (int s = 100; s < MAX_STATUS; s++) {
        uint64_t n = 0;
        for (int i = 0; i < h->nb_workers; i++)
            n += atomic_load_explicit(&h->workers[i].status[s], memory_order_relaxed);
        if (n)
            av_bprintf(out, "lr_http_responses_total{code=\"%d\",class=\"%dxx\"} %llu\n", s,
                       s / 100, (unsigned long long)n);
    }
    for (int i = 0; i < h->nb_workers; i++) {
        bytes += atomic_load_explicit(&h->workers[i].bytes, memory_order_relaxed);
        timeouts += atomic_load_explicit(&h->workers[i].park_timeouts, memory_order_relaxed);
        parked += atomic_load(&h->workers[i].nb_parked);
        conns += atomic_load(&h->workers[i].nb_conns);
    }
    lr_metrics_family(out, "lr_http_response_body_bytes_total", "counter",
                      "response body bytes handed to the connections");
    av_bprintf(out, "lr_http_response_body_bytes_total %llu\n", (unsigned long long)bytes);
    lr_metrics_family(out, "lr_http_parked_requests", "gauge",
                      "blocking playlist reloads and preload-hint parts waiting");
    av_bprintf(out, "lr_http_parked_requests %d\n", parked);
    lr_metrics_family(out, "lr_http_park_timeouts_total", "counter",
                      "parked requests answered by their timeout (3 target durations)");
    av_bprintf(out, "lr_http_park_timeouts_total %llu\n", (unsigned long long)timeouts);
    lr_metrics_family(out, "lr_http_connections", "gauge", "open client connections");
    av_bprintf(out, "lr_http_connections %d\n", conns);
    render_viewers(h, out);
}

/* asset: hls.js (a day's caching: it changes only with an upgrade) or the
 * player's settings (revalidated: they change with lecture-relay). */
static void serve_asset(h2o_req_t *req, AVBufferRef *asset, const char *cache_control)
{
    AVBufferRef *ref;

    if (!asset || !(ref = av_buffer_ref(asset))) {
        send_404(req);
        return;
    }
    send_buffer(req, &ref, "application/javascript", cache_control);
}

static void serve_preflight(lr_http *h, h2o_req_t *req)
{
    static h2o_generator_t generator = { NULL, NULL };
    req->res.status = 204;
    req->res.reason = "No Content";
    add_cors(h, req);
    add_header_str(req, "access-control-allow-methods", "GET, HEAD, OPTIONS");
    add_header_str(req, "access-control-allow-headers", "Range");
    add_header_str(req, "access-control-max-age", "86400");
    add_header(req, H2O_TOKEN_CACHE_CONTROL, "public, max-age=86400");
    count_response(req_worker(req), 204, 0);
    h2o_start_response(req, &generator);
    h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
}

/* ---- routing ------------------------------------------------------------ */

/* "/t/<token>/<live|vod|watch>/<lecture>...": checks the token for that
 * lecture. Returns the length of "/t/<token>" when valid, 0 when the path
 * is not signed, -1 (403 sent) when the token is no good. */
static int check_signed(lr_http *h, h2o_req_t *req, const char *p, size_t len)
{
    if (!has_prefix(p, len, TOKEN_PREFIX))
        return 0;
    const char *tok = p + 3;
    const char *end = memchr(tok, '/', len - 3);
    if (!end)
        goto deny;
    const char *rest = end;
    size_t rlen = p + len - rest;
    size_t skip = has_prefix(rest, rlen, "/live/") ? 6 : has_prefix(rest, rlen, "/vod/") ? 5
                : has_prefix(rest, rlen, "/watch/") ? 7 : 0;
    if (!skip)
        goto deny;
    const char *lec = rest + skip;
    const char *lec_end = memchr(lec, '/', p + len - lec);
    size_t lec_len = lec_end ? (size_t)(lec_end - lec) : (size_t)(p + len - lec);
    char ip[INET6_ADDRSTRLEN];
    peer_ip(req, ip, sizeof(ip));
    if (lr_token_verify((const char *const *)h->conf->token_secrets, h->conf->nb_token_secrets,
                        tok, end - tok, lec, lec_len, (int64_t)time(NULL), ip) < 0)
        goto deny;
    return (int)(end - p);
deny:
    send_403(req);
    return -1;
}

static int headers_too_big(const h2o_req_t *req)
{
    size_t total = 0;
    for (size_t i = 0; i < req->headers.size; i++)
        total += req->headers.entries[i].name->len + req->headers.entries[i].value.len + 4;
    return total > MAX_HEADER_BYTES;
}

static void on_conn_close(void *data);

/* The connection a request came on, if it is one of ours. */
static conn *req_conn(h2o_req_t *req)
{
    h2o_socket_t *sock = req->conn->callbacks->get_socket ?
                         req->conn->callbacks->get_socket(req->conn) : NULL;

    return sock && sock->on_close.cb == on_conn_close ? sock->on_close.data : NULL;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    lr_http *h = ((route_handler *)self)->h;
    const char *p = req->path.base;
    size_t len = req->path.len, qlen = 0;
    const char *query = "";
    int signed_len;
    conn *c = req_conn(req);

    if (c && c->refused) {  /* over the per-IP cap (TLS): as refuse_busy says it */
        static const char body[] = "too many connections from here\n";
        add_header(req, H2O_TOKEN_RETRY_AFTER, "10");
        add_header(req, H2O_TOKEN_CACHE_CONTROL, ERROR_CC);
        count_response(req_worker(req), 503, sizeof(body) - 1);
        h2o_send_error_generic(req, 503, "Service Unavailable", body,
                               H2O_SEND_ERROR_KEEP_HEADERS | H2O_SEND_ERROR_HTTP1_CLOSE_CONNECTION);
        return 0;
    }
    if (headers_too_big(req)) {
        send_error(req, 431, "Request Header Fields Too Large", ERROR_CC);
        return 0;
    }
    if (is_method(req, "OPTIONS")) {
        serve_preflight(h, req);
        return 0;
    }
    if (!is_method(req, "GET") && !is_method(req, "HEAD")) {
        add_header(req, H2O_TOKEN_ALLOW, "GET, HEAD, OPTIONS");
        send_error(req, 405, "Method Not Allowed", ERROR_CC);
        return 0;
    }
    if (req->query_at != SIZE_MAX && req->query_at < len) {
        query = p + req->query_at + 1;
        qlen = len - req->query_at - 1;
        len = req->query_at;
    }
    if (len > MAX_PATH_LEN || qlen > MAX_PATH_LEN) {
        send_error(req, 414, "URI Too Long", ERROR_CC);
        return 0;
    }
    if (!p || !path_is_safe(p, len)) {
        send_400(req);
        return 0;
    }

    if ((signed_len = check_signed(h, req, p, len)) < 0)
        return 0;
    const char *prefix = pool_strdup(req, p, signed_len);
    p += signed_len;
    len -= signed_len;
    int gated = has_prefix(p, len, "/live/") || has_prefix(p, len, "/vod/") ||
                has_prefix(p, len, "/watch/");
    if (gated && !signed_len && h->conf->require_token) {
        send_403(req);
        return 0;
    }

#define IS(lit) (len == sizeof(lit) - 1 && !memcmp(p, lit, len))
    if (!signed_len && IS("/")) {
        serve_index(h, req);
    } else if (!signed_len && IS("/healthz")) {
        static const char ok[] = "ok\n";
        char *b = av_strdup(ok);
        if (!b)
            send_500(req);
        else
            send_owned(req, &b, sizeof(ok) - 1, "text/plain; charset=utf-8", "no-store");
    } else if (!signed_len && IS("/metrics")) {
        serve_metrics(req);
    } else if (!signed_len && IS("/api/v1/lectures")) {
        serve_api_lectures(h, req);
    } else if (!signed_len && IS("/assets/" HLS_JS_NAME)) {
        serve_asset(req, h->hls_js, "public, max-age=86400");
    } else if (!signed_len && IS("/assets/" LR_PLAYER_CONFIG_NAME)) {
        serve_asset(req, h->player_config, "public, max-age=60");
    } else if (has_prefix(p, len, "/watch/")) {
        serve_watch(h, req, p + 7, len - 7, prefix);
    } else if (has_prefix(p, len, "/live/")) {
        serve_live(h, req, p + 6, len - 6, query, qlen);
    } else if (has_prefix(p, len, "/vod/")) {
        serve_vod(h, req, p + 5, len - 5);
    } else {
        send_404(req);
    }
#undef IS
    return 0;
}

/* ---- connections and the loop ------------------------------------------- */

static void on_conn_close(void *data)
{
    conn *c = data;
    if (c->capped)
        ip_release(c->w->h, c->ip);
    if (c->refused)
        c->w->nb_refused--;
    atomic_fetch_sub(&c->w->nb_conns, 1);
    h2o_linklist_unlink(&c->link);
    av_free(c);
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

/* A plain HTTP connection over the per-IP cap gets a canned 503 (RFC 9110
 * 15.6.4) rather than a bare close, so a client can tell why; what it has
 * sent is read and discarded first, so that the close is a FIN, not a reset
 * that could destroy the answer. Best effort, never blocks. (Over TLS the
 * answer needs the handshake: such a connection is accepted as refused and
 * on_req answers it, see MAX_REFUSED.) */
static void refuse_busy(int fd)
{
    static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
                               "Retry-After: 10\r\n"
                               "Content-Type: text/plain; charset=utf-8\r\n"
                               "Content-Length: 32\r\n"
                               "Connection: close\r\n\r\n"
                               "too many connections from here\r\n";
    char sink[4096];

    if (fd < 0)
        return;
    while (recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
        ;
    if (send(fd, busy, sizeof(busy) - 1, MSG_DONTWAIT | MSG_NOSIGNAL) > 0)
        shutdown(fd, SHUT_WR);
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
        if (h->conf->max_conns_per_ip > 0) {
            struct sockaddr_storage ss;
            socklen_t sl = h2o_socket_getpeername(sock, (struct sockaddr *)&ss);
            char host[NI_MAXHOST] = "";
            if (sl)
                h2o_socket_getnumerichost((struct sockaddr *)&ss, sl, host);
            snprintf(c->ip, sizeof(c->ip), "%s", host);
            if (ip_acquire(h, c->ip) < 0) {
                lr_debug("http: %s is at max_conns_per_ip (%d): connection refused", c->ip,
                         h->conf->max_conns_per_ip);
                if (tls && w->nb_refused < MAX_REFUSED) {
                    c->refused = 1;
                    w->nb_refused++;
                } else {
                    av_free(c);
                    if (!tls)
                        refuse_busy(h2o_socket_get_fd(sock));
                    h2o_socket_close(sock);
                    continue;
                }
            }
            c->capped = !c->refused;
        }
        c->sock = sock;
        h2o_linklist_insert(&w->conns, &c->link);
        atomic_fetch_add(&w->nb_conns, 1);
        sock->on_close.cb = on_conn_close;
        sock->on_close.data = c;
        if (tls) {
            SSL_CTX *ctx = current_ssl_ctx(h);
            w->accept_ctx.ssl_ctx = ctx;
            h2o_accept(&w->accept_ctx, sock);
            w->accept_ctx.ssl_ctx = NULL;
            SSL_CTX_free(ctx); /* the connection's SSL holds its own reference */
        } else {
            h2o_accept(&w->accept_ctx, sock);
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
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
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

/* SIGHUP reloads the certificate: the handler only writes a byte to a pipe
 * that worker 0's loop reads. One server per process takes SIGHUP. */
static int hup_write_fd = -1;

static void on_sighup(int sig)
{
    int saved = errno;
    char b = 1;
    (void)sig;
    if (hup_write_fd >= 0 && write(hup_write_fd, &b, 1) < 0) {
        /* a full pipe already has a reload pending */
    }
    errno = saved;
}

static void on_hup_readable(h2o_socket_t *sock, const char *err)
{
    worker *w = sock->data;
    lr_http *h = w->h;
    if (err)
        return;
    h2o_buffer_consume(&sock->input, sock->input->size);
    SSL_CTX *ctx = make_ssl_ctx(h->conf->tls_cert, h->conf->tls_key);
    if (!ctx) {
        lr_error("http: SIGHUP: keeping the previous certificate");
        return;
    }
    pthread_mutex_lock(&h->ssl_lock);
    SSL_CTX *old = h->ssl_ctx;
    h->ssl_ctx = ctx;
    pthread_mutex_unlock(&h->ssl_lock);
    SSL_CTX_free(old);
    lr_info("http: SIGHUP: reloaded the certificate %s", h->conf->tls_cert);
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
            unpark(p);
            send_error(req, 503, "Service Unavailable", ERROR_CC);
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
    while (!h2o_linklist_is_empty(&w->conns)) {
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
     * not kill the process. SIGHUP goes to the other threads' handler. */
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    sigaddset(&set, SIGHUP);
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
    if (h->hup_pipe[1] >= 0) {
        if (hup_write_fd == h->hup_pipe[1]) {
            signal(SIGHUP, SIG_DFL);
            hup_write_fd = -1;
        }
        close(h->hup_pipe[1]);
    }
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

static int worker_init(lr_http *h, worker *w, int idx)
{
    const lr_egress_conf *c = h->conf;
    int ret, port;

    w->h = h;
    w->idx = idx;
    w->fd = w->tls_fd = -1;
    h2o_linklist_init_anchor(&w->conns);
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
    h2o_context_init(&w->ctx, w->loop, &h->config);
    w->ctx_inited = 1;
    w->accept_ctx.ctx = &w->ctx;
    w->accept_ctx.hosts = h->config.hosts;

    w->queue = h2o_multithread_create_queue(w->loop);
    h2o_multithread_register_receiver(w->queue, &w->stop_receiver, on_stop_message);
    h2o_multithread_register_receiver(w->queue, &w->publish_receiver, on_publish_message);
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
    return 0;
}

int lr_http_start(const lr_egress_conf *conf, lr_store *store, lr_http **out)
{
    lr_http *h;
    int ret;

    *out = NULL;
    if (!conf || !conf->http || !store)
        return AVERROR(EINVAL);
    h = av_mallocz(sizeof(*h));
    if (!h)
        return AVERROR(ENOMEM);
    h->conf = conf;
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
    if (conf->require_token && conf->nb_token_secrets == 0)
        lr_warn("http: egress.require_token without egress.token_secrets: every /live/, "
                "/vod/ and /watch/ request will get 403");

    if ((ret = load_asset(h, conf->assets_dir)) < 0)
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
    h->config.handshake_timeout = 10000;
    h2o_hostconf_t *host = h2o_config_register_host(&h->config,
                                                    h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    route_handler *rh = (route_handler *)h2o_create_handler(path, sizeof(*rh));
    rh->super.on_req = on_req;
    rh->h = h;

    for (int i = 0; i < h->nb_workers; i++)
        if ((ret = worker_init(h, &h->workers[i], i)) < 0)
            goto fail;
    if ((ret = lr_metrics_register(collect_http, h)) < 0)
        goto fail;
    h->metrics_handle = ret;
    lr_store_set_publish_cb(store, on_store_publish, h);
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
    if (h->hup_pipe[1] >= 0) {
        struct sigaction sa = { 0 };
        sa.sa_handler = on_sighup;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        hup_write_fd = h->hup_pipe[1];
        sigaction(SIGHUP, &sa, NULL);
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
