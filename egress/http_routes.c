/* egress/http_routes.c — what a request path means: the checks every request
 * passes (method, sizes, safe path, signed /t/<token>/ prefix), then a table
 * of routes, each served by its own handler. Called by http.c's loops. */
#include "http_internal.h"
#include "common/status.h"

/* ---- paths -------------------------------------------------------------- */

/* Splits "<a>/<b>/<c>..." into at most max components, each valid.
 * Returns how many, or -1. */
int lr__http_split_components(const char *p, size_t len, h2o_iovec_t *out, int max)
{
    int n = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || p[i] == '/') {
            if (n == max || !lr_http_component_valid(p + start, i - start))
                return -1;
            out[n++] = h2o_iovec_init(p + start, i - start);
            start = i + 1;
        }
    }
    return n;
}

/* ---- the routes ---------------------------------------------------------- */

/* What a route's handler gets: the path after the route's own, the query,
 * and the signed prefix ("/t/<token>", or "") its links must keep. */
typedef struct target {
    const char *rest;
    size_t      rest_len;
    const char *query;
    size_t      query_len;
    const char *prefix;
} target;

/* What only the operator may see (/metrics, the status page; with
 * require_token also the lecture list and the API): a client on this
 * machine, or one with the token egress.metrics_token, as a bearer token or,
 * for a browser opening the status page, ?admin_token=. Anyone else gets
 * 404. (A proxy in front on the same machine must not pass these paths on:
 * docs/http.md.) */
static int operator_only(lr_http *h, h2o_req_t *req, const target *t)
{
    char ip[INET6_ADDRSTRLEN];
    const char *tok = lr__http_access(h)->metrics_token;

    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    const h2o_iovec_t *auth = i >= 0 ? &req->headers.entries[i].value : NULL;

    peer_ip(req, ip, sizeof(ip));
    if (lr__http_ip_is_loopback(ip) ||
        lr_metrics_token_ok(tok, auth ? auth->base : NULL, auth ? auth->len : 0,
                            t ? t->query : NULL, t ? t->query_len : 0))
        return 1;
    lr__http_send_404(req);
    return 0;
}

static void route_index(lr_http *h, h2o_req_t *req, const target *t)
{
    if (lr__http_access(h)->require_token && !operator_only(h, req, t))
        return;
    lr__http_serve_index(h, req);
}

static void route_healthz(lr_http *h, h2o_req_t *req, const target *t)
{
    static const char ok[] = "ok\n";
    char *b = av_strdup(ok);

    if (!b)
        lr__http_send_500(req);
    else
        lr__http_send_owned(req, &b, sizeof(ok) - 1, "text/plain; charset=utf-8", "no-store");
}

static void route_metrics(lr_http *h, h2o_req_t *req, const target *t)
{
    if (operator_only(h, req, t))
        lr__http_serve_metrics(req);
}

/* The status page (common/status.h): the page and its data are the
 * operator's; its scripts and styles hold nothing of the node's. */
static void route_status(lr_http *h, h2o_req_t *req, const target *t)
{
    char path[128], query[64];
    const char *type = NULL;
    int status = 404;
    AVBPrint body;
    char *text;

    snprintf(path, sizeof(path), "%.*s", (int)req->path_normalized.len, req->path_normalized.base);
    snprintf(query, sizeof(query), "%.*s", (int)FFMIN(t->query_len, sizeof(query) - 1),
             t->query ? t->query : "");
    if (strncmp(path, "/assets/", 8) && !operator_only(h, req, t))
        return;
    av_bprint_init(&body, 0, AV_BPRINT_SIZE_UNLIMITED);
    if (!lr_status_route(path, query, &body, &type, &status) || status != 200 ||
        !av_bprint_is_complete(&body)) {
        av_bprint_finalize(&body, NULL);
        lr__http_send_404(req);
        return;
    }
    size_t len = body.len;
    if (av_bprint_finalize(&body, &text) < 0) {
        lr__http_send_500(req);
        return;
    }
    lr__http_send_owned(req, &text, len, type,
                        strncmp(path, "/assets/", 8) ? "no-store" : "public, max-age=300");
}

