/* tests/unit/test_status.c — the status page's history (common/status.h):
 * /metrics text read back into series, counters and gauges told apart, an
 * upstream's series under its origin, ?since= answering only what is new,
 * a series gone for the whole history forgotten, events and their escaping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <libavutil/bprint.h>
#include <libavutil/mem.h>

#include "common/metrics.h"
#include "common/status.h"

static double gauge_value = 1.5;
static int    with_extra = 1;

static void collect(void *opaque, AVBPrint *out)
{
    lr_metrics_family(out, "lr_test_things", "gauge", "things");
    av_bprintf(out, "lr_test_things{lecture=\"cs101\",url=\"a}b\\\"c\"} %g\n", gauge_value);
    lr_metrics_family(out, "lr_test_total", "counter", "counted");
    av_bprintf(out, "lr_test_total 42\n");
    if (with_extra)
        av_bprintf(out, "lr_test_untyped 7\n");
}

static char *render(int64_t since)
{
    AVBPrint b;
    char *s;

    av_bprint_init(&b, 0, AV_BPRINT_SIZE_UNLIMITED);
    lr_status_render_json(&b, since);
    av_bprint_finalize(&b, &s);
    return s;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static void samples_become_series(void **state)
{
    int h = lr_metrics_register(collect, NULL);
    char *j;

    assert_true(h > 0);
    lr_status_sample(1000);
    gauge_value = 2.5;
    lr_status_sample(2000);
    j = render(0);
    /* a label value with a brace and a quote in it, unescaped into JSON */
    assert_non_null(strstr(j, "{\"name\":\"lr_test_things\",\"type\":\"gauge\","
                              "\"labels\":{\"lecture\":\"cs101\",\"url\":\"a}b\\\"c\"},"
                              "\"v\":[1.5,2.5]}"));
    assert_non_null(strstr(j, "{\"name\":\"lr_test_total\",\"type\":\"counter\",\"labels\":{},"
                              "\"v\":[42,42]}"));
    assert_non_null(strstr(j, "\"type\":\"untyped\""));
    assert_non_null(strstr(j, "\"t\":[1000,2000]"));
    av_free(j);

    /* since: only the newer sample, and a series absent from it is left out */
    with_extra = 0;
    lr_status_sample(3000);
    j = render(2000);
    assert_non_null(strstr(j, "\"t\":[3000]"));
    assert_int_equal(count(j, "lr_test_untyped"), 0);
    assert_non_null(strstr(j, "\"v\":[2.5]"));
    av_free(j);
    /* asked from the start, its missing sample is null */
    j = render(0);
    assert_non_null(strstr(j, "{\"name\":\"lr_test_untyped\",\"type\":\"untyped\","
                              "\"labels\":{},\"v\":[7,7,null]}"));
    av_free(j);
    lr_metrics_unregister(h);
    lr_status_stop();
}

static void history_is_bounded(void **state)
{
    int h = lr_metrics_register(collect, NULL);
    char *j;

    with_extra = 1;
    lr_status_sample(1);
    with_extra = 0;
    for (int i = 0; i < LR_STATUS_HISTORY; i++)
        lr_status_sample(2 + i);
    j = render(0);
    /* the untyped series had its one value a whole history ago: forgotten */
    assert_int_equal(count(j, "lr_test_untyped"), 0);
    assert_non_null(strstr(j, "\"t\":[2,3,"));
    assert_int_equal(count(j, "\"lr_test_total\""), 1);
    av_free(j);
    lr_metrics_unregister(h);
    lr_status_stop();
}

static void an_upstream_has_its_origin(void **state)
{
    char *j;

    lr_status_set_upstream("10.0.0.5:9100",
                           "# TYPE lr_ingest_source_fps gauge\n"
                           "lr_ingest_source_fps{lecture=\"cs101\",source=\"1\"} 29.97\n"
                           "lr_link_up 1\n"
                           "garbage line without a value\n"
                           "lr_bad{unterminated=\"x 3\n");
    lr_status_sample(5000);
    j = render(0);
    assert_non_null(strstr(j, "\"labels\":{\"origin\":\"10.0.0.5:9100\",\"lecture\":\"cs101\","
                              "\"source\":\"1\"},\"v\":[29.97]"));
    assert_non_null(strstr(j, "\"name\":\"lr_link_up\",\"type\":\"untyped\","
                              "\"labels\":{\"origin\":\"10.0.0.5:9100\"},\"v\":[1]"));
    assert_int_equal(count(j, "lr_bad"), 0);
    av_free(j);
    /* unreachable: no value from it at the next sample */
    lr_status_set_upstream("10.0.0.5:9100", NULL);
    lr_status_sample(6000);
    j = render(5000);
    assert_int_equal(count(j, "lr_ingest_source_fps"), 0);
    av_free(j);
    lr_status_stop();
}

static void events_in_json_and_lines(void **state)
{
    AVBPrint b;
    char *j;

    lr_status_event("cs101", "source", "now reading source %d: \"push\"\tfrom\n%s", 2, "x");
    lr_status_upstream_event("10.0.0.5:9100", 1, "cs101", "link", "up");
    j = render(0);
    assert_non_null(strstr(j, "\"lecture\":\"cs101\",\"kind\":\"source\",\"text\":"
                              "\"now reading source 2: \\\"push\\\"\\u0009from\\u000ax\"}"));
    assert_non_null(strstr(j, "\"text\":\"10.0.0.5:9100: up\""));
    av_free(j);
    /* the lines a downstream role reads: tabs and line ends made spaces, and
     * what came from upstream not passed on again */
    av_bprint_init(&b, 0, AV_BPRINT_SIZE_UNLIMITED);
    lr_status_render_events(&b, 0);
    assert_non_null(strstr(b.str, "\tcs101\tsource\tnow reading source 2: \"push\" from x\n"));
    assert_null(strstr(b.str, "10.0.0.5"));
    av_bprint_finalize(&b, NULL);
}

static void routes(void **state)
{
    AVBPrint b;
    const char *type = NULL;
    int status = 0;

    av_bprint_init(&b, 0, AV_BPRINT_SIZE_UNLIMITED);
    assert_int_equal(lr_status_route("/api/v1/status", "since=99999999999999", &b, &type, &status), 1);
    assert_int_equal(status, 200);
    assert_string_equal(type, "application/json");
    assert_non_null(strstr(b.str, "\"t\":[]"));
    av_bprint_clear(&b);
    assert_int_equal(lr_status_route("/metrics", NULL, &b, &type, &status), 0);
    assert_int_equal(lr_status_route("/assets/hls.min.js", NULL, &b, &type, &status), 0);
    assert_int_equal(lr_status_route("/assets/../etc/passwd", NULL, &b, &type, &status), 0);
    av_bprint_finalize(&b, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(samples_become_series),
        cmocka_unit_test(history_is_bounded),
        cmocka_unit_test(an_upstream_has_its_origin),
        cmocka_unit_test(events_in_json_and_lines),
        cmocka_unit_test(routes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
