/* egress/url_sign.h — URL signatures in the query string that a cache in
 * front of the egress checks itself, so that it can keep one copy of each
 * object for every student:
 * - "cdn_a": the URL authentication of China's large CDNs (Alibaba Cloud and
 *   Tencent Cloud "type A"): ?auth_key=<expiry>-<rand>-<uid>-<md5hex>, the
 *   MD5 taken over "<path>-<expiry>-<rand>-<uid>-<key>";
 * - "nginx": stock nginx's secure_link module: ?md5=<base64url>&expires=<t>,
 *   the MD5 taken over "<expires><path> <key>".
 * Each signs one path (never the host or the query) until an expiry, so the
 * egress signs every URI of a playlist anew (playlist.h,
 * lr_playlist_sign_uris) with the expiry of the token it was asked with.
 * docs/http.md gives the nginx and CDN settings that match. Called by
 * egress/http_routes.c, http_respond.c, http_pages.c and app/ (sign-url). */
#ifndef LR_EGRESS_URL_SIGN_H
#define LR_EGRESS_URL_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include <libavutil/bprint.h>

enum lr_url_sign_kind {
    LR_URL_SIGN_PATH,   /* token.h's /t/<token>/ prefix: nothing in the query */
    LR_URL_SIGN_CDN_A,
    LR_URL_SIGN_NGINX,
};

#define LR_URL_SIGN_UID_MAX 64

/* What signs new URIs: the kind, its key, and what the token checked
 * carried (expiry, and for cdn_a its uid). */
typedef struct lr_url_signer {
    int         kind;
    const char *key;
    const char *param;                   /* cdn_a: the query parameter, "auth_key" */
    int64_t     expires;                 /* Unix seconds */
    char        uid[LR_URL_SIGN_UID_MAX + 1]; /* cdn_a: [A-Za-z0-9]{1,64}, "0" when unused */
} lr_url_signer;

/* "path", "cdn_a", "nginx": the kind, or -1. */
int lr_url_sign_kind_parse(const char *name);

/* cdn_a's uid: 1 to LR_URL_SIGN_UID_MAX letters and digits. */
int lr_url_sign_uid_valid(const char *uid);

/* 1 when kind can sign with key: for cdn_a, what the CDN consoles take
 * (letters and digits, at most 32); any key for the others. */
int lr_url_sign_key_valid(int kind, const char *key);

/* Appends to out the query that signs path (len bytes, starting with '/',
 * no query), without a leading '?' or '&'. rand (cdn_a; NULL: a fresh
 * random string) is [A-Za-z0-9]{0,100}. Returns 0 or AVERROR(EINVAL). */
int lr_url_sign(const lr_url_signer *s, const char *path, size_t len, const char *rand,
                AVBPrint *out);

/* lr_url_sign with a fresh rand, signer being an lr_url_signer: the shape
 * of playlist_sign.h's lr_path_signer. */
int lr_url_sign_path(void *signer, const char *path, size_t len, AVBPrint *out);

/* Looks for signer kind's parameters in query (qlen bytes, without '?') and
 * checks them for path against each of the nb_keys keys at time now (an
 * expiry in the past fails). Returns 0 (valid: *out can sign with keys[0],
 * the same expiry and uid), AVERROR(ENOENT) (the query has no such
 * parameter) or AVERROR(EACCES) (malformed, forged or expired). */
int lr_url_sign_check(int kind, const char *param, const char *const *keys, int nb_keys,
                      const char *path, size_t len, const char *query, size_t qlen,
                      int64_t now, lr_url_signer *out);

/* Appends query's parameters (qlen bytes, no '?') other than s's own
 * signature, '&'-separated. Returns how many it appended. */
int lr_url_sign_strip(const lr_url_signer *s, const char *query, size_t qlen, AVBPrint *out);

#endif
