/* tests/tools/rtmp_dump.c — an RTMP(S) ingest on its own: lr_rtmp_listen
 * with a fixed admission rule, each admitted publish written as an .flv
 * file; optionally a recording proxy for fuzz corpora. Run by
 * tests/system/test_rtmp_dump.py and by hand; not part of lecture-relay.
 *
 *   rtmp_dump [--host H] [--port N] [--tls-port N --cert PEM --key PEM]
 *             [--lectures x,y] [--stream-key k] [--out DIR]
 *             [--record-port N --record DIR] [--idle-ms N] [--max-conns N]
 *   rtmp_dump --split-amf RAW DIR   (the AMF0 payloads of a recording)
 *
 * Prints "port=N" (and "tls_port=N", "record_port=N") once listening; runs
 * until SIGINT/SIGTERM. The proxy on --record-port forwards to the plain
 * port and writes what each client sent after its handshake to DIR. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "common/log.h"
#include "common/stop.h"
#include "ingest/rtmp_chunk.h"
#include "ingest/rtmp_handshake.h"
#include "ingest/rtmp_listener.h"

#define MAX_WORKERS 64

typedef struct worker {
    pthread_t     thread;
    lr_rtmp_conn *c;
    struct dump  *d;
    int           used;
} worker;

typedef struct dump {
    const char     *lectures, *key, *out_dir, *record_dir;
    int             idle_ms;
    lr_stop         stop;
    pthread_mutex_t lock;
    char            live[MAX_WORKERS][64];
    worker          workers[MAX_WORKERS];
    unsigned        nb_files, nb_records;
    int             record_fd, plain_port;
} dump;

static int listed(const char *list, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = list; *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] == ',')) {
        if (strcspn(p, ",") == len && !strncmp(p, name, len))
            return 1;
    }
    return 0;
}

static int admit(void *opaque, lr_rtmp_publish *p, const char **reason)
{
    dump *d = opaque;
    int ret = 0;

    if (!listed(d->lectures, p->name)) {
        *reason = "unknown lecture";
        return AVERROR(ENOENT);
    }
    p->lecture = p->name;  /* one of its listed lectures */
    if (!p->key || strcmp(p->key, d->key)) {
        *reason = p->key ? "wrong key" : "no key";
        return AVERROR(EACCES);
    }
    pthread_mutex_lock(&d->lock);
    for (int i = 0; i < MAX_WORKERS; i++)
        if (!strcmp(d->live[i], p->name)) {
            *reason = "already live";
            ret = AVERROR(EBUSY);
        }
    for (int i = 0; i < MAX_WORKERS && !ret; i++)
        if (!d->live[i][0]) {
            snprintf(d->live[i], sizeof(d->live[i]), "%s", p->name);
            break;
        }
    pthread_mutex_unlock(&d->lock);
    return ret;
}

static void not_live(dump *d, const char *name)
{
    pthread_mutex_lock(&d->lock);
    for (int i = 0; i < MAX_WORKERS; i++)
        if (!strcmp(d->live[i], name))
            d->live[i][0] = 0;
    pthread_mutex_unlock(&d->lock);
}

/* One admitted publish: its FLV bytes into OUT/<lecture>-<n>.flv. */
static void *write_flv(void *arg)
{
    worker *w = arg;
    dump *d = w->d;
    const lr_rtmp_publish *p = lr_rtmp_conn_publish(w->c);
    AVIOContext *pb = NULL;
    uint8_t buf[32768];
    char path[1024];
    long long total = 0;
    FILE *f = NULL;
    unsigned n;
    int ret;

    pthread_mutex_lock(&d->lock);
    n = d->nb_files++;
    pthread_mutex_unlock(&d->lock);
    snprintf(path, sizeof(path), "%s/%s-%u.flv", d->out_dir, p->name, n);
    if (!(f = fopen(path, "wb"))) {
        lr_error("rtmp_dump: %s: %s", path, strerror(errno));
        goto end;
    }
    if ((ret = lr_rtmp_conn_avio_open(w->c, &d->stop, d->idle_ms, &pb)) < 0)
        goto end;
    while ((ret = avio_read_partial(pb, buf, sizeof(buf))) > 0) {
        fwrite(buf, 1, ret, f);
        fflush(f);
        total += ret;
    }
    lr_info("rtmp_dump: lecture=%s wrote %lld bytes to %s, ended: %s", p->name, total, path,
            av_err2str(ret));
end:
    if (f)
        fclose(f);
    lr_rtmp_conn_avio_close(&pb);
    not_live(d, p->name);
    lr_rtmp_conn_free(&w->c);
    return NULL;
}

