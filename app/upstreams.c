/* app/upstreams.c — see upstreams.h. Once a second: every upstream's
 * /metrics and its events since the last seen, fetched at once under one
 * deadline (app/scrape.h), handed to the status (common/status.h). */
#include "upstreams.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "common/log.h"
#include "common/status.h"
#include "scrape.h"

#define POLL_MS    1000
#define TIMEOUT_MS 800

struct lr_upstreams {
    int              nb;
    lr_scrape_target targets[2 * LR_MAX_STATUS_UPSTREAMS]; /* metrics, then events */
    int64_t          since[LR_MAX_STATUS_UPSTREAMS];       /* newest event seen */
    int              down[LR_MAX_STATUS_UPSTREAMS];        /* said so in the log */
    size_t           base[LR_MAX_STATUS_UPSTREAMS];        /* its path before "/metrics" */
    char             token[256];
    SSL_CTX         *tls;
    int              wake[2];
    pthread_t        thread;
};

/* "origin": the URL's host:port, as the page shows it. */
static const char *origin(const lr_upstreams *u, int i)
{
    return u->targets[i].authority;
}

/* Lines "<t_ms>\t<lecture>\t<kind>\t<text>" (common/status.h). */
static void take_events(lr_upstreams *u, int i, char *body)
{
    for (char *line = body, *next; line && *line; line = next) {
        char *f[4];
        int n = 0;
        if ((next = strchr(line, '\n')))
            *next++ = '\0';
        for (char *p = line; n < 4 && p; n++) {
            f[n] = p;
            if ((p = n < 3 ? strchr(p, '\t') : NULL))
                *p++ = '\0';
        }
        if (n < 4)
            continue;
        int64_t t = strtoll(f[0], NULL, 10);
        if (t <= u->since[i])
            continue;
        u->since[i] = t;
        lr_status_upstream_event(origin(u, i), t, f[1], f[2], f[3]);
    }
}

static void poll_once(lr_upstreams *u)
{
    lr_scrape_result res[2 * LR_MAX_STATUS_UPSTREAMS] = { 0 };

    for (int i = 0; i < u->nb; i++) {
        /* the events' path: the metrics path with /api/v1/events for /metrics */
        lr_scrape_target *t = &u->targets[u->nb + i];
        snprintf(t->path + u->base[i], sizeof(t->path) - u->base[i],
                 "/api/v1/events?since=%" PRId64, u->since[i]);
    }
    if (lr_scrape_all(u->targets, 2 * u->nb, u->token[0] ? u->token : NULL, u->tls, TIMEOUT_MS,
                      u->wake[0], res) == AVERROR_EXIT)
        goto end;
    for (int i = 0; i < u->nb; i++) {
        if (u->down[i] != !res[i].ok) {
            if (res[i].ok)
                lr_info("status: upstream %s answers again", u->targets[i].url);
            else
                lr_warn("status: upstream %s: %s (its charts pause)", u->targets[i].url,
                        res[i].error);
            u->down[i] = !res[i].ok;
        }
        lr_status_set_upstream(origin(u, i), res[i].ok ? res[i].body : NULL);
        if (res[u->nb + i].ok)
            take_events(u, i, res[u->nb + i].body);
    }
end:
    for (int i = 0; i < 2 * u->nb; i++)
        lr_scrape_result_reset(&res[i]);
}

static void *poll_thread(void *arg)
{
    lr_upstreams *u = arg;
    struct pollfd pfd = { u->wake[0], POLLIN, 0 };

    for (;;) {
        poll_once(u);
        int r = poll(&pfd, 1, POLL_MS);
        if (r > 0 || (r < 0 && errno != EINTR))
            return NULL;  /* woken: stop */
    }
}

int lr_upstreams_start(const lr_config *c, lr_upstreams **out)
{
    lr_upstreams *u;
    char err[256];
    int ret, tls = 0;

    *out = NULL;
    if (!c->nb_status_upstreams)
        return 0;
    if (!(u = av_mallocz(sizeof(*u))))
        return AVERROR(ENOMEM);
    u->wake[0] = u->wake[1] = -1;
    u->nb = c->nb_status_upstreams;
    snprintf(u->token, sizeof(u->token), "%s", c->egress.metrics_token);
    for (int i = 0; i < u->nb; i++) {
        if ((ret = lr_scrape_parse_url(c->status_upstreams[i], &u->targets[i], err,
                                       sizeof(err))) < 0) {
            lr_error("status_upstreams: %s: %s", c->status_upstreams[i], err);
            goto fail;
        }
        u->targets[u->nb + i] = u->targets[i];
        u->base[i] = strlen(u->targets[i].path) - strlen("/metrics");
        tls |= u->targets[i].tls;
    }
    if (tls && (ret = lr_scrape_tls_new(NULL, &u->tls, err, sizeof(err))) < 0) {
        lr_error("status_upstreams: %s", err);
        goto fail;
    }
    if (pipe(u->wake) < 0) {
        ret = AVERROR(errno);
        goto fail;
    }
    if ((ret = pthread_create(&u->thread, NULL, poll_thread, u))) {
        ret = AVERROR(ret);
        goto fail;
    }
    lr_info("status: showing %d upstream role(s) beside this process's own", u->nb);
    *out = u;
    return 0;
fail:
    for (int i = 0; i < 2; i++)
        if (u->wake[i] >= 0)
            close(u->wake[i]);
    lr_scrape_tls_free(&u->tls);
    av_free(u);
    return ret;
}

void lr_upstreams_stop(lr_upstreams **pu)
{
    lr_upstreams *u = *pu;

    if (!u)
        return;
    if (write(u->wake[1], "x", 1) < 0)
        lr_warn("status: cannot wake the upstreams' thread: %s", strerror(errno));
    pthread_join(u->thread, NULL);
    close(u->wake[0]);
    close(u->wake[1]);
    lr_scrape_tls_free(&u->tls);
    av_freep(pu);
}
