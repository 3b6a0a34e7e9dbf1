/* tests/unit/test_heartbeat.c — unit tests of common/heartbeat.c: fresh
 * while beating, the stale one named with its age, gone once unregistered.
 * Run by `meson test --suite unit`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "common/heartbeat.h"

static void sleep_ms(int ms)
{
    struct timespec t = { ms / 1000, (long)(ms % 1000) * 1000000 };
    while (nanosleep(&t, &t))
        ;
}

static void test_stale_named(void **state)
{
    lr_heartbeat a, b;
    char name[96] = "";
    int64_t age = -1;

    assert_true(lr_heartbeat_all_fresh(name, sizeof(name), &age));
    lr_heartbeat_register(&a, "loop a", 50);
    lr_heartbeat_register(&b, "thread b", 5000);
    assert_true(lr_heartbeat_all_fresh(name, sizeof(name), &age));
    sleep_ms(80);
    assert_false(lr_heartbeat_all_fresh(name, sizeof(name), &age));
    assert_string_equal(name, "loop a");
    assert_true(age >= 80 && age < 5000);
    lr_heartbeat_beat(&a);
    assert_true(lr_heartbeat_all_fresh(name, sizeof(name), &age));
    sleep_ms(80);
    lr_heartbeat_unregister(&a);  /* a thread that ended is not watched */
    assert_true(lr_heartbeat_all_fresh(name, sizeof(name), &age));
    lr_heartbeat_unregister(&b);
    lr_heartbeat_unregister(&b);  /* twice: nothing */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stale_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
