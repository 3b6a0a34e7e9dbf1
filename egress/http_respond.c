/* egress/http_respond.c — building responses: headers, CORS, errors with
 * their cache policy, bodies owned or referenced (zero-copy from the store),
 * and the counters behind lr_http_responses_total. Used by every route. */
#include "http_internal.h"

/* ---- responses ---------------------------------------------------------- */

typedef struct held_buffer {
    AVBufferRef *buf;
} held_buffer;

static void held_buffer_dispose(void *p)
{
    held_buffer *hb = p;
    av_buffer_unref(&hb->buf);
}

void lr__http_add_header(h2o_req_t *req, const h2o_token_t *token, const char *value)
{
    h2o_add_header(&req->pool, &req->res.headers, token, NULL, value, strlen(value));
}

/* For headers libh2o 2.2 has no token for; name is lower case and static. */
void lr__http_add_header_str(h2o_req_t *req, const char *name, const char *value)
{
    h2o_add_header_by_str(&req->pool, &req->res.headers, name, strlen(name), 0, NULL, value,
                          strlen(value));
}

/* Access-Control-Allow-Origin from egress.cors_origins: "*", or the
 * request's Origin when it is one of the listed ones (then Vary: Origin). */
void lr__http_add_cors(lr_http *h, h2o_req_t *req)
{
    const char *origins = h->conf->cors_origins;
    if (!origins || !*origins || !strcmp(origins, "*")) {
        lr__http_add_header(req, H2O_TOKEN_ACCESS_CONTROL_ALLOW_ORIGIN, "*");
        return;
    }
    lr__http_add_header(req, H2O_TOKEN_VARY, "Origin");
    ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("origin"), -1);
    if (i < 0)
        return;
    h2o_iovec_t o = req->headers.entries[i].value;
    for (const char *p = origins; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, " ,");
        if (n && n == o.len && !memcmp(p, o.base, n)) {
            h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ACCESS_CONTROL_ALLOW_ORIGIN,
                           NULL, o.base, o.len);
            return;
        }
        p += n;
    }
}

void lr__http_count_response(worker *w, int status, size_t bytes)
{
    if (status >= 100 && status < MAX_STATUS)
        atomic_fetch_add_explicit(&w->status[status], 1, memory_order_relaxed);
    if (bytes != SIZE_MAX)
        atomic_fetch_add_explicit(&w->bytes, bytes, memory_order_relaxed);
}

void lr__http_send_error(h2o_req_t *req, int status, const char *reason, const char *cc)
{
    lr_http *h = req_worker(req)->h;
    char body[64];
    snprintf(body, sizeof(body), "%s\n", reason);
    lr__http_add_header(req, H2O_TOKEN_CACHE_CONTROL, cc);
    lr__http_add_cors(h, req);
    lr__http_count_response(req_worker(req), status, strlen(body));
    h2o_send_error_generic(req, status, reason, pool_strdup(req, body, strlen(body)),
                           H2O_SEND_ERROR_KEEP_HEADERS);
}

void lr__http_send_400(h2o_req_t *req)
{
    lr__http_send_error(req, 400, "Bad Request", ERROR_CC);
}

void lr__http_send_403(h2o_req_t *req)
{
    lr__http_send_error(req, 403, "Forbidden", ERROR_CC);
}

void lr__http_send_404(h2o_req_t *req)
{
    lr__http_send_error(req, 404, "Not Found", NOT_FOUND_CC);
}

void lr__http_send_500(h2o_req_t *req)
{
    lr__http_send_error(req, 500, "Internal Server Error", ERROR_CC);
}

/* Sends buf's bytes as the whole body without copying. Takes ownership of
 * *buf (one reference), released when the request's pool is cleared, i.e.
 * after the body has been written or the connection has gone. */
