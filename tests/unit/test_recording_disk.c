/* tests/unit/test_recording_disk.c — unit tests of egress/recording_disk.c on
 * real files in a fresh temporary directory: recording.json written and read
 * back, malformed and oversized files refused, missing and mistyped fields
 * unknown, odd ids and names, atomic writes, and the sorted lists of
 * lectures and recordings the recorder and the HTTP side walk. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tmp_root.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

#include <libavutil/avstring.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "common/stop.h"
#include "egress/recording_disk.h"
#include "egress/recordings_index.h"

#define T0  1795873620000LL /* 2026-11-28T13:47:00Z */
#define ID0 "20261128T134700Z"

/* ---- helpers ---------------------------------------------------------- */

static int setup_root(void **state)
{
    return tmp_root_make(state, "lr-recording-disk");
}

static int teardown_root(void **state)
{
    return tmp_root_remove(state);
}

static void put_file(const char *dir, const char *name, const char *data, size_t len)
{
    char *path = av_asprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
    av_free(path);
}

static void put_text(const char *dir, const char *name, const char *text)
{
    put_file(dir, name, text, strlen(text));
}

static char *get_text(const char *dir, const char *name)
{
    char *path = av_asprintf("%s/%s", dir, name), *buf = NULL;
    int   ret = lr_recording_read_file(path, 0, &buf, NULL);
    av_free(path);
    return ret < 0 ? NULL : buf;
}

static char *make_dir(const char *a, const char *b)
{
    char *p = av_asprintf("%s/%s", a, b);
    assert_non_null(p);
    assert_true(mkdir(p, 0755) == 0 || errno == EEXIST);
    return p;
}

static int count_temps(const char *dir)
{
    DIR           *d = opendir(dir);
    struct dirent *e;
    int            n = 0;
    while (d && (e = readdir(d)))
        n += lr_recording_temp_name(e->d_name);
    if (d)
        closedir(d);
    return n;
}

static void assert_unknown(const lr_recording_meta *m)
{
    assert_string_equal(m->lecture, "");
    assert_string_equal(m->id, "");
    assert_true(m->started_ms == 0);
    assert_true(m->ended_ms == 0);
    assert_true(m->duration_s == -1);
    assert_true(m->bytes == -1);
    assert_int_equal(m->finished, -1);
    assert_int_equal(m->nb_renditions, 0);
}

static lr_recording_meta sample_meta(int finished)
{
    lr_recording_meta m = {
        .lecture = "cs101",
        .id = ID0,
        .started_ms = T0,
        .ended_ms = finished ? T0 + 3600000 : 0,
        .duration_s = 3600.0004,
        .bytes = 123456789012LL,
        .finished = finished,
        .nb_renditions = 3,
        .renditions = { "1080p", "720p", "audio" },
    };
    return m;
}

/* ---- names and times -------------------------------------------------- */

static void test_ids(void **state)
{
    static const char *const bad[] = {
        "",
        "20261128T134700",
        "20261128T134700Z0",
        "20261128t134700Z",
        "20261128T134700z",
        "2026112XT134700Z",
        "20261128 134700Z",
        "20261128T13470-Z",
        "../../etc/passwd",
        ".del-20261128T134700Z",
        "２0261128T134700Z",
    };
    lr_recording_id id;

    (void)state;
    assert_true(lr_recording_id_valid(ID0, strlen(ID0)));
    assert_true(lr_recording_id_valid("20261128T134700Zjunk", 16)); /* len bytes only */
    assert_false(lr_recording_id_valid(ID0, 15));
    assert_false(lr_recording_id_valid(NULL, 16));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_false(lr_recording_id_valid(bad[i], strlen(bad[i])));
        assert_true(lr_recording_id_time(bad[i]) == 0);
    }
    lr_recording_id_make(T0 / 1000, &id);
    assert_string_equal(id.str, ID0);
    assert_true(lr_recording_id_time(ID0) == T0 / 1000);
    lr_recording_id_make(T0 / 1000 + 86400 * 35 + 1, &id); /* into the next year */
    assert_string_equal(id.str, "20270102T134701Z");
    assert_true(lr_recording_id_time(id.str) == T0 / 1000 + 86400 * 35 + 1);
}

