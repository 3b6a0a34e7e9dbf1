/* common/metrics.c — see metrics.h. The collectors sit in a fixed table under
 * one mutex; a scrape holds it while collecting, which is what makes
 * unregister safe. The server is a plain poll() loop: a scrape is one short
 * request, and its clients are Prometheus and operators with curl. */
#include "metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "log.h"
#include "status.h"
#include "stop.h"
#include "tcp_listen.h"

#define MAX_COLLECTORS 32
#define MAX_CLIENTS    16
#define REQUEST_MAX    4096
#define CLIENT_MS      2000

static struct {
    pthread_mutex_t lock;
    lr_metrics_collect_fn *fn[MAX_COLLECTORS];
    void *opaque[MAX_COLLECTORS];
} reg = { .lock = PTHREAD_MUTEX_INITIALIZER };

int lr_metrics_register(lr_metrics_collect_fn *fn, void *opaque)
{
    int handle = AVERROR(ENOSPC);

    pthread_mutex_lock(&reg.lock);
    for (int i = 0; i < MAX_COLLECTORS; i++) {
        if (!reg.fn[i]) {
            reg.fn[i] = fn;
            reg.opaque[i] = opaque;
            handle = i + 1;
            break;
        }
    }
    pthread_mutex_unlock(&reg.lock);
    return handle;
}

void lr_metrics_unregister(int handle)
{
    if (handle < 1 || handle > MAX_COLLECTORS)
        return;
    pthread_mutex_lock(&reg.lock);
    reg.fn[handle - 1] = NULL;
    reg.opaque[handle - 1] = NULL;
    pthread_mutex_unlock(&reg.lock);
}

void lr_metrics_render(AVBPrint *out)
{
    pthread_mutex_lock(&reg.lock);
    for (int i = 0; i < MAX_COLLECTORS; i++)
        if (reg.fn[i])
            reg.fn[i](reg.opaque[i], out);
    pthread_mutex_unlock(&reg.lock);
}

void lr_metrics_family(AVBPrint *out, const char *name, const char *type, const char *help)
{
    av_bprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void lr_metrics_label(AVBPrint *out, const char *value)
{
    for (const char *p = value; *p; p++) {
        if (*p == '\\' || *p == '"')
            av_bprintf(out, "\\%c", *p);
        else if (*p == '\n')
            av_bprintf(out, "\\n");
        else
            av_bprint_chars(out, *p, 1);
    }
}

/* ---- the server -------------------------------------------------------- */

typedef struct client {
    int     fd;
    int     loopback;     /* the peer is on this machine */
    int64_t deadline_ns;
    size_t  len;
    char    req[REQUEST_MAX];
} client;

struct lr_metrics_server {
    char      token[256]; /* the operator's token: the status from elsewhere needs it */
    int       fd;
    int       wake[2];   /* a byte here stops the thread */
    pthread_t thread;
    int       thread_started;
    client    clients[MAX_CLIENTS];
};

static void send_all(int fd, const char *p, size_t n)
{
    /* A scrape is small; a client that can't take it in 2 s is dropped. */
    struct pollfd pfd = { fd, POLLOUT, 0 };
    int64_t deadline = lr_now_ns() + (int64_t)CLIENT_MS * 1000000;

    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EINTR)
            return;
        int64_t left = (deadline - lr_now_ns()) / 1000000;
        if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
            return;
    }
}

int lr_metrics_token_ok(const char *token, const char *auth, size_t auth_len,
                        const char *query, size_t query_len)
{
    size_t n = token ? strlen(token) : 0;

    if (!n)
        return 0;
    if (auth && auth_len == n + 7 && !memcmp(auth, "Bearer ", 7) &&
        !CRYPTO_memcmp(auth + 7, token, n))
        return 1;
    for (size_t k = 0; query && k + 12 + n <= query_len; k++) {
        const char *q = query + k;
        if ((k == 0 || q[-1] == '&') && !memcmp(q, "admin_token=", 12) &&
            (k + 12 + n == query_len || q[12 + n] == '&') && !CRYPTO_memcmp(q + 12, token, n))
            return 1;
    }
    return 0;
}

