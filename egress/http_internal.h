/* egress/http_internal.h — what the files of the HTTP server share: its
 * limits, the server, worker, connection and parking structs, small helpers,
 * and the lr__http_ functions one file serves to another. Internal to
 * egress/http*.c; the server's API is http.h. */
#ifndef LR_EGRESS_HTTP_INTERNAL_H
#define LR_EGRESS_HTTP_INTERNAL_H

#include "http.h"
#include "http_parse.h"

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
#include "recording_disk.h"
#include "recordings_index.h"
#include "steer_peers.h"
#include "common/heartbeat.h"
#include "steering.h"
#include "playlist_sign.h"
#include "token.h"
#include "url_sign.h"

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
#define LR_HTTP_BEAT_MAX_MS 10000 /* an event loop silent this long is hung (watchdog) */
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

/* HTTP/2 budgets (http_h2guard.c; docs/http.md, "HTTP/2 abuse"). */
#define H2_RESET_BUDGET        32  /* streams a client may reset beyond those answered */
#define H2_MAX_BLOCK_FRAMES    8   /* HEADERS + CONTINUATION frames of one header block */
#define H2_MAX_FIELDS          100 /* header fields of one block (HTTP/1.1's limit too) */
#define H2_CONTROL_BURST       200 /* control frames at once ... */
#define H2_CONTROL_RATE        50  /* ... and a second, sustained */
#define H2_SMALL_WINDOW_UPDATE 128 /* a WINDOW_UPDATE below this is a control frame */
#define H2_MAX_UNFINISHED      4   /* requests open at once whose END_STREAM has not come */

enum h2_abuse {
    H2_ABUSE_RESETS, H2_ABUSE_HEADER_BLOCK, H2_ABUSE_CONTROL, H2_ABUSE_UNFINISHED,
    H2_ABUSE_KINDS
};

struct st_h2o_http2_conn_t;

/* What an HTTP/2 connection has spent of its budgets. */
typedef struct lr_h2_guard {
    ssize_t (*next)(struct st_h2o_http2_conn_t *, const uint8_t *, size_t, const char **);
    uint64_t streams, resets;  /* opened by HEADERS; RST_STREAM from the client */
    uint32_t last_stream;
    uint32_t cancelled_ahead;  /* the stream being opened, when its RST_STREAM is read */
    uint32_t block_bytes;      /* the header block being read */
    int      block_frames, in_block;
    uint8_t *block;            /* ... gathered, when it spans frames */
    size_t   block_len;
    int      preface_done;
    double   tokens;           /* control frames */
    uint64_t refilled_ms;
} lr_h2_guard;

typedef struct conn {
    h2o_linklist_t link;   /* in worker.conns */
    h2o_socket_t  *sock;
    worker        *w;
    int            capped; /* counted in the per-IP table */
    int            refused; /* over TLS, over the per-IP cap (1) or max_conns (2): every
                               request gets 503 */
    int            shut;
    char           ip[INET6_ADDRSTRLEN];
    struct timeval connected_at;
    h2o_timeout_entry_t accept_timeout; /* until HTTP/1.1 or HTTP/2 is chosen */
    lr_h2_guard    h2;
    int            linger_fd;       /* http_linger.c: the socket after libh2o's close */
    int            linger_unsent;   /* ... bytes not yet acknowledged */
    uint64_t       linger_moved_ms; /* ... when the client last made progress */
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
    h2o_linklist_t             lingering; /* conns closed by libh2o, their answer still
                                             going out (http_linger.c) */
    h2o_timeout_t              linger_t;
    h2o_timeout_entry_t        linger_e;
    int                        linger_inited;

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
    h2o_timeout_t              beat_t;   /* a beat a second proves the loop runs */
    h2o_timeout_entry_t        beat_e;
    int                        beat_inited;
    lr_heartbeat               hb;       /* common/heartbeat.h: systemd's watchdog */

    /* counters: written by this worker's thread only, read when scraped */
    atomic_uint_fast64_t       status[MAX_STATUS];
    atomic_uint_fast64_t       bytes;
    atomic_uint_fast64_t       park_timeouts;
    atomic_int                 nb_conns;
    int                        nb_refused; /* TLS connections answered 503 (conn.refused) */
    atomic_uint_fast64_t       h2_refused[H2_ABUSE_KINDS]; /* HTTP/2 connections sent GOAWAY */
    atomic_uint_fast64_t       h2_cancelled; /* requests not rendered: their reset was read */
    uint64_t                   h2_logged_ms; /* the last GOAWAY logged (one a second) */
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
    /* What a reload changes (lr_http_reload): the token secrets, require_token,
     * metrics_token and the certificate's files are read from this one; the
     * configurations it pointed to before stay alive (app/roles.c keeps them). */
    _Atomic(const lr_egress_conf *) access;
    int                        url_sign_kind; /* conf->url_signing (url_sign.h) */
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
    int                        viewers_counted; /* lr__http_viewers_total's, ... */
    int64_t                    viewers_counted_at; /* ... at this second */
    lr_steer_peers            *peers;  /* egress.steering's peers, polled; NULL none */
    lr_recordings_index       *recs;   /* the recordings on disk, kept off the loops */
    lr_cidr                    prefixes[LR_MAX_PREFIXES]; /* egress.steering's, parsed */
    int                        nb_prefixes;

    pthread_mutex_t            ip_lock;
    ip_count                  *ips[IP_BUCKETS];
    lr_cidr                    uncapped[LR_MAX_UNCAPPED]; /* egress.uncapped, parsed */
    int                        nb_uncapped;
    int                        uncapped_loopback;         /* "loopback" is in it */
};

