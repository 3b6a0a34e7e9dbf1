/* tests/tools/serve_fixture.c — the egress's HTTP server alone, with the
 * store fed from stdin instead of the packager: the HTTP system tests and
 * bench/serve publish playlists (with their LL fields), parts and segments
 * exactly when they want. Usage: serve_fixture CONFIG.yaml; prints
 * "ports: HTTP TLS" then answers each stdin command with "ok" or "error":
 *   put KEY FILE TYPE MAX_AGE IMMUTABLE [MSN_COMPLETE PART_MSN PART TARGET ENDED]
 *   disk LECTURE DIR|-        remove KEY        quit
 * (the optional fields make an LL playlist). "tput" is "put" answering
 * "ok SECONDS", CLOCK_MONOTONIC just before the store took the object (with
 * the file already read), so bench/serve times wake-ups from the publication
 * itself rather than from when its own pipe write happened. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavutil/buffer.h>
#include <libavutil/file.h>
#include <libavutil/mem.h>

#include "app/conf.h"
#include "common/config.h"
#include "common/log.h"
#include "egress/http.h"
#include "egress/store.h"

/* As app/sanitizer.c: libh2o 2.2's per-thread pool-chunk cache, which no
 * API releases when a loop thread ends, is not a leak of ours. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:h2o_mem_alloc_recycle\n"
           "leak:libh2o-evloop.so\n";
}

static int put(lr_store *st, char **f, int n, double *put_at)
{
    uint8_t *data;
    size_t size;
    static char types[16][64];
    static int next_type;

    if (n != 6 && n != 11)
        return -1;
    if (av_file_map(f[2], &data, &size, 0, NULL) < 0)
        return -1;
    AVBufferRef *b = av_buffer_alloc(size ? size : 1);
    if (!b) {
        av_file_unmap(data, size);
        return -1;
    }
    memcpy(b->data, data, size);
    b->size = size;
    av_file_unmap(data, size);
    /* content_type must be a static string: keep a few around */
    char *type = types[next_type++ % 16];
    snprintf(type, sizeof(types[0]), "%s", f[3]);
    lr_store_obj o = { .data = b, .content_type = type, .max_age_s = atoi(f[4]),
                       .immutable = atoi(f[5]) };
    if (n == 11) {
        o.ll = 1;
        o.ll_msn_complete = atoll(f[6]);
        o.ll_part_msn = atoll(f[7]);
        o.ll_part = atoi(f[8]);
        o.ll_target_duration = atoi(f[9]);
        o.ll_ended = atoi(f[10]);
    }
    if (put_at) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        *put_at = ts.tv_sec + ts.tv_nsec / 1e9;
    }
    int ret = lr_store_put(st, f[1], &o);
    av_buffer_unref(&b);
    return ret;
}

/* SIGHUP reloads the certificate, as app/roles.c does for the program. */
static void *take_sighup(void *arg)
{
    sigset_t set;
    int sig;

    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    while (sigwait(&set, &sig) == 0)
        lr_http_reload(arg, NULL);
    return NULL;
}

int main(int argc, char **argv)
{
    lr_config conf = { 0 };
    lr_store *st = NULL;
    lr_http *h = NULL;
    char err[512], line[8192];
    int ret = 1;

    if (argc != 2) {
        fprintf(stderr, "usage: serve_fixture CONFIG.yaml\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    sigset_t hup;
    sigemptyset(&hup);
    sigaddset(&hup, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &hup, NULL); /* before any thread: they inherit it */
    if (lr_config_defaults(&conf, lr_app_conf_sections) < 0 ||
        lr_config_load_file(&conf, argv[1], err, sizeof(err)) < 0) {
        fprintf(stderr, "serve_fixture: bad configuration: %s\n", err);
        return 2;
    }
    enum lr_log_level level;
    if (lr_log_parse_level(conf.log_level, &level) == 0)
        lr_log_set_level(level);
    if (!(st = lr_store_alloc()) || lr_http_start(&conf.egress, st, &h) < 0)
        goto end;
    pthread_t hup_thread;
    if (pthread_create(&hup_thread, NULL, take_sighup, h) == 0)
        pthread_detach(hup_thread);
    printf("ports: %d %d\n", lr_http_port(h), lr_http_tls_port(h));
    fflush(stdout);
    while (fgets(line, sizeof(line), stdin)) {
        char *f[12], *save = NULL;
        int n = 0;
        for (char *t = strtok_r(line, " \t\r\n", &save); t && n < 12;
             t = strtok_r(NULL, " \t\r\n", &save))
            f[n++] = t;
        if (!n)
            continue;
        int r = -1;
        double put_at = -1;
        if (!strcmp(f[0], "quit"))
            break;
        else if (!strcmp(f[0], "put"))
            r = put(st, f, n, NULL);
        else if (!strcmp(f[0], "tput"))
            r = put(st, f, n, &put_at);
        else if (!strcmp(f[0], "remove") && n == 2)
            lr_store_remove(st, f[1]), r = 0;
        else if (!strcmp(f[0], "disk") && n == 3)
            r = lr_store_set_disk_dir(st, f[1], strcmp(f[2], "-") ? f[2] : NULL);
        if (r >= 0 && put_at >= 0)
            printf("ok %.6f\n", put_at);
        else
            printf("%s\n", r < 0 ? "error" : "ok");
        fflush(stdout);
    }
    ret = 0;
end:
    lr_http_stop(&h);
    lr_store_free(&st);
    lr_config_free(&conf);
    return ret;
}
