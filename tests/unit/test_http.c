/* tests/unit/test_http.c — the egress HTTP server (egress/http*.c) over a
 * real loopback socket: a tiny blocking HTTP/1.1 client checks routes,
 * headers, bodies, rejections, and that lr_http_stop returns promptly even
 * with a keep-alive connection open. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <cmocka.h>

#include <libavutil/buffer.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "common/config.h"
#include "egress/http.h"
#include "egress/store.h"

typedef struct fixture {
    lr_store *store;
    lr_http  *http;
    char      assets[64];
} fixture;

typedef struct response {
    int    status;
    char  *head; /* raw header block, NUL-terminated */
    char  *body;
    size_t body_len;
} response;

/* libh2o 2.2 recycles memory-pool chunks through a free list that is static
 * and thread-local inside the library, with no call to empty it: each loop
 * thread that ends leaves its few cached 4 KiB chunks behind. That cache, and
 * only it, is not ours to free. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:h2o_mem_alloc_pool\n";
}

/* libh2o is built without frame pointers: unwind slowly so the suppression
 * above sees the frame it names. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "fast_unwind_on_malloc=0";
}

/* lr_http_start takes the egress section, which must outlive the server:
 * a few static ones, handed out in turn. */
static int start_http(const char *listen, lr_store *st, const char *assets, lr_http **out)
{
    static lr_egress_conf confs[8];
    static int next;
    lr_egress_conf *c = &confs[next++ % 8];
    memset(c, 0, sizeof(*c));
    c->http = (char *)listen;
    c->assets_dir = (char *)assets;
    c->http_threads = 1;
    c->tls_listen = c->tls_cert = c->tls_key = (char *)"";
    c->cors_origins = (char *)"*";
    c->recordings_dir = (char *)"";
    return lr_http_start(c, st, out);
}

static const char hls_js[] = "/* fake hls.js */ var Hls = function () {};\n";

/* A client socket connected to the server; rcvbuf > 0 sets its receive
 * buffer first (a small window). */