/* The value of the request's header name (lower case, with its colon), up
 * to the line's end, into out; 0, or -1 when absent. */
static int header_value(const char *req, const char *name, char *out, size_t size)
{
    size_t n = strlen(name);

    for (const char *p = strchr(req, '\n'); p; p = strchr(p + 1, '\n')) {
        if (strncasecmp(p + 1, name, n))
            continue;
        p += 1 + n;
        p += strspn(p, " \t");
        size_t len = strcspn(p, "\r\n");
        if (len >= size)
            return -1;
        memcpy(out, p, len);
        out[len] = '\0';
        return 0;
    }
    return -1;
}

/* As the egress's /metrics: a client on this machine, or one that shows the
 * token (lr_metrics_token_ok). */
static int operator_ok(const lr_metrics_server *s, const client *c, const char *query)
{
    char auth[300];
    int has_auth = header_value(c->req, "authorization:", auth, sizeof(auth)) == 0;

    return c->loopback ||
           lr_metrics_token_ok(s->token, has_auth ? auth : NULL, has_auth ? strlen(auth) : 0,
                               query, query ? strlen(query) : 0);
}

static void respond(lr_metrics_server *s, client *c)
{
    static const char not_found[] =
        "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n"
        "Connection: close\r\n\r\nnot found\n";
    static const char bad[] =
        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n"
        "Connection: close\r\n\r\nbad request\n";
    AVBPrint body;
    char head[256], path[256], *query;
    const char *type = "text/plain; version=0.0.4; charset=utf-8";
    int head_only = !strncmp(c->req, "HEAD ", 5), status = 200;

    if (strncmp(c->req, "GET ", 4) && !head_only) {
        send_all(c->fd, bad, sizeof(bad) - 1);
        return;
    }
    const char *target = c->req + (head_only ? 5 : 4);
    snprintf(path, sizeof(path), "%.*s", (int)strcspn(target, " \r\n"), target);
    if ((query = strchr(path, '?')))
        *query++ = '\0';
    av_bprint_init(&body, 0, AV_BPRINT_SIZE_UNLIMITED);
    if (!strcmp(path, "/metrics"))
        lr_metrics_render(&body);
    else if ((strncmp(path, "/assets/", 8) && !operator_ok(s, c, query)) ||
             !lr_status_route(path, query, &body, &type, &status)) {
        av_bprint_finalize(&body, NULL);
        send_all(c->fd, not_found, sizeof(not_found) - 1);
        return;
    }
    snprintf(head, sizeof(head),
             "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
             "Content-Length: %u\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
             status, status == 200 ? "OK" : "Not Found", type, body.len);
    send_all(c->fd, head, strlen(head));
    if (!head_only && av_bprint_is_complete(&body))
        send_all(c->fd, body.str, body.len);
    av_bprint_finalize(&body, NULL);
}

static int is_loopback(const struct sockaddr_storage *a)
{
    if (a->ss_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr) >> 24) == 127;
    if (a->ss_family == AF_INET6) {
        const struct in6_addr *v6 = &((const struct sockaddr_in6 *)a)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(v6) ||
               (IN6_IS_ADDR_V4MAPPED(v6) && v6->s6_addr[12] == 127);
    }
    return 0;
}

static void drop(client *c)
{
    close(c->fd);
    c->fd = -1;
}