static void test_names_and_times(void **state)
{
    char t[32];

    (void)state;
    assert_true(lr_recording_rend_valid("720p"));
    assert_true(lr_recording_rend_valid("a_b-c"));
    assert_true(lr_recording_rend_valid("abcdefghijklmnopqrstuvwxyz012345"));
    assert_false(lr_recording_rend_valid("abcdefghijklmnopqrstuvwxyz0123456"));
    assert_false(lr_recording_rend_valid(""));
    assert_false(lr_recording_rend_valid(NULL));
    assert_false(lr_recording_rend_valid("_720p"));
    assert_false(lr_recording_rend_valid(".."));
    assert_false(lr_recording_rend_valid("a/b"));

    assert_true(lr_recording_temp_name(".index.m3u8.tmp"));
    assert_false(lr_recording_temp_name("index.m3u8.tmp"));
    assert_false(lr_recording_temp_name(".tmp"));
    assert_false(lr_recording_temp_name(".del-" ID0));

    lr_recording_time_format(T0 + 999, t);
    assert_string_equal(t, "2026-11-28T13:47:00Z");
    assert_true(lr_recording_time_parse("2026-11-28T13:47:00Z") == T0);
    assert_true(lr_recording_time_parse("2026-11-28T13:47:00.25Z") == T0 + 250);
    assert_true(lr_recording_time_parse("2026-11-28T14:47:00+01:00") == T0);
    assert_true(lr_recording_time_parse("2026-11-28T12:47:00-01:00") == T0);
    assert_true(lr_recording_time_parse("2026-11-28T13:47:00") == 0);
    assert_true(lr_recording_time_parse("2026-11-28T13:47:00+1") == 0);
    assert_true(lr_recording_time_parse("yesterday") == 0);
    assert_true(lr_recording_time_parse("") == 0);
    assert_true(lr_recording_time_parse(NULL) == 0);
}

/* ---- files ------------------------------------------------------------ */

static void test_write_and_read_file(void **state)
{
    const char *root = *state;
    char       *path = av_asprintf("%s/f.bin", root), *buf;
    char        big[10000];
    size_t      len;

    assert_int_equal(lr_recording_write_file(root, "f.bin", "one", 3), 0);
    assert_int_equal(lr_recording_write_file(root, "f.bin", "", 0), 0);
    assert_int_equal(lr_recording_read_file(path, 0, &buf, &len), 0);
    assert_int_equal(len, 0);
    assert_string_equal(buf, "");
    av_freep(&buf);
    memset(big, 'x', sizeof(big));
    assert_int_equal(lr_recording_write_file(root, "f.bin", big, sizeof(big)), 0);
    assert_int_equal(count_temps(root), 0);
    assert_int_equal(lr_recording_read_file(path, sizeof(big), &buf, &len), 0);
    assert_int_equal(len, sizeof(big));
    assert_memory_equal(buf, big, sizeof(big));
    assert_int_equal(buf[len], '\0');
    av_freep(&buf);
    assert_int_equal(lr_recording_read_file(path, sizeof(big) - 1, &buf, &len), AVERROR(EFBIG));
    assert_null(buf);
    assert_int_equal(lr_recording_read_file(root, 0, &buf, &len), AVERROR(EINVAL));
    assert_null(buf);
    av_free(path);

    /* a folder that isn't there: the disk's error, no temporary left */
    path = av_asprintf("%s/nowhere", root);
    assert_int_equal(lr_recording_write_file(path, "f.bin", "x", 1), AVERROR(ENOENT));
    assert_int_equal(lr_recording_read_file(path, 0, &buf, NULL), AVERROR(ENOENT));
    av_free(path);
}

/* ---- recording.json --------------------------------------------------- */

