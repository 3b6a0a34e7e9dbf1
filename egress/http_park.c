/* egress/http_park.c — LL-HLS holding: blocking playlist reloads and preload
 * hints parked per path on their worker, woken when the store publishes
 * that path (a message to each loop), or answered at their timeout. */
#include "http_internal.h"

/* ---- parking (blocking reload, preload hints) ---------------------------- */

static waitlist **park_slot(worker *w, const char *path, size_t len)
{
    waitlist **pw = &w->park[hash_bytes(path, len) & (PARK_BUCKETS - 1)];
    while (*pw && ((*pw)->len != len || memcmp((*pw)->path, path, len)))
        pw = &(*pw)->next;
    return pw;
}

/* p->wl of a request taken off its waitlist to be answered next. */
static waitlist answering;

/* Takes p off its waitlist (or the answering list) and timer, freeing an
 * emptied waitlist. */
void lr__http_unpark(parked *p)
{
    worker *w = p->w;
    if (!p->wl)
        return;
    if (p->wl == &answering) {
        h2o_linklist_unlink(&p->link);
        p->wl = NULL;
        return;
    }
    h2o_timeout_unlink(&p->timeout);
    h2o_linklist_unlink(&p->link);
    if (h2o_linklist_is_empty(&p->wl->parked)) {
        waitlist **pw = park_slot(w, p->wl->path, p->wl->len);
        if (*pw == p->wl) {
            *pw = p->wl->next;
            av_free(p->wl);
        }
    }
    p->wl = NULL;
    atomic_fetch_sub(&w->nb_parked, 1);
}

/* The request's pool is going (answered, or the client went away). */
static void parked_dispose(void *arg)
{
    lr__http_unpark(arg);
}

static void on_park_timeout(h2o_timeout_entry_t *entry)
{
    parked *p = H2O_STRUCT_FROM_MEMBER(parked, timeout, entry);
    h2o_req_t *req = p->req;
    enum park_kind kind = p->kind;
    atomic_fetch_add_explicit(&p->w->park_timeouts, 1, memory_order_relaxed);
    lr__http_unpark(p);
    /* RFC 8216bis 6.2.5.2: a playlist that can't be produced in time is a
     * temporary failure (503); a hinted part that never came is gone (404). */
    if (kind == PARK_PLAYLIST)
        lr__http_send_error(req, 503, "Service Unavailable", ERROR_CC);
    else
        lr__http_send_404(req);
}

static h2o_timeout_t *timeout_queue_for(worker *w, uint64_t ms)
{
    for (int i = 0; i < w->nb_tq; i++)
        if (w->tq[i].ms == ms)
            return &w->tq[i].t;
    if (w->nb_tq == MAX_TIMEOUT_QUEUES) {
        /* many distinct target durations: the nearest shorter queue */
        timeout_queue *best = &w->tq[0];
        for (int i = 1; i < w->nb_tq; i++)
            if (w->tq[i].ms <= ms && (best->ms > ms || w->tq[i].ms > best->ms))
                best = &w->tq[i];
        return &best->t;
    }
    timeout_queue *q = &w->tq[w->nb_tq++];
    q->ms = ms;
    h2o_timeout_init(w->ctx.loop, &q->t, ms);
    return &q->t;
}

/* Parks req until key is published (and satisfies it), or timeout_ms. */
void lr__http_park(h2o_req_t *req, const char *key, size_t len, enum park_kind kind, int64_t msn,
                   int part, uint64_t timeout_ms)
{
    worker *w = req_worker(req);
    if (lr__http_at_max_parked(w->h)) {
        /* a second later the part is out: the player asks again then */
        static const char body[] = "too many requests waiting\n";
        lr__http_add_header(req, H2O_TOKEN_RETRY_AFTER, "1");
        lr__http_add_header(req, H2O_TOKEN_CACHE_CONTROL, ERROR_CC);
        lr__http_count_response(w, 503, sizeof(body) - 1);
        h2o_send_error_generic(req, 503, "Service Unavailable", body, H2O_SEND_ERROR_KEEP_HEADERS);
        return;
    }
    waitlist **pw = park_slot(w, key, len);
    if (!*pw) {
        waitlist *wl = av_malloc(sizeof(*wl) + len + 1);
        if (!wl) {
            lr__http_send_500(req);
            return;
        }
        wl->next = NULL;
        h2o_linklist_init_anchor(&wl->parked);
        wl->len = len;
        memcpy(wl->path, key, len);
        wl->path[len] = '\0';
        *pw = wl;
    }
    parked *p = h2o_mem_alloc_shared(&req->pool, sizeof(*p), parked_dispose);
    memset(p, 0, sizeof(*p));
    p->req = req;
    p->w = w;
    p->wl = *pw;
    p->kind = kind;
    p->msn = msn;
    p->part = part;
    p->timeout.cb = on_park_timeout;
    h2o_linklist_insert(&p->wl->parked, &p->link);
    h2o_timeout_link(w->ctx.loop, timeout_queue_for(w, timeout_ms), &p->timeout);
    atomic_fetch_add(&w->nb_parked, 1);
}

int lr__http_playlist_satisfies(const lr_store_obj *o, int64_t msn, int part)
{
    if (!o->ll || o->ll_ended)
        return 1;
    if (part < 0)
        return o->ll_msn_complete >= msn || o->ll_part_msn > msn;
    return o->ll_part_msn > msn || (o->ll_part_msn == msn && o->ll_part >= part);
}

const char *lr__http_blocking_cc(h2o_req_t *req, const lr_store_obj *o)
{
    char cc[64];
    int age = 3 * o->ll_target_duration;
    snprintf(cc, sizeof(cc), "public, max-age=%d", age);
    return pool_strdup(req, cc, strlen(cc));
}