static int connect_with_rcvbuf(int port, int rcvbuf)
{
    struct sockaddr_in sa = { 0 };
    struct timeval tv = { 5, 0 };
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    if (rcvbuf > 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

static int connect_to(int port)
{
    return connect_with_rcvbuf(port, 0);
}

static void send_all(int fd, const char *p, size_t len)
{
    while (len) {
        ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
        assert_true(w > 0);
        p += w;
        len -= w;
    }
}

/* Reads one response; with close_delimited, until EOF, else by Content-Length. */
static void read_response(int fd, int is_head, response *r)
{
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    char *end = NULL;
    long clen = -1;

    assert_non_null(buf);
    memset(r, 0, sizeof(*r));
    for (;;) {
        if (len + 1 >= cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        if (end) {
            size_t hl = end + 4 - buf;
            if (clen >= 0 && len >= hl + clen)
                break;
        }
        ssize_t n = recv(fd, buf + len, cap - len - 1, 0);
        assert_true(n >= 0); /* a timeout fails the test instead of hanging */
        if (n == 0)
            break;
        len += n;
        buf[len] = '\0';
        if (!end && (end = strstr(buf, "\r\n\r\n"))) {
            char *cl = strcasestr(buf, "\r\ncontent-length:");
            clen = cl && cl < end ? strtol(cl + 17, NULL, 10) : -1;
            if (is_head)
                clen = 0;
        }
    }
    buf[len] = '\0';
    assert_non_null(end = strstr(buf, "\r\n\r\n"));
    assert_int_equal(sscanf(buf, "HTTP/1.%*d %d", &r->status), 1);
    size_t hl = end + 4 - buf;
    r->head = strndup(buf, hl);
    r->body_len = len - hl;
    r->body = malloc(r->body_len + 1);
    memcpy(r->body, buf + hl, r->body_len);
    r->body[r->body_len] = '\0';
    free(buf);
}

static void response_free(response *r)
{
    free(r->head);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

/* The value of header name in r (case-insensitive name), or NULL. */
static char *header(const response *r, const char *name, char *out, size_t size)
{
    char pat[128];
    snprintf(pat, sizeof(pat), "\r\n%s:", name);
    const char *p = strcasestr(r->head, pat);
    if (!p)
        return NULL;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    size_t n = strcspn(p, "\r");
    if (n >= size)
        n = size - 1;
    memcpy(out, p, n);
    out[n] = '\0';
    return out;
}

static void request(int port, const char *method, const char *path, response *r)
{
    char req[4096];
    int fd = connect_to(port);
    int n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                     method, path);
    assert_true(n > 0 && (size_t)n < sizeof(req));
    send_all(fd, req, n);
    read_response(fd, !strcmp(method, "HEAD"), r);
    close(fd);
}

static void put(lr_store *st, const char *path, const void *data, size_t len, const char *type,
                int max_age, int immutable)
{
    AVBufferRef *b = av_buffer_alloc(len);
    assert_non_null(b);
    memcpy(b->data, data, len);
    lr_store_obj obj = { .data = b, .content_type = type, .max_age_s = max_age,
                         .immutable = immutable };
    assert_int_equal(lr_store_put(st, path, &obj), 0);
    av_buffer_unref(&b);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    snprintf(f->assets, sizeof(f->assets), "/tmp/lr_test_http_XXXXXX");
    assert_non_null(mkdtemp(f->assets));
    char path[128];
    snprintf(path, sizeof(path), "%s/hls.min.js", f->assets);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    fwrite(hls_js, 1, sizeof(hls_js) - 1, fp);
    fclose(fp);

    f->store = lr_store_alloc();
    assert_non_null(f->store);
    assert_int_equal(start_http("127.0.0.1:0", f->store, f->assets, &f->http), 0);
    assert_true(lr_http_port(f->http) > 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char path[128];
    lr_http_stop(&f->http);
    lr_store_free(&f->store);
    snprintf(path, sizeof(path), "%s/hls.min.js", f->assets);
    unlink(path);
    rmdir(f->assets);
    free(f);
    return 0;
}

static void test_segment(void **state)
{
    fixture *f = *state;
    int port = lr_http_port(f->http);
    uint8_t seg[188 * 700];
    char v[256];
    response r;

    for (size_t i = 0; i < sizeof(seg); i++)
        seg[i] = (uint8_t)(i * 31 + (i >> 8));
    seg[0] = 0x47;
    put(f->store, "demo/720p/42.ts", seg, sizeof(seg), "video/mp2t", 3600, 1);

    request(port, "GET", "/live/demo/720p/42.ts", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, sizeof(seg));
    assert_memory_equal(r.body, seg, sizeof(seg));
    assert_string_equal(header(&r, "Content-Type", v, sizeof(v)), "video/mp2t");
    assert_string_equal(header(&r, "Cache-Control", v, sizeof(v)), "public, max-age=31536000, immutable");
    assert_string_equal(header(&r, "Access-Control-Allow-Origin", v, sizeof(v)), "*");
    assert_int_equal(atol(header(&r, "Content-Length", v, sizeof(v))), sizeof(seg));
    response_free(&r);

    /* a query string (LL-HLS directives, cache busters) is ignored */
    request(port, "GET", "/live/demo/720p/42.ts?x=1", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, sizeof(seg));
    response_free(&r);

    /* HEAD: same headers, no body */
    request(port, "HEAD", "/live/demo/720p/42.ts", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 0);
    assert_int_equal(atol(header(&r, "Content-Length", v, sizeof(v))), sizeof(seg));
    response_free(&r);
}

static void test_playlist_cache_control(void **state)
{
    fixture *f = *state;
    int port = lr_http_port(f->http);
    const char pl[] = "#EXTM3U\n#EXT-X-VERSION:3\n";
    char v[256];
    response r;

    put(f->store, "demo/master.m3u8", pl, sizeof(pl) - 1, "application/vnd.apple.mpegurl", 1, 0);
    put(f->store, "demo/720p/index.m3u8", pl, sizeof(pl) - 1, "application/vnd.apple.mpegurl", 0, 0);
    request(port, "GET", "/live/demo/master.m3u8", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, pl);
    assert_string_equal(header(&r, "Content-Type", v, sizeof(v)), "application/vnd.apple.mpegurl");
    assert_string_equal(header(&r, "Cache-Control", v, sizeof(v)), "public, max-age=1");
    response_free(&r);
    request(port, "GET", "/live/demo/720p/index.m3u8", &r);
    assert_string_equal(header(&r, "Cache-Control", v, sizeof(v)), "no-cache");
    response_free(&r);

    /* the index lists live lectures and links to their pages */
    request(port, "GET", "/", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "href=\"/watch/demo\""));
    assert_string_equal(header(&r, "Cache-Control", v, sizeof(v)), "no-cache");
    response_free(&r);
}

static void test_errors(void **state)
{
    fixture *f = *state;
    int port = lr_http_port(f->http);
    char v[256], longpath[2100];
    response r;

    request(port, "GET", "/live/demo/720p/missing.ts", &r);
    assert_int_equal(r.status, 404);
    response_free(&r);
    request(port, "GET", "/live/", &r);
    assert_int_equal(r.status, 404);
    response_free(&r);
    request(port, "GET", "/nope", &r);
    assert_int_equal(r.status, 404);
    response_free(&r);

    request(port, "POST", "/live/demo/master.m3u8", &r);
    assert_int_equal(r.status, 405);
    assert_non_null(header(&r, "Allow", v, sizeof(v)));
    assert_non_null(strstr(v, "GET"));
    response_free(&r);
    request(port, "DELETE", "/healthz", &r);
    assert_int_equal(r.status, 405);
    response_free(&r);

    static const char *const bad[] = {
        "/live/../etc/passwd", "/live/demo/../../x", "/watch/..", "/live/%2e%2e/x",
        "/live/demo%00.ts", "/live/demo/..%2fmaster.m3u8",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        request(port, "GET", bad[i], &r);
        assert_true(r.status == 400 || r.status == 404);
        response_free(&r);
    }
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[sizeof(longpath) - 1] = '\0';
    memcpy(longpath, "/live/", 6);
    request(port, "GET", longpath, &r);
    assert_true(r.status == 400 || r.status == 404 || r.status == 414);
    response_free(&r);

    /* a raw NUL byte inside the request line */
    {
        static const char raw[] = "GET /live/de\0mo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        int fd = connect_to(port);
        send_all(fd, raw, sizeof(raw) - 1);
        char buf[512];
        ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
        if (n > 0) {
            buf[n] = '\0';
            assert_null(strstr(buf, " 200 "));
        }
        close(fd);
    }
    /* garbage instead of HTTP */
    {
        int fd = connect_to(port);
        send_all(fd, "\x16\x03\x01garbage\r\n\r\n", 14);
        char buf[512];
        (void)!recv(fd, buf, sizeof(buf), 0);
        close(fd);
    }
    /* the server is still fine */
    request(port, "GET", "/healthz", &r);
    assert_int_equal(r.status, 200);
    response_free(&r);
}

static void test_healthz_and_assets(void **state)
{
    fixture *f = *state;
    int port = lr_http_port(f->http);
    char v[256];
    response r;

    request(port, "GET", "/healthz", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "ok\n");
    assert_non_null(strstr(header(&r, "Content-Type", v, sizeof(v)), "text/plain"));
    response_free(&r);

    request(port, "GET", "/assets/hls.min.js", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, hls_js);
    assert_string_equal(header(&r, "Content-Type", v, sizeof(v)), "application/javascript");
    assert_string_equal(header(&r, "Cache-Control", v, sizeof(v)), "public, max-age=86400");
    response_free(&r);

    request(port, "GET", "/assets/lr-player.js", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "window.lrHlsConfig"));
    assert_non_null(strstr(r.body, "maxLiveSyncPlaybackRate"));
    assert_non_null(strstr(r.body, "window.lrWatchdog"));
    assert_string_equal(header(&r, "Content-Type", v, sizeof(v)), "application/javascript");
    assert_string_equal(header(&r, "Cache-Control", v, sizeof(v)), "public, max-age=60");
    response_free(&r);

    request(port, "GET", "/assets/other.js", &r);
    assert_int_equal(r.status, 404);
    response_free(&r);
}

static void test_watch(void **state)
{
    fixture *f = *state;
    int port = lr_http_port(f->http);
    char v[256];
    response r;

    request(port, "GET", "/watch/demo", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(header(&r, "Content-Type", v, sizeof(v)), "text/html; charset=utf-8");
    assert_string_equal(header(&r, "Cache-Control", v, sizeof(v)), "no-cache");
    assert_non_null(strstr(r.body, "/live/demo/master.m3u8"));
    assert_non_null(strstr(r.body, "/assets/hls.min.js"));
    assert_non_null(strstr(r.body, "/assets/lr-player.js"));
    assert_non_null(strstr(r.body, "window.lrHlsConfig"));
    assert_non_null(strstr(r.body, "id=\"video\""));
    assert_non_null(strstr(r.body, "window.hlsFatalError"));
    assert_non_null(strstr(r.body, "window.hls"));
    assert_non_null(strstr(r.body, "application/vnd.apple.mpegurl"));
    response_free(&r);

    static const char *const bad[] = {
        "/watch/", "/watch/<script>", "/watch/a\"b", "/watch/demo/x", "/watch/-x",
        "/watch/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        request(port, "GET", bad[i], &r);
        assert_true(r.status == 404 || r.status == 400);
        assert_null(strstr(r.body, "<script>"));
        response_free(&r);
    }
}

/* A reference taken by a request outlives the object's replacement. */
static void test_replace_while_serving(void **state)
{
    fixture *f = *state;
    int port = lr_http_port(f->http);
    static uint8_t big[4 << 20];
    response r;

    memset(big, 'A', sizeof(big));
    put(f->store, "demo/big.ts", big, sizeof(big), "video/mp2t", 60, 1);
    int fd = connect_to(port);
    static const char req[] = "GET /live/demo/big.ts HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    send_all(fd, req, sizeof(req) - 1);
    /* let the server start writing, then replace and drop the object */
    char first[16];
    assert_true(recv(fd, first, sizeof(first), MSG_PEEK) > 0);
    memset(big, 'B', sizeof(big));
    put(f->store, "demo/big.ts", big, 10, "video/mp2t", 60, 1);
    lr_store_remove(f->store, "demo/big.ts");
    read_response(fd, 0, &r);
    close(fd);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, sizeof(big));
    for (size_t i = 0; i < r.body_len; i += 4099)
        assert_int_equal(r.body[i], 'A');
    response_free(&r);
}

/* libh2o closes a Connection: close answer's socket once its last write is
 * handed to the kernel; a request it never read still queued there turns that
 * close into a reset, which throws away what the client has not read
 * (egress/http_linger.c). The small receive window keeps most of the answer
 * in the server's send queue when that happens. */
static void test_close_lingers_until_the_client_has_read(void **state)
{
    fixture *f = *state;
    int port = lr_http_port(f->http);
    static uint8_t big[2 << 20];
    response r;

    memset(big, 'C', sizeof(big));
    put(f->store, "demo/big.ts", big, sizeof(big), "video/mp2t", 60, 1);
    for (int round = 0; round < 5; round++) {
        int fd = connect_with_rcvbuf(port, 16 << 10);
        static const char req[] = "GET /live/demo/big.ts HTTP/1.1\r\nHost: x\r\n"
                                  "Connection: close\r\n\r\n";
        send_all(fd, req, sizeof(req) - 1);
        char first[16];
        assert_true(recv(fd, first, sizeof(first), MSG_PEEK) > 0);
        /* read by nobody: the server answers this connection's one request */
        static const char more[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
        send_all(fd, more, sizeof(more) - 1);
        read_response(fd, 0, &r);
        close(fd);
        assert_int_equal(r.status, 200);
        assert_int_equal(r.body_len, sizeof(big));
        response_free(&r);
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_stop_is_prompt(void **state)
{
    fixture *f = *state;
    int port = lr_http_port(f->http);
    response r;

    /* one idle keep-alive connection, one half-sent request */
    int ka = connect_to(port);
    static const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    send_all(ka, req, sizeof(req) - 1);
    read_response(ka, 0, &r);
    assert_int_equal(r.status, 200);
    response_free(&r);
    int half = connect_to(port);
    send_all(half, "GET /heal", 9);

    double t0 = now_s();
    lr_http_stop(&f->http);
    double dt = now_s() - t0;
    assert_null(f->http);
    assert_true(dt < 1.0);

    char buf[64];
    assert_true(recv(ka, buf, sizeof(buf), 0) <= 0);
    close(ka);
    close(half);

    /* the port is free again, and a second start on a taken port fails */
    lr_http *a = NULL, *b = NULL;
    char listen[32];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    assert_int_equal(start_http(listen, f->store, f->assets, &a), 0);
    assert_int_equal(start_http(listen, f->store, f->assets, &b), AVERROR(EADDRINUSE));
    assert_null(b);
    lr_http_stop(&a);
}


/* ---- LL-HLS: blocking playlist reload and preload-hint parts ---------- */

static void put_ll(lr_store *st, const char *path, int64_t msn_complete, int64_t part_msn,
                   int part, int ended)
{
    char body[128];
    int n = snprintf(body, sizeof(body), "#EXTM3U\n#part %lld.%d\n", (long long)part_msn, part);
    AVBufferRef *b = av_buffer_alloc(n);
    assert_non_null(b);
    memcpy(b->data, body, n);
    lr_store_obj obj = { .data = b, .content_type = "application/vnd.apple.mpegurl",
                         .max_age_s = 1, .ll = 1, .ll_msn_complete = msn_complete,
                         .ll_part_msn = part_msn, .ll_part = part,
                         .ll_target_duration = 1, .ll_ended = ended };
    assert_int_equal(lr_store_put(st, path, &obj), 0);
    av_buffer_unref(&b);
}

/* Sends a GET without reading the answer: the request parks. */
static int start_request(int port, const char *path)
{
    char req[1024];
    int fd = connect_to(port);
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                     path);
    send_all(fd, req, n);
    return fd;
}

/* 1 when fd has nothing to read within ms. */
static int quiet_for(int fd, int ms)
{
    struct timeval tv = { 0, ms * 1000 };
    fd_set set;
    FD_ZERO(&set);
    FD_SET(fd, &set);
    return select(fd + 1, &set, NULL, NULL, &tv) == 0;
}

static void test_blocking_reload(void **state)
{
    fixture *f = *state;
    int port = lr_http_port(f->http);
    char v[256];
    response r;

    put_ll(f->store, "demo/720p/index.m3u8", 9, 10, 1, 0);

    /* satisfied at once: by part, and by a complete segment */
    request(port, "GET", "/live/demo/720p/index.m3u8?_HLS_msn=10&_HLS_part=1", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "#part 10.1"));
    assert_string_equal(header(&r, "Cache-Control", v, sizeof(v)), "public, max-age=3");
    response_free(&r);
    request(port, "GET", "/live/demo/720p/index.m3u8?_HLS_msn=9", &r);
    assert_int_equal(r.status, 200);
    response_free(&r);

    /* bad directives: 400 at once */
    static const char *const bad[] = {
        "/live/demo/720p/index.m3u8?_HLS_part=1",
        "/live/demo/720p/index.m3u8?_HLS_msn=-1",
        "/live/demo/720p/index.m3u8?_HLS_msn=abc",
        "/live/demo/720p/index.m3u8?_HLS_msn=",
        "/live/demo/720p/index.m3u8?_HLS_msn=1&_HLS_msn=2",
        "/live/demo/720p/index.m3u8?_HLS_msn=11&_HLS_part=x",
        "/live/demo/720p/index.m3u8?_HLS_msn=11&_HLS_skip=NO",
        "/live/demo/720p/index.m3u8?_HLS_msn=99999999999999999999",
        "/live/demo/720p/index.m3u8?_HLS_msn=13", /* more than 2 segments ahead */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        request(port, "GET", bad[i], &r);
        if (r.status != 400)
            fail_msg("%s -> %d, want 400", bad[i], r.status);
        response_free(&r);
    }

    /* parked: the next part, and the next segment's first part */
    int a = start_request(port, "/live/demo/720p/index.m3u8?_HLS_msn=10&_HLS_part=2");
    int b = start_request(port, "/live/demo/720p/index.m3u8?_HLS_msn=11&_HLS_part=0");
    int c = start_request(port, "/live/demo/720p/index.m3u8?_HLS_msn=11");
    assert_true(quiet_for(a, 200));
    /* an unrelated publication wakes nobody */
    put(f->store, "demo/720p/10.1.m4s", "x", 1, "video/iso.segment", 60, 1);
    assert_true(quiet_for(a, 100));

    double t0 = now_s();
    put_ll(f->store, "demo/720p/index.m3u8", 9, 10, 2, 0);
    read_response(a, 0, &r);
    assert_true(now_s() - t0 < 0.5);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "#part 10.2"));
    response_free(&r);
    close(a);
    assert_true(quiet_for(b, 100));

    put_ll(f->store, "demo/720p/index.m3u8", 10, 11, 0, 0);
    read_response(b, 0, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "#part 11.0"));
    response_free(&r);
    close(b);
    assert_true(quiet_for(c, 100)); /* segment 11 is not complete yet */

    put_ll(f->store, "demo/720p/index.m3u8", 11, 12, 0, 0);
    read_response(c, 0, &r);
    assert_int_equal(r.status, 200);
    response_free(&r);
    close(c);

    /* the timeout: three target durations (1 s here), then 503 */
    t0 = now_s();
    request(port, "GET", "/live/demo/720p/index.m3u8?_HLS_msn=13", &r);
    double dt = now_s() - t0;
    assert_int_equal(r.status, 503);
    assert_true(dt > 2.5 && dt < 4.5);
    response_free(&r);

    /* a client that goes away while parked costs nothing afterwards */
    int gone = start_request(port, "/live/demo/720p/index.m3u8?_HLS_msn=13");
    assert_true(quiet_for(gone, 100));
    close(gone);

    /* the ended playlist is served whatever is asked */
    put_ll(f->store, "demo/720p/index.m3u8", 12, 12, 3, 1);
    request(port, "GET", "/live/demo/720p/index.m3u8?_HLS_msn=13", &r);
    assert_int_equal(r.status, 200);
    response_free(&r);
}

