/* ingest/ingest.c — the ingest role: starts one lr_lecture per configured
 * lecture (or, with no list, the demo's single lecture from `lecture` and
 * `ingest.source`) and, when ingest.listen is set, the SRT push listener
 * that admits lecturers at the handshake. Called by app/roles.c. */
#include "ingest.h"

#include <pthread.h>
#include <string.h>

#include <libavutil/mem.h>

#include "common/link.h"
#include "common/log.h"
#include "common/metrics.h"
#include "ingest_metrics.h"
#include "lecture.h"
#include "rtmp_listener.h"

struct lr_ingest {
    const lr_config  *conf;     /* the one the lecture table follows (reloads) */
    /* The lecture table: read by the listeners' admission and hand-over and
     * by the metrics, rewritten by a reload (lr_ingest_reload). */
    pthread_rwlock_t  lock;
    lr_lecture       *lectures[LR_MAX_LECTURES];
    const lr_lecture_conf *lconf[LR_MAX_LECTURES];  /* NULL for the demo's lecture */
    int               nb_lectures;
    const char       *demo_sources[1];
    lr_link_listener *listener;
    lr_rtmp_listener *rtmp[2];  /* plain, TLS */
    int               metrics;  /* collector handle, 0 none */
};

static void collect(void *opaque, AVBPrint *out)
{
    lr_ingest *in = opaque;

    pthread_rwlock_rdlock(&in->lock);
    lr_ingest_metrics_render(in->lectures, in->nb_lectures, out);
    pthread_rwlock_unlock(&in->lock);
}

static int find(lr_ingest *in, const char *name)
{
    for (int i = 0; i < in->nb_lectures; i++)
        if (in->lconf[i] && !strcmp(in->lconf[i]->name, name))
            return i;
    return -1;
}


/* Compares without an early exit, so timing tells nothing about the key. */
static int key_equal(const char *given, const char *want)
{
    size_t n = strlen(want), m = strlen(given);
    unsigned diff = (unsigned)(n ^ m);

    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)want[i] ^ (unsigned char)(i < m ? given[i] : 0);
    return diff == 0;
}

/* The decision both protocols share: the lecture exists and takes this
 * protocol's push, the key fits, and it is not live already nor claimed by
 * another publisher admitted a moment ago (unless a new publisher takes
 * over): the claim is the admission (lecture.h). Returns the lecture's index
 * or a negative AVERROR. */
static int decide(lr_ingest *in, const char *lecture, const char *key, int proto, int hold,
                  const char **reason)
{
    const lr_lecture_conf *lc;
    int i = find(in, lecture);

    if (i < 0 || !lr_lecture_takes_push(in->lectures[i], proto)) {
        *reason = "unknown lecture";
        return AVERROR(ENOENT);
    }
    lc = in->lconf[i];
    if (lc->publish_key[0] && !key_equal(key ? key : "", lc->publish_key)) {
        *reason = key && key[0] ? "wrong publish key" : "missing publish key";
        return AVERROR(EACCES);
    }
    if (lr_lecture_claim_push(in->lectures[i], proto, lc->takeover,
                              hold && lc->publish_key[0]) < 0) {
        *reason = "lecture already has a live publisher";
        return AVERROR(EBUSY);
    }
    return i;
}

static int admit(void *opaque, const lr_streamid *sid, const char *peer, lr_link_admission *ad)
{
    lr_ingest *in = opaque;
    int i;

    if (!sid->plain && strcmp(sid->mode, "publish")) {
        ad->reason = "stream id mode must be publish";
        return AVERROR(EINVAL);
    }
    pthread_rwlock_rdlock(&in->lock);
    if ((i = decide(in, sid->resource, sid->session, LR_PUSH_SRT, 1, &ad->reason)) < 0) {
        if (i == AVERROR(EACCES) && !sid->session[0])
            ad->reason = "missing publish key (s=)";
    } else {
        /* every configuration the process loaded stays alive: the pointer
         * outlives a reload */
        ad->passphrase = in->lconf[i]->passphrase;
    }
    pthread_rwlock_unlock(&in->lock);
    return i < 0 ? i : 0;
}

