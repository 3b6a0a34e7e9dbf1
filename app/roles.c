/* app/roles.c — see roles.h. Stop signals are blocked in every thread and
 * taken with sigwait() here, so no role ever runs inside a signal handler.
 * The mask is set before any library starts a thread (libsrt does at
 * srt_startup), since threads inherit it.
 * Roles start downstream first (egress, transcode, ingest) so each link
 * finds its listener, and stop upstream first. */
#include "roles.h"
#include "upstreams.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libavutil/error.h>

#include "common/log.h"
#include "common/heartbeat.h"
#include "common/metrics.h"
#include "common/sd_notify.h"
#include "common/status.h"
#include "egress/egress.h"
#include "ingest/ingest.h"
#include "transcode/transcode.h"

static void print_watch_url(const lr_config *c, int port)
{
    char host[256];
    const char *colon = strrchr(c->egress.http, ':');
    size_t len = colon ? (size_t)(colon - c->egress.http) : 0;

    if (len == 0 || len >= sizeof(host))
        snprintf(host, sizeof(host), "127.0.0.1");
    else
        snprintf(host, sizeof(host), "%.*s", (int)len, c->egress.http);
    if (!strcmp(host, "0.0.0.0") || !strcmp(host, "[::]") || !strcmp(host, "::"))
        snprintf(host, sizeof(host), "127.0.0.1");
    printf("watch: http://%s:%d/watch/%s\n", host, port, c->lecture);
    fflush(stdout);
}

/* systemd's WatchdogSec= (WATCHDOG_USEC, for this process): how often to
 * ping, half of it; 0 when there is no watchdog. */
static int64_t watchdog_period_ns(void)
{
    const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
    long long us = usec ? atoll(usec) : 0;

    if (us <= 0 || (pid && *pid && atoll(pid) != (long long)getpid()))
        return 0;
    return (int64_t)us * 1000 / 2;
}

/* Pings the watchdog if every thread that must run has run lately
 * (common/heartbeat.h); says once which one has not, and stops pinging,
 * so that systemd restarts the role. */
static void watchdog_tick(void)
{
    static char logged[96];
    char name[96];
    int64_t age;

    if (lr_heartbeat_all_fresh(name, sizeof(name), &age)) {
        lr_sd_notify("WATCHDOG=1");
        logged[0] = '\0';
    } else if (strcmp(logged, name)) {
        lr_error("watchdog: %s has not run for %lld ms: no more pings, systemd will restart "
                 "this role", name, (long long)age);
        snprintf(logged, sizeof(logged), "%s", name);
    }
}

/* The next signal of set; with a watchdog, pinging it while waiting. */
static int wait_signal(const sigset_t *set)
{
    int64_t period = watchdog_period_ns();
    int sig = 0;

    if (!period)
        return sigwait(set, &sig) == 0 ? sig : -1;
    for (;;) {
        struct timespec t = { period / 1000000000, period % 1000000000 };

        watchdog_tick();
        if ((sig = sigtimedwait(set, NULL, &t)) > 0)
            return sig;
        if (errno != EAGAIN && errno != EINTR)
            return -1;
    }
}

void lr_roles_block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* Every configuration a reload loaded: the roles keep pointers into each
 * (a lecture running since the start, a passphrase handed to libsrt), so
 * none is freed before the roles stop. A reload costs a few kilobytes. */
typedef struct loaded {
    struct loaded *next;
    lr_config      conf;
} loaded;

typedef struct reload_keys {
    int roles, applied, later;
    char later_keys[512];
} reload_keys;

/* One changed key: applied by a running role, or not until the next start. */
static void note_key(void *opaque, const char *key)
{
    reload_keys *k = opaque;
    int live = !strcmp(key, "log_level") ||
               ((k->roles & LR_ROLE_INGEST) && lr_ingest_applies(key)) ||
               ((k->roles & LR_ROLE_TRANSCODE) && lr_transcode_applies(key)) ||
               ((k->roles & LR_ROLE_EGRESS) && lr_egress_applies(key));
    /* a key of a role this process doesn't run changes nothing here */
    int here = !strncmp(key, "ingest.", 7) ? (k->roles & LR_ROLE_INGEST)
             : !strncmp(key, "transcode.", 10) ? (k->roles & LR_ROLE_TRANSCODE)
             : !strncmp(key, "egress.", 7) ? (k->roles & LR_ROLE_EGRESS) : 1;

    if (live) {
        k->applied++;
    } else if (here) {
        size_t n = strlen(k->later_keys);
        snprintf(k->later_keys + n, sizeof(k->later_keys) - n, "%s%s", n ? ", " : "", key);
        k->later++;
    }
}