static void test_delta_and_non_ll(void **state)
{
    fixture *f = *state;
    int port = lr_http_port(f->http);
    response r;

    put_ll(f->store, "demo/720p/index.m3u8", 9, 10, 1, 0);
    put_ll(f->store, "demo/720p/index.m3u8?_HLS_skip=YES", 9, 10, 1, 0);
    /* mark the delta form apart */
    AVBufferRef *b = av_buffer_alloc(6);
    memcpy(b->data, "#SKIP\n", 6);
    lr_store_obj obj = { .data = b, .content_type = "application/vnd.apple.mpegurl", .ll = 1,
                         .ll_msn_complete = 9, .ll_part_msn = 10, .ll_part = 1,
                         .ll_target_duration = 1 };
    assert_int_equal(lr_store_put(f->store, "demo/720p/index.m3u8?_HLS_skip=YES", &obj), 0);
    av_buffer_unref(&b);

    request(port, "GET", "/live/demo/720p/index.m3u8?_HLS_msn=10&_HLS_part=1&_HLS_skip=YES", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "#SKIP\n");
    response_free(&r);
    request(port, "GET", "/live/demo/720p/index.m3u8?_HLS_skip=v2", &r);
    assert_string_equal(r.body, "#SKIP\n");
    response_free(&r);
    request(port, "GET", "/live/demo/720p/index.m3u8", &r);
    assert_non_null(strstr(r.body, "#part"));
    response_free(&r);

    /* a playlist that isn't LL ignores the directives */
    put(f->store, "demo/360p/index.m3u8", "#EXTM3U\n", 8, "application/vnd.apple.mpegurl", 1, 0);
    request(port, "GET", "/live/demo/360p/index.m3u8?_HLS_msn=1000", &r);
    assert_int_equal(r.status, 200);
    response_free(&r);
}

