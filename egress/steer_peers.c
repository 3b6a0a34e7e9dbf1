/* egress/steer_peers.c — polls the peers' /api/v1/node (see steer_peers.h).
 * One thread for all peers, one request at a time: a handful of peers,
 * each answered within the deadline or marked down until its next answer. */
#include "steer_peers.h"

#include <pthread.h>
#include <string.h>

#include <jansson.h>
#include <libavformat/avio.h>
#include <libavutil/dict.h>
#include <libavutil/mem.h>

#include "common/log.h"
#include "common/stop.h"
#include "common/streamid.h"

#define MAX_ANSWER    (256 * 1024)
#define MAX_AGE_MS    (24 * 3600 * INT64_C(1000))  /* an answer beyond it is nonsense */

typedef struct peer {
    char           url[512];     /* <base>/api/v1/node */
    int64_t        answered_ms;  /* 0 never */
    lr_node_answer last;
    int            was_down;     /* logged once per outage */
} peer;

struct lr_steer_peers {
    pthread_t       thread;
    pthread_mutex_t lock;
    lr_stop         stop;
    int             interval_ms, timeout_ms;
    int             nb;
    peer            peers[LR_MAX_PEERS];
};

static int64_t now_ms(void)
{
    return lr_now_ns() / 1000000;
}

static int interrupted(void *opaque)
{
    return lr_stop_requested(opaque);
}

/* GET url: the body (av_malloc'd, NUL-terminated) or NULL. */
static char *fetch(lr_steer_peers *p, const char *url)
{
    AVIOInterruptCB cb = { interrupted, &p->stop };
    AVDictionary *opts = NULL;
    AVIOContext *pb = NULL;
    char *body = NULL;
    int len = 0, n;

    av_dict_set_int(&opts, "rw_timeout", (int64_t)p->timeout_ms * 1000, 0);
    av_dict_set_int(&opts, "timeout", (int64_t)p->timeout_ms * 1000, 0);
    av_dict_set(&opts, "reconnect", "0", 0);
    if (avio_open2(&pb, url, AVIO_FLAG_READ, &cb, &opts) >= 0 &&
        (body = av_malloc(MAX_ANSWER + 1))) {
        while (len < MAX_ANSWER && (n = avio_read(pb, (unsigned char *)body + len,
                                                   MAX_ANSWER - len)) > 0)
            len += n;
        body[len] = '\0';
        if (!len)
            av_freep(&body);
    }
    avio_closep(&pb);
    av_dict_free(&opts);
    return body;
}

int lr_node_answer_parse(const char *body, int64_t at_ms, lr_node_answer *out)
{
    json_error_t err;
    json_t *o = json_loads(body, JSON_REJECT_DUPLICATES, &err), *lectures, *v;
    const char *name;

    out->full = 0;
    out->nb = 0;
    if (!o || !json_is_object(o) || !json_is_object(lectures = json_object_get(o, "lectures"))) {
        json_decref(o);
        return -1;
    }
    json_int_t viewers = json_integer_value(json_object_get(o, "viewers"));
    json_int_t capacity = json_integer_value(json_object_get(o, "capacity"));
    out->full = capacity > 0 && viewers > capacity;
    json_object_foreach(lectures, name, v) {
        json_t *age = json_object_get(v, "age_ms"), *target = json_object_get(v, "target_duration_ms");
        json_int_t age_ms = json_integer_value(age), target_ms = json_integer_value(target);
        if (out->nb == LR_NODE_ANSWER_MAX_LECTURES || strlen(name) > LR_LECTURE_NAME_MAX ||
            !json_is_integer(age) || age_ms < 0 || age_ms > MAX_AGE_MS ||
            target_ms < 0 || target_ms > MAX_AGE_MS)
            continue;
        snprintf(out->lectures[out->nb].name, sizeof(out->lectures[0].name), "%s", name);
        out->lectures[out->nb].target_ms = target_ms;
        out->lectures[out->nb++].newest_ms = at_ms - age_ms;
    }
    json_decref(o);
    return 0;
}