void lr__http_send_buffer(h2o_req_t *req, AVBufferRef **buf, const char *content_type,
                          const char *cache_control)
{
    static h2o_generator_t generator = { NULL, NULL };
    held_buffer *hb = h2o_mem_alloc_shared(&req->pool, sizeof(*hb), held_buffer_dispose);
    h2o_iovec_t body;

    hb->buf = *buf;
    *buf = NULL;
    body = h2o_iovec_init(hb->buf->data, hb->buf->size);

    req->res.status = 200;
    req->res.reason = "OK";
    req->res.content_length = body.len;
    lr__http_add_header(req, H2O_TOKEN_CONTENT_TYPE, content_type);
    lr__http_add_header(req, H2O_TOKEN_CACHE_CONTROL, cache_control);
    lr__http_add_cors(req_worker(req)->h, req);
    lr__http_count_response(req_worker(req), 200, is_method(req, "HEAD") ? 0 : body.len);
    h2o_start_response(req, &generator);
    if (is_method(req, "HEAD"))
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
    else
        h2o_send(req, &body, 1, H2O_SEND_STATE_FINAL);
}

/* Sends an av_malloc'd body (taking ownership of *body, even on failure). */
void lr__http_send_owned(h2o_req_t *req, char **body, size_t len, const char *content_type,
                         const char *cache_control)
{
    AVBufferRef *buf = av_buffer_create((uint8_t *)*body, len, av_buffer_default_free, NULL, 0);
    if (!buf) {
        av_freep(body);
        lr__http_send_500(req);
        return;
    }
    *body = NULL;
    lr__http_send_buffer(req, &buf, content_type, cache_control);
}

void lr__http_send_bprint(h2o_req_t *req, AVBPrint *bp, const char *content_type,
                          const char *cache_control)
{
    char *text = NULL;
    size_t len = bp->len;
    if (!av_bprint_is_complete(bp) || av_bprint_finalize(bp, &text) < 0 || !text) {
        if (!text)
            av_bprint_finalize(bp, NULL);
        lr__http_send_500(req);
        return;
    }
    lr__http_send_owned(req, &text, len, content_type, cache_control);
}

/* The Cache-Control of a published object, in the request's pool (h2o
 * keeps pointers to header values). */
const char *lr__http_obj_cache_control(h2o_req_t *req, const lr_store_obj *obj)
{
    char cache[64];

    if (obj->immutable)
        return IMMUTABLE_CC;
    if (obj->max_age_s <= 0)
        return "no-cache";
    snprintf(cache, sizeof(cache), "public, max-age=%d", obj->max_age_s);
    return pool_strdup(req, cache, strlen(cache));
}

/* The signature egress.url_signing puts in the query, checked for path:
 * 1 valid (*s then signs with the same expiry), 0 none there (or signing in
 * the query is off), -1 present and no good. */
int lr__http_check_query_signature(lr_http *h, const char *path, size_t len, const char *query,
                                   size_t qlen, lr_url_signer *s)
{
    int ret;

    if (h->url_sign_kind == LR_URL_SIGN_PATH)
        return 0;
    const lr_egress_conf *ac = lr__http_access(h);
    ret = lr_url_sign_check(h->url_sign_kind, h->conf->url_signing_param,
                            (const char *const *)ac->token_secrets,
                            ac->nb_token_secrets, path, len, query, qlen,
                            (int64_t)time(NULL), s);
    return ret == 0 ? 1 : ret == AVERROR(ENOENT) ? 0 : -1;
}

/* 1 when req is signed in its query (and valid: http_routes.c let it
 * through): *s then signs the URIs it is answered with. */
int lr__http_query_signer(h2o_req_t *req, lr_url_signer *s)
{
    if (req->query_at == SIZE_MAX)
        return 0;
    return lr__http_check_query_signature(req_worker(req)->h, req->path.base, req->query_at,
                                          req->path.base + req->query_at + 1,
                                          req->path.len - req->query_at - 1, s) == 1;
}


/* A playlist's bytes, each URI signed anew when the request was signed in
 * its query (a cache in front checks each URI by its own signature); such
 * an answer is the student's own: "private", never shared by a cache. */