static void test_preload_hint_part(void **state)
{
    fixture *f = *state;
    int port = lr_http_port(f->http);
    char v[256];
    response r;

    put_ll(f->store, "demo/720p/index.m3u8", 9, 10, 1, 0);
    /* not the next part: 404 at once */
    request(port, "GET", "/live/demo/720p/10.3.m4s", &r);
    assert_int_equal(r.status, 404);
    response_free(&r);

    int a = start_request(port, "/live/demo/720p/10.2.m4s");
    assert_true(quiet_for(a, 200));
    put(f->store, "demo/720p/10.2.m4s", "PART", 4, "video/iso.segment", 60, 1);
    read_response(a, 0, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "PART");
    assert_string_equal(header(&r, "Content-Type", v, sizeof(v)), "video/iso.segment");
    assert_string_equal(header(&r, "Cache-Control", v, sizeof(v)),
                        "public, max-age=31536000, immutable");
    response_free(&r);
    close(a);

    /* the hint that never comes: 404 after three target durations */
    double t0 = now_s();
    request(port, "GET", "/live/demo/720p/11.0.m4s", &r);
    assert_int_equal(r.status, 404);
    assert_true(now_s() - t0 > 2.5);
    response_free(&r);
}

/* A stop with requests parked answers them (503) and returns promptly. */
static void test_stop_with_parked(void **state)
{
    fixture *f = *state;
    int port = lr_http_port(f->http);
    response r;

    put_ll(f->store, "demo/720p/index.m3u8", 9, 10, 1, 0);
    int a = start_request(port, "/live/demo/720p/index.m3u8?_HLS_msn=11");
    assert_true(quiet_for(a, 100));
    double t0 = now_s();
    lr_http_stop(&f->http);
    assert_true(now_s() - t0 < 1.0);
    read_response(a, 0, &r);
    assert_int_equal(r.status, 503);
    response_free(&r);
    close(a);
}

