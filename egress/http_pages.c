/* egress/http_pages.c — what isn't media: the player page /watch/, the
 * lecture list / and /api/v1/lectures, the assets, /metrics (with the HTTP
 * counters' collector) and CORS preflight. Called by http_routes.c. */
#include "http_internal.h"

#include <openssl/rand.h>

#include <libavutil/base64.h>

/* ---- pages, lists, metrics ---------------------------------------------- */

/* The player page's headers. Its Content-Security-Policy lets it load
 * scripts, styles and media from its own origin only, the inline script and
 * style by this response's nonce; hls.js fetches from its own origin and the
 * steering peers' (other pathways: docs/regions.md), and uses blob: URLs for
 * the media source and its worker. No frame-ancestors: a university may
 * embed the page in its course site. Referrer-Policy: a signed URL's token
 * must not leave in a Referer. */
static void add_page_headers(lr_http *h, h2o_req_t *req, const char *nonce)
{
    const lr_steering_conf *st = &h->conf->steering;
    AVBPrint peers, csp;

    /* the other pathways' origins: hls.js fetches from them (connect-src),
     * Safari's own player plays from them (media-src) */
    av_bprint_init(&peers, 0, AV_BPRINT_SIZE_AUTOMATIC);
    for (int i = 0; st->pathway && st->pathway[0] && i < st->nb_peers; i++) {
        const char *u = st->peers[i].url, *host = strstr(u, "://");
        size_t n = host ? strcspn(host + 3, "/?#") + (size_t)(host + 3 - u) : strlen(u);
        av_bprintf(&peers, " %.*s", (int)n, u);
    }
    av_bprint_init(&csp, 0, AV_BPRINT_SIZE_AUTOMATIC);
    av_bprintf(&csp, "default-src 'self'; script-src 'self' 'nonce-%s'; "
               "style-src 'self' 'nonce-%s'; img-src 'self' data:; media-src 'self' blob:%s; "
               "worker-src 'self' blob:; connect-src 'self'%s; object-src 'none'; "
               "base-uri 'none'; form-action 'self'", nonce, nonce, peers.str, peers.str);
    av_bprint_finalize(&peers, NULL);
    if (av_bprint_is_complete(&csp))
        lr__http_add_header_str(req, "content-security-policy",
                                h2o_strdup(&req->pool, csp.str, csp.len).base);
    av_bprint_finalize(&csp, NULL);
    lr__http_add_header_str(req, "x-content-type-options", "nosniff");
    lr__http_add_header_str(req, "referrer-policy", "no-referrer");
}


void lr__http_serve_watch(lr_http *h, h2o_req_t *req, const char *name, size_t len,
                          const char *prefix)
{
    char lecture[LR_LECTURE_NAME_MAX + 1];
    char *html = NULL, *recs = NULL;
    size_t html_len;
    AVBPrint bp, live_query;
    lr_url_signer s;

    if (!len || len > LR_LECTURE_NAME_MAX) {
        lr__http_send_404(req);
        return;
    }
    memcpy(lecture, name, len);
    lecture[len] = '\0';
    /* a page asked for with a signature in its query signs what it links to */
    int sig = lr__http_query_signer(req, &s);
    char path[LR_LECTURE_NAME_MAX + 32];
    snprintf(path, sizeof(path), "/live/%s/master.m3u8", lecture);
    av_bprint_init(&live_query, 0, AV_BPRINT_SIZE_AUTOMATIC);
    if (sig) {
        av_bprint_chars(&live_query, '?', 1);
        lr_url_sign(&s, path, strlen(path), NULL, &live_query);
    }
    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    lr_recordings_html(h->recs, lecture, prefix, sig ? lr_url_sign_path : NULL, &s, &bp);
    if (!av_bprint_is_complete(&bp) || av_bprint_finalize(&bp, &recs) < 0 ||
        !av_bprint_is_complete(&live_query)) {
        av_bprint_finalize(&bp, NULL);
        av_bprint_finalize(&live_query, NULL);
        lr__http_send_500(req);
        return;
    }
    /* 16 random bytes for the CSP nonce (base64: 24 characters) */
    uint8_t raw[16];
    char nonce[AV_BASE64_SIZE(sizeof(raw))];
    if (RAND_bytes(raw, sizeof(raw)) != 1 || !av_base64_encode(nonce, sizeof(nonce), raw,
                                                                 sizeof(raw))) {
        av_bprint_finalize(&live_query, NULL);
        av_free(recs);
        lr__http_send_500(req);
        return;
    }
    int ret = lr_player_page_render(lecture, prefix, live_query.str, recs, nonce, &html,
                                    &html_len);
    av_bprint_finalize(&live_query, NULL);
    av_free(recs);
    if (ret == AVERROR(EINVAL)) {
        lr__http_send_404(req);
        return;
    }
    if (ret < 0) {
        lr__http_send_500(req);
        return;
    }
    add_page_headers(h, req, nonce);
    lr__http_send_owned(req, &html, html_len, "text/html; charset=utf-8", "no-cache");
}