static void announce_takeover(lr_ingest *in, int i, int proto, const char *peer)
{
    if (in->lconf[i]->takeover && lr_lecture_push_live(in->lectures[i], proto))
        lr_info("lecture=%s push from %s takes over from the live publisher",
                in->lconf[i]->name, peer);
}

static int accept_push(void *opaque, int sock, const lr_streamid *sid, const char *peer)
{
    lr_ingest *in = opaque;
    int ret = 0;

    pthread_rwlock_rdlock(&in->lock);
    int i = find(in, sid->resource);
    if (i < 0) {
        ret = AVERROR(ENOENT);  /* removed by a reload since its admission */
    } else {
        announce_takeover(in, i, LR_PUSH_SRT, peer);
        if (lr_lecture_offer_push(in->lectures[i], sock, peer, in->lconf[i]->takeover) < 0) {
            lr_warn("lecture=%s push from %s refused: another publisher came first",
                    in->lconf[i]->name, peer);
            ret = AVERROR(EBUSY);
        }
    }
    pthread_rwlock_unlock(&in->lock);
    return ret;
}

/* RTMP names the lecture by the stream name (rtmp://HOST/live/<lecture>, the
 * key as ?key=); Zoom-style "stream key only" setups send the lecture's
 * publish key alone as the name, which finds its lecture too. */
static int rtmp_lecture(lr_ingest *in, const lr_rtmp_publish *p, const char **key)
{
    *key = p->key;
    if (find(in, p->name) >= 0 || p->key)
        return find(in, p->name);
    for (int i = 0; i < in->nb_lectures; i++) {
        if (in->lconf[i] && in->lconf[i]->publish_key[0] &&
            key_equal(p->name, in->lconf[i]->publish_key)) {
            *key = p->name;
            return i;
        }
    }
    return -1;
}

static int admit_rtmp(void *opaque, lr_rtmp_publish *p, const char **reason)
{
    lr_ingest *in = opaque;
    const char *key;

    pthread_rwlock_rdlock(&in->lock);
    int i = rtmp_lecture(in, p, &key);
    if (i < 0) {
        *reason = "unknown lecture";
        i = AVERROR(ENOENT);
    } else {
        p->lecture = in->lconf[i]->name;  /* outlives a reload, as every configuration */
        i = decide(in, in->lconf[i]->name, key, LR_PUSH_RTMP, 1, reason);
    }
    pthread_rwlock_unlock(&in->lock);
    return i < 0 ? i : 0;
}

static int accept_rtmp(void *opaque, lr_rtmp_conn *c)
{
    lr_ingest *in = opaque;
    const lr_rtmp_publish *p = lr_rtmp_conn_publish(c);
    const char *key;
    int ret = 0;

    pthread_rwlock_rdlock(&in->lock);
    int i = rtmp_lecture(in, p, &key);
    if (i < 0) {
        ret = AVERROR(ENOENT);
    } else {
        announce_takeover(in, i, LR_PUSH_RTMP, p->peer);
        lr_info("lecture=%s RTMP publish from %s (app '%s')", in->lconf[i]->name, p->peer,
                p->app);
        if (lr_lecture_offer_rtmp(in->lectures[i], c, in->lconf[i]->takeover) < 0) {
            lr_warn("lecture=%s RTMP publish from %s refused: another publisher came first",
                    in->lconf[i]->name, p->peer);
            ret = AVERROR(EBUSY);
        }
    }
    pthread_rwlock_unlock(&in->lock);
    return ret;
}

