/* park_client: bench/serve's parked viewers. Opens n loopback connections to
 * a port, sends one GET of path on each (a blocking playlist reload the
 * server parks), prints "sent", then notes CLOCK_MONOTONIC as each response
 * is whole (its head and Content-Length bytes) and prints one JSON line:
 *   {"times":[<s>...],"statuses":{"200":n,...},"missing":k}
 * In C, as fanout_floor's client is, so the wake-up it measures is the
 * server's and the kernel's, not an interpreter's (the Python client it
 * replaces added 20-50 ms at 10,000 connections on this 2-core VM).
 *
 * usage: park_client <port> <path> <n> */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH    400    /* connects in flight at once: within the listen backlog */
#define HEAD_MAX 2048

typedef struct conn {
    int    fd;
    int    status;      /* 0 until the head is in */
    size_t need;        /* head + body bytes, once the head is in */
    size_t got;
    char   head[HEAD_MAX];
    size_t head_len;
} conn;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "park_client: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* Parses the head once it is whole: status and the total to read. */
static void parse_head(conn *c)
{
    char *end = memmem(c->head, c->head_len, "\r\n\r\n", 4), *cl;
    long body = 0;

    if (!end)
        return;
    *end = 0;
    c->status = atoi(c->head + 9);
    for (cl = c->head; (cl = strchr(cl, '\n')); cl++)
        if (!strncasecmp(cl + 1, "content-length:", 15))
            body = strtol(cl + 16, NULL, 10);
    c->need = (size_t)(end - c->head) + 4 + (size_t)body;
}

int main(int argc, char **argv)
{
    int port = argc > 3 ? atoi(argv[1]) : 0, n = argc > 3 ? atoi(argv[3]) : 0;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
    struct rlimit rl = { (rlim_t)n + 1024, (rlim_t)n + 1024 };
    char req[1024], buf[65536];
    int ep, len, finished = 0, answered = 0, statuses[600] = { 0 };
    conn *cs;
    double *t;

    if (port <= 0 || n <= 0) {
        fprintf(stderr, "usage: park_client <port> <path> <n>\n");
        return 2;
    }
    a.sin_port = htons((uint16_t)port);
    len = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", argv[2]);
    if (len <= 0 || len >= (int)sizeof(req) || setrlimit(RLIMIT_NOFILE, &rl) < 0)
        die("setup");
    if (!(cs = calloc((size_t)n, sizeof(*cs))) || !(t = calloc((size_t)n, sizeof(*t))) ||
        (ep = epoll_create1(0)) < 0)
        die("alloc");

    /* Blocking connects in batches: each completes against the backlog. */
    for (int i = 0; i < n; i++) {
        struct epoll_event e = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
        if ((cs[i].fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
            connect(cs[i].fd, (const struct sockaddr *)&a, sizeof(a)) < 0 ||
            write(cs[i].fd, req, (size_t)len) != len ||
            epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &e) < 0)
            die("connect");
        if (i % BATCH == BATCH - 1)
            usleep(1000);
    }
    printf("sent\n");
    fflush(stdout);

    for (double end = now_s() + 240; finished < n && now_s() < end;) {
        struct epoll_event ev[512];
        int k = epoll_wait(ep, ev, 512, 1000);
        double at = now_s();
        for (int j = 0; j < k; j++) {
            conn *c = &cs[ev[j].data.u32];
            ssize_t r = read(c->fd, buf, sizeof(buf));
            if (r <= 0) {  /* closed before the whole answer */
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                statuses[599]++;
                finished++;
                continue;
            }
            if (!c->need) {
                size_t room = sizeof(c->head) - 1 - c->head_len;
                size_t m = (size_t)r < room ? (size_t)r : room;
                memcpy(c->head + c->head_len, buf, m);
                c->head_len += m;
                parse_head(c);
            }
            c->got += (size_t)r;
            if (c->need && c->got >= c->need) {
                t[answered++] = at;
                statuses[c->status >= 100 && c->status < 599 ? c->status : 599]++;
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                finished++;
            }
        }
    }
    printf("{\"times\":[");
    for (int i = 0; i < answered; i++)
        printf("%s%.6f", i ? "," : "", t[i]);
    printf("],\"statuses\":{");
    for (int s = 0, first = 1; s < 600; s++)
        if (statuses[s]) {
            if (s == 599)
                printf("%s\"closed\":%d", first ? "" : ",", statuses[s]);
            else
                printf("%s\"%d\":%d", first ? "" : ",", s, statuses[s]);
            first = 0;
        }
    printf("},\"missing\":%d}\n", n - finished);
    return 0;
}