/* ---- small helpers ------------------------------------------------------ */

static inline const lr_egress_conf *lr__http_access(lr_http *h)
{
    return atomic_load_explicit(&h->access, memory_order_acquire);
}

static inline uint64_t hash_bytes(const char *p, size_t len)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ULL;
    }
    return h ? h : 1;
}

static inline int64_t mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

static inline int has_prefix(const char *p, size_t len, const char *prefix)
{
    size_t plen = strlen(prefix);
    return len >= plen && !memcmp(p, prefix, plen);
}

static inline int has_suffix(const char *p, size_t len, const char *suffix)
{
    size_t sl = strlen(suffix);
    return len >= sl && !memcmp(p + len - sl, suffix, sl);
}

static inline int is_method(const h2o_req_t *req, const char *m)
{
    return h2o_memis(req->method.base, req->method.len, m, strlen(m));
}

static inline char *pool_strdup(h2o_req_t *req, const char *s, size_t len)
{
    char *d = h2o_mem_alloc_pool(&req->pool, len + 1);
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

static inline worker *req_worker(h2o_req_t *req)
{
    return H2O_STRUCT_FROM_MEMBER(worker, ctx, req->conn->ctx);
}

static inline void peer_ip(h2o_req_t *req, char *out, size_t size)
{
    struct sockaddr_storage ss;
    char tmp[NI_MAXHOST];
    socklen_t len = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);
    out[0] = '\0';
    if (len && h2o_socket_getnumerichost((struct sockaddr *)&ss, len, tmp) != SIZE_MAX)
        snprintf(out, size, "%.*s", INET6_ADDRSTRLEN - 1, tmp);
}

/* ---- what the files of the server share ---- */

/* http_respond.c */
void lr__http_add_header(h2o_req_t *req, const h2o_token_t *token, const char *value);
void lr__http_add_header_str(h2o_req_t *req, const char *name, const char *value);
void lr__http_add_cors(lr_http *h, h2o_req_t *req);
void lr__http_count_response(worker *w, int status, size_t bytes);
void lr__http_send_error(h2o_req_t *req, int status, const char *reason, const char *cc);
void lr__http_send_400(h2o_req_t *req);
void lr__http_send_403(h2o_req_t *req);
void lr__http_send_404(h2o_req_t *req);
void lr__http_send_500(h2o_req_t *req);
void lr__http_send_buffer(h2o_req_t *req, AVBufferRef **buf, const char *content_type,
                          const char *cache_control);
void lr__http_send_owned(h2o_req_t *req, char **body, size_t len, const char *content_type,
                         const char *cache_control);
void lr__http_send_bprint(h2o_req_t *req, AVBPrint *bp, const char *content_type,
                          const char *cache_control);
const char *lr__http_obj_cache_control(h2o_req_t *req, const lr_store_obj *obj);
int lr__http_check_query_signature(lr_http *h, const char *path, size_t len, const char *query,
                                   size_t qlen, lr_url_signer *s);
int lr__http_query_signer(h2o_req_t *req, lr_url_signer *s);
void lr__http_send_playlist(h2o_req_t *req, AVBufferRef **text, const char *cache_control);
void lr__http_send_store_obj(h2o_req_t *req, lr_store_obj *obj, const char *cc_override);