/* The live lectures (from the store) and the recorded ones (from disk), as
 * NUL-separated lists; on failure answers 500 and returns -1. */
static int list_lectures(lr_http *h, h2o_req_t *req, char **names, char **recorded)
{
    *names = *recorded = NULL;
    if (lr_store_list_lectures(h->store, names) < 0 ||
        lr_recordings_list_lectures(h->recs, recorded) < 0) {
        av_freep(names);
        lr__http_send_500(req);
        return -1;
    }
    return 0;
}

void lr__http_serve_index(lr_http *h, h2o_req_t *req)
{
    char *names, *recorded;
    AVBPrint bp;

    if (list_lectures(h, req, &names, &recorded) < 0)
        return;
    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    av_bprintf(&bp, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                    "<title>Live lectures</title>\n</head>\n<body>\n<h1>Live lectures</h1>\n");
    int n = 0;
    for (const char *p = names; *p; p += strlen(p) + 1) {
        if (!lr_lecture_name_valid(p))
            continue; /* never put an unchecked name into HTML */
        if (!n++)
            av_bprintf(&bp, "<ul>\n");
        av_bprintf(&bp, "<li><a href=\"/watch/%s\">%s</a></li>\n", p, p);
    }
    av_bprintf(&bp, n ? "</ul>\n" : "<p>No lecture is live right now.</p>\n");
    av_bprintf(&bp, "<h1>Recorded lectures</h1>\n");
    n = 0;
    for (const char *p = recorded; *p; p += strlen(p) + 1) {
        av_bprintf(&bp, "<h2>%s</h2>\n<ul>\n", p);
        AVBPrint items;
        av_bprint_init(&items, 0, AV_BPRINT_SIZE_UNLIMITED);
        lr_recordings_html(h->recs, p, "", NULL, NULL, &items);
        av_bprintf(&bp, "%s</ul>\n", items.str);
        av_bprint_finalize(&items, NULL);
        n++;
    }
    if (!n)
        av_bprintf(&bp, "<p>No recordings.</p>\n");
    av_bprintf(&bp, "</body>\n</html>\n");
    av_free(names);
    av_free(recorded);
    lr__http_send_bprint(req, &bp, "text/html; charset=utf-8", "no-cache");
}

static void json_names(AVBPrint *bp, const char *names)
{
    int first = 1;
    av_bprintf(bp, "[");
    for (const char *r = names; *r; r += strlen(r) + 1) {
        if (!lr_http_component_valid(r, strlen(r)))
            continue;
        av_bprintf(bp, "%s\"%s\"", first ? "" : ",", r);
        first = 0;
    }
    av_bprintf(bp, "]");
}

/* {"live":[{"lecture","renditions":[...],"master","watch"}],
 *  "recorded":[{"lecture","recordings":[...]}]} */
void lr__http_serve_api_lectures(lr_http *h, h2o_req_t *req)
{
    char *names, *recorded;
    AVBPrint bp;

    if (list_lectures(h, req, &names, &recorded) < 0)
        return;
    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    av_bprintf(&bp, "{\"live\":[");
    int first = 1;
    for (const char *p = names; *p; p += strlen(p) + 1) {
        char *rends = NULL;
        if (!lr_lecture_name_valid(p) || lr_store_list_renditions(h->store, p, &rends) < 0)
            continue;
        av_bprintf(&bp, "%s{\"lecture\":\"%s\",\"master\":\"/live/%s/master.m3u8\","
                        "\"watch\":\"/watch/%s\",\"renditions\":", first ? "" : ",", p, p, p);
        json_names(&bp, rends);
        av_bprintf(&bp, "}");
        av_free(rends);
        first = 0;
    }
    av_bprintf(&bp, "],\"recorded\":[");
    first = 1;
    for (const char *p = recorded; *p; p += strlen(p) + 1) {
        av_bprintf(&bp, "%s{\"lecture\":\"%s\",\"recordings\":", first ? "" : ",", p);
        lr_recordings_json(h->recs, p, &bp);
        av_bprintf(&bp, "}");
        first = 0;
    }
    av_bprintf(&bp, "]}\n");
    av_free(names);
    av_free(recorded);
    lr__http_send_bprint(req, &bp, "application/json", "no-cache");
}

/* Every role's collectors in this process (in `run`, all three). */
void lr__http_serve_metrics(h2o_req_t *req)
{
    AVBPrint bp;
    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    lr_metrics_render(&bp);
    lr__http_send_bprint(req, &bp, "text/plain; version=0.0.4; charset=utf-8", "no-store");
}

