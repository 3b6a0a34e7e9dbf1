/* common/ts_wall.c — see ts_wall.h. */
#include "ts_wall.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PERIOD_KEY      " keyframe-period="
#define MAX_PERIOD      (3600 * 90000)

int64_t lr_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int64_t lr_ts_unwrap_near(int64_t ts, int64_t ref)
{
    int64_t mod = ((ts % LR_TS_WRAP) + LR_TS_WRAP) % LR_TS_WRAP;
    int64_t base = ref - lr_floor_div(ref, LR_TS_WRAP) * LR_TS_WRAP;  /* ref mod 2^33 */
    int64_t v = ref - base + mod;

    if (v - ref > LR_TS_WRAP / 2)
        v -= LR_TS_WRAP;
    else if (ref - v > LR_TS_WRAP / 2)
        v += LR_TS_WRAP;
    return v;
}

int64_t lr_ts_wall_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 90000 + ts.tv_nsec / 11111;
}

int64_t lr_ts_wall(int64_t ts)
{
    return lr_ts_unwrap_near(ts, lr_ts_wall_now());
}

int64_t lr_ts_slot(int64_t ts, int64_t period)
{
    return lr_floor_div(lr_ts_wall(ts), period > 0 ? period : 1);
}

void lr_ts_provider_name(char *out, size_t size, int64_t period)
{
    if (period > 0)
        snprintf(out, size, LR_TS_PROVIDER PERIOD_KEY "%" PRId64, period);
    else
        snprintf(out, size, LR_TS_PROVIDER);
}

int64_t lr_ts_provider_period(const char *provider)
{
    static const char key[] = LR_TS_PROVIDER PERIOD_KEY;
    const char *v;
    char *end;
    long long period;

    if (!provider || strncmp(provider, key, strlen(key)))
        return 0;
    v = provider + strlen(key);
    if (*v < '1' || *v > '9')
        return 0;
    period = strtoll(v, &end, 10);
    return *end || period > MAX_PERIOD ? 0 : period;
}
