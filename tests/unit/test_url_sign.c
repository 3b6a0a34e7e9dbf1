/* tests/unit/test_url_sign.c — egress/url_sign.c and playlist_sign.c: the
 * CDN "type A" signature reproduces the worked example of Tencent Cloud's
 * documentation; the nginx secure_link one matches openssl's MD5 as nginx
 * computes it; every way a signature must fail fails; a playlist's every
 * URI (lines and URI="..." attributes, relative and absolute) gets the
 * signature of its own path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "egress/playlist_sign.h"
#include "egress/url_sign.h"

#define NOW 1800000000LL
static const char *const keys[] = { "0123456789abcdefKEY" };

static char *sign(const lr_url_signer *s, const char *path, const char *rand)
{
    AVBPrint bp;
    char *out;
    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    assert_int_equal(lr_url_sign(s, path, strlen(path), rand, &bp), 0);
    assert_int_equal(av_bprint_finalize(&bp, &out), 0);
    return out;
}

static int check(int kind, const char *path, const char *query, int64_t now, lr_url_signer *out)
{
    return lr_url_sign_check(kind, "auth_key", keys, 1, path, strlen(path), query, strlen(query),
                             now, out);
}

/* Tencent Cloud's "Authentication Method A" example: /foo.jpg, timestamp
 * 1721028437, rand Kv4cPTAAP5YTi, uid 0, key DvYmqE81E1F9R791H6lmht. */
static void test_cdn_a_worked_example(void **state)
{
    lr_url_signer s = { .kind = LR_URL_SIGN_CDN_A, .key = "DvYmqE81E1F9R791H6lmht",
                        .param = "sign", .expires = 1721028437, .uid = "0" };
    char *q = sign(&s, "/foo.jpg", "Kv4cPTAAP5YTi");
    assert_string_equal(q, "sign=1721028437-Kv4cPTAAP5YTi-0-0fbdca749d7ab784750685347e42075c");
    static const char *const k[] = { "DvYmqE81E1F9R791H6lmht" };
    lr_url_signer got;
    assert_int_equal(lr_url_sign_check(LR_URL_SIGN_CDN_A, "sign", k, 1, "/foo.jpg", 8, q,
                                       strlen(q), 1721028437, &got), 0);
    assert_int_equal(got.expires, 1721028437);
    assert_string_equal(got.uid, "0");
    av_free(q);
}

static void test_cdn_a_round_trip_and_rejections(void **state)
{
    lr_url_signer s = { .kind = LR_URL_SIGN_CDN_A, .key = keys[0], .param = "auth_key",
                        .expires = NOW + 60, .uid = "student42" };
    const char *path = "/live/cs101/720p/index.m3u8";
    char *q = sign(&s, path, "abc123"), bad[256];
    lr_url_signer got;

    /* md5sum of "<path>-1800000060-abc123-student42-<key>" */
    assert_int_equal(check(LR_URL_SIGN_CDN_A, path, q, NOW, &got), 0);
    assert_string_equal(got.uid, "student42");
    /* with the blocking-reload directives around it */
    snprintf(bad, sizeof(bad), "_HLS_msn=5&%s&_HLS_part=1", q);
    assert_int_equal(check(LR_URL_SIGN_CDN_A, path, bad, NOW, &got), 0);
    /* expired, other path, other lecture, no signature, forged, twice */
    assert_int_equal(check(LR_URL_SIGN_CDN_A, path, q, NOW + 61, &got), AVERROR(EACCES));
    assert_int_equal(check(LR_URL_SIGN_CDN_A, "/live/cs101/480p/index.m3u8", q, NOW, &got),
                     AVERROR(EACCES));
    assert_int_equal(check(LR_URL_SIGN_CDN_A, "/live/cs102/720p/index.m3u8", q, NOW, &got),
                     AVERROR(EACCES));
    assert_int_equal(check(LR_URL_SIGN_CDN_A, path, "_HLS_msn=5", NOW, &got), AVERROR(ENOENT));
    snprintf(bad, sizeof(bad), "%s", q);
    bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == '0' ? '1' : '0';
    assert_int_equal(check(LR_URL_SIGN_CDN_A, path, bad, NOW, &got), AVERROR(EACCES));
    snprintf(bad, sizeof(bad), "%s&%s", q, q);
    assert_int_equal(check(LR_URL_SIGN_CDN_A, path, bad, NOW, &got), AVERROR(EACCES));
    static const char *const malformed[] = {
        "auth_key=", "auth_key=1800000060", "auth_key=1800000060-abc-0",
        "auth_key=x1800000060-abc-0-026ad625653475fd1cc2e5137d6cfbcd",
        "auth_key=1800000060-a%20c-0-026ad625653475fd1cc2e5137d6cfbcd",
        "auth_key=1800000060-abc-0-026ad625653475fd1cc2e5137d6cfbc",
        "auth_key=1800000060-abc-0-026ad625653475fd1cc2e5137d6cfbcz",
        "auth_key=1800000060-abc--026ad625653475fd1cc2e5137d6cfbcd",
        "auth_key=1800000060-abc-0-026ad625653475fd1cc2e5137d6cfbcd-1",
        "auth_key=99999999999999999999-abc-0-026ad625653475fd1cc2e5137d6cfbcd",
    };
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++)
        assert_int_equal(check(LR_URL_SIGN_CDN_A, path, malformed[i], NOW, &got), AVERROR(EACCES));
    av_free(q);

    /* the value md5sum gives for rand abc123, uid 0 */
    s.uid[0] = '0';
    s.uid[1] = '\0';
    s.expires = 1800003600;
    q = sign(&s, path, "abc123");
    assert_string_equal(q, "auth_key=1800003600-abc123-0-026ad625653475fd1cc2e5137d6cfbcd");
    av_free(q);
    /* a fresh rand each time: different signatures, both valid */
    char *a = sign(&s, path, NULL), *b = sign(&s, path, NULL);
    assert_string_not_equal(a, b);
    assert_int_equal(check(LR_URL_SIGN_CDN_A, path, a, NOW, &got), 0);
    assert_int_equal(check(LR_URL_SIGN_CDN_A, path, b, NOW, &got), 0);
    av_free(a);
    av_free(b);
}

