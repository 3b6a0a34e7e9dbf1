/* tests/unit/test_prom_text.c — unit tests of app/prom_text.c, the reader of
 * /metrics bodies behind `lecture-relay top`: samples with and without
 * labels, escapes, special values, timestamps, comments, and errors that
 * name their line. Run by `meson test --suite unit`. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <libavutil/error.h>

#include "app/prom_text.h"

static lr_prom_text *parse_ok(const char *text)
{
    lr_prom_text *t = NULL;
    char          err[128];
    int           ret = lr_prom_text_parse(text, strlen(text), &t, err, sizeof(err));

    if (ret < 0)
        fail_msg("parse failed: %s", err);
    assert_non_null(t);
    return t;
}

/* The error message for text, which must not parse. */
static void parse_fails(const char *text, const char *want)
{
    lr_prom_text *t = (lr_prom_text *)1;
    char          err[128];

    assert_int_equal(lr_prom_text_parse(text, strlen(text), &t, err, sizeof(err)),
                     AVERROR_INVALIDDATA);
    assert_null(t);
    assert_string_equal(err, want);
}

/* What common/metrics.c and the roles' collectors write. */
static void test_our_own_output(void **state)
{
    lr_prom_text *t = parse_ok(
        "# HELP lr_link_rtt_ms smoothed round-trip time (ms)\n"
        "# TYPE lr_link_rtt_ms gauge\n"
        "lr_link_rtt_ms{role=\"egress\",lecture=\"demo\",peer=\"127.0.0.1\",side=\"recv\"} "
        "0.109\n"
        "# HELP lr_http_connections open connections\n"
        "# TYPE lr_http_connections gauge\n"
        "lr_http_connections 1\n"
        "# TYPE lr_http_viewers gauge\n");

    assert_int_equal(t->nb_samples, 2);
    const lr_prom_sample *s = &t->samples[0];
    assert_string_equal(s->name, "lr_link_rtt_ms");
    assert_int_equal(s->nb_labels, 4);
    assert_string_equal(s->labels[0].name, "role");
    assert_string_equal(lr_prom_sample_label(s, "lecture"), "demo");
    assert_string_equal(lr_prom_sample_label(s, "side"), "recv");
    assert_null(lr_prom_sample_label(s, "rendition"));
    assert_true(s->value == 0.109);
    assert_string_equal(t->samples[1].name, "lr_http_connections");
    assert_int_equal(t->samples[1].nb_labels, 0);
    assert_true(t->samples[1].value == 1);
    /* a family declared without samples is there; one never named is not */
    assert_true(lr_prom_text_has_family(t, "lr_http_viewers"));
    assert_true(lr_prom_text_has_family(t, "lr_link_rtt_ms"));
    assert_false(lr_prom_text_has_family(t, "lr_transcode_rungs"));
    lr_prom_text_free(&t);
    assert_null(t);
}

static void test_escapes_and_blanks(void **state)
{
    lr_prom_text *t = parse_ok("  m_1:x { a = \"q\\\"uote\" , b=\"back\\\\slash\\nline\", } "
                               "\t-3.5e2   1700000000000\r\n"
                               "\n"
                               "m2{}1\n"
                               "m3{c=\"\"} 7");

    assert_int_equal(t->nb_samples, 3);
    assert_string_equal(t->samples[0].name, "m_1:x");
    assert_string_equal(lr_prom_sample_label(&t->samples[0], "a"), "q\"uote");
    assert_string_equal(lr_prom_sample_label(&t->samples[0], "b"), "back\\slash\nline");
    assert_true(t->samples[0].value == -350);
    assert_int_equal(t->samples[1].nb_labels, 0);
    assert_true(t->samples[1].value == 1);
    assert_string_equal(lr_prom_sample_label(&t->samples[2], "c"), "");
    assert_true(t->samples[2].value == 7);
    lr_prom_text_free(&t);
}

static void test_special_values(void **state)
{
    lr_prom_text *t = parse_ok("a NaN\nb +Inf\nc -Inf\nd 1e-3\n");

    assert_true(isnan(t->samples[0].value));
    assert_true(isinf(t->samples[1].value) && t->samples[1].value > 0);
    assert_true(isinf(t->samples[2].value) && t->samples[2].value < 0);
    assert_true(t->samples[3].value == 0.001);
    lr_prom_text_free(&t);
}

