/* egress/url_sign.c — query-string URL signatures a cache can check (see
 * url_sign.h). MD5 is what those caches compute; it stands here for their
 * sake, beside token.h's HMAC-SHA256 for the egress alone. */
#include "url_sign.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include <libavutil/base64.h>
#include <libavutil/error.h>
#include <libavutil/md5.h>
#include <libavutil/mem.h>

#define MD5_LEN     16
#define RAND_LEN    16   /* what we write; we accept 0..RAND_MAX_LEN */
#define RAND_MAX_LEN 100
#define MAX_EXPIRY_DIGITS 12
/* the keys the CDN consoles take: letters and digits, up to 32 (Alibaba
 * Cloud; Tencent Cloud takes 40) */
#define CDN_A_KEY_MAX 32

int lr_url_sign_kind_parse(const char *name)
{
    if (!strcmp(name, "path"))
        return LR_URL_SIGN_PATH;
    if (!strcmp(name, "cdn_a"))
        return LR_URL_SIGN_CDN_A;
    if (!strcmp(name, "nginx"))
        return LR_URL_SIGN_NGINX;
    return -1;
}

static int is_alnum(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int all_alnum(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_alnum(p[i]))
            return 0;
    return 1;
}

int lr_url_sign_uid_valid(const char *uid)
{
    size_t n = strlen(uid);
    return n && n <= LR_URL_SIGN_UID_MAX && all_alnum(uid, n);
}

int lr_url_sign_key_valid(int kind, const char *key)
{
    size_t n = strlen(key);
    return kind != LR_URL_SIGN_CDN_A || (n <= CDN_A_KEY_MAX && all_alnum(key, n));
}

typedef struct piece {
    const char *p;
    size_t      n;
} piece;

/* MD5 over the nb pieces, in order. */
static void md5_of(uint8_t md[MD5_LEN], const piece *pieces, int nb)
{
    struct AVMD5 *ctx = av_md5_alloc();

    if (!ctx) {  /* 88 bytes: let the comparison fail rather than crash */
        memset(md, 0, MD5_LEN);
        return;
    }
    av_md5_init(ctx);
    for (int i = 0; i < nb; i++)
        av_md5_update(ctx, (const uint8_t *)pieces[i].p, pieces[i].n);
    av_md5_final(ctx, md);
    av_free(ctx);
}

/* cdn_a: "<path>-<expiry>-<rand>-<uid>-<key>" */
static void cdn_a_md5(uint8_t md[MD5_LEN], const char *path, size_t len, int64_t expires,
                      const char *rand, size_t rand_len, const char *uid, const char *key)
{
    char mid[MAX_EXPIRY_DIGITS + RAND_MAX_LEN + LR_URL_SIGN_UID_MAX + 8];
    int n = snprintf(mid, sizeof(mid), "-%lld-%.*s-%s-", (long long)expires, (int)rand_len, rand,
                     uid);
    md5_of(md, (const piece[]){ { path, len }, { mid, (size_t)n }, { key, strlen(key) } }, 3);
}

/* nginx: "<expires><path> <key>" (secure_link_md5 "$secure_link_expires$uri KEY") */
static void nginx_md5(uint8_t md[MD5_LEN], const char *path, size_t len, int64_t expires,
                      const char *key)
{
    char exp[MAX_EXPIRY_DIGITS + 2];
    int n = snprintf(exp, sizeof(exp), "%lld", (long long)expires);
    md5_of(md, (const piece[]){ { exp, (size_t)n }, { path, len }, { " ", 1 },
                                { key, strlen(key) } }, 4);
}

/* nginx's secure_link reads base64url without padding. */
static void b64url(const uint8_t md[MD5_LEN], char out[AV_BASE64_SIZE(MD5_LEN)])
{
    av_base64_encode(out, AV_BASE64_SIZE(MD5_LEN), md, MD5_LEN);
    for (char *p = out; *p; p++) {
        if (*p == '+')
            *p = '-';
        else if (*p == '/')
            *p = '_';
        else if (*p == '=')
            *p = '\0';
    }
}