static void test_meta_round_trip(void **state)
{
    const char       *root = *state;
    char             *dir = make_dir(root, "rec"), *text;
    lr_recording_meta m = sample_meta(1), back;

    assert_int_equal(lr_recording_meta_write(dir, &m), 0);
    assert_int_equal(count_temps(dir), 0);
    text = get_text(dir, "recording.json");
    assert_non_null(text);
    /* the fields and their order as docs/recordings.md shows them */
    assert_string_equal(text, "{\"lecture\": \"cs101\", \"id\": \"" ID0 "\", \"started\": "
                              "\"2026-11-28T13:47:00Z\", \"ended\": \"2026-11-28T14:47:00Z\", "
                              "\"duration_s\": 3600.0, \"finished\": true, \"bytes\": "
                              "123456789012, \"renditions\": [\"1080p\", \"720p\", \"audio\"]}\n");
    av_free(text);
    assert_int_equal(lr_recording_meta_read(dir, &back), 0);
    assert_string_equal(back.lecture, "cs101");
    assert_string_equal(back.id, ID0);
    assert_true(back.started_ms == T0);
    assert_true(back.ended_ms == T0 + 3600000);
    assert_true(back.duration_s == 3600.0);
    assert_true(back.bytes == 123456789012LL);
    assert_int_equal(back.finished, 1);
    assert_int_equal(back.nb_renditions, 3);
    assert_string_equal(back.renditions[0], "1080p");
    assert_string_equal(back.renditions[2], "audio");

    /* unfinished: ended is null; the duration to the ms, in few digits */
    m = sample_meta(0);
    m.duration_s = 6.0 + 0.1 + 0.2; /* 6.300000000000001 */
    m.nb_renditions = 0;
    assert_int_equal(lr_recording_meta_write(dir, &m), 0);
    text = get_text(dir, "recording.json");
    assert_non_null(strstr(text, "\"ended\": null, \"duration_s\": 6.3, \"finished\": false"));
    assert_non_null(strstr(text, "\"renditions\": []}"));
    av_free(text);
    assert_int_equal(lr_recording_meta_read(dir, &back), 0);
    assert_true(back.ended_ms == 0);
    assert_int_equal(back.finished, 0);
    assert_true(back.duration_s == 6.3);
    assert_int_equal(back.nb_renditions, 0);
    av_free(dir);
}

static void test_meta_write_refuses(void **state)
{
    const char       *root = *state;
    char             *dir = make_dir(root, "refused");
    char             *path = av_asprintf("%s/recording.json", dir);
    lr_recording_meta m;
    struct stat       st;

#define REFUSED(change)                                                                            \
    do {                                                                                           \
        m = sample_meta(1);                                                                        \
        change;                                                                                    \
        assert_int_equal(lr_recording_meta_write(dir, &m), AVERROR(EINVAL));                       \
    } while (0)
    REFUSED(strcpy(m.lecture, "../etc"));
    REFUSED(strcpy(m.lecture, ""));
    REFUSED(strcpy(m.id, "20261128T134700"));
    REFUSED(strcpy(m.renditions[1], "7\"20p"));
    REFUSED(m.nb_renditions = LR_RECORDING_MAX_RENDS + 1);
    REFUSED(m.nb_renditions = -1);
    REFUSED(m.started_ms = 0);
    REFUSED(m.ended_ms = -5);
    REFUSED(m.duration_s = -1);
    REFUSED(m.duration_s = NAN);
    REFUSED(m.duration_s = INFINITY);
    REFUSED(m.duration_s = 1e300);
    REFUSED(m.bytes = -1);
    REFUSED(m.finished = -1);
    REFUSED(lr_recording_meta_clear(&m));
#undef REFUSED
    assert_int_equal(stat(path, &st), -1); /* nothing written */
    assert_int_equal(count_temps(dir), 0);
    av_free(path);
    av_free(dir);
}

static void test_meta_malformed(void **state)
{
    static const char *const bad[] = {
        "",
        " ",
        "{",
        "{\"finished\": tru}",
        "{\"finished\": true,}",
        "{\"finished\": true} {}",
        "{\"finished\": true} x",
        "[{\"finished\": true}]",
        "null",
        "true",
        "\"finished\"",
        "{'finished': true}",
        "{\"finished\": true, \"finished\": false}", /* which one? neither */
        "{\"bytes\": 1e999}",
        "{\"bytes\": 123456789012345678901234567890}",
        "{\"lecture\": \"cs\\u0000101\"}",
        "{\"lecture\": \"\xff\xfe\"}",
        "\xef\xbb\xbf{}",
    };
    const char       *root = *state;
    char             *dir = make_dir(root, "bad");
    lr_recording_meta m;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(lr_recording_meta_parse(bad[i], strlen(bad[i]), &m), AVERROR_INVALIDDATA);
        assert_unknown(&m);
        put_text(dir, "recording.json", bad[i]);
        m.finished = 1;
        assert_int_equal(lr_recording_meta_read(dir, &m), AVERROR_INVALIDDATA);
        assert_unknown(&m);
    }
    /* a NUL in the middle of the file ends nothing early */
    put_file(dir, "recording.json", "{\"finished\": true}\0{}", 21);
    assert_int_equal(lr_recording_meta_read(dir, &m), AVERROR_INVALIDDATA);
    /* text after len is not read */
    assert_int_equal(lr_recording_meta_parse("{\"finished\": true}garbage", 18, &m), 0);
    assert_int_equal(m.finished, 1);
    /* deep nesting is refused, not a crash */
    {
        size_t n = 100000;
        char  *deep = av_malloc(2 * n + 32);
        strcpy(deep, "{\"renditions\": ");
        size_t o = strlen(deep);
        memset(deep + o, '[', n);
        memset(deep + o + n, ']', n);
        strcpy(deep + o + 2 * n, "}");
        assert_int_equal(lr_recording_meta_parse(deep, strlen(deep), &m), AVERROR_INVALIDDATA);
        av_free(deep);
    }
    av_free(dir);
}