static void test_comments_and_empty(void **state)
{
    lr_prom_text *t = parse_ok("");

    assert_int_equal(t->nb_samples, 0);
    lr_prom_text_free(&t);
    t = parse_ok("# just a comment with = signs and {braces}\n#\n# HELP x a \\n help\n"
                 "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 3\nh_count 3\n");
    assert_int_equal(t->nb_samples, 2);
    assert_int_equal(t->nb_families, 1);
    assert_true(lr_prom_text_has_family(t, "h"));
    assert_true(lr_prom_text_has_family(t, "h_count")); /* sampled, not declared */
    assert_string_equal(lr_prom_sample_label(&t->samples[0], "le"), "+Inf");
    lr_prom_text_free(&t);
}

static void test_same_series(void **state)
{
    lr_prom_text *t = parse_ok("m{a=\"1\",b=\"2\"} 1\n"
                               "m{b=\"2\",a=\"1\"} 2\n"
                               "m{a=\"1\",b=\"3\"} 3\n"
                               "m{a=\"1\"} 4\n"
                               "n{a=\"1\",b=\"2\"} 5\n");

    assert_true(lr_prom_same_series(&t->samples[0], &t->samples[1]));
    assert_false(lr_prom_same_series(&t->samples[0], &t->samples[2]));
    assert_false(lr_prom_same_series(&t->samples[0], &t->samples[3]));
    assert_false(lr_prom_same_series(&t->samples[3], &t->samples[0]));
    assert_false(lr_prom_same_series(&t->samples[0], &t->samples[4]));
    assert_true(lr_prom_same_labels(&t->samples[0], &t->samples[4]));
    assert_false(lr_prom_same_labels(&t->samples[2], &t->samples[4]));
    lr_prom_text_free(&t);
}

static void test_errors_name_the_line(void **state)
{
    parse_fails("ok 1\nnovalue\n", "line 2: value expected for novalue");
    parse_fails("ok 1\n\nm{a=\"x} 1\n", "line 3: unterminated label value");
    parse_fails("m{a=x} 1", "line 1: '\"' expected for the value of label a");
    parse_fails("m{a=\"\\t\"} 1", "line 1: unknown escape \\t in a label value");
    parse_fails("m{a=\"1\" b=\"2\"} 1", "line 1: ',' or '}' expected after label a");
    parse_fails("m{1a=\"1\"} 1", "line 1: label name expected");
    parse_fails("m{a} 1", "line 1: '=' expected after label a");
    parse_fails("m 12abc", "line 1: bad value for m");
    parse_fails("m 1 2.5", "line 1: bad timestamp for m");
    parse_fails("m 1 2 3", "line 1: bad timestamp for m");
    parse_fails("9m 1", "line 1: metric name expected");
    parse_fails("# TYPE m meter\n", "line 1: # TYPE m: unknown type 'meter'");
    parse_fails("# TYPE\n", "line 1: # TYPE without a metric name");
}

static void test_nul_byte(void **state)
{
    const char    text[] = "a 1\nb 2\nc\0 3";
    lr_prom_text *t = NULL;
    char          err[64];

    assert_int_equal(lr_prom_text_parse(text, sizeof(text) - 1, &t, err, sizeof(err)),
                     AVERROR_INVALIDDATA);
    assert_null(t);
    assert_string_equal(err, "line 3: a NUL byte");
}

/* A body that is not NUL-terminated: only len bytes are read. */
static void test_length_not_nul(void **state)
{
    const char    text[] = "a 1\nb 2\nGARBAGE";
    lr_prom_text *t = NULL;

    assert_int_equal(lr_prom_text_parse(text, 8, &t, NULL, 0), 0);
    assert_int_equal(t->nb_samples, 2);
    lr_prom_text_free(&t);
    lr_prom_text_free(&t); /* a second free is harmless */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_our_own_output), cmocka_unit_test(test_escapes_and_blanks),
        cmocka_unit_test(test_special_values), cmocka_unit_test(test_comments_and_empty),
        cmocka_unit_test(test_same_series),    cmocka_unit_test(test_errors_name_the_line),
        cmocka_unit_test(test_nul_byte),       cmocka_unit_test(test_length_not_nul),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