static void fresh_rand(char out[RAND_LEN + 1])
{
    static const char alnum[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    for (int i = 0; i < RAND_LEN; i++)
        out[i] = alnum[arc4random_uniform(sizeof(alnum) - 1)];
    out[RAND_LEN] = '\0';
}

static int path_ok(const char *path, size_t len)
{
    return len && path[0] == '/' && !memchr(path, '?', len);
}

int lr_url_sign(const lr_url_signer *s, const char *path, size_t len, const char *rand,
                AVBPrint *out)
{
    uint8_t md[MD5_LEN];
    char buf[RAND_LEN + 1];

    if (!s || !s->key || !*s->key || s->expires < 0 || !path_ok(path, len))
        return AVERROR(EINVAL);
    switch (s->kind) {
    case LR_URL_SIGN_CDN_A: {
        const char *uid = *s->uid ? s->uid : "0";
        if (!rand) {
            fresh_rand(buf);
            rand = buf;
        }
        size_t rl = strlen(rand);
        if (rl > RAND_MAX_LEN || !all_alnum(rand, rl) || !lr_url_sign_uid_valid(uid) ||
            !s->param || !*s->param)
            return AVERROR(EINVAL);
        cdn_a_md5(md, path, len, s->expires, rand, rl, uid, s->key);
        av_bprintf(out, "%s=%lld-%s-%s-", s->param, (long long)s->expires, rand, uid);
        for (int i = 0; i < MD5_LEN; i++)
            av_bprintf(out, "%02x", md[i]);
        return 0;
    }
    case LR_URL_SIGN_NGINX: {
        char b64[AV_BASE64_SIZE(MD5_LEN)];
        nginx_md5(md, path, len, s->expires, s->key);
        b64url(md, b64);
        av_bprintf(out, "md5=%s&expires=%lld", b64, (long long)s->expires);
        return 0;
    }
    default:
        return AVERROR(EINVAL);
    }
}

int lr_url_sign_path(void *signer, const char *path, size_t len, AVBPrint *out)
{
    return lr_url_sign(signer, path, len, NULL, out);
}

/* The next '&'-separated parameter of the query (*q, *qlen bytes) in *p,
 * *n bytes (maybe 0), the query moved past it; 0 at the end. */
static int next_param(const char **q, size_t *qlen, const char **p, size_t *n)
{
    if (!*qlen)
        return 0;
    *p = *q;
    *n = 0;
    while (*n < *qlen && (*q)[*n] != '&')
        (*n)++;
    *q += *n + (*n < *qlen);
    *qlen -= *n + (*n < *qlen);
    return 1;
}

/* The value of parameter name in query: 1 found once (value in *v, *vl),
 * 0 absent, -1 present more than once (which one a cache reads is its own
 * business: refuse). */
static int find_param(const char *query, size_t qlen, const char *name, const char **v,
                      size_t *vl)
{
    size_t nl = strlen(name);
    int found = 0;

    const char *p;
    size_t n;

    while (next_param(&query, &qlen, &p, &n)) {
        if (n > nl && p[nl] == '=' && !memcmp(p, name, nl)) {
            if (found++)
                return -1;
            *v = p + nl + 1;
            *vl = n - nl - 1;
        }
    }
    return found;
}

static int parse_expiry(const char *p, size_t n, int64_t *out)
{
    int64_t v = 0;
    if (!n || n > MAX_EXPIRY_DIGITS)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return 0;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* "<expiry>-<rand>-<uid>-<md5hex>" */
static int check_cdn_a(const char *v, size_t vl, const char *const *keys, int nb_keys,
                       const char *path, size_t len, int64_t now, lr_url_signer *out)
{
    const char *f[4];
    size_t fl[4];
    int nf = 0;
    uint8_t want[MD5_LEN], md[MD5_LEN];
    int64_t exp;
    int ok = 0;

    for (size_t i = 0, start = 0; i <= vl; i++) {
        if (i == vl || v[i] == '-') {
            if (nf == 4)
                return AVERROR(EACCES);
            f[nf] = v + start;
            fl[nf++] = i - start;
            start = i + 1;
        }
    }
    if (nf != 4 || parse_expiry(f[0], fl[0], &exp) < 0 || exp < now ||
        fl[1] > RAND_MAX_LEN || !all_alnum(f[1], fl[1]) ||
        !fl[2] || fl[2] > LR_URL_SIGN_UID_MAX || !all_alnum(f[2], fl[2]) || fl[3] != 2 * MD5_LEN)
        return AVERROR(EACCES);
    for (int i = 0; i < MD5_LEN; i++) {
        int hi = hex_value(f[3][2 * i]), lo = hex_value(f[3][2 * i + 1]);
        if (hi < 0 || lo < 0)
            return AVERROR(EACCES);
        want[i] = (uint8_t)(hi << 4 | lo);
    }
    memcpy(out->uid, f[2], fl[2]);
    out->uid[fl[2]] = '\0';
    for (int k = 0; k < nb_keys; k++) {
        if (!keys[k] || !*keys[k])
            continue;
        cdn_a_md5(md, path, len, exp, f[1], fl[1], out->uid, keys[k]);
        ok |= !CRYPTO_memcmp(md, want, MD5_LEN);
    }
    out->expires = exp;
    return ok ? 0 : AVERROR(EACCES);
}

static int check_nginx(const char *md5v, size_t md5l, const char *expv, size_t expl,
                       const char *const *keys, int nb_keys, const char *path, size_t len,
                       int64_t now, lr_url_signer *out)
{
    uint8_t md[MD5_LEN];
    char b64[AV_BASE64_SIZE(MD5_LEN)];
    int64_t exp;
    int ok = 0;

    if (parse_expiry(expv, expl, &exp) < 0 || exp < now || md5l != 22)
        return AVERROR(EACCES);
    for (int k = 0; k < nb_keys; k++) {
        if (!keys[k] || !*keys[k])
            continue;
        nginx_md5(md, path, len, exp, keys[k]);
        b64url(md, b64);
        ok |= !CRYPTO_memcmp(b64, md5v, 22);
    }
    out->expires = exp;
    return ok ? 0 : AVERROR(EACCES);
}

int lr_url_sign_check(int kind, const char *param, const char *const *keys, int nb_keys,
                      const char *path, size_t len, const char *query, size_t qlen,
                      int64_t now, lr_url_signer *out)
{
    const char *v = NULL, *e = NULL;
    size_t vl = 0, el = 0;
    int r1, r2;

    memset(out, 0, sizeof(*out));
    out->kind = kind;
    out->param = param;
    out->key = nb_keys > 0 ? keys[0] : NULL;
    if (!path_ok(path, len))
        return AVERROR(EACCES);
    switch (kind) {
    case LR_URL_SIGN_CDN_A:
        if (!param || !*param || !(r1 = find_param(query, qlen, param, &v, &vl)))
            return AVERROR(ENOENT);
        if (r1 < 0)
            return AVERROR(EACCES);
        return check_cdn_a(v, vl, keys, nb_keys, path, len, now, out);
    case LR_URL_SIGN_NGINX:
        r1 = find_param(query, qlen, "md5", &v, &vl);
        r2 = find_param(query, qlen, "expires", &e, &el);
        if (!r1 && !r2)
            return AVERROR(ENOENT);
        if (r1 != 1 || r2 != 1)
            return AVERROR(EACCES);
        return check_nginx(v, vl, e, el, keys, nb_keys, path, len, now, out);
    default:
        return AVERROR(ENOENT);
    }
}

static int is_sign_param(const lr_url_signer *s, const char *p, size_t n)
{
    const char *eq = memchr(p, '=', n);
    size_t kl = eq ? (size_t)(eq - p) : n;
    if (s->kind == LR_URL_SIGN_CDN_A)
        return s->param && kl == strlen(s->param) && !memcmp(p, s->param, kl);
    if (s->kind == LR_URL_SIGN_NGINX)
        return (kl == 3 && !memcmp(p, "md5", 3)) || (kl == 7 && !memcmp(p, "expires", 7));
    return 0;
}

int lr_url_sign_strip(const lr_url_signer *s, const char *query, size_t qlen, AVBPrint *out)
{
    int kept = 0;
    const char *p;
    size_t n;

    while (next_param(&query, &qlen, &p, &n)) {
        if (n && !is_sign_param(s, p, n)) {
            if (kept++)
                av_bprint_chars(out, '&', 1);
            av_bprint_append_data(out, p, (unsigned)n);
        }
    }
    return kept;
}