static void test_meta_missing_and_mistyped_fields(void **state)
{
    lr_recording_meta m;
    const char       *t;

    (void)state;
    t = "{}";
    assert_int_equal(lr_recording_meta_parse(t, strlen(t), &m), 0);
    assert_unknown(&m);

    /* each field of the wrong type or out of range is unknown alone */
    t = "{\"lecture\": 5, \"id\": \"x\", \"started\": 1795873620, \"ended\": \"soon\", "
        "\"duration_s\": \"60\", \"finished\": \"true\", \"bytes\": 1.5, \"renditions\": "
        "\"720p\", \"extra\": {\"nested\": [1, 2]}}";
    assert_int_equal(lr_recording_meta_parse(t, strlen(t), &m), 0);
    assert_unknown(&m);
    t = "{\"lecture\": \"../../etc\", \"id\": \"../" ID0 "\", \"duration_s\": -3, "
        "\"finished\": 1, \"bytes\": -1, \"renditions\": [\"720p\", \"../x\", 7, null, "
        "\"audio\", \"\"]}";
    assert_int_equal(lr_recording_meta_parse(t, strlen(t), &m), 0);
    assert_string_equal(m.lecture, "");
    assert_string_equal(m.id, "");
    assert_true(m.duration_s == -1);
    assert_int_equal(m.finished, -1);
    assert_true(m.bytes == -1);
    assert_int_equal(m.nb_renditions, 2); /* the valid names only */
    assert_string_equal(m.renditions[0], "720p");
    assert_string_equal(m.renditions[1], "audio");

    /* what a hand or another tool may write: integers, offsets, fractions */
    t = "{\n  \"started\": \"2026-11-28T14:47:00.5+01:00\",\n  \"duration_s\": 60,\n"
        "  \"finished\": false,\n  \"ended\": null,\n  \"bytes\": 0\n}\n";
    assert_int_equal(lr_recording_meta_parse(t, strlen(t), &m), 0);
    assert_true(m.started_ms == T0 + 500);
    assert_true(m.ended_ms == 0);
    assert_true(m.duration_s == 60);
    assert_int_equal(m.finished, 0);
    assert_true(m.bytes == 0);

    /* more renditions than a recording holds: the first ones */
    AVBPrint bp;
    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    av_bprintf(&bp, "{\"renditions\": [");
    for (int i = 0; i < 40; i++)
        av_bprintf(&bp, "%s\"r%d\"", i ? ", " : "", i);
    av_bprintf(&bp, "]}");
    assert_int_equal(lr_recording_meta_parse(bp.str, bp.len, &m), 0);
    assert_int_equal(m.nb_renditions, LR_RECORDING_MAX_RENDS);
    assert_string_equal(m.renditions[LR_RECORDING_MAX_RENDS - 1], "r15");
    av_bprint_finalize(&bp, NULL);
}

static void test_meta_file_cases(void **state)
{
    const char       *root = *state;
    char             *dir = make_dir(root, "files"), *huge, *path, *link;
    lr_recording_meta m;
    size_t            n = LR_RECORDING_JSON_MAX;

    /* missing */
    assert_int_equal(lr_recording_meta_read(dir, &m), AVERROR(ENOENT));
    assert_unknown(&m);

    /* exactly at the limit is read; a byte more is refused unparsed */
    huge = av_malloc(n + 2);
    memset(huge, ' ', n + 1);
    memcpy(huge, "{\"finished\": true}", 18);
    put_file(dir, "recording.json", huge, n);
    assert_int_equal(lr_recording_meta_read(dir, &m), 0);
    assert_int_equal(m.finished, 1);
    put_file(dir, "recording.json", huge, n + 1);
    assert_int_equal(lr_recording_meta_read(dir, &m), AVERROR(EFBIG));
    assert_unknown(&m);
    av_free(huge);

    /* a symbolic link to a good file is not followed; nor is a folder read */
    path = av_asprintf("%s/recording.json", dir);
    link = av_asprintf("%s/elsewhere.json", root);
    put_text(root, "elsewhere.json", "{\"finished\": true}");
    unlink(path);
    assert_int_equal(symlink(link, path), 0);
    assert_int_equal(lr_recording_meta_read(dir, &m), AVERROR(ELOOP));
    assert_unknown(&m);
    unlink(path);
    assert_int_equal(mkdir(path, 0755), 0);
    assert_int_equal(lr_recording_meta_read(dir, &m), AVERROR(EINVAL));
    rmdir(path);
    av_free(path);
    av_free(link);
    av_free(dir);
}

