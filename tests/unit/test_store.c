/* tests/unit/test_store.c — unit tests of egress/store.c: publish, look up,
 * replace, remove, list lectures, and reference lifetimes across replacement. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <libavutil/buffer.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "egress/store.h"

static AVBufferRef *make_buf(const char *s)
{
    AVBufferRef *b = av_buffer_alloc(strlen(s));
    assert_non_null(b);
    memcpy(b->data, s, strlen(s));
    return b;
}

/* Publishes s under path; the store takes its own reference. */
static void put_str(lr_store *st, const char *path, const char *s, const char *type, int max_age,
                    int immutable)
{
    AVBufferRef *b = make_buf(s);
    lr_store_obj obj = { .data = b, .content_type = type, .max_age_s = max_age,
                         .immutable = immutable };
    assert_int_equal(lr_store_put(st, path, &obj), 0);
    av_buffer_unref(&b);
}

static void assert_obj(lr_store *st, const char *path, const char *s)
{
    lr_store_obj o;
    assert_int_equal(lr_store_get(st, path, strlen(path), &o), 0);
    assert_int_equal(o.data->size, strlen(s));
    assert_memory_equal(o.data->data, s, strlen(s));
    lr_store_obj_unref(&o);
    assert_null(o.data);
}

static void assert_absent(lr_store *st, const char *path)
{
    lr_store_obj o;
    assert_int_equal(lr_store_get(st, path, strlen(path), &o), AVERROR(ENOENT));
    assert_null(o.data);
}

static void test_put_get(void **state)
{
    lr_store *st = lr_store_alloc();
    assert_non_null(st);
    put_str(st, "cs101/720p/42.ts", "segment-bytes", "video/mp2t", 3600, 1);

    lr_store_obj o;
    assert_int_equal(lr_store_get(st, "cs101/720p/42.ts", 16, &o), 0);
    assert_string_equal(o.content_type, "video/mp2t");
    assert_int_equal(o.max_age_s, 3600);
    assert_int_equal(o.immutable, 1);
    assert_memory_equal(o.data->data, "segment-bytes", 13);
    lr_store_obj_unref(&o);

    /* the length counts, not a NUL: a prefix of a key is another key */
    assert_int_equal(lr_store_get(st, "cs101/720p/42.tsXYZ", 16, &o), 0);
    lr_store_obj_unref(&o);
    assert_int_equal(lr_store_get(st, "cs101/720p/42.ts", 15, &o), AVERROR(ENOENT));
    assert_absent(st, "cs101/720p/43.ts");
    assert_absent(st, "");
    lr_store_free(&st);
    assert_null(st);
    lr_store_free(&st); /* NULL is fine */
}

static void test_replace_keeps_old_reference(void **state)
{
    lr_store *st = lr_store_alloc();
    put_str(st, "cs101/720p/index.m3u8", "#EXTM3U old", "application/vnd.apple.mpegurl", 1, 0);

    lr_store_obj before;
    assert_int_equal(lr_store_get(st, "cs101/720p/index.m3u8", 21, &before), 0);
    put_str(st, "cs101/720p/index.m3u8", "#EXTM3U new!", "application/vnd.apple.mpegurl", 1, 0);

    /* the reader's bytes are untouched by the replacement */
    assert_int_equal(before.data->size, 11);
    assert_memory_equal(before.data->data, "#EXTM3U old", 11);
    assert_obj(st, "cs101/720p/index.m3u8", "#EXTM3U new!");

    /* and survive the store itself */
    lr_store_free(&st);
    assert_memory_equal(before.data->data, "#EXTM3U old", 11);
    lr_store_obj_unref(&before);
}