/* SIGHUP with a file: the file read again into a new configuration (kept
 * in *list); NULL when it fails to load (the message says FILE:LINE: why)
 * or changes nothing. */
static const lr_config *reload_file(const char *path, const lr_config *cur, int roles,
                                    loaded **list)
{
    loaded *l = calloc(1, sizeof(*l));
    char err[512];
    reload_keys k = { .roles = roles };

    if (!l || lr_config_defaults(&l->conf, cur->sections) < 0) {
        lr_error("reload: out of memory; the running configuration stays");
        free(l);
        return NULL;
    }
    if (lr_config_load_file(&l->conf, path, err, sizeof(err)) < 0) {
        lr_error("reload: bad configuration, the running one stays: %s", err);
        lr_config_free(&l->conf);
        free(l);
        return NULL;
    }
    if (!lr_config_diff(cur, &l->conf, note_key, &k)) {
        lr_info("reload: %s: nothing changed", path);
        lr_config_free(&l->conf);
        free(l);
        return NULL;
    }
    if (k.later)
        lr_warn("reload: %s: changed, applied when the role starts again: %s", path,
                k.later_keys);
    lr_info("reload: %s: %d changed key(s) applied now", path, k.applied);
    l->next = *list;
    *list = l;
    return &l->conf;
}

/* "ingest, transcode, egress", or those of them that run (the status page's). */
static const char *roles_names(int roles)
{
    static const struct { int role; const char *name; } all[] = {
        { LR_ROLE_INGEST, "ingest" }, { LR_ROLE_TRANSCODE, "transcode" },
        { LR_ROLE_EGRESS, "egress" },
    };
    static char names[64];
    size_t n = 0;

    names[0] = '\0';
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (roles & all[i].role)
            n += (size_t)snprintf(names + n, sizeof(names) - n, "%s%s", n ? ", " : "",
                                  all[i].name);
    return names;
}

int lr_roles_run(const lr_config *c, const char *path, int roles)
{
    loaded *reloaded = NULL;
    const lr_config *cur = c;
    lr_egress *egress = NULL;
    lr_transcode *transcode = NULL;
    lr_ingest *ingest = NULL;
    lr_metrics_server *metrics = NULL;
    lr_upstreams *upstreams = NULL;
    sigset_t set;
    int sig = 0, ret = 0;

    lr_roles_block_signals(&set);

    /* Roles without an egress (an ingest or transcoder on its own machine)
     * show their metrics here; the egress also serves them at /metrics. */
    if ((ret = lr_status_start(roles_names(roles))) < 0 ||
        (ret = lr_upstreams_start(c, &upstreams)) < 0)
        goto end;
    if (c->metrics[0] &&
        (ret = lr_metrics_serve(c->metrics, c->egress.metrics_token, &metrics)) < 0)
        goto end;
    if ((roles & LR_ROLE_EGRESS) && (ret = lr_egress_start(c, &egress)) < 0)
        goto end;
    if ((roles & LR_ROLE_TRANSCODE) && (ret = lr_transcode_start(c, &transcode)) < 0)
        goto end;
    if ((roles & LR_ROLE_INGEST) && (ret = lr_ingest_start(c, &ingest)) < 0)
        goto end;
    if (egress)
        print_watch_url(c, lr_egress_http_port(egress));
    lr_sd_notify("READY=1\nSTATUS=running");
    while ((sig = wait_signal(&set)) == SIGHUP) {
        const lr_config *next = NULL;
        lr_info("SIGHUP received");
        lr_sd_notify("RELOADING=1");
        if (path && (next = reload_file(path, cur, roles, &reloaded))) {
            enum lr_log_level level;
            cur = next;
            if (lr_log_parse_level(cur->log_level, &level) == 0)
                lr_log_set_level(level);
        }
        if (egress)
            lr_egress_reload(egress, next);
        if (transcode)
            lr_transcode_reload(transcode, next);
        if (ingest)
            lr_ingest_reload(ingest, next);
        lr_sd_notify("READY=1");
    }
    lr_sd_notify("STOPPING=1");
    lr_info("%s received: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
end:
    if (ret < 0)
        lr_error("cannot start: %s", av_err2str(ret));
    lr_ingest_stop(&ingest);
    lr_transcode_stop(&transcode);
    lr_egress_stop(&egress);
    lr_metrics_server_free(&metrics);
    lr_upstreams_stop(&upstreams);
    lr_status_stop();
    while (reloaded) {
        loaded *l = reloaded;
        reloaded = l->next;
        lr_config_free(&l->conf);
        free(l);
    }
    return ret < 0 ? 1 : 0;
}
