/* tests/unit/test_streamid.c — unit tests of common/streamid.c: SRT Access
 * Control ids, the plain OBS form, malformed ids and lr_streamid_format.
 * Run by `meson test --suite unit`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <libavutil/error.h>

#include "common/streamid.h"

static void test_access_control(void **state)
{
    lr_streamid sid;

    assert_int_equal(lr_streamid_parse("#!::r=cs101,m=publish", &sid), 0);
    assert_string_equal(sid.resource, "cs101");
    assert_string_equal(sid.mode, "publish");
    assert_string_equal(sid.user, "");

    assert_int_equal(lr_streamid_parse("#!::u=alice,m=bidirectional,r=Math_2-B", &sid), 0);
    assert_string_equal(sid.resource, "Math_2-B");
    assert_string_equal(sid.mode, "bidirectional");
    assert_string_equal(sid.user, "alice");

    /* every standard key is accepted; m defaults to request */
    assert_int_equal(lr_streamid_parse("#!::h=relay.example.edu,s=abc123,t=stream,r=x", &sid), 0);
    assert_string_equal(sid.resource, "x");
    assert_string_equal(sid.mode, "request");
    assert_string_equal(sid.session, "abc123");
    assert_int_equal(sid.plain, 0);
}

static void test_plain(void **state)
{
    lr_streamid sid;

    assert_int_equal(lr_streamid_parse("cs101", &sid), 0);
    assert_string_equal(sid.resource, "cs101");
    assert_string_equal(sid.mode, "request");
    assert_string_equal(sid.user, "");
    assert_string_equal(sid.session, "");
    assert_int_equal(sid.plain, 1);

    assert_int_equal(lr_streamid_parse("0lecture-a_b", &sid), 0);
    assert_string_equal(sid.resource, "0lecture-a_b");
}

static void test_malformed(void **state)
{
    static const char *const bad[] = {
        "",                       /* empty */
        "#!::",                   /* no keys */
        "#!::r=",                 /* empty value */
        "#!::r=a,r=b",            /* repeated key */
        "#!::x",                  /* no '=' */
        "#!::x=1,r=a",            /* unknown key */
        "#!::rr=a",               /* long key */
        "#!::=a",                 /* empty key */
        "#!::r=a,",               /* trailing comma */
        "#!::,r=a",               /* leading comma */
        "#!::m=publish",          /* no resource */
        "#!::r=a,m=push",         /* unknown mode */
        "#!::r=a,m=publish,m=request",
        "#!::r=../etc",           /* path characters */
        "#!::r=_a",               /* must start alphanumeric */
        "#!::r=a b",              /* space */
        "#!::r=a=b",              /* '=' in a value */
        "#!:{r=a}",               /* nested syntax is not supported */
        "cs 101",
        "cs/101",
        "-cs101",
        "../etc/passwd",
        "caf\xc3\xa9",
        "r=cs101",
    };
    lr_streamid sid = { .resource = "keep" };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (lr_streamid_parse(bad[i], &sid) != AVERROR(EINVAL))
            fail_msg("accepted '%s'", bad[i]);
    }
    assert_string_equal(sid.resource, "keep"); /* untouched on failure */
    assert_int_equal(lr_streamid_parse(NULL, &sid), AVERROR(EINVAL));
}

static void test_lengths(void **state)
{
    char name[LR_LECTURE_NAME_MAX + 2], sid_str[600];
    lr_streamid sid;

    memset(name, 'a', sizeof(name));
    name[LR_LECTURE_NAME_MAX] = 0;
    assert_true(lr_lecture_name_valid(name));
    assert_int_equal(lr_streamid_parse(name, &sid), 0);
    name[LR_LECTURE_NAME_MAX] = 'a';
    name[LR_LECTURE_NAME_MAX + 1] = 0;
    assert_false(lr_lecture_name_valid(name));
    assert_int_equal(lr_streamid_parse(name, &sid), AVERROR(EINVAL));

    /* a user name longer than the struct holds */
    memset(sid_str, 0, sizeof(sid_str));
    strcpy(sid_str, "#!::r=a,u=");
    memset(sid_str + strlen(sid_str), 'u', 64);
    assert_int_equal(lr_streamid_parse(sid_str, &sid), AVERROR(EINVAL));

    /* a publish key (s=) longer than the struct holds */
    memset(sid_str, 0, sizeof(sid_str));
    strcpy(sid_str, "#!::r=a,s=");
    memset(sid_str + strlen(sid_str), 'k', 129);
    assert_int_equal(lr_streamid_parse(sid_str, &sid), AVERROR(EINVAL));

    /* 512 bytes is the limit of SRTO_STREAMID: pad with a long host */
    memset(sid_str, 0, sizeof(sid_str));
    strcpy(sid_str, "#!::r=a,h=");
    memset(sid_str + strlen(sid_str), 'h', 512 - strlen(sid_str));
    assert_int_equal(strlen(sid_str), 512);
    assert_int_equal(lr_streamid_parse(sid_str, &sid), 0);
    sid_str[512] = 's';
    assert_int_equal(lr_streamid_parse(sid_str, &sid), AVERROR(EINVAL));
    assert_false(lr_lecture_name_valid(""));
    assert_false(lr_lecture_name_valid(NULL));
}

static void test_format(void **state)
{
    char buf[128];
    lr_streamid sid;

    assert_int_equal(lr_streamid_format(buf, sizeof(buf), "cs101", "publish"), 0);
    assert_string_equal(buf, "#!::r=cs101,m=publish");
    assert_int_equal(lr_streamid_parse(buf, &sid), 0);
    assert_string_equal(sid.resource, "cs101");
    assert_string_equal(sid.mode, "publish");

    assert_int_equal(lr_streamid_format(buf, sizeof(buf), "demo", NULL), 0);
    assert_string_equal(buf, "#!::r=demo,m=request");

    /* exactly fits, then one byte short */
    assert_int_equal(lr_streamid_format(buf, strlen("#!::r=cs101,m=publish") + 1, "cs101",
                                        "publish"), 0);
    assert_int_equal(lr_streamid_format(buf, strlen("#!::r=cs101,m=publish"), "cs101",
                                        "publish"), AVERROR(EINVAL));
    assert_string_equal(buf, "");
    assert_int_equal(lr_streamid_format(buf, sizeof(buf), "../etc", "publish"), AVERROR(EINVAL));
    assert_int_equal(lr_streamid_format(buf, sizeof(buf), "cs101", "push"), AVERROR(EINVAL));
    assert_int_equal(lr_streamid_format(buf, sizeof(buf), "cs101", "publish,r=x"),
                     AVERROR(EINVAL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_access_control),
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
