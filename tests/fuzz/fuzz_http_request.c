/* tests/fuzz/fuzz_http_request.c — what the egress reads from a request
 * before it looks anything up (egress/http_parse.h), and the signatures a
 * request may carry (egress/token.h, egress/url_sign.h). The input is
 * "<path>[?<query>]\n<Range header value>". Invariants: a safe path has no
 * "..", "//" or byte outside 0x21..0x7e; directives that parse are within
 * their bounds; a part name that parses formats back to itself; a range
 * that parses lies inside the file; a token minted for the path's lecture
 * verifies, and one changed in a byte doesn't. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "egress/http_parse.h"
#include "egress/token.h"
#include "egress/url_sign.h"
#include "fuzz.h"

static const char *const secrets[] = { "a secret of the tests, 0123456789", "an older one" };

static void check_range(const char *v, size_t len)
{
    static const size_t sizes[] = { 0, 1, 2, 100, 1 << 20, SIZE_MAX / 2 };

    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        size_t first = 0, last = 0;
        int r = lr_http_parse_range(v, len, sizes[k], &first, &last);
        if (r == 1 && (first > last || last >= sizes[k]))
            abort();
    }
}

static void check_query(const char *path, size_t path_len, const char *q, size_t len)
{
    lr_ll_directives d;
    lr_url_signer s;
    const char *keys[] = { "keyofthetests0123", "key-of-the-tests" };

    if (lr_http_parse_directives(q, len, &d) == 0) {
        if ((d.part >= 0 && d.msn < 0) || d.msn > INT64_MAX / 2 || d.part > 1000000 ||
            (d.skip != 0 && d.skip != 1))
            abort();
    }
    for (int kind = LR_URL_SIGN_CDN_A; kind <= LR_URL_SIGN_NGINX; kind++)
        lr_url_sign_check(kind, kind == LR_URL_SIGN_CDN_A ? "auth_key" : NULL, keys, 2,
                          path, path_len, q, len, 1700000000, &s);
}

/* The path's own lecture and a token in it (/t/<token>/live/<lecture>/). */
static void check_path(const char *p, size_t len)
{
    int safe = lr_http_path_is_safe(p, len);
    int64_t seq;
    int part;
    char back[64];

    for (size_t i = 0; safe && i < len; i++)
        if ((unsigned char)p[i] < 0x21 || (unsigned char)p[i] > 0x7e ||
            (i + 1 < len && p[i] == '.' && p[i + 1] == '.') ||
            (i + 1 < len && p[i] == '/' && p[i + 1] == '/'))
            abort();
    /* each component alone, and as a part's file name */
    for (size_t start = 0, i = 0; i <= len; i++) {
        if (i < len && p[i] != '/')
            continue;
        size_t n = i - start;
        lr_http_component_valid(p + start, n);
        if (lr_http_parse_part_name(p + start, n, &seq, &part) == 1) {
            int m = snprintf(back, sizeof(back), "%" PRId64 ".%d", seq, part);
            if (seq < 0 || part < 0 || part > 1000000 || m <= 0 ||
                (size_t)m > n || memcmp(back, p + start, (size_t)m) != 0) {
                /* leading zeros are allowed: compare the numbers instead */
                int64_t s2;
                int p2;
                char again[96];
                snprintf(again, sizeof(again), "%s.m4s", back);
                if (lr_http_parse_part_name(again, strlen(again), &s2, &p2) != 1 || s2 != seq ||
                    p2 != part)
                    abort();
            }
        }
        start = i + 1;
    }
    if (len > 3 && !memcmp(p, "/t/", 3)) {
        const char *tok = p + 3, *end = memchr(tok, '/', len - 3);
        size_t tl = end ? (size_t)(end - tok) : len - 3;
        lr_token_verify(secrets, 2, tok, tl, "cs101", 5, 1700000000, "10.0.0.7");
    }
}

/* A token minted for a lecture taken from the input verifies; a byte
 * changed, it doesn't. */
static void check_round_trip(const uint8_t *data, size_t size)
{
    char lecture[17], tok[512];
    size_t n = size < 16 ? size : 16;

    for (size_t i = 0; i < n; i++)
        lecture[i] = "abcdefghijklmnopqrstuvwxyz012345"[data[i] % 32];
    lecture[n] = '\0';
    if (!n || lr_token_sign(secrets[0], lecture, 1700000600, "", tok, sizeof(tok)) < 0)
        return;
    if (lr_token_verify(secrets, 2, tok, strlen(tok), lecture, n, 1700000000, "10.0.0.7") != 0)
        abort();
    size_t at = size > n ? data[n] % strlen(tok) : 0;
    tok[at] = tok[at] == 'A' ? 'B' : 'A';
    if (lr_token_verify(secrets, 2, tok, strlen(tok), lecture, n, 1700000000, "10.0.0.7") == 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    const char *nl = memchr(in, '\n', size);
    size_t target_len = nl ? (size_t)(nl - in) : size;
    const char *q = memchr(in, '?', target_len);
    size_t path_len = q ? (size_t)(q - in) : target_len;

    if (size > 8192)
        return 0;
    check_path(in, path_len);
    if (q)
        check_query(in, path_len, q + 1, target_len - path_len - 1);
    if (nl)
        check_range(nl + 1, size - target_len - 1);
    check_round_trip(data, size);
    return 0;
}
