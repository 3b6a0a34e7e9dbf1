/* egress/http_live.c — /live/<lecture>/...: playlists and media from the
 * store, the LL-HLS query directives (_HLS_msn, _HLS_part, _HLS_skip), the
 * time-shift window from disk. Called by http_routes.c. */
#include "http_internal.h"

/* ---- /live/ ------------------------------------------------------------- */

/* The next part after what pl lists: the one a preload hint names. */
static int is_next_part(const lr_store_obj *pl, int64_t seq, int part)
{
    if (!pl->ll || pl->ll_ended || pl->redirect)
        return 0;
    return (seq == pl->ll_part_msn && part == pl->ll_part + 1) ||
           (seq == pl->ll_part_msn + 1 && part == 0);
}

/* DVR: "<rend>/<file>" of lecture from its disk dir. Returns 0 when served. */
static int serve_dvr(lr_http *h, h2o_req_t *req, const h2o_iovec_t *c)
{
    char dir[2048], rel[512];
    const char *type = lr__http_file_content_type(
        c[2].base, c[2].len, h2o_memis(c[1].base, c[1].len, H2O_STRLIT("audio")));
    if (!type || has_suffix(c[2].base, c[2].len, ".m3u8"))
        return -1;
    if (lr_store_disk_dir(h->store, c[0].base, c[0].len, dir, sizeof(dir)) < 0)
        return -1;
    if (snprintf(rel, sizeof(rel), "%.*s/%.*s", (int)c[1].len, c[1].base, (int)c[2].len,
                 c[2].base) >= (int)sizeof(rel))
        return -1;
    return lr__http_send_file(req, dir, rel, type, IMMUTABLE_CC);
}

/* VLC 3 ("VLC/3.0.x LibVLC/3.0.x") gets the master without the audio-only
 * variant (playlist.h says why); everyone else the master as rendered. */
static int is_libvlc(h2o_req_t *req)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_USER_AGENT, -1);
    return i >= 0 && h2o_strstr(req->headers.entries[i].value.base,
                                req->headers.entries[i].value.len, H2O_STRLIT("LibVLC")) != SIZE_MAX;
}

/* A peer's URI in a master with pathways, "https://sh.example.cn/live/...",
 * with the request's "/t/<token>" put before its path: the token opens the
 * lecture on every node that shares the secret. Relative URIs carry it already. */
static int insert_token(void *opaque, const char *uri, size_t n, const char *path, size_t plen,
                        AVBPrint *out)
{
    const h2o_iovec_t *prefix = opaque;
    const char *sep = memmem(uri, n, "://", 3);
    const char *slash = sep ? memchr(sep + 3, '/', uri + n - (sep + 3)) : NULL;

    if (!slash) {
        av_bprint_append_data(out, uri, (unsigned)n);
        return 0;
    }
    av_bprint_append_data(out, uri, (unsigned)(slash - uri));
    av_bprint_append_data(out, prefix->base, (unsigned)prefix->len);
    av_bprint_append_data(out, slash, (unsigned)(uri + n - slash));
    return 0;
}

/* A master asked for under /t/<token>/ whose pathways name peers: each
 * peer URI gets the token. Returns 0 (maybe *whole replaced) or <0. */
static int tokens_for_peers(h2o_req_t *req, AVBufferRef **whole)
{
    const char *p = req->path.base, *end;
    size_t len = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    char *text = NULL;
    size_t text_len = 0;
    AVBufferRef *b;
    int ret;

    if (!has_prefix(p, len, TOKEN_PREFIX) || !(end = memchr(p + 3, '/', len - 3)) ||
        !memmem((*whole)->data, (*whole)->size, "://", 3))
        return 0;
    h2o_iovec_t prefix = h2o_iovec_init(p, end - p);
    const char *slash = memrchr(p, '/', len);
    if ((ret = lr_playlist_rewrite_uris((const char *)(*whole)->data, (*whole)->size, p,
                                        slash - p, insert_token, &prefix, &text,
                                        &text_len)) < 0)
        return ret;
    if (!(b = av_buffer_create((uint8_t *)text, text_len, av_buffer_default_free, NULL, 0))) {
        av_free(text);
        return AVERROR(ENOMEM);
    }
    av_buffer_unref(whole);
    *whole = b;
    return 0;
}

/* A master playlist's bytes for this client: as they are, or rewritten for
 * VLC. Either way the answer varies with the User-Agent (caches must know). */
void lr__http_send_master(h2o_req_t *req, AVBufferRef **whole, const char *cache_control)
{
    lr__http_add_header(req, H2O_TOKEN_VARY, "User-Agent");
    if (is_libvlc(req)) {
        char *text = NULL;
        size_t len = 0;
        int ret = lr_playlist_master_without_audio_only((const char *)(*whole)->data,
                                                        (*whole)->size, &text, &len);
        av_buffer_unref(whole);
        if (ret >= 0 && !(*whole = av_buffer_create((uint8_t *)text, len, av_buffer_default_free,
                                                    NULL, 0))) {
            av_free(text);
            ret = AVERROR(ENOMEM);
        }
        if (ret < 0) {
            lr__http_send_500(req);
            return;
        }
    }
    if (tokens_for_peers(req, whole) < 0) {
        av_buffer_unref(whole);
        lr__http_send_500(req);
        return;
    }
    lr__http_send_playlist(req, whole, cache_control);
}