static void route_api_lectures(lr_http *h, h2o_req_t *req, const target *t)
{
    if (lr__http_access(h)->require_token && !operator_only(h, req, t))
        return;
    lr__http_serve_api_lectures(h, req);
}

static void route_node(lr_http *h, h2o_req_t *req, const target *t)
{
    lr__http_serve_node(h, req);
}

static void route_steer(lr_http *h, h2o_req_t *req, const target *t)
{
    lr__http_serve_steering(h, req, t->rest, t->rest_len);
}

static void route_hls_js(lr_http *h, h2o_req_t *req, const target *t)
{
    lr__http_serve_asset(req, h->hls_js, "public, max-age=86400");
}

static void route_player_config(lr_http *h, h2o_req_t *req, const target *t)
{
    lr__http_serve_asset(req, h->player_config, "public, max-age=60");
}

static void route_watch(lr_http *h, h2o_req_t *req, const target *t)
{
    lr__http_serve_watch(h, req, t->rest, t->rest_len, t->prefix);
}

static void route_live(lr_http *h, h2o_req_t *req, const target *t)
{
    lr__http_serve_live(h, req, t->rest, t->rest_len, t->query, t->query_len);
}

static void route_vod(lr_http *h, h2o_req_t *req, const target *t)
{
    lr__http_serve_vod(h, req, t->rest, t->rest_len);
}

typedef struct route {
    const char *path;     /* the whole path, or a prefix when it ends in '/' */
    int         signable; /* also under /t/<token>/, and gated by require_token */
    void      (*serve)(lr_http *h, h2o_req_t *req, const target *t);
} route;

static const route routes[] = {
    { "/",                                  0, route_index },
    { "/healthz",                           0, route_healthz },
    { "/metrics",                           0, route_metrics },
    { "/api/v1/lectures",                   0, route_api_lectures },
    { "/api/v1/node",                       0, route_node },
    { "/api/v1/status",                     0, route_status },
    { "/api/v1/events",                     0, route_status },
    { "/status",                            0, route_status },
    { "/assets/status.js",                  0, route_status },
    { "/assets/status.css",                 0, route_status },
    { "/assets/uPlot.iife.min.js",          0, route_status },
    { "/assets/uPlot.min.css",              0, route_status },
    { "/steer/",                            0, route_steer },
    { "/assets/" HLS_JS_NAME,               0, route_hls_js },
    { "/assets/" LR_PLAYER_CONFIG_NAME,     0, route_player_config },
    { "/watch/",                            1, route_watch },
    { "/live/",                             1, route_live },
    { "/vod/",                              1, route_vod },
};

/* The route for path p; under a signed prefix only the signable ones. "/"
 * is the whole path, never a prefix of every other. */
static const route *find_route(const char *p, size_t len, int signed_path)
{
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        const route *r = &routes[i];
        size_t n = strlen(r->path);
        int prefix = n > 1 && r->path[n - 1] == '/';

        if (signed_path && !r->signable)
            continue;
        if (prefix ? has_prefix(p, len, r->path) : (len == n && !memcmp(p, r->path, n)))
            return r;
    }
    return NULL;
}

/* ---- routing ------------------------------------------------------------ */

/* "/t/<token>/<live|vod|watch>/<lecture>...": checks the token for that
 * lecture. Returns the length of "/t/<token>" when valid, 0 when the path
 * is not signed, -1 (403 sent) when the token is no good. */
static int check_signed(lr_http *h, h2o_req_t *req, const char *p, size_t len)
{
    if (!has_prefix(p, len, TOKEN_PREFIX))
        return 0;
    const char *tok = p + 3;
    const char *end = memchr(tok, '/', len - 3);
    if (!end)
        goto deny;
    const char *rest = end;
    size_t rlen = p + len - rest;
    size_t skip = has_prefix(rest, rlen, "/live/") ? 6 : has_prefix(rest, rlen, "/vod/") ? 5
                : has_prefix(rest, rlen, "/watch/") ? 7 : 0;
    if (!skip)
        goto deny;
    const char *lec = rest + skip;
    const char *lec_end = memchr(lec, '/', p + len - lec);
    size_t lec_len = lec_end ? (size_t)(lec_end - lec) : (size_t)(p + len - lec);
    char ip[INET6_ADDRSTRLEN];
    peer_ip(req, ip, sizeof(ip));
    const lr_egress_conf *ac = lr__http_access(h);
    if (lr_token_verify((const char *const *)ac->token_secrets, ac->nb_token_secrets,
                        tok, end - tok, lec, lec_len, (int64_t)time(NULL), ip) < 0)
        goto deny;
    return (int)(end - p);
deny:
    lr__http_send_403(req);
    return -1;
}