/* ---- lists ------------------------------------------------------------ */

static void test_lists(void **state)
{
    const char      *root = *state;
    char            *cs = make_dir(root, "cs101"), *names, *p;
    lr_recording_id *ids;
    int              nb;

    av_free(make_dir(root, "phy2"));
    av_free(make_dir(root, "Art_3"));
    av_free(make_dir(root, ".hidden"));
    av_free(make_dir(root, "bad name"));
    put_text(root, "notes.txt", "not a lecture");
    av_free(make_dir(cs, "20261128T134700Z"));
    av_free(make_dir(cs, "20250101T000000Z"));
    av_free(make_dir(cs, "20261128T134701Z"));
    av_free(make_dir(cs, ".del-20240101T000000Z"));
    av_free(make_dir(cs, ".del-junk"));
    av_free(make_dir(cs, "2026112T134700Z"));
    put_text(cs, ".20261128T134702Z.tmp", "");

    assert_int_equal(lr_recording_lectures(root, 0, &names), 0);
    p = names;
    assert_string_equal(p, "Art_3");
    p += strlen(p) + 1;
    assert_string_equal(p, "cs101");
    p += strlen(p) + 1;
    assert_string_equal(p, "phy2");
    p += strlen(p) + 1;
    assert_string_equal(p, "");
    av_free(names);
    assert_int_equal(lr_recording_lectures(root, 1, &names), 0);
    assert_string_equal(names, "Art_3");
    assert_string_equal(names + 6, "");
    av_free(names);

    assert_int_equal(lr_recording_ids(root, "cs101", 0, 0, &ids, &nb), 0);
    assert_int_equal(nb, 3);
    assert_string_equal(ids[0].str, "20250101T000000Z");
    assert_string_equal(ids[2].str, "20261128T134701Z");
    av_free(ids);
    assert_int_equal(lr_recording_ids(root, "cs101", LR_RECORDING_IDS_NEWEST_FIRST, 2, &ids, &nb),
                     0);
    assert_int_equal(nb, 2);
    assert_string_equal(ids[0].str, "20261128T134701Z");
    assert_string_equal(ids[1].str, "20261128T134700Z");
    av_free(ids);
    assert_int_equal(lr_recording_ids(root, "cs101", LR_RECORDING_IDS_REMOVING, 0, &ids, &nb), 0);
    assert_int_equal(nb, 1);
    assert_string_equal(ids[0].str, "20240101T000000Z");
    av_free(ids);

    /* no recordings, no folder, a name that is not a lecture's */
    assert_int_equal(lr_recording_ids(root, "phy2", 0, 0, &ids, &nb), 0);
    assert_int_equal(nb, 0);
    assert_null(ids);
    assert_int_equal(lr_recording_ids(root, "nobody", 0, 0, &ids, &nb), 0);
    assert_int_equal(nb, 0);
    assert_int_equal(lr_recording_ids(root, "..", 0, 0, &ids, &nb), AVERROR(EINVAL));
    assert_int_equal(lr_recording_ids(root, "notes.txt", 0, 0, &ids, &nb), AVERROR(EINVAL));

    /* a missing root: an error here, an empty list for the HTTP side */
    p = av_asprintf("%s/missing", root);
    assert_int_equal(lr_recording_lectures(p, 0, &names), AVERROR(ENOENT));
    assert_null(names);
    lr_recordings_index *ix;
    assert_int_equal(lr_recordings_index_start(p, &ix), 0);
    assert_int_equal(lr_recordings_list_lectures(ix, &names), 0);
    assert_string_equal(names, "");
    av_free(names);
    lr_recordings_index_stop(&ix);
    assert_null(ix);
    av_free(p);
    av_free(cs);
}

/* The HTTP side's JSON and HTML from what recording.json says, with a
 * malformed one beside a good one. */