/* A shed rendition's playlist (egress/packager.c keep_last_playlist): a
 * blocking reload its last playlist satisfies gets that playlist, so the
 * player takes the rendition's last segment whole; any other request is
 * redirected to the stand-in, where the next segment begins with a
 * keyframe. key may be the delta form's; the last playlist is whole. Takes
 * obj. */
void lr__http_send_shed_playlist(lr_http *h, h2o_req_t *req, const char *key, size_t len,
                                 lr_store_obj *obj, int64_t msn, int part)
{
    const char *q = memchr(key, '?', len);
    char last_key[600];
    int n = snprintf(last_key, sizeof(last_key), "%.*s" LR_STORE_LAST_SUFFIX,
                     (int)(q ? (size_t)(q - key) : len), key);
    lr_store_obj last;

    if (obj->ll && msn >= 0 && lr__http_playlist_satisfies(obj, msn, part) &&
        n < (int)sizeof(last_key) && lr_store_get(h->store, last_key, (size_t)n, &last) == 0) {
        lr_store_obj_unref(obj);
        lr__http_send_store_obj(req, &last, lr__http_blocking_cc(req, &last));
        return;
    }
    lr__http_send_store_obj(req, obj, NULL);
}

void lr__http_serve_live(lr_http *h, h2o_req_t *req, const char *key, size_t len, const char *query,
                         size_t qlen)
{
    h2o_iovec_t c[3];
    int nc = lr__http_split_components(key, len, c, 3);
    lr_store_obj obj;
    lr_ll_directives d = { -1, -1, 0 };

    if (nc < 2 || !lr_lecture_name_valid(pool_strdup(req, c[0].base, c[0].len))) {
        lr__http_send_404(req);
        return;
    }
    int is_playlist = has_suffix(key, len, ".m3u8");
    if (is_playlist && lr_http_parse_directives(query, qlen, &d) < 0) {
        lr__http_send_400(req);
        return;
    }
    /* the delta form when asked for and published; else the full playlist */
    const char *skey = key;
    size_t slen = len;
    if (d.skip) {
        char *k = h2o_mem_alloc_pool(&req->pool, len + sizeof(LR_STORE_DELTA_SUFFIX));
        memcpy(k, key, len);
        memcpy(k + len, LR_STORE_DELTA_SUFFIX, sizeof(LR_STORE_DELTA_SUFFIX));
        if (lr_store_get(h->store, k, len + sizeof(LR_STORE_DELTA_SUFFIX) - 1, &obj) == 0) {
            skey = k;
            slen = len + sizeof(LR_STORE_DELTA_SUFFIX) - 1;
            goto found;
        }
    }
    if (lr_store_get(h->store, key, len, &obj) < 0) {
        int64_t seq;
        int part;
        if (nc == 3 && lr_http_parse_part_name(c[2].base, c[2].len, &seq, &part)) {
            char pk[512];
            int pkl = snprintf(pk, sizeof(pk), "%.*s/index.m3u8", (int)(c[2].base - 1 - key), key);
            lr_store_obj pl;
            if (pkl < (int)sizeof(pk) && lr_store_get(h->store, pk, pkl, &pl) == 0) {
                int next = is_next_part(&pl, seq, part);
                int td = pl.ll_target_duration;  /* >= 1 in every LL playlist */
                lr_store_obj_unref(&pl);
                if (next) {
                    lr__http_park(req, key, len, PARK_PART, seq, part, 3000ull * td);
                    return;
                }
            }
        }
        if (nc == 3 && serve_dvr(h, req, c) == 0)
            return;
        lr__http_send_404(req);
        return;
    }
found:
    if (nc == 3 && is_playlist) {  /* a viewer of a rendition that exists */
        char ip[INET6_ADDRSTRLEN];
        peer_ip(req, ip, sizeof(ip));
        lr__http_viewer_seen(h, key, c[2].base - 1 - key, ip);
    }
    if (obj.redirect) {
        lr__http_send_shed_playlist(h, req, skey, slen, &obj, d.msn, d.part);
        return;
    }
    if (obj.ll && !obj.ll_ended && d.msn >= 0) {
        int64_t last = obj.ll_part >= 0 ? obj.ll_part_msn : obj.ll_msn_complete;
        if (d.msn > last + 2) {
            lr_store_obj_unref(&obj);
            lr__http_send_400(req);
            return;
        }
        if (!lr__http_playlist_satisfies(&obj, d.msn, d.part)) {
            int td = obj.ll_target_duration;
            lr_store_obj_unref(&obj);
            lr__http_park(req, skey, slen, PARK_PLAYLIST, d.msn, d.part, 3000ull * td);
            return;
        }
        lr__http_send_store_obj(req, &obj, lr__http_blocking_cc(req, &obj));
        return;
    }
    if (nc == 2 && h2o_memis(c[1].base, c[1].len, H2O_STRLIT("master.m3u8"))) {
        lr__http_send_master(req, &obj.data, lr__http_obj_cache_control(req, &obj));
        lr_store_obj_unref(&obj);
        return;
    }
    lr__http_send_store_obj(req, &obj, NULL);
}