static int rtmp_listen(lr_ingest *in, const char *hostport, const lr_ingest_conf *ic, int tls)
{
    lr_rtmp_listen_opts o = { .listen = hostport };
    int ret, port;

    if (tls) {
        o.tls_cert = ic->rtmps_cert;
        o.tls_key = ic->rtmps_key;
    }
    if ((ret = lr_rtmp_listen(&o, admit_rtmp, accept_rtmp, in, &in->rtmp[tls])) < 0)
        return ret;
    port = lr_rtmp_listener_port(in->rtmp[tls]);
    lr_info("ingest listening for %s publishers on %s (port %d): %s://HOST:%d/live/<lecture>"
            "?key=<publish key>", tls ? "RTMPS" : "RTMP", hostport, port,
            tls ? "rtmps" : "rtmp", port);
    return 0;
}

static lr_lecture_spec spec_of(const lr_config *c, const lr_lecture_conf *lc)
{
    const lr_ingest_conf *ic = &c->ingest;
    return (lr_lecture_spec){ lc->name, (const char *const *)lc->sources, lc->nb_sources,
                              ic->loop, ic->realtime, ic->stall_ms, lc->switch_back };
}

int lr_ingest_start(const lr_config *c, lr_ingest **out)
{
    const lr_ingest_conf *ic = &c->ingest;
    lr_ingest *in;
    int ret = 0;

    lr_link_configure(&c->link);
    if (!(in = av_mallocz(sizeof(*in))))
        return AVERROR(ENOMEM);
    in->conf = c;
    pthread_rwlock_init(&in->lock, NULL);
    if (ic->nb_lectures == 0) {
        lr_lecture_spec spec = { c->lecture, in->demo_sources, 1, ic->loop, ic->realtime,
                                 ic->stall_ms, 1 };
        in->demo_sources[0] = ic->source;
        if ((ret = lr_lecture_start(c, &spec, &in->lectures[0])) < 0)
            goto fail;
        in->nb_lectures = 1;
        lr_info("lecture=%s ingest reading %s", c->lecture, ic->source);
    }
    for (int i = 0; i < ic->nb_lectures; i++) {
        const lr_lecture_conf *lc = &ic->lectures[i];
        lr_lecture_spec spec = spec_of(c, lc);
        if ((ret = lr_lecture_start(c, &spec, &in->lectures[i])) < 0)
            goto fail;
        in->lconf[i] = lc;
        in->nb_lectures = i + 1;
    }
    if (ic->listen && ic->listen[0]) {
        /* Lecturers' passphrases are per lecture, set at each handshake. */
        lr_link_opts lo = { c->link.latency_ms, NULL };
        if ((ret = lr_link_listen(ic->listen, &lo, "ingest", admit, accept_push, in,
                                  &in->listener)) < 0)
            goto fail;
    }
    if (ic->rtmp_listen[0] && (ret = rtmp_listen(in, ic->rtmp_listen, ic, 0)) < 0)
        goto fail;
    if (ic->rtmps_listen[0] && (ret = rtmp_listen(in, ic->rtmps_listen, ic, 1)) < 0)
        goto fail;
    if ((ret = lr_metrics_register(collect, in)) < 0)
        goto fail;
    in->metrics = ret;
    *out = in;
    return 0;
fail:
    lr_ingest_stop(&in);
    return ret;
}

/* 1 when the running lecture can't take lc as it is (its sources or their
 * order of preference): it starts again. A key, a passphrase or takeover
 * changes in place. */
static int needs_restart(const lr_lecture_conf *was, const lr_lecture_conf *lc)
{
    int differ = was->nb_sources != lc->nb_sources || was->switch_back != lc->switch_back;
    for (int k = 0; !differ && k < lc->nb_sources; k++)
        differ = strcmp(was->sources[k], lc->sources[k]) != 0;
    return differ;
}

/* The lecture list of c in place of the running one: lectures gone are
 * stopped, new ones started, changed ones re-keyed in place or restarted;
 * the others see nothing. Admission waits on the table lock only while the
 * table itself changes (stops and starts happen outside it). */
