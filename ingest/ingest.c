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

struct lr_ingest {
    const lr_config  *conf;
    lr_lecture       *lectures[LR_MAX_LECTURES];
    const lr_lecture_conf *lconf[LR_MAX_LECTURES];  /* NULL for the demo's lecture */
    int               nb_lectures;
    const char       *demo_sources[1];
    lr_link_listener *listener;
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

static int takes_push(const lr_lecture_conf *lc)
{
    for (int i = 0; i < lc->nb_sources; i++)
        if (!strcmp(lc->sources[i], "push"))
            return 1;
    return 0;
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

static int admit(void *opaque, const lr_streamid *sid, const char *peer, lr_link_admission *ad)
{
    lr_ingest *in = opaque;
    const lr_lecture_conf *lc;
    int i = find(in, sid->resource);

    if (i < 0 || !takes_push(in->lconf[i])) {
        ad->reason = "unknown lecture";
        return AVERROR(ENOENT);
    }
    lc = in->lconf[i];
    if (!sid->plain && strcmp(sid->mode, "publish")) {
        ad->reason = "stream id mode must be publish";
        return AVERROR(EINVAL);
    }
    if (lc->publish_key[0] && !key_equal(sid->session, lc->publish_key)) {
        ad->reason = sid->session[0] ? "wrong publish key" : "missing publish key (s=)";
        return AVERROR(EACCES);
    }
    if (!lc->takeover && lr_lecture_push_live(in->lectures[i])) {
        ad->reason = "lecture already has a live publisher";
        return AVERROR(EBUSY);
    }
    ad->passphrase = lc->passphrase;
    return 0;
}

static int accept_push(void *opaque, int sock, const lr_streamid *sid, const char *peer)
{
    lr_ingest *in = opaque;
    int i = find(in, sid->resource);

    if (i < 0)
        return AVERROR(ENOENT);
    if (in->lconf[i]->takeover && lr_lecture_push_live(in->lectures[i]))
        lr_info("lecture=%s push from %s takes over from the live publisher", sid->resource, peer);
    lr_lecture_offer_push(in->lectures[i], sock, peer);
    return 0;
}

int lr_ingest_start(const lr_config *c, lr_ingest **out)
{
    const lr_ingest_conf *ic = &c->ingest;
    lr_ingest *in;
    int ret = 0;

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
    if ((ret = lr_metrics_register(collect, in)) < 0)
        goto fail;
    in->metrics = ret;
    *out = in;
    return 0;
fail:
    lr_ingest_stop(&in);
    return ret;
}

void lr_ingest_stop(lr_ingest **pin)
{
    lr_ingest *in = *pin;

    if (!in)
        return;
    lr_metrics_unregister(in->metrics);
    lr_link_listener_free(&in->listener);
    for (int i = 0; i < in->nb_lectures; i++)
        lr_lecture_stop(&in->lectures[i]);
    av_freep(pin);
}