static void test_index(void **state)
{
    const char       *root = *state;
    char             *cs = make_dir(root, "cs101"), *good, *bad;
    lr_recording_meta m = sample_meta(1);
    AVBPrint          bp;

    good = make_dir(cs, ID0);
    bad = make_dir(cs, "20261129T090000Z");
    assert_int_equal(lr_recording_meta_write(good, &m), 0);
    put_text(bad, "recording.json", "{\"finished\": true, \"bytes\": <script>}");

    lr_recordings_index *ix, *none;
    assert_int_equal(lr_recordings_index_start(root, &ix), 0);
    assert_int_equal(lr_recordings_index_start(NULL, &none), 0);
    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    lr_recordings_json(ix, "cs101", &bp);
    assert_string_equal(bp.str, "[{\"id\":\"20261129T090000Z\",\"started\":null,\"ended\":null,"
                                "\"duration_s\":null,\"finished\":null,\"bytes\":null},"
                                "{\"id\":\"" ID0 "\",\"started\":\"2026-11-28T13:47:00Z\","
                                "\"ended\":\"2026-11-28T14:47:00Z\",\"duration_s\":3600.000,"
                                "\"finished\":true,\"bytes\":123456789012}]");
    av_bprint_finalize(&bp, NULL);

    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    assert_int_equal(lr_recordings_html(ix, "cs101", "/p", NULL, NULL, &bp), 2);
    assert_string_equal(bp.str, "<li><a href=\"/p/vod/cs101/20261129T090000Z/master.m3u8\" "
                                "data-src=\"/p/vod/cs101/20261129T090000Z/master.m3u8\">"
                                "20261129T090000Z</a> (recording)</li>\n"
                                "<li><a href=\"/p/vod/cs101/" ID0 "/master.m3u8\" "
                                "data-src=\"/p/vod/cs101/" ID0 "/master.m3u8\">"
                                "2026-11-28T13:47:00Z</a> (60 min)</li>\n");
    av_bprint_finalize(&bp, NULL);

    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    lr_recordings_json(ix, "../cs101", &bp);
    lr_recordings_json(none, "cs101", &bp);
    assert_int_equal(lr_recordings_html(ix, "<b>", "", NULL, NULL, &bp), 0);
    assert_string_equal(bp.str, "[][]");
    av_bprint_finalize(&bp, NULL);

    /* the index follows the disk within a refresh: the bad one mended, a
     * new lecture with a recording */
    m.finished = 0;
    assert_int_equal(lr_recording_meta_write(bad, &m), 0);
    char *phy = make_dir(root, "phy2"), *rec = make_dir(phy, ID0);
    assert_int_equal(lr_recording_meta_write(rec, &m), 0);
    int64_t deadline = lr_now_ns() + 5 * LR_RECORDINGS_INDEX_REFRESH_MS * INT64_C(1000000);
    char *names = NULL;
    int seen = 0;
    while (!seen && lr_now_ns() < deadline) {
        av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
        lr_recordings_json(ix, "cs101", &bp);
        av_freep(&names);
        assert_int_equal(lr_recordings_list_lectures(ix, &names), 0);
        seen = !strncmp(bp.str, "[{\"id\":\"20261129T090000Z\",\"started\":\"2026-11-28T13:47:00Z\"",
                        strlen("[{\"id\":\"20261129T090000Z\",\"started\":\"2026-11-28T13:47:00Z\"")) &&
               !memcmp(names, "cs101\0phy2\0", sizeof("cs101\0phy2\0"));
        av_bprint_finalize(&bp, NULL);
        if (!seen) {
            struct timespec t = { 0, 50000000 };
            nanosleep(&t, NULL);
        }
    }
    assert_true(seen);
    av_free(names);
    lr_recordings_index_stop(&ix);
    lr_recordings_index_stop(&none);
    av_free(rec);
    av_free(phy);
    av_free(good);
    av_free(bad);
    av_free(cs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_names_and_times),
        cmocka_unit_test_setup_teardown(test_write_and_read_file, setup_root, teardown_root),
        cmocka_unit_test_setup_teardown(test_meta_round_trip, setup_root, teardown_root),
        cmocka_unit_test_setup_teardown(test_meta_write_refuses, setup_root, teardown_root),
        cmocka_unit_test_setup_teardown(test_meta_malformed, setup_root, teardown_root),
        cmocka_unit_test(test_meta_missing_and_mistyped_fields),
        cmocka_unit_test_setup_teardown(test_meta_file_cases, setup_root, teardown_root),
        cmocka_unit_test_setup_teardown(test_lists, setup_root, teardown_root),
        cmocka_unit_test_setup_teardown(test_index, setup_root, teardown_root),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