static void reload_lectures(lr_ingest *in, const lr_config *c)
{
    const lr_ingest_conf *nic = &c->ingest;
    lr_lecture *gone[LR_MAX_LECTURES];
    const lr_lecture_conf *start[LR_MAX_LECTURES];
    int nb_gone = 0, nb_start = 0, nb_kept = 0;

    pthread_rwlock_wrlock(&in->lock);
    for (int i = 0; i < in->nb_lectures;) {
        const lr_lecture_conf *was = in->lconf[i], *lc = NULL;
        for (int j = 0; j < nic->nb_lectures && !lc; j++)
            if (!strcmp(nic->lectures[j].name, was->name))
                lc = &nic->lectures[j];
        if (lc && !needs_restart(was, lc)) {
            if (strcmp(lc->publish_key, was->publish_key) ||
                strcmp(lc->passphrase, was->passphrase) || lc->takeover != was->takeover)
                lr_info("lecture=%s reload: its keys or takeover changed, from the next "
                        "publisher on", lc->name);
            in->lconf[i++] = lc;
            nb_kept++;
            continue;
        }
        lr_info("lecture=%s reload: %s", was->name,
                lc ? "its sources changed: it starts again" : "removed: stopped");
        if (lc)
            start[nb_start++] = lc;
        gone[nb_gone++] = in->lectures[i];
        in->nb_lectures--;
        in->lectures[i] = in->lectures[in->nb_lectures];
        in->lconf[i] = in->lconf[in->nb_lectures];
    }
    in->conf = c;
    pthread_rwlock_unlock(&in->lock);

    for (int i = 0; i < nb_gone; i++)
        lr_lecture_stop(&gone[i]);
    for (int j = 0; j < nic->nb_lectures; j++) {
        int known = 0;
        pthread_rwlock_rdlock(&in->lock);
        known = find(in, nic->lectures[j].name) >= 0;
        pthread_rwlock_unlock(&in->lock);
        for (int k = 0; k < nb_start && !known; k++)
            known = start[k] == &nic->lectures[j];
        if (!known) {
            lr_info("lecture=%s reload: added", nic->lectures[j].name);
            start[nb_start++] = &nic->lectures[j];
        }
    }
    for (int k = 0; k < nb_start; k++) {
        lr_lecture_spec spec = spec_of(c, start[k]);
        lr_lecture *l = NULL;
        int ret = lr_lecture_start(c, &spec, &l);
        if (ret < 0) {
            lr_error("lecture=%s reload: cannot start: %s", start[k]->name, av_err2str(ret));
            continue;
        }
        pthread_rwlock_wrlock(&in->lock);
        in->lectures[in->nb_lectures] = l;  /* the file holds at most LR_MAX_LECTURES */
        in->lconf[in->nb_lectures++] = start[k];
        pthread_rwlock_unlock(&in->lock);
    }
    lr_info("ingest reload: %d lecture(s) kept, %d stopped, %d started", nb_kept,
            nb_gone, nb_start);
}

void lr_ingest_reload(lr_ingest *in, const lr_config *c)
{
    if (c && c != in->conf) {
        if (!in->conf->ingest.nb_lectures != !c->ingest.nb_lectures)
            lr_warn("ingest reload: the lecture list comes or goes (the demo's single "
                    "lecture): applied at the next start");
        else if (c->ingest.nb_lectures)
            reload_lectures(in, c);
    }
    lr_rtmp_listener_reload_tls(in->rtmp[1]);
}

int lr_ingest_applies(const char *key)
{
    /* the lecture list; the RTMPS certificate's files are read again as they
     * were named at the start */
    return !strcmp(key, "ingest.lectures");
}

void lr_ingest_stop(lr_ingest **pin)
{
    lr_ingest *in = *pin;

    if (!in)
        return;
    lr_metrics_unregister(in->metrics);
    lr_link_listener_free(&in->listener);
    lr_rtmp_listener_free(&in->rtmp[0]);
    lr_rtmp_listener_free(&in->rtmp[1]);
    for (int i = 0; i < in->nb_lectures; i++)
        lr_lecture_stop(&in->lectures[i]);
    pthread_rwlock_destroy(&in->lock);
    av_freep(pin);
}
