/* tests/unit/test_redact.c — unit tests of common/redact.c: passwords and
 * query secrets of URLs, publish keys of stream ids, in any log line; what
 * carries no secret left as it was. Run by `meson test --suite unit`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/redact.h"

static void check(const char *in, const char *want)
{
    char out[512];

    lr_redact(in, out, sizeof(out));
    assert_string_equal(out, want);
}

static void test_url_passwords(void **state)
{
    check("source 1 (rtsp://admin:hunter2@cam.example.edu:554/h264) up: 1280x720",
          "source 1 (rtsp://admin:***@cam.example.edu:554/h264) up: 1280x720");
    /* a user alone is not a secret; a password with an @ in it is hidden whole */
    check("rtmp://obs@h/live", "rtmp://obs@h/live");
    check("'rtsp://u:p@ss@cam/x'", "'rtsp://u:***@cam/x'");
}

static void test_query_values(void **state)
{
    check("hls https://video.example.edu/live/index.m3u8?token=abc123&expires=99 ended",
          "hls https://video.example.edu/live/index.m3u8?token=***&expires=*** ended");
    /* transport settings and LL-HLS directives stay readable */
    check("srt://127.0.0.1:9000?mode=caller&latency=120000&passphrase=longsecret99",
          "srt://127.0.0.1:9000?mode=caller&latency=120000&passphrase=***");
    check("GET /live/demo/360p/index.m3u8 http://h/x?_HLS_msn=5&_HLS_part=2",
          "GET /live/demo/360p/index.m3u8 http://h/x?_HLS_msn=5&_HLS_part=2");
    check("rtmp://127.0.0.1:1935/live/cs101?key=k101", "rtmp://127.0.0.1:1935/live/cs101?key=***");
    /* an IPv6 host and a stream id in the query: only s= hidden */
    check("srt://[::1]:9000?streamid=#!::r=cs101,m=publish,s=KEY1&latency=20 failed",
          "srt://[::1]:9000?streamid=#!::r=cs101,m=publish,s=***&latency=20 failed");
    check("x srt://h:1?streamid=plainname", "x srt://h:1?streamid=plainname");
}

static void test_stream_ids(void **state)
{
    check("link from 1.2.3.4 rejected: malformed stream id '#!::r=x,s=KEY,zz'",
          "link from 1.2.3.4 rejected: malformed stream id '#!::r=x,s=***,zz'");
    check("link srt://h:9 (#!::r=demo,m=publish): RTT 5 ms",
          "link srt://h:9 (#!::r=demo,m=publish): RTT 5 ms");
    check("#!::s=a,s=b", "#!::s=***,s=***");
}

static void test_no_secret_no_change(void **state)
{
    check("", "");
    check("lecture=cs101 segments of 2.000 s", "lecture=cs101 segments of 2.000 s");
    check(":// alone, then http://h/p?k=v", ":// alone, then http://h/p?k=***");
    check("a ://x b", "a ://x b");
}

static void test_cut_to_fit(void **state)
{
    char out[12];

    lr_redact("rtsp://u:secret@host/very/long/path", out, sizeof(out));
    assert_int_equal(strlen(out), sizeof(out) - 1);
    assert_null(strstr(out, "secret"));
    lr_redact("abc", out, 1);
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_passwords),
        cmocka_unit_test(test_query_values),
        cmocka_unit_test(test_stream_ids),
        cmocka_unit_test(test_no_secret_no_change),
        cmocka_unit_test(test_cut_to_fit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