/* nginx: secure_link $arg_md5,$arg_expires;
 *        secure_link_md5 "$secure_link_expires$uri 0123456789abcdefKEY";
 * openssl md5 -binary | base64url of "1800003600/live/cs101/720p/index.m3u8 <key>" */
static void test_nginx_secure_link(void **state)
{
    lr_url_signer s = { .kind = LR_URL_SIGN_NGINX, .key = keys[0], .expires = 1800003600 };
    const char *path = "/live/cs101/720p/index.m3u8";
    char *q = sign(&s, path, NULL), bad[256];
    lr_url_signer got;

    assert_string_equal(q, "md5=F36jHJUU8bW8LU0audhSTg&expires=1800003600");
    assert_int_equal(check(LR_URL_SIGN_NGINX, path, q, NOW, &got), 0);
    assert_int_equal(got.expires, 1800003600);
    assert_int_equal(check(LR_URL_SIGN_NGINX, path, q, 1800003601, &got), AVERROR(EACCES));
    assert_int_equal(check(LR_URL_SIGN_NGINX, "/live/cs102/720p/index.m3u8", q, NOW, &got),
                     AVERROR(EACCES));
    assert_int_equal(check(LR_URL_SIGN_NGINX, path, "md5=F36jHJUU8bW8LU0audhSTg", NOW, &got),
                     AVERROR(EACCES));
    assert_int_equal(check(LR_URL_SIGN_NGINX, path, "expires=1800003600", NOW, &got),
                     AVERROR(EACCES));
    assert_int_equal(check(LR_URL_SIGN_NGINX, path, "md5=F36jHJUU8bW8LU0audhSTg&expires=1800003601",
                           NOW, &got), AVERROR(EACCES));
    assert_int_equal(check(LR_URL_SIGN_NGINX, path, "md5=F36jHJUU8bW8LU0audhSTg==&expires=1800003600",
                           NOW, &got), AVERROR(EACCES));
    assert_int_equal(check(LR_URL_SIGN_NGINX, path, "", NOW, &got), AVERROR(ENOENT));
    snprintf(bad, sizeof(bad), "%s&md5=x", q);
    assert_int_equal(check(LR_URL_SIGN_NGINX, path, bad, NOW, &got), AVERROR(EACCES));
    /* the other signature's parameters go, the directives stay */
    AVBPrint bp;
    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    snprintf(bad, sizeof(bad), "_HLS_msn=7&%s&_HLS_part=2", q);
    assert_int_equal(lr_url_sign_strip(&s, bad, strlen(bad), &bp), 2);
    assert_string_equal(bp.str, "_HLS_msn=7&_HLS_part=2");
    av_bprint_finalize(&bp, NULL);
    av_free(q);
}

