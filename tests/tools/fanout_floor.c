/* fanout_floor: the least any server can take to answer n parked HTTP
 * requests at once on this machine, for bench/serve to print beside the
 * egress's own wake-up. n loopback TCP connections are open; at t0 one
 * thread writes a prepared response of `size` bytes to each (no parsing, no
 * headers to make: the kernel's share only), while a client process reads
 * them with epoll and notes when each is whole.
 *
 * usage: fanout_floor <n> <size>
 * prints: floor: n=<n> size=<b> write_ms=<server's loop> p50_ms=<> p99_ms=<> max_ms=<> */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void die(const char *what)
{
    perror(what);
    exit(1);
}

struct share {
    const int *fds;
    int from, to, size;
    const char *resp;
};

static void *write_share(void *arg)
{
    const struct share *s = arg;
    for (int i = s->from; i < s->to; i++)
        if (write(s->fds[i], s->resp, (size_t)s->size) != s->size)
            die("write");
    return NULL;
}

/* The client: n connections, then waits for t0 on go, reads every answer. */
static void client(const struct sockaddr_in *a, int n, int size, int ready, int go, int result)
{
    int *fds = calloc((size_t)n, sizeof(*fds)), *got = calloc((size_t)n, sizeof(*got));
    double *t = calloc((size_t)n, sizeof(*t)), t0;
    int ep = epoll_create1(0), done = 0;
    char buf[65536], one = 1;

    if (!fds || !got || !t || ep < 0)
        die("client setup");
    for (int i = 0; i < n; i++) {
        struct epoll_event e = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
        if ((fds[i] = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
            connect(fds[i], (const struct sockaddr *)a, sizeof(*a)) < 0 ||
            epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &e) < 0)
            die("client connect");
    }
    if (write(ready, &one, 1) != 1 || read(go, &t0, sizeof(t0)) != sizeof(t0))
        die("client sync");
    while (done < n) {
        struct epoll_event ev[512];
        int k = epoll_wait(ep, ev, 512, 10000);
        if (k <= 0)
            break;  /* 10 s of silence: report what came */
        for (int j = 0; j < k; j++) {
            int i = (int)ev[j].data.u32;
            ssize_t r = read(fds[i], buf, sizeof(buf));
            if (r > 0 && (got[i] += (int)r) >= size) {
                t[done++] = now_s() - t0;
                epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], NULL);
            }
        }
    }
    qsort(t, (size_t)done, sizeof(*t), cmp_double);
    double r[4] = { done, done ? t[done / 2] : -1, done ? t[(int)(done * 0.99)] : -1,
                    done ? t[done - 1] : -1 };
    if (write(result, r, sizeof(r)) != sizeof(r))
        die("client result");
    exit(0);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 10000, size = argc > 2 ? atoi(argv[2]) : 1500;
    int writers = argc > 3 ? atoi(argv[3]) : 1;
    pthread_t th[64];
    struct share sh[64];
    struct rlimit rl = { (rlim_t)n + 1024, (rlim_t)n + 1024 };
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
    socklen_t alen = sizeof(a);
    int ls, yes = 1, ready[2], go[2], result[2], *cs, status;
    double t0, t1, r[4];
    char *resp = NULL, c;
    pid_t pid;

    if (n < 1 || size < 1 || writers < 1 || writers > 64 || setrlimit(RLIMIT_NOFILE, &rl) < 0)
        die("usage: fanout_floor <n> <size> [writers 1-64] (and room for n files)");
    if ((ls = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
        bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 4096) < 0 ||
        getsockname(ls, (struct sockaddr *)&a, &alen) < 0)
        die("listen");
    if (pipe(ready) < 0 || pipe(go) < 0 || pipe(result) < 0)
        die("pipe");
    if ((pid = fork()) < 0)
        die("fork");
    if (pid == 0)
        client(&a, n, size, ready[1], go[0], result[1]);
    if (!(cs = calloc((size_t)n, sizeof(*cs))) || !(resp = malloc((size_t)size)))
        die("alloc");
    memset(resp, 'x', (size_t)size);
    for (int i = 0; i < n; i++) {
        if ((cs[i] = accept(ls, NULL, NULL)) < 0)
            die("accept");
        setsockopt(cs[i], IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
    }
    if (read(ready[0], &c, 1) != 1)
        die("sync");
    t0 = now_s();
    if (write(go[1], &t0, sizeof(t0)) != sizeof(t0))
        die("sync");
    for (int w = 0; w < writers; w++) {
        sh[w] = (struct share){ cs, (int)((long)n * w / writers), (int)((long)n * (w + 1) / writers),
                                size, resp };
        if (w > 0 && pthread_create(&th[w], NULL, write_share, &sh[w]) != 0)
            die("pthread_create");
    }
    write_share(&sh[0]);
    for (int w = 1; w < writers; w++)
        pthread_join(th[w], NULL);
    t1 = now_s();
    if (read(result[0], r, sizeof(r)) != sizeof(r))
        die("result");
    waitpid(pid, &status, 0);
    printf("floor: n=%d size=%d writers=%d answered=%.0f write_ms=%.1f p50_ms=%.1f p99_ms=%.1f max_ms=%.1f\n",
           n, size, writers, r[0], (t1 - t0) * 1e3, r[1] * 1e3, r[2] * 1e3, r[3] * 1e3);
    return r[0] == n ? 0 : 1;
}