static int accept_conn(void *opaque, lr_rtmp_conn *c)
{
    dump *d = opaque;
    worker *w = NULL;

    pthread_mutex_lock(&d->lock);
    for (int i = 0; i < MAX_WORKERS && !w; i++)
        if (!d->workers[i].used)
            w = &d->workers[i];
    if (w)
        w->used = 1;
    pthread_mutex_unlock(&d->lock);
    if (!w)
        return AVERROR(EBUSY);
    w->c = c;
    w->d = d;
    if (pthread_create(&w->thread, NULL, write_flv, w)) {
        w->used = 0;
        return AVERROR(EAGAIN);
    }
    return 0;
}

/* ---- the recording proxy ---- */

typedef struct relay {
    dump *d;
    int   client, server;
} relay;

static void *run_relay(void *arg)
{
    relay *r = arg;
    dump *d = r->d;
    char path[1024];
    FILE *rec = NULL;
    long long from_client = 0;
    uint8_t buf[16384];
    unsigned n;

    pthread_mutex_lock(&d->lock);
    n = d->nb_records++;
    pthread_mutex_unlock(&d->lock);
    snprintf(path, sizeof(path), "%s/session-%u.raw", d->record_dir, n);
    rec = fopen(path, "wb");
    while (!lr_stop_requested(&d->stop)) {
        struct pollfd p[2] = { { .fd = r->client, .events = POLLIN },
                               { .fd = r->server, .events = POLLIN } };
        if (poll(p, 2, 100) <= 0)
            continue;
        for (int i = 0; i < 2; i++) {
            ssize_t got;
            if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if ((got = recv(p[i].fd, buf, sizeof(buf), 0)) <= 0)
                goto end;
            if (i == 0 && rec) {
                /* skip C0, C1, C2: the corpus starts with the chunk stream */
                long long skip = 1 + 2 * LR_RTMP_HANDSHAKE_SIZE - from_client;
                if (skip < got)
                    fwrite(buf + (skip > 0 ? skip : 0), 1, got - (skip > 0 ? skip : 0), rec);
                from_client += got;
            }
            if (send(p[!i].fd, buf, got, MSG_NOSIGNAL) != got)
                goto end;
        }
    }
end:
    if (rec)
        fclose(rec);
    close(r->client);
    close(r->server);
    av_free(r);
    return NULL;
}

static int tcp_listen(int *port)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                              .sin_port = htons(*port) };
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
        if (fd >= 0)
            close(fd);
        return AVERROR(errno);
    }
    *port = ntohs(sa.sin_port);
    return fd;
}