static void test_bad_listen_and_missing_assets(void **state)
{
    lr_store *st = lr_store_alloc();
    lr_http *h = NULL;
    response r;

    assert_true(start_http("no-port", st, NULL, &h) < 0);
    assert_true(start_http("127.0.0.1:", st, NULL, &h) < 0);
    assert_true(start_http("256.1.1.1:0", st, NULL, &h) < 0);
    assert_null(h);

    assert_int_equal(start_http("127.0.0.1:0", st, "/nonexistent/assets", &h), 0);
    request(lr_http_port(h), "GET", "/assets/hls.min.js", &r);
    assert_int_equal(r.status, 404);
    response_free(&r);
    /* with nothing live, the index says so */
    request(lr_http_port(h), "GET", "/", &r);
    assert_int_equal(r.status, 200);
    assert_null(strstr(r.body, "/watch/"));
    response_free(&r);
    lr_http_stop(&h);
    lr_http_stop(&h); /* NULL is fine */
    lr_store_free(&st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_segment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_playlist_cache_control, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_healthz_and_assets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replace_while_serving, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_lingers_until_the_client_has_read, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stop_is_prompt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blocking_reload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delta_and_non_ll, setup, teardown),
        cmocka_unit_test_setup_teardown(test_preload_hint_part, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_with_parked, setup, teardown),
        cmocka_unit_test(test_bad_listen_and_missing_assets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
