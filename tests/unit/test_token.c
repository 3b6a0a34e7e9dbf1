/* tests/unit/test_token.c — egress/token.c: signed URL tokens round-trip,
 * and every way a token must fail (expired, tampered, other lecture, other
 * address, unknown secret, malformed) fails; rotation accepts old and new. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <libavutil/error.h>

#include "egress/token.h"

#define NOW 1800000000LL
static const char *const one_secret[] = { "0123456789abcdef-secret" };

static int verify(const char *const *secrets, int n, const char *tok, const char *lecture,
                  int64_t now, const char *ip)
{
    return lr_token_verify(secrets, n, tok, strlen(tok), lecture, strlen(lecture), now, ip);
}

static void test_round_trip(void **state)
{
    char tok[LR_TOKEN_MAX_LEN + 1];
    assert_int_equal(lr_token_sign(one_secret[0], "cs101", NOW + 3600, NULL, tok, sizeof(tok)), 0);
    assert_true(strlen(tok) > 40);
    assert_int_equal(strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
                     strlen(tok));
    assert_int_equal(verify(one_secret, 1, tok, "cs101", NOW, "10.0.0.1"), 0);
    assert_int_equal(verify(one_secret, 1, tok, "cs101", NOW + 3600, "::1"), 0);
}

static void test_rejections(void **state)
{
    char tok[LR_TOKEN_MAX_LEN + 1];
    static const char *const other[] = { "another-secret-of-16+" };
    assert_int_equal(lr_token_sign(one_secret[0], "cs101", NOW + 60, NULL, tok, sizeof(tok)), 0);

    /* expired */
    assert_int_equal(verify(one_secret, 1, tok, "cs101", NOW + 61, ""), AVERROR(EACCES));
    /* wrong lecture, including a prefix of it */
    assert_int_equal(verify(one_secret, 1, tok, "cs102", NOW, ""), AVERROR(EACCES));
    assert_int_equal(verify(one_secret, 1, tok, "cs10", NOW, ""), AVERROR(EACCES));
    /* unknown secret, none at all */
    assert_int_equal(verify(other, 1, tok, "cs101", NOW, ""), AVERROR(EACCES));
    assert_int_equal(verify(one_secret, 0, tok, "cs101", NOW, ""), AVERROR(EACCES));
    /* every single-character change */
    size_t len = strlen(tok);
    for (size_t i = 0; i < len; i++) {
        char t[LR_TOKEN_MAX_LEN + 1];
        memcpy(t, tok, len + 1);
        t[i] = t[i] == 'A' ? 'B' : 'A';
        if (verify(one_secret, 1, t, "cs101", NOW, "") == 0)
            fail_msg("tampered at %zu still accepted", i);
    }
    /* truncated, extended, empty, garbage */
    char t[LR_TOKEN_MAX_LEN + 8];
    memcpy(t, tok, len - 1);
    t[len - 1] = 0;
    assert_int_equal(verify(one_secret, 1, t, "cs101", NOW, ""), AVERROR(EACCES));
    snprintf(t, sizeof(t), "%sAA", tok);
    assert_int_equal(verify(one_secret, 1, t, "cs101", NOW, ""), AVERROR(EACCES));
    assert_int_equal(verify(one_secret, 1, "", "cs101", NOW, ""), AVERROR(EACCES));
    assert_int_equal(verify(one_secret, 1, "!!!!/..", "cs101", NOW, ""), AVERROR(EACCES));
}

static void test_ip_binding(void **state)
{
    char tok[LR_TOKEN_MAX_LEN + 1];
    assert_int_equal(lr_token_sign(one_secret[0], "cs101", NOW + 60, "192.0.2.7", tok,
                                   sizeof(tok)), 0);
    assert_int_equal(verify(one_secret, 1, tok, "cs101", NOW, "192.0.2.7"), 0);
    assert_int_equal(verify(one_secret, 1, tok, "cs101", NOW, "::ffff:192.0.2.7"), 0);
    assert_int_equal(verify(one_secret, 1, tok, "cs101", NOW, "192.0.2.8"), AVERROR(EACCES));
    assert_int_equal(verify(one_secret, 1, tok, "cs101", NOW, ""), AVERROR(EACCES));
    assert_int_equal(lr_token_sign(one_secret[0], "cs101", NOW + 60, "2001:db8::1", tok,
                                   sizeof(tok)), 0);
    assert_int_equal(verify(one_secret, 1, tok, "cs101", NOW, "2001:db8::1"), 0);
    assert_int_equal(verify(one_secret, 1, tok, "cs101", NOW, "2001:db8::2"), AVERROR(EACCES));
    assert_int_equal(lr_token_sign(one_secret[0], "cs101", NOW, "not-an-ip", tok, sizeof(tok)),
                     AVERROR(EINVAL));
}

static void test_rotation(void **state)
{
    static const char *const rotated[] = { "the-new-secret-2026", "0123456789abcdef-secret" };
    char old_tok[LR_TOKEN_MAX_LEN + 1], new_tok[LR_TOKEN_MAX_LEN + 1];
    assert_int_equal(lr_token_sign(one_secret[0], "cs101", NOW + 60, NULL, old_tok,
                                   sizeof(old_tok)), 0);
    assert_int_equal(lr_token_sign(rotated[0], "cs101", NOW + 60, NULL, new_tok,
                                   sizeof(new_tok)), 0);
    assert_int_equal(verify(rotated, 2, old_tok, "cs101", NOW, ""), 0);
    assert_int_equal(verify(rotated, 2, new_tok, "cs101", NOW, ""), 0);
    /* once the old one is dropped, its tokens stop working */
    assert_int_equal(verify(rotated, 1, old_tok, "cs101", NOW, ""), AVERROR(EACCES));
}

static void test_bad_input(void **state)
{
    char tok[LR_TOKEN_MAX_LEN + 1];
    assert_int_equal(lr_token_sign("", "cs101", NOW, NULL, tok, sizeof(tok)), AVERROR(EINVAL));
    assert_int_equal(lr_token_sign("s", "../x", NOW, NULL, tok, sizeof(tok)), AVERROR(EINVAL));
    assert_int_equal(lr_token_sign("s", "cs101", NOW, NULL, tok, 10), AVERROR(ENOSPC));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_ip_binding),
        cmocka_unit_test(test_rotation),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