static void *record_loop(void *arg)
{
    dump *d = arg;

    while (!lr_stop_requested(&d->stop)) {
        struct pollfd p = { .fd = d->record_fd, .events = POLLIN };
        struct sockaddr_in sa = { .sin_family = AF_INET,
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                                  .sin_port = htons(d->plain_port) };
        relay *r;
        pthread_t t;
        int c;

        if (poll(&p, 1, 100) <= 0 || (c = accept4(d->record_fd, NULL, NULL, SOCK_CLOEXEC)) < 0)
            continue;
        if (!(r = av_mallocz(sizeof(*r)))) {
            close(c);
            continue;
        }
        r->d = d;
        r->client = c;
        r->server = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (r->server < 0 || connect(r->server, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
            pthread_create(&t, NULL, run_relay, r)) {
            if (r->server >= 0)
                close(r->server);
            close(c);
            av_free(r);
            continue;
        }
        pthread_detach(t);
    }
    return NULL;
}

/* ---- --split-amf: the command and data payloads of a recording ---- */

typedef struct split {
    const char *dir;
    unsigned    n;
} split;

static int write_amf(void *opaque, const lr_rtmp_msg *m)
{
    split *s = opaque;
    char path[1024];
    FILE *f;

    if (m->type != LR_RTMP_COMMAND_AMF0 && m->type != LR_RTMP_DATA_AMF0)
        return 0;
    snprintf(path, sizeof(path), "%s/msg-%02u-type%u", s->dir, s->n++, m->type);
    if (!(f = fopen(path, "wb")))
        return AVERROR(errno);
    fwrite(m->data, 1, m->size, f);
    fclose(f);
    return 0;
}

static int split_amf(const char *raw, const char *dir)
{
    lr_rtmp_chunk_reader *r = NULL;
    split s = { .dir = dir };
    uint8_t buf[4096];
    FILE *f = fopen(raw, "rb");
    size_t n;
    int ret = 0;

    if (!f || lr_rtmp_chunk_reader_alloc(&r) < 0) {
        fprintf(stderr, "rtmp_dump: %s: cannot read\n", raw);
        ret = 1;
        goto end;
    }
    while (!ret && (n = fread(buf, 1, sizeof(buf), f)) > 0)
        ret = lr_rtmp_chunk_read(r, buf, n, write_amf, &s);
    printf("%u AMF0 message(s) written to %s%s\n", s.n, dir, ret ? " (stream cut short)" : "");
    ret = 0;
end:
    if (f)
        fclose(f);
    lr_rtmp_chunk_reader_free(&r);
    return ret;
}

int main(int argc, char **argv)
{
    dump d = { .lectures = "x,y", .key = "k", .out_dir = ".", .idle_ms = 10000, .record_fd = -1 };
    lr_rtmp_listen_opts plain = { 0 }, tls = { 0 };
    const char *host = "127.0.0.1";
    char plain_addr[300], tls_addr[300];
    int port = 0;
    lr_rtmp_listener *lp = NULL, *lt = NULL;
    pthread_t recorder;
    int tls_port = -2, record_port = -2, ret = 1, sig;
    sigset_t set;

    if (argc == 4 && !strcmp(argv[1], "--split-amf"))
        return split_amf(argv[2], argv[3]);
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *o = argv[i], *v = argv[i + 1];
        if (!strcmp(o, "--host"))             host = v;
        else if (!strcmp(o, "--port"))        port = atoi(v);
        else if (!strcmp(o, "--tls-port"))    tls_port = atoi(v);
        else if (!strcmp(o, "--cert"))        tls.tls_cert = v;
        else if (!strcmp(o, "--key"))         tls.tls_key = v;
        else if (!strcmp(o, "--lectures"))    d.lectures = v;
        else if (!strcmp(o, "--stream-key"))  d.key = v;
        else if (!strcmp(o, "--out"))         d.out_dir = v;
        else if (!strcmp(o, "--record"))      d.record_dir = v;
        else if (!strcmp(o, "--record-port")) record_port = atoi(v);
        else if (!strcmp(o, "--idle-ms"))     d.idle_ms = plain.idle_ms = tls.idle_ms = atoi(v);
        else if (!strcmp(o, "--max-conns"))   plain.max_conns = tls.max_conns = atoi(v);
        else {
            fprintf(stderr, "rtmp_dump: unknown option %s (see the comment atop rtmp_dump.c)\n", o);
            return 2;
        }
    }
    snprintf(plain_addr, sizeof(plain_addr), "%s:%d", host, port);
    snprintf(tls_addr, sizeof(tls_addr), "%s:%d", host, tls_port > 0 ? tls_port : 0);
    plain.listen = plain_addr;
    tls.listen = tls_addr;

    /* signals are taken by sigwait below; no thread sees SIGPIPE */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    lr_log_set_level(LR_LOG_DEBUG);
    if (lr_stop_init(&d.stop) < 0 || pthread_mutex_init(&d.lock, NULL))
        return 1;

    if (lr_rtmp_listen(&plain, admit, accept_conn, &d, &lp) < 0)
        goto end;
    d.plain_port = lr_rtmp_listener_port(lp);
    printf("port=%d\n", d.plain_port);
    if (tls_port != -2) {
        if (lr_rtmp_listen(&tls, admit, accept_conn, &d, &lt) < 0)
            goto end;
        printf("tls_port=%d\n", lr_rtmp_listener_port(lt));
    }
    if (d.record_dir) {
        record_port = record_port < 0 ? 0 : record_port;
        if ((d.record_fd = tcp_listen(&record_port)) < 0 ||
            pthread_create(&recorder, NULL, record_loop, &d)) {
            fprintf(stderr, "rtmp_dump: no recording port\n");
            goto end;
        }
        printf("record_port=%d\n", record_port);
    }
    fflush(stdout);

    sigwait(&set, &sig);
    lr_info("rtmp_dump: %s, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    ret = 0;
end:
    lr_stop_request(&d.stop);
    lr_rtmp_listener_free(&lp);
    lr_rtmp_listener_free(&lt);
    if (d.record_fd >= 0) {
        pthread_join(recorder, NULL);
        close(d.record_fd);
    }
    for (int i = 0; i < MAX_WORKERS; i++)
        if (d.workers[i].used)
            pthread_join(d.workers[i].thread, NULL);
    pthread_mutex_destroy(&d.lock);
    lr_stop_destroy(&d.stop);
    return ret;
}