static void *server_thread(void *arg)
{
    lr_metrics_server *s = arg;

    for (;;) {
        struct pollfd pfd[MAX_CLIENTS + 2] = { { s->wake[0], POLLIN, 0 }, { s->fd, POLLIN, 0 } };
        int n = 2, timeout = -1;
        int64_t now = lr_now_ns();

        for (int i = 0; i < MAX_CLIENTS; i++) {
            client *c = &s->clients[i];
            if (c->fd < 0)
                continue;
            if (now >= c->deadline_ns) {
                drop(c);
                continue;
            }
            int left = (int)((c->deadline_ns - now) / 1000000) + 1;
            timeout = timeout < 0 ? left : FFMIN(timeout, left);
            pfd[n++] = (struct pollfd){ c->fd, POLLIN, 0 };
        }
        if (poll(pfd, (nfds_t)n, timeout) < 0 && errno != EINTR)
            break;
        if (pfd[0].revents)
            break;
        if (pfd[1].revents & POLLIN) {
            int fd;
            struct sockaddr_storage peer;
            socklen_t peer_len;
            while ((peer_len = sizeof(peer),
                    fd = accept4(s->fd, (struct sockaddr *)&peer, &peer_len,
                                 SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                client *free_slot = NULL;
                for (int i = 0; i < MAX_CLIENTS && !free_slot; i++)
                    if (s->clients[i].fd < 0)
                        free_slot = &s->clients[i];
                if (!free_slot) {
                    close(fd);  /* too many at once: they may retry */
                    continue;
                }
                *free_slot = (client){ .fd = fd, .loopback = is_loopback(&peer),
                                       .deadline_ns = lr_now_ns() + (int64_t)CLIENT_MS * 1000000 };
            }
        }
        for (int k = 2; k < n; k++) {
            client *c = NULL;
            if (!pfd[k].revents)
                continue;
            for (int i = 0; i < MAX_CLIENTS; i++)
                if (s->clients[i].fd == pfd[k].fd)
                    c = &s->clients[i];
            if (!c)
                continue;
            ssize_t r = recv(c->fd, c->req + c->len, sizeof(c->req) - 1 - c->len, 0);
            if (r <= 0) {
                if (r == 0 || (errno != EAGAIN && errno != EINTR))
                    drop(c);
                continue;
            }
            c->len += (size_t)r;
            c->req[c->len] = '\0';
            if (strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n") ||
                c->len == sizeof(c->req) - 1) {
                respond(s, c);
                drop(c);
            }
        }
    }
    return NULL;
}

int lr_metrics_serve(const char *hostport, const char *token, lr_metrics_server **out)
{
    lr_metrics_server *s = av_mallocz(sizeof(*s));
    int port, ret;

    if (!s)
        return AVERROR(ENOMEM);
    snprintf(s->token, sizeof(s->token), "%s", token ? token : "");
    s->fd = s->wake[0] = s->wake[1] = -1;
    for (int i = 0; i < MAX_CLIENTS; i++)
        s->clients[i].fd = -1;
    if ((ret = lr_tcp_listen(hostport, "metrics", &s->fd, &port)) < 0)
        goto fail;
    if (pipe2(s->wake, O_CLOEXEC) < 0) {
        ret = AVERROR(errno);
        goto fail;
    }
    if ((ret = pthread_create(&s->thread, NULL, server_thread, s))) {
        ret = AVERROR(ret);
        goto fail;
    }
    s->thread_started = 1;
    lr_info("metrics: serving http://%s/metrics and the status page /status (port %d)",
            hostport, port);
    *out = s;
    return 0;
fail:
    lr_metrics_server_free(&s);
    return ret;
}

void lr_metrics_server_free(lr_metrics_server **ps)
{
    lr_metrics_server *s = *ps;

    if (!s)
        return;
    if (s->thread_started) {
        ssize_t w = write(s->wake[1], "x", 1);
        (void)w;
        pthread_join(s->thread, NULL);
    }
    for (int i = 0; i < MAX_CLIENTS; i++)
        if (s->clients[i].fd >= 0)
            close(s->clients[i].fd);
    for (int i = 0; i < 2; i++)
        if (s->wake[i] >= 0)
            close(s->wake[i]);
    if (s->fd >= 0)
        close(s->fd);
    av_freep(ps);
}