static void test_resolve_path(void **state)
{
    static const struct { const char *dir, *uri, *want; } cases[] = {
        { "/live/cs101/720p", "42.m4s", "/live/cs101/720p/42.m4s" },
        { "/live/cs101/720p", "../480p/index.m3u8", "/live/cs101/480p/index.m3u8" },
        { "/live/cs101/720p", "./init.mp4?x=1", "/live/cs101/720p/init.mp4" },
        { "/live/cs101", "720p/index.m3u8", "/live/cs101/720p/index.m3u8" },
        { "/live/cs101", "/steer/cs101.json", "/steer/cs101.json" },
        { "/live/cs101", "https://sh.example.cn/live/cs101/720p/index.m3u8",
          "/live/cs101/720p/index.m3u8" },
        { "/live/cs101", "https://sh.example.cn", "/" },
        { "", "a/b", "/a/b" },
    };
    char path[256];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int n = lr_playlist_resolve_path(cases[i].dir, strlen(cases[i].dir), cases[i].uri,
                                         strlen(cases[i].uri), path, sizeof(path));
        assert_int_equal(n, (int)strlen(cases[i].want));
        assert_string_equal(path, cases[i].want);
    }
    assert_int_equal(lr_playlist_resolve_path("/a", 2, "../../x", 7, path, sizeof(path)), -1);
    assert_int_equal(lr_playlist_resolve_path("/live/cs101", 11, "../../../x", 10, path,
                                              sizeof(path)), -1);
}

/* The signer the playlist test uses: "s=<path>" shows which path was signed. */
static int show_path(void *opaque, const char *path, size_t len, AVBPrint *out)
{
    (*(int *)opaque)++;
    av_bprintf(out, "s=%.*s", (int)len, path);
    return 0;
}

static void test_every_uri_of_a_playlist_is_signed(void **state)
{
    static const char in[] =
        "#EXTM3U\n"
        "#EXT-X-CONTENT-STEERING:SERVER-URI=\"/steer/cs101.json\",PATHWAY-ID=\"bj\"\n"
        "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"audio\",URI=\"audio/index.m3u8\"\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"avc1.64001f\",PATHWAY-ID=\"sh\"\n"
        "https://sh.example.cn/live/cs101/720p/index.m3u8\n"
        "#EXT-X-MAP:URI=\"init.mp4\"\r\n"
        "#EXT-X-PART:DURATION=0.32,URI=\"7.0.m4s\",INDEPENDENT=YES\n"
        "#EXTINF:2.0,\n"
        "7.m4s\n"
        "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"8.1.m4s\"\n"
        "#EXT-X-RENDITION-REPORT:URI=\"../480p/index.m3u8\",LAST-MSN=7\n"
        "#EXT-X-DATERANGE:ID=\"x\",X-THUMB-URI=\"t.jpg\",START-DATE=\"2026-01-01T00:00:00Z\"\n"
        "\n";
    char *out;
    size_t len;
    int calls = 0;

    assert_int_equal(lr_playlist_sign_uris(in, sizeof(in) - 1, "/live/cs101/720p", 16, show_path,
                                           &calls, &out, &len), 0);
    assert_int_equal(calls, 8);
    assert_int_equal(strlen(out), len);
    assert_non_null(strstr(out, "SERVER-URI=\"/steer/cs101.json?s=/steer/cs101.json\","));
    assert_non_null(strstr(out, "URI=\"audio/index.m3u8?s=/live/cs101/720p/audio/index.m3u8\""));
    assert_non_null(strstr(out, "\nhttps://sh.example.cn/live/cs101/720p/index.m3u8"
                                "?s=/live/cs101/720p/index.m3u8\n"));
    assert_non_null(strstr(out, "#EXT-X-MAP:URI=\"init.mp4?s=/live/cs101/720p/init.mp4\"\r\n"));
    assert_non_null(strstr(out, "URI=\"7.0.m4s?s=/live/cs101/720p/7.0.m4s\",INDEPENDENT=YES\n"));
    assert_non_null(strstr(out, "\n7.m4s?s=/live/cs101/720p/7.m4s\n"));
    assert_non_null(strstr(out, "URI=\"8.1.m4s?s=/live/cs101/720p/8.1.m4s\"\n"));
    assert_non_null(strstr(out, "URI=\"../480p/index.m3u8?s=/live/cs101/480p/index.m3u8\","));
    /* X-THUMB-URI is a client attribute, not a URI the playlist names: as it was */
    assert_non_null(strstr(out, "X-THUMB-URI=\"t.jpg\","));
    assert_true(len > 6 && !memcmp(out + len - 2, "\n\n", 2));
    av_free(out);

    /* an unterminated attribute, a URI above the root */
    static const char broken[] = "#EXT-X-MAP:URI=\"init.mp4\n";
    assert_int_equal(lr_playlist_sign_uris(broken, sizeof(broken) - 1, "/live/cs101/720p", 16,
                                           show_path, &calls, &out, &len), AVERROR(EINVAL));
    static const char above[] = "#EXTM3U\n../../../../x.m4s\n";
    assert_int_equal(lr_playlist_sign_uris(above, sizeof(above) - 1, "/live/cs101/720p", 16,
                                           show_path, &calls, &out, &len), AVERROR(EINVAL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cdn_a_worked_example),
        cmocka_unit_test(test_cdn_a_round_trip_and_rejections),
        cmocka_unit_test(test_nginx_secure_link),
        cmocka_unit_test(test_resolve_path),
        cmocka_unit_test(test_every_uri_of_a_playlist_is_signed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