void lr__http_collect_http(void *opaque, AVBPrint *out)
{
    lr_http *h = opaque;
    uint64_t bytes = 0, timeouts = 0;
    int parked, conns;

    lr_metrics_family(out, "lr_http_responses_total", "counter",
                      "HTTP responses by status code (the server's own; libh2o's protocol "
                      "errors excluded)");
    for (int s = 100; s < MAX_STATUS; s++) {
        uint64_t n = 0;
        for (int i = 0; i < h->nb_workers; i++)
            n += atomic_load_explicit(&h->workers[i].status[s], memory_order_relaxed);
        if (n)
            av_bprintf(out, "lr_http_responses_total{code=\"%d\",class=\"%dxx\"} %llu\n", s,
                       s / 100, (unsigned long long)n);
    }
    for (int i = 0; i < h->nb_workers; i++) {
        bytes += atomic_load_explicit(&h->workers[i].bytes, memory_order_relaxed);
        timeouts += atomic_load_explicit(&h->workers[i].park_timeouts, memory_order_relaxed);
    }
    parked = lr__http_parked_requests(h);
    conns = lr__http_open_conns(h);
    lr_metrics_family(out, "lr_http_response_body_bytes_total", "counter",
                      "response body bytes handed to the connections");
    av_bprintf(out, "lr_http_response_body_bytes_total %llu\n", (unsigned long long)bytes);
    lr_metrics_family(out, "lr_http_parked_requests", "gauge",
                      "blocking playlist reloads and preload-hint parts waiting");
    av_bprintf(out, "lr_http_parked_requests %d\n", parked);
    lr_metrics_family(out, "lr_http_park_timeouts_total", "counter",
                      "parked requests answered by their timeout (3 target durations)");
    av_bprintf(out, "lr_http_park_timeouts_total %llu\n", (unsigned long long)timeouts);
    lr_metrics_family(out, "lr_http_connections", "gauge", "open client connections");
    av_bprintf(out, "lr_http_connections %d\n", conns);
    lr_metrics_family(out, "lr_http2_refused_connections_total", "counter",
                      "HTTP/2 connections sent GOAWAY for spending a budget (docs/http.md)");
    for (int k = 0; k < H2_ABUSE_KINDS; k++) {
        uint64_t n = 0;
        for (int i = 0; i < h->nb_workers; i++)
            n += atomic_load_explicit(&h->workers[i].h2_refused[k], memory_order_relaxed);
        av_bprintf(out, "lr_http2_refused_connections_total{reason=\"%s\"} %llu\n",
                   lr__http_h2_abuse_name(k), (unsigned long long)n);
    }
    uint64_t cancelled = 0;
    for (int i = 0; i < h->nb_workers; i++)
        cancelled += atomic_load_explicit(&h->workers[i].h2_cancelled, memory_order_relaxed);
    lr_metrics_family(out, "lr_http2_cancelled_requests_total", "counter",
                      "HTTP/2 requests not rendered: the client's RST_STREAM came with them");
    av_bprintf(out, "lr_http2_cancelled_requests_total %llu\n", (unsigned long long)cancelled);
    lr__http_render_viewers(h, out);
    int64_t not_after = lr__http_cert_not_after(h);
    if (not_after) {
        lr_metrics_family(out, "lr_tls_certificate_expiry_timestamp_seconds", "gauge",
                          "when egress.tls_cert expires (notAfter, Unix time)");
        av_bprintf(out, "lr_tls_certificate_expiry_timestamp_seconds %" PRId64 "\n", not_after);
    }
}

/* asset: hls.js (a day's caching: it changes only with an upgrade) or the
 * player's settings (revalidated: they change with lecture-relay). */
void lr__http_serve_asset(h2o_req_t *req, AVBufferRef *asset, const char *cache_control)
{
    AVBufferRef *ref;

    if (!asset || !(ref = av_buffer_ref(asset))) {
        lr__http_send_404(req);
        return;
    }
    lr__http_send_buffer(req, &ref, "application/javascript", cache_control);
}

void lr__http_serve_preflight(lr_http *h, h2o_req_t *req)
{
    static h2o_generator_t generator = { NULL, NULL };
    req->res.status = 204;
    req->res.reason = "No Content";
    lr__http_add_cors(h, req);
    lr__http_add_header_str(req, "access-control-allow-methods", "GET, HEAD, OPTIONS");
    lr__http_add_header_str(req, "access-control-allow-headers", "Range");
    lr__http_add_header_str(req, "access-control-max-age", "86400");
    lr__http_add_header(req, H2O_TOKEN_CACHE_CONTROL, "public, max-age=86400");
    lr__http_count_response(req_worker(req), 204, 0);
    h2o_start_response(req, &generator);
    h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
}
