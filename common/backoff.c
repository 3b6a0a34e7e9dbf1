/* common/backoff.c — see backoff.h. */
#include "backoff.h"

#include <stdlib.h>

void lr_backoff_init(lr_backoff *b, int min_ms, int max_ms, int jitter)
{
    *b = (lr_backoff){ .min_ms = min_ms, .max_ms = max_ms, .jitter = jitter };
}

void lr_backoff_failed(lr_backoff *b, int64_t now_ns)
{
    int64_t wait;

    b->ms = b->ms ? (b->ms * 2 < b->max_ms ? b->ms * 2 : b->max_ms) : b->min_ms;
    wait = b->ms;
    if (b->jitter)
        wait += rand() % (b->ms / 4 + 1);
    b->retry_at = now_ns + wait * 1000000;
}

void lr_backoff_succeeded(lr_backoff *b)
{
    b->ms = 0;
}