static void test_caller_keeps_its_reference(void **state)
{
    lr_store *st = lr_store_alloc();
    AVBufferRef *b = make_buf("init");
    lr_store_obj obj = { .data = b, .content_type = "video/mp4", .max_age_s = 3600,
                         .immutable = 1 };
    assert_int_equal(lr_store_put(st, "x/init.mp4", &obj), 0);
    assert_int_equal(av_buffer_get_ref_count(b), 2);
    lr_store_remove(st, "x/init.mp4");
    assert_int_equal(av_buffer_get_ref_count(b), 1);
    av_buffer_unref(&b);
    lr_store_free(&st);
}

static void test_remove(void **state)
{
    lr_store *st = lr_store_alloc();
    put_str(st, "a/1.ts", "1", "video/mp2t", 60, 1);
    put_str(st, "a/2.ts", "2", "video/mp2t", 60, 1);
    lr_store_remove(st, "a/1.ts");
    lr_store_remove(st, "a/1.ts"); /* absent: no error */
    lr_store_remove(st, "zzz");
    assert_absent(st, "a/1.ts");
    assert_obj(st, "a/2.ts", "2");
    lr_store_free(&st);
}

static void test_remove_prefix(void **state)
{
    lr_store *st = lr_store_alloc();
    char path[64];
    for (int i = 0; i < 2000; i++) { /* enough to make the table grow */
        snprintf(path, sizeof(path), "cs101/360p/%d.ts", i);
        put_str(st, path, path, "video/mp2t", 60, 1);
        snprintf(path, sizeof(path), "cs102/360p/%d.ts", i);
        put_str(st, path, path, "video/mp2t", 60, 1);
    }
    put_str(st, "cs101/master.m3u8", "m", "application/vnd.apple.mpegurl", 1, 0);
    put_str(st, "cs1010/master.m3u8", "m", "application/vnd.apple.mpegurl", 1, 0);

    assert_obj(st, "cs101/360p/1234.ts", "cs101/360p/1234.ts");
    lr_store_remove_prefix(st, "cs101/");
    for (int i = 0; i < 2000; i += 97) {
        snprintf(path, sizeof(path), "cs101/360p/%d.ts", i);
        assert_absent(st, path);
        snprintf(path, sizeof(path), "cs102/360p/%d.ts", i);
        assert_obj(st, path, path);
    }
    assert_absent(st, "cs101/master.m3u8");
    assert_obj(st, "cs1010/master.m3u8", "m");
    lr_store_remove_prefix(st, "");
    assert_absent(st, "cs102/360p/5.ts");
    assert_absent(st, "cs1010/master.m3u8");
    lr_store_free(&st);
}

static void test_list_lectures(void **state)
{
    lr_store *st = lr_store_alloc();
    char *names = NULL;

    assert_int_equal(lr_store_list_lectures(st, &names), 0);
    assert_non_null(names);
    assert_int_equal(names[0], '\0');
    av_freep(&names);

    put_str(st, "math2/master.m3u8", "m", "application/vnd.apple.mpegurl", 1, 0);
    put_str(st, "cs101/master.m3u8", "m", "application/vnd.apple.mpegurl", 1, 0);
    put_str(st, "cs101/720p/index.m3u8", "p", "application/vnd.apple.mpegurl", 1, 0);
    put_str(st, "bio/720p/index.m3u8", "p", "application/vnd.apple.mpegurl", 1, 0);
    put_str(st, "x/y/master.m3u8", "p", "application/vnd.apple.mpegurl", 1, 0);
    put_str(st, "/master.m3u8", "p", "application/vnd.apple.mpegurl", 1, 0);
    put_str(st, "master.m3u8", "p", "application/vnd.apple.mpegurl", 1, 0);
    put_str(st, "art/master.m3u8.bak", "p", "text/plain", 1, 0);

    assert_int_equal(lr_store_list_lectures(st, &names), 0);
    const char *p = names;
    assert_string_equal(p, "cs101");
    p += strlen(p) + 1;
    assert_string_equal(p, "math2");
    p += strlen(p) + 1;
    assert_string_equal(p, "");
    av_freep(&names);

    lr_store_remove(st, "cs101/master.m3u8");
    assert_int_equal(lr_store_list_lectures(st, &names), 0);
    assert_string_equal(names, "math2");
    assert_string_equal(names + 6, "");
    av_freep(&names);
    lr_store_free(&st);
}