static void *poll_thread(void *arg)
{
    lr_steer_peers *p = arg;

    lr_log_quiet_libraries(1);  /* a peer down is said once below, not per poll */
    while (!lr_stop_requested(&p->stop)) {
        int64_t start = now_ms();
        for (int i = 0; i < p->nb && !lr_stop_requested(&p->stop); i++) {
            lr_node_answer got;
            char *body = fetch(p, p->peers[i].url);
            int ok = body && lr_node_answer_parse(body, now_ms(), &got) == 0;
            av_free(body);
            pthread_mutex_lock(&p->lock);
            peer *pe = &p->peers[i];
            if (ok) {
                pe->answered_ms = now_ms();
                pe->last = got;
            } else {
                pe->answered_ms = 0;  /* refused or past the deadline: down now */
            }
            int report = ok == pe->was_down;
            pe->was_down = !ok;
            pthread_mutex_unlock(&p->lock);
            if (report)
                lr_log(ok ? LR_LOG_INFO : LR_LOG_WARN, "steering: peer %s %s", pe->url,
                       ok ? "answers again" : "does not answer: its pathway goes last");
        }
        lr_stop_wait_until(&p->stop, (start + p->interval_ms) * INT64_C(1000000));
    }
    return NULL;
}

int lr_steer_peers_start(const lr_steering_conf *conf, int interval_ms, int timeout_ms,
                         lr_steer_peers **out)
{
    lr_steer_peers *p;

    *out = NULL;
    if (!conf->nb_peers)
        return 0;
    if (!(p = av_mallocz(sizeof(*p))))
        return AVERROR(ENOMEM);
    p->interval_ms = interval_ms;
    p->timeout_ms = timeout_ms;
    p->nb = conf->nb_peers;
    for (int i = 0; i < p->nb; i++) {
        size_t n = strlen(conf->peers[i].url);
        while (n && conf->peers[i].url[n - 1] == '/')
            n--;
        snprintf(p->peers[i].url, sizeof(p->peers[i].url), "%.*s/api/v1/node", (int)n,
                 conf->peers[i].url);
    }
    pthread_mutex_init(&p->lock, NULL);
    if (lr_stop_init(&p->stop) < 0) {
        pthread_mutex_destroy(&p->lock);
        av_free(p);
        return AVERROR(ENOMEM);
    }
    if (pthread_create(&p->thread, NULL, poll_thread, p)) {
        lr_stop_destroy(&p->stop);
        pthread_mutex_destroy(&p->lock);
        av_free(p);
        return AVERROR(EAGAIN);
    }
    *out = p;
    return 0;
}

void lr_steer_peers_stop(lr_steer_peers **pp)
{
    lr_steer_peers *p = *pp;

    if (!p)
        return;
    lr_stop_request(&p->stop);
    pthread_join(p->thread, NULL);
    lr_stop_destroy(&p->stop);
    pthread_mutex_destroy(&p->lock);
    av_freep(pp);
}

int lr_steer_peers_healthy(lr_steer_peers *p, int i, const char *lecture, int64_t max_age_ms,
                           int *full)
{
    int healthy = 0;
    int64_t now = now_ms();

    *full = 0;
    if (!p || i < 0 || i >= p->nb)
        return 0;
    pthread_mutex_lock(&p->lock);
    const peer *pe = &p->peers[i];
    if (pe->answered_ms && now - pe->answered_ms <= 3 * (int64_t)p->interval_ms) {
        const lr_node_answer *a = &pe->last;
        *full = a->full;
        for (int k = 0; k < a->nb; k++)
            if (!strcmp(a->lectures[k].name, lecture))
                healthy = now - a->lectures[k].newest_ms <=
                          (a->lectures[k].target_ms ? 2 * a->lectures[k].target_ms : max_age_ms);
    }
    pthread_mutex_unlock(&p->lock);
    return healthy;
}