static int headers_too_big(const h2o_req_t *req)
{
    size_t total = 0;
    for (size_t i = 0; i < req->headers.size; i++)
        total += req->headers.entries[i].name->len + req->headers.entries[i].value.len + 4;
    return total > MAX_HEADER_BYTES;
}


int lr__http_on_req(h2o_handler_t *self, h2o_req_t *req)
{
    lr_http *h = ((route_handler *)self)->h;
    const char *p = req->path.base;
    size_t len = req->path.len, qlen = 0;
    const char *query = "";
    int signed_len;
    conn *c = lr__http_req_conn(req);
    const route *r;

    if (c && c->refused) {  /* over a cap (TLS): as refuse_busy says it */
        const char *body = c->refused == 2 ? "the server is at its limit\n"
                                           : "too many connections from here\n";
        lr__http_add_header(req, H2O_TOKEN_RETRY_AFTER, "10");
        lr__http_add_header(req, H2O_TOKEN_CACHE_CONTROL, ERROR_CC);
        lr__http_count_response(req_worker(req), 503, strlen(body));
        h2o_send_error_generic(req, 503, "Service Unavailable", body,
                               H2O_SEND_ERROR_KEEP_HEADERS | H2O_SEND_ERROR_HTTP1_CLOSE_CONNECTION);
        return 0;
    }
    if (lr__http_h2_cancelled(req, c)) {  /* its RST_STREAM is already read */
        atomic_fetch_add_explicit(&c->w->h2_cancelled, 1, memory_order_relaxed);
        req->res.status = 204;
        h2o_send_inline(req, "", 0);
        return 0;
    }
    if (headers_too_big(req)) {
        lr__http_send_error(req, 431, "Request Header Fields Too Large", ERROR_CC);
        return 0;
    }
    if (is_method(req, "OPTIONS")) {
        lr__http_serve_preflight(h, req);
        return 0;
    }
    if (!is_method(req, "GET") && !is_method(req, "HEAD")) {
        lr__http_add_header(req, H2O_TOKEN_ALLOW, "GET, HEAD, OPTIONS");
        lr__http_send_error(req, 405, "Method Not Allowed", ERROR_CC);
        return 0;
    }
    if (req->query_at != SIZE_MAX && req->query_at < len) {
        query = p + req->query_at + 1;
        qlen = len - req->query_at - 1;
        len = req->query_at;
    }
    if (len > MAX_PATH_LEN || qlen > MAX_PATH_LEN) {
        lr__http_send_error(req, 414, "URI Too Long", ERROR_CC);
        return 0;
    }
    if (!p || !lr_http_path_is_safe(p, len)) {
        lr__http_send_400(req);
        return 0;
    }

    if ((signed_len = check_signed(h, req, p, len)) < 0)
        return 0;
    const char *prefix = pool_strdup(req, p, signed_len);
    p += signed_len;
    len -= signed_len;
    if (!signed_len && (r = find_route(p, len, 1)) && r->signable) {
        /* the handlers sign what they answer with again (lr__http_query_signer) */
        lr_url_signer s;
        int q = lr__http_check_query_signature(h, p, len, query, qlen, &s);
        if (q < 0 || (!q && lr__http_access(h)->require_token)) {
            lr__http_send_403(req);
            return 0;
        }
    }

    r = find_route(p, len, signed_len > 0);
    if (!r) {
        lr__http_send_404(req);
        return 0;
    }
    size_t n = strlen(r->path);
    r->serve(h, req, &(const target){ .rest = p + n, .rest_len = len - n,
                                      .query = query, .query_len = qlen, .prefix = prefix });
    return 0;
}
