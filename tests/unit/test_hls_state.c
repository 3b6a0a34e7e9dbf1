/* tests/unit/test_hls_state.c — telling an ended HLS playlist from a live one
 * (ingest/hls_state.c): the parse, URI resolution, and a probe of playlists
 * on disk through libavformat's file protocol (master followed to a variant). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <libavutil/error.h>

#include "ingest/hls_state.h"

static void live_event_and_ended(void **state)
{
    char v[64];
    (void)state;
    assert_int_equal(lr_hls_state_parse("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n",
                                        v, sizeof(v)), LR_HLS_LIVE);
    assert_int_equal(lr_hls_state_parse("#EXTM3U\r\n#EXT-X-PLAYLIST-TYPE:EVENT\r\n#EXTINF:2,\r\n"
                                        "a.ts\r\n", v, sizeof(v)), LR_HLS_LIVE);
    assert_int_equal(lr_hls_state_parse("#EXTM3U\n#EXTINF:2,\na.ts\n#EXT-X-ENDLIST\n", v,
                                        sizeof(v)), LR_HLS_ENDED);
    assert_int_equal(lr_hls_state_parse("#EXTM3U\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:2,\na.ts\n",
                                        v, sizeof(v)), LR_HLS_ENDED);
    /* a byte order mark, trailing blanks */
    assert_int_equal(lr_hls_state_parse("\xEF\xBB\xBF#EXTM3U\n#EXT-X-ENDLIST  \n", v, sizeof(v)),
                     LR_HLS_ENDED);
    /* a tag that merely starts the same is not the end */
    assert_int_equal(lr_hls_state_parse("#EXTM3U\n#EXT-X-PLAYLIST-TYPE:VODKA\n", v, sizeof(v)),
                     LR_HLS_LIVE);
}

static void master_names_its_first_variant(void **state)
{
    char v[64];
    (void)state;
    assert_int_equal(lr_hls_state_parse("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n\n720p/i.m3u8\n"
                                        "#EXT-X-STREAM-INF:BANDWIDTH=2\n1080p/i.m3u8\n",
                                        v, sizeof(v)), LR_HLS_MASTER);
    assert_string_equal(v, "720p/i.m3u8");
    assert_int_equal(lr_hls_state_parse("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n", v, sizeof(v)),
                     AVERROR_INVALIDDATA);
    assert_int_equal(lr_hls_state_parse("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n"
                                        "a-very-long-variant-name-that-does-not-fit.m3u8\n",
                                        v, 8), AVERROR(ENAMETOOLONG));
}

static void not_a_playlist(void **state)
{
    char v[8];
    (void)state;
    assert_int_equal(lr_hls_state_parse("", v, sizeof(v)), AVERROR_INVALIDDATA);
    assert_int_equal(lr_hls_state_parse("<html>404</html>\n", v, sizeof(v)), AVERROR_INVALIDDATA);
    assert_int_equal(lr_hls_state_parse("G@\x11\x10", v, sizeof(v)), AVERROR_INVALIDDATA);
}

static void resolve(const char *base, const char *ref, const char *want)
{
    char out[256];
    assert_int_equal(lr_hls_state_resolve(base, ref, out, sizeof(out)), 0);
    assert_string_equal(out, want);
}

static void relative_uris(void **state)
{
    const char *b = "https://cdn.example.edu/live/cs101/master.m3u8?token=x";
    (void)state;
    resolve(b, "720p/index.m3u8", "https://cdn.example.edu/live/cs101/720p/index.m3u8");
    resolve(b, "./720p/./index.m3u8?t=1", "https://cdn.example.edu/live/cs101/720p/index.m3u8?t=1");
    resolve(b, "../cs102/index.m3u8", "https://cdn.example.edu/live/cs102/index.m3u8");
    resolve(b, "../../../../up.m3u8", "https://cdn.example.edu/up.m3u8");
    resolve(b, "/other/index.m3u8", "https://cdn.example.edu/other/index.m3u8");
    resolve(b, "//mirror.example.edu/x.m3u8", "https://mirror.example.edu/x.m3u8");
    resolve(b, "http://elsewhere/x.m3u8", "http://elsewhere/x.m3u8");
    resolve("http://host", "a.m3u8", "http://host/a.m3u8");
    resolve("http://host:8080/a/b/", "c/../d.m3u8", "http://host:8080/a/b/d.m3u8");
    /* file paths */
    resolve("/srv/hls/master.m3u8", "v/index.m3u8", "/srv/hls/v/index.m3u8");
    resolve("hls/master.m3u8", "../v.m3u8", "v.m3u8");
    resolve("master.m3u8", "../v.m3u8", "../v.m3u8");

    char small[16];
    assert_int_equal(lr_hls_state_resolve(b, "720p/index.m3u8", small, sizeof(small)),
                     AVERROR(ENAMETOOLONG));
}

static void likely_by_path(void **state)
{
    (void)state;
    assert_true(lr_hls_state_likely("https://h/live/index.m3u8"));
    assert_true(lr_hls_state_likely("https://h/live/INDEX.M3U8?token=a.ts"));
    assert_true(lr_hls_state_likely("http://h/list.m3u"));
    assert_false(lr_hls_state_likely("http://h/lecture.ts?x=.m3u8"));
    assert_false(lr_hls_state_likely("rtmp://h/live/cs101"));
    assert_false(lr_hls_state_likely("http://h.m3u8"));  /* a host, not a path */
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    FILE *f;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    assert_non_null(f = fopen(path, "w"));
    fputs(text, f);
    fclose(f);
}

static void probe_follows_a_master_on_disk(void **state)
{
    char dir[] = "/tmp/lr-hls-state-XXXXXX", url[512], sub[600];
    lr_stop stop;
    (void)state;

    assert_non_null(mkdtemp(dir));
    snprintf(sub, sizeof(sub), "%s/v", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    assert_int_equal(lr_stop_init(&stop), 0);
    write_file(dir, "master.m3u8", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv/index.m3u8\n");
    write_file(dir, "v/index.m3u8", "#EXTM3U\n#EXTINF:2,\na.ts\n");
    snprintf(url, sizeof(url), "%s/master.m3u8", dir);
    assert_int_equal(lr_hls_state_probe(url, &stop, 2000), LR_HLS_LIVE);
    write_file(dir, "v/index.m3u8", "#EXTM3U\n#EXTINF:2,\na.ts\n#EXT-X-ENDLIST\n");
    assert_int_equal(lr_hls_state_probe(url, &stop, 2000), LR_HLS_ENDED);
    /* a master naming a master is refused, not followed for ever */
    write_file(dir, "v/index.m3u8", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nindex.m3u8\n");
    assert_int_equal(lr_hls_state_probe(url, &stop, 2000), AVERROR_INVALIDDATA);
    /* gone */
    snprintf(url, sizeof(url), "%s/none.m3u8", dir);
    assert_true(lr_hls_state_probe(url, &stop, 2000) < 0);
    /* stopping cancels it */
    lr_stop_request(&stop);
    snprintf(url, sizeof(url), "%s/master.m3u8", dir);
    assert_int_equal(lr_hls_state_probe(url, &stop, 2000), AVERROR_EXIT);
    lr_stop_destroy(&stop);

    snprintf(url, sizeof(url), "rm -r '%s'", dir);
    assert_int_equal(system(url), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(live_event_and_ended),
        cmocka_unit_test(master_names_its_first_variant),
        cmocka_unit_test(not_a_playlist),
        cmocka_unit_test(relative_uris),
        cmocka_unit_test(likely_by_path),
        cmocka_unit_test(probe_follows_a_master_on_disk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