/* A publication of path: answers what it satisfies among the requests this
 * worker has parked on it. Loop thread. */
static void wake_path(worker *w, const char *path, size_t len)
{
    waitlist **pw = park_slot(w, path, len);
    if (!*pw)
        return;
    lr_store_obj obj;
    if (lr_store_get(w->h->store, path, len, &obj) < 0)
        return;
    /* First move the satisfied ones to a list of their own: answering one
     * may close a connection and so dispose of others (which then take
     * themselves off whichever list they are on). */
    waitlist *wl = *pw;
    h2o_linklist_t ready;
    h2o_linklist_init_anchor(&ready);
    h2o_linklist_t *n = wl->parked.next;
    int emptied = 0;
    while (!emptied && n != &wl->parked) {
        parked *p = H2O_STRUCT_FROM_MEMBER(parked, link, n);
        n = n->next;
        if (p->kind == PARK_PLAYLIST && !obj.redirect &&
            !lr__http_playlist_satisfies(&obj, p->msn, p->part))
            continue;
        emptied = n == &wl->parked && wl->parked.next == &p->link;
        lr__http_unpark(p); /* frees wl when p was its last */
        p->wl = &answering;
        h2o_linklist_insert(&ready, &p->link);
    }
    while (!h2o_linklist_is_empty(&ready)) {
        parked *p = H2O_STRUCT_FROM_MEMBER(parked, link, ready.next);
        h2o_req_t *req = p->req;
        enum park_kind kind = p->kind;
        int64_t msn = p->msn;
        int part = p->part;
        lr__http_unpark(p);
        lr_store_obj ref = obj;
        if (!(ref.data = av_buffer_ref(obj.data)))
            lr__http_send_500(req);
        else if (kind == PARK_PLAYLIST && obj.redirect)  /* the rendition was shed */
            lr__http_send_shed_playlist(w->h, req, path, len, &ref, msn, part);
        else
            lr__http_send_store_obj(req, &ref, kind == PARK_PLAYLIST
                                                   ? lr__http_blocking_cc(req, &obj) : IMMUTABLE_CC);
    }
    lr_store_obj_unref(&obj);
}

/* A published playlist whose newest part closed its segment (M, last part L)
 * tells that the preload hint "M.(L+1)" players may be holding will never
 * exist: those held requests get 404 now, not after the timeout, so the
 * player asks for (M+1).0 at once. Loop thread. */
static void fail_dead_hint(worker *w, const char *path, size_t len)
{
    static const char suffix[] = "index.m3u8";
    static const char *const exts[] = { "m4s", "ts" };
    lr_store_obj obj;

    if (len < sizeof(suffix) - 1 || memcmp(path + len - (sizeof(suffix) - 1), suffix,
                                            sizeof(suffix) - 1))
        return;
    if (lr_store_get(w->h->store, path, len, &obj) < 0)
        return;
    int dead = obj.ll && obj.ll_part >= 0 && obj.ll_part_msn == obj.ll_msn_complete;
    int64_t msn = obj.ll_part_msn;
    int part = obj.ll_part + 1;
    lr_store_obj_unref(&obj);
    if (!dead)
        return;
    for (size_t e = 0; e < sizeof(exts) / sizeof(exts[0]); e++) {
        char key[600];
        int n = snprintf(key, sizeof(key), "%.*s%" PRId64 ".%d.%s",
                         (int)(len - (sizeof(suffix) - 1)), path, msn, part, exts[e]);
        if (n <= 0 || n >= (int)sizeof(key))
            continue;
        waitlist **pw = park_slot(w, key, (size_t)n);
        if (!*pw)
            continue;
        /* As in wake_path: off the waitlist first, then answer. */
        h2o_linklist_t ready;
        h2o_linklist_init_anchor(&ready);
        while (*pw && (*pw)->len == (size_t)n && !memcmp((*pw)->path, key, (size_t)n)) {
            parked *p = H2O_STRUCT_FROM_MEMBER(parked, link, (*pw)->parked.next);
            lr__http_unpark(p);  /* frees the waitlist (and moves *pw on) with its last */
            p->wl = &answering;
            h2o_linklist_insert(&ready, &p->link);
        }
        while (!h2o_linklist_is_empty(&ready)) {
            parked *p = H2O_STRUCT_FROM_MEMBER(parked, link, ready.next);
            h2o_req_t *req = p->req;
            lr__http_unpark(p);
            lr__http_send_404(req);
        }
    }
}

void lr__http_on_publish_message(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    worker *w = H2O_STRUCT_FROM_MEMBER(worker, publish_receiver, receiver);
    while (!h2o_linklist_is_empty(messages)) {
        publish_msg *m = H2O_STRUCT_FROM_MEMBER(publish_msg, super.link, messages->next);
        h2o_linklist_unlink(&m->super.link);
        if (!w->stopping) {
            wake_path(w, m->path, strlen(m->path));
            fail_dead_hint(w, m->path, strlen(m->path));
        }
        av_free(m);
    }
}

/* The store's publish callback (packager thread): a message to each loop
 * that has requests parked; nothing at all while none is. */
void lr__http_on_store_publish(void *opaque, const char *path)
{
    lr_http *h = opaque;
    size_t len = strlen(path);
    for (int i = 0; i < h->nb_workers; i++) {
        worker *w = &h->workers[i];
        if (!atomic_load_explicit(&w->nb_parked, memory_order_relaxed))
            continue;
        publish_msg *m = av_mallocz(sizeof(*m) + len + 1);
        if (!m) {
            lr_warn("http: out of memory waking parked requests for %s", path);
            continue;
        }
        memcpy(m->path, path, len + 1);
        h2o_multithread_send_message(&w->publish_receiver, &m->super);
    }
}