void lr__http_send_playlist(h2o_req_t *req, AVBufferRef **text, const char *cache_control)
{
    static const char type[] = "application/vnd.apple.mpegurl";
    lr_url_signer s;
    const char *path = req->path.base;
    size_t len = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    const char *slash = memrchr(path, '/', len);
    char *out = NULL;
    size_t out_len = 0;

    if (!lr__http_query_signer(req, &s)) {
        lr__http_send_buffer(req, text, type, cache_control);
        return;
    }
    int ret = lr_playlist_sign_uris((const char *)(*text)->data, (*text)->size, path,
                                    slash ? (size_t)(slash - path) : 0, lr_url_sign_path, &s, &out,
                                    &out_len);
    av_buffer_unref(text);
    if (ret < 0) {
        lr__http_send_500(req);
        return;
    }
    lr__http_send_owned(req, &out, out_len, type, "private, no-cache");
}

/* A redirect's Location for a request signed in its query: the target's
 * own signature, the request's other parameters (blocking-reload
 * directives) kept. NULL when it can't be made. */
static char *signed_location(h2o_req_t *req, const lr_url_signer *s, const lr_store_obj *obj)
{
    const char *path = req->path.base;
    size_t len = req->query_at, qlen = req->path.len - req->query_at - 1;
    const char *slash = memrchr(path, '/', len);
    char target[2048];
    int tl = lr_playlist_resolve_path(path, slash ? (size_t)(slash - path) : 0,
                                      (const char *)obj->data->data, obj->data->size, target,
                                      sizeof(target));
    AVBPrint bp;
    char *loc;

    if (tl < 0)
        return NULL;
    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    av_bprint_append_data(&bp, (const char *)obj->data->data, obj->data->size);
    av_bprint_chars(&bp, memchr(obj->data->data, '?', obj->data->size) ? '&' : '?', 1);
    if (lr_url_sign_strip(s, path + len + 1, qlen, &bp) > 0)
        av_bprint_chars(&bp, '&', 1);
    if (lr_url_sign(s, target, (size_t)tl, NULL, &bp) < 0 || !av_bprint_is_complete(&bp)) {
        av_bprint_finalize(&bp, NULL);
        return NULL;
    }
    loc = pool_strdup(req, bp.str, bp.len);
    av_bprint_finalize(&bp, NULL);
    return loc;
}

/* A published redirect (a shed rendition's playlist: egress/packager.c):
 * 302 to the URI it holds, resolved against the request's path, with the
 * request's query kept (blocking-reload directives carry on there). */
static void send_redirect(h2o_req_t *req, lr_store_obj *obj)
{
    static h2o_generator_t generator = { NULL, NULL };
    size_t n = obj->data->size;
    size_t q = req->query_at != SIZE_MAX ? req->path.len - req->query_at : 0;
    lr_url_signer s;
    char *loc;

    if (lr__http_query_signer(req, &s)) {
        if (!(loc = signed_location(req, &s, obj))) {
            lr__http_send_500(req);
            lr_store_obj_unref(obj);
            return;
        }
    } else {
        loc = h2o_mem_alloc_pool(&req->pool, n + q + 1);
        memcpy(loc, obj->data->data, n);
        if (q)
            memcpy(loc + n, req->path.base + req->query_at, q);
        loc[n + q] = 0;
    }
    req->res.status = 302;
    req->res.reason = "Found";
    req->res.content_length = 0;
    lr__http_add_header(req, H2O_TOKEN_LOCATION, loc);
    lr__http_add_header(req, H2O_TOKEN_CACHE_CONTROL, lr__http_obj_cache_control(req, obj));
    lr__http_add_cors(req_worker(req)->h, req);
    lr__http_count_response(req_worker(req), 302, 0);
    h2o_start_response(req, &generator);
    h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
    lr_store_obj_unref(obj);
}

void lr__http_send_store_obj(h2o_req_t *req, lr_store_obj *obj, const char *cc_override)
{
    const char *cc;

    if (obj->redirect) {
        send_redirect(req, obj);
        return;
    }
    cc = cc_override ? pool_strdup(req, cc_override, strlen(cc_override))
                     : lr__http_obj_cache_control(req, obj);

    if (obj->content_type && !strcmp(obj->content_type, "application/vnd.apple.mpegurl"))
        lr__http_send_playlist(req, &obj->data, cc);
    else
        lr__http_send_buffer(req, &obj->data,
                             obj->content_type ? obj->content_type : "application/octet-stream",
                             cc);
    lr_store_obj_unref(obj);
}
