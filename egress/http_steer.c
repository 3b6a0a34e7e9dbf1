/* egress/http_steer.c — Content Steering over HTTP (docs/regions.md):
 * /steer/<lecture>.json, the steering manifest, its pathway priority
 * computed for each request from the pathways' health (this node's store,
 * the peers' last answers: steer_peers.c), the client's address (the
 * operator's prefix map) and load; and /api/v1/node, what the peers poll.
 * Called by http_routes.c. */
#include "http_internal.h"

#include "common/stop.h"

/* EXT-X-TARGETDURATION of a media playlist, in ms; 0 when absent. */
static int64_t target_ms(const lr_store_obj *o)
{
    const char *t;

    if (o->ll)
        return o->ll_target_duration * INT64_C(1000);
    t = memmem(o->data->data, o->data->size, "#EXT-X-TARGETDURATION:", 22);
    return t ? atoi(t + 22) * INT64_C(1000) : 0;
}

/* How old the lecture's newest publication is (ms; -1: not live here), and
 * its target duration. */
static int64_t lecture_age_ms(lr_http *h, const char *lecture, int64_t *target)
{
    char *rends = NULL, key[256];
    int64_t newest = 0, now = lr_now_ns();

    *target = 0;
    if (lr_store_list_renditions(h->store, lecture, &rends) < 0)
        return -1;
    for (const char *r = rends; *r; r += strlen(r) + 1) {
        lr_store_obj o;
        int n = snprintf(key, sizeof(key), "%s/%s/index.m3u8", lecture, r);
        if (n >= (int)sizeof(key) || lr_store_get(h->store, key, n, &o) < 0)
            continue;
        if (!o.redirect && !o.ll_ended) {
            newest = FFMAX(newest, o.published_ns);
            *target = FFMAX(*target, target_ms(&o));
        }
        lr_store_obj_unref(&o);
    }
    av_free(rends);
    return newest ? (now - newest) / 1000000 : -1;
}

void lr__http_serve_node(lr_http *h, h2o_req_t *req)
{
    const lr_steering_conf *st = &h->conf->steering;
    char *names = NULL;
    AVBPrint bp;
    int first = 1;

    if (lr_store_list_lectures(h->store, &names) < 0) {
        lr__http_send_500(req);
        return;
    }
    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    av_bprintf(&bp, "{\"pathway\":\"%s\",\"viewers\":%d,\"capacity\":%d,\"lectures\":{",
               st->pathway ? st->pathway : "", lr__http_viewers_total(h), st->viewer_capacity);
    for (const char *p = names; *p; p += strlen(p) + 1) {
        int64_t target, age = lr_lecture_name_valid(p) ? lecture_age_ms(h, p, &target) : -1;
        if (age < 0)
            continue;
        av_bprintf(&bp, "%s\"%s\":{\"age_ms\":%" PRId64 ",\"target_duration_ms\":%" PRId64 "}",
                   first ? "" : ",", p, age, target);
        first = 0;
    }
    av_bprintf(&bp, "}}\n");
    av_free(names);
    lr__http_send_bprint(req, &bp, "application/json", "no-store");
}

/* The pathways the operator's map prefers for ip: the first prefix that
 * holds it (h->prefixes: parsed once at start). */
static int preferred_for(const lr_http *h, const char *ip, const char *const **out)
{
    const lr_steering_conf *st = &h->conf->steering;

    for (int i = 0; i < h->nb_prefixes; i++) {
        if (lr_cidr_match(&h->prefixes[i], ip)) {
            *out = (const char *const *)st->prefixes[i].pathways;
            return st->prefixes[i].nb_pathways;
        }
    }
    *out = NULL;
    return 0;
}

void lr__http_serve_steering(lr_http *h, h2o_req_t *req, const char *rest, size_t len)
{
    const lr_steering_conf *st = &h->conf->steering;
    lr_pathway_state s[LR_MAX_PEERS + 1];
    int order[LR_MAX_PEERS + 1], nb = st->nb_peers + 1, nb_pref;
    char lecture[LR_LECTURE_NAME_MAX + 1], ip[INET6_ADDRSTRLEN], reload[LR_LECTURE_NAME_MAX + 16];
    const char *const *pref;
    int64_t target, age;
    AVBPrint bp;

    if (!st->pathway || !*st->pathway || !has_suffix(rest, len, ".json") || len - 5 > LR_LECTURE_NAME_MAX) {
        lr__http_send_404(req);
        return;
    }
    memcpy(lecture, rest, len - 5);
    lecture[len - 5] = '\0';
    if (!lr_lecture_name_valid(lecture)) {
        lr__http_send_404(req);
        return;
    }
    age = lecture_age_ms(h, lecture, &target);
    /* two target durations without a new segment: stale (2 s if unknown) */
    int64_t max_age = 2 * (target > 0 ? target : 1000);
    s[0] = (lr_pathway_state){ .id = st->pathway, .healthy = age >= 0 && age <= max_age,
                               .over_capacity = st->viewer_capacity > 0 &&
                                                lr__http_viewers_total(h) > st->viewer_capacity };
    for (int i = 0; i < st->nb_peers; i++) {
        int full;
        s[i + 1] = (lr_pathway_state){ .id = st->peers[i].pathway };
        s[i + 1].healthy = lr_steer_peers_healthy(h->peers, i, lecture, max_age, &full);
        s[i + 1].over_capacity = full;
    }
    peer_ip(req, ip, sizeof(ip));
    nb_pref = preferred_for(h, ip, &pref);
    lr_steering_priority(s, nb, pref, nb_pref, order);
    snprintf(reload, sizeof(reload), "/steer/%s.json", lecture);
    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    if (lr_steering_manifest(st->ttl, reload, s, order, nb, &bp) < 0) {
        av_bprint_finalize(&bp, NULL);
        lr__http_send_500(req);
        return;
    }
    lr__http_send_bprint(req, &bp, "application/json", "no-store");
}
