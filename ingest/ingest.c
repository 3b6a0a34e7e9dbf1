/* ingest/ingest.c — the ingest role: starts one lr_lecture per configured
 * lecture (or, with no list, the demo's single lecture from `lecture` and
 * `ingest.source`) and, when ingest.listen is set, the SRT push listener
 * that admits lecturers at the handshake. Called by app/roles.c. */
#include "ingest.h"

#include <string.h>

#include <libavutil/mem.h>

#include "common/link.h"
#include "common/log.h"
#include "common/metrics.h"
#include "ingest_metrics.h"
#include "lecture.h"
#include "rtmp_listener.h"

struct lr_ingest {
    const lr_config  *conf;
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

    lr_ingest_metrics_render(in->lectures, in->nb_lectures, out);
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
    if ((i = decide(in, sid->resource, sid->session, LR_PUSH_SRT, 1, &ad->reason)) < 0) {
        if (i == AVERROR(EACCES) && !sid->session[0])
            ad->reason = "missing publish key (s=)";
        return i;
    }
    ad->passphrase = in->lconf[i]->passphrase;
    return 0;
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
    int i = find(in, sid->resource);

    if (i < 0)
        return AVERROR(ENOENT);
    announce_takeover(in, i, LR_PUSH_SRT, peer);
    if (lr_lecture_offer_push(in->lectures[i], sock, peer, in->lconf[i]->takeover) < 0) {
        lr_warn("lecture=%s push from %s refused: another publisher came first",
                in->lconf[i]->name, peer);
        return AVERROR(EBUSY);
    }
    return 0;
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
    int i = rtmp_lecture(in, p, &key);

    if (i < 0) {
        *reason = "unknown lecture";
        return AVERROR(ENOENT);
    }
    p->lecture = in->lconf[i]->name;
    i = decide(in, in->lconf[i]->name, key, LR_PUSH_RTMP, 1, reason);
    return i < 0 ? i : 0;
}

static int accept_rtmp(void *opaque, lr_rtmp_conn *c)
{
    lr_ingest *in = opaque;
    const lr_rtmp_publish *p = lr_rtmp_conn_publish(c);
    const char *key;
    int i = rtmp_lecture(in, p, &key);

    if (i < 0)
        return AVERROR(ENOENT);
    announce_takeover(in, i, LR_PUSH_RTMP, p->peer);
    lr_info("lecture=%s RTMP publish from %s (app '%s')", in->lconf[i]->name, p->peer, p->app);
    if (lr_lecture_offer_rtmp(in->lectures[i], c, in->lconf[i]->takeover) < 0) {
        lr_warn("lecture=%s RTMP publish from %s refused: another publisher came first",
                in->lconf[i]->name, p->peer);
        return AVERROR(EBUSY);
    }
    return 0;
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

int lr_ingest_start(const lr_config *c, lr_ingest **out)
{
    const lr_ingest_conf *ic = &c->ingest;
    lr_ingest *in;
    int ret = 0;

    lr_link_configure(&c->link);
    if (!(in = av_mallocz(sizeof(*in))))
        return AVERROR(ENOMEM);
    in->conf = c;
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
        lr_lecture_spec spec = { lc->name, (const char *const *)lc->sources, lc->nb_sources,
                                 ic->loop, ic->realtime, ic->stall_ms, lc->switch_back };
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

void lr_ingest_reload(lr_ingest *in)
{
    lr_rtmp_listener_reload_tls(in->rtmp[1]);
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
    av_freep(pin);
}