static char last_published[128];
static int nb_published;

static void on_publish(void *opaque, const char *path)
{
    assert_ptr_equal(opaque, &nb_published);
    snprintf(last_published, sizeof(last_published), "%s", path);
    nb_published++;
}

static void test_publish_callback(void **state)
{
    lr_store *st = lr_store_alloc();
    put_str(st, "a/master.m3u8", "x", "t", 1, 0); /* nobody watching: fine */
    lr_store_set_publish_cb(st, on_publish, &nb_published);
    put_str(st, "a/720p/index.m3u8", "y", "t", 1, 0);
    assert_int_equal(nb_published, 1);
    assert_string_equal(last_published, "a/720p/index.m3u8");
    put_str(st, "a/720p/index.m3u8?_HLS_skip=YES", "z", "t", 1, 0);
    assert_string_equal(last_published, "a/720p/index.m3u8?_HLS_skip=YES");
    lr_store_remove(st, "a/720p/index.m3u8"); /* removal is not a publication */
    assert_int_equal(nb_published, 2);
    lr_store_set_publish_cb(st, NULL, NULL);
    put_str(st, "a/720p/1.m4s", "s", "t", 1, 1);
    assert_int_equal(nb_published, 2);
    lr_store_free(&st);
}

static void test_renditions_and_disk_dirs(void **state)
{
    lr_store *st = lr_store_alloc();
    char *names, dir[64];
    put_str(st, "a/master.m3u8", "m", "t", 1, 0);
    put_str(st, "a/720p/index.m3u8", "p", "t", 1, 0);
    put_str(st, "a/720p/index.m3u8?_HLS_skip=YES", "p", "t", 1, 0);
    put_str(st, "a/audio/index.m3u8", "p", "t", 1, 0);
    put_str(st, "ab/360p/index.m3u8", "p", "t", 1, 0);
    assert_int_equal(lr_store_list_renditions(st, "a", &names), 0);
    assert_string_equal(names, "720p");
    assert_string_equal(names + 5, "audio");
    assert_string_equal(names + 11, "");
    av_free(names);

    assert_int_equal(lr_store_disk_dir(st, "a", 1, dir, sizeof(dir)), AVERROR(ENOENT));
    assert_int_equal(lr_store_set_disk_dir(st, "a", "/srv/dvr/a"), 0);
    assert_int_equal(lr_store_set_disk_dir(st, "a", "/srv/dvr/a2"), 0); /* replaces */
    assert_int_equal(lr_store_disk_dir(st, "ab", 1, dir, sizeof(dir)), 0); /* len counts */
    assert_string_equal(dir, "/srv/dvr/a2");
    assert_int_equal(lr_store_disk_dir(st, "ab", 2, dir, sizeof(dir)), AVERROR(ENOENT));
    assert_int_equal(lr_store_disk_dir(st, "a", 1, dir, 4), AVERROR(ENAMETOOLONG));
    assert_int_equal(lr_store_set_disk_dir(st, "a", NULL), 0);
    assert_int_equal(lr_store_disk_dir(st, "a", 1, dir, sizeof(dir)), AVERROR(ENOENT));
    assert_int_equal(lr_store_set_disk_dir(st, "b", "/x"), 0); /* freed with the store */
    lr_store_free(&st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get),
        cmocka_unit_test(test_replace_keeps_old_reference),
        cmocka_unit_test(test_caller_keeps_its_reference),
        cmocka_unit_test(test_remove),
        cmocka_unit_test(test_remove_prefix),
        cmocka_unit_test(test_list_lectures),
        cmocka_unit_test(test_publish_callback),
        cmocka_unit_test(test_renditions_and_disk_dirs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