/* http_file.c */
const char *lr__http_file_content_type(const char *name, size_t len, int in_audio);
int lr__http_send_file(h2o_req_t *req, const char *root, const char *rel, const char *type,
                       const char *cc);
void lr__http_serve_vod(lr_http *h, h2o_req_t *req, const char *rest, size_t len);

/* http_routes.c */
int lr__http_split_components(const char *p, size_t len, h2o_iovec_t *out, int max);
int lr__http_on_req(h2o_handler_t *self, h2o_req_t *req);

/* http_limits.c */
void lr__http_viewer_seen(lr_http *h, const char *key, size_t key_len, const char *ip);
void lr__http_render_viewers(lr_http *h, AVBPrint *out);
int lr__http_ip_acquire(lr_http *h, const char *ip);
/* Whether ip (a numeric address) is this machine's: 127.0.0.0/8, ::1 or
 * IPv4-mapped 127.x. */
int lr__http_ip_is_loopback(const char *ip);
/* Whether ip is free of the per-address cap (egress.uncapped). */
int lr__http_ip_uncapped(const lr_http *h, const char *ip);
/* Open connections and parked requests, summed over the loops. */
int lr__http_open_conns(lr_http *h);
int lr__http_parked_requests(lr_http *h);
/* Whether the whole server is at egress.max_conns, or at max_parked. */
int lr__http_at_max_conns(lr_http *h);
int lr__http_at_max_parked(lr_http *h);
int lr__http_viewers_total(lr_http *h);
void lr__http_ip_release(lr_http *h, const char *ip);

/* http_park.c */
void lr__http_unpark(parked *p);
void lr__http_park(h2o_req_t *req, const char *key, size_t len, enum park_kind kind, int64_t msn,
                   int part, uint64_t timeout_ms);
int lr__http_playlist_satisfies(const lr_store_obj *o, int64_t msn, int part);
const char *lr__http_blocking_cc(h2o_req_t *req, const lr_store_obj *o);
void lr__http_on_publish_message(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages);
void lr__http_on_store_publish(void *opaque, const char *path);

/* http_live.c */
void lr__http_send_master(h2o_req_t *req, AVBufferRef **whole, const char *cache_control);
void lr__http_serve_live(lr_http *h, h2o_req_t *req, const char *key, size_t len, const char *query,
                         size_t qlen);
void lr__http_send_shed_playlist(lr_http *h, h2o_req_t *req, const char *key, size_t len,
                                 lr_store_obj *obj, int64_t msn, int part);

/* http_steer.c */
void lr__http_serve_steering(lr_http *h, h2o_req_t *req, const char *rest, size_t len);
void lr__http_serve_node(lr_http *h, h2o_req_t *req);
/* http_pages.c */
void lr__http_serve_watch(lr_http *h, h2o_req_t *req, const char *name, size_t len,
                          const char *prefix);
void lr__http_serve_index(lr_http *h, h2o_req_t *req);
void lr__http_serve_api_lectures(lr_http *h, h2o_req_t *req);
void lr__http_serve_metrics(h2o_req_t *req);
void lr__http_collect_http(void *opaque, AVBPrint *out);
/* The current TLS certificate's notAfter (Unix seconds), 0 without TLS. */
int64_t lr__http_cert_not_after(lr_http *h);
void lr__http_serve_asset(h2o_req_t *req, AVBufferRef *asset, const char *cache_control);
void lr__http_serve_preflight(lr_http *h, h2o_req_t *req);

/* http.c */
conn *lr__http_req_conn(h2o_req_t *req);
void lr__http_conn_free(conn *c); /* releases its caps' counts */

/* http_linger.c: lingering close. keep takes the second descriptor at
 * accept; start, called when libh2o has closed the connection, returns 1 if
 * the connection lingers (it is freed later), 0 if it can be freed now. */
void lr__http_linger_init(worker *w);
void lr__http_linger_keep(conn *c);
int lr__http_linger_start(conn *c);
void lr__http_linger_dispose(worker *w);

/* http_h2guard.c: HTTP/1.1 or HTTP/2 for a new connection, and the
 * HTTP/2 guard. */
void lr__http_accept_plain(conn *c);
void lr__http_accept_tls(conn *c, SSL_CTX *ctx);
int lr__http_h2_cancelled(h2o_req_t *req, conn *c);
const char *lr__http_h2_abuse_name(int kind);

#endif
