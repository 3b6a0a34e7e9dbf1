/* common/backoff.h — when to try again after a failure: waits that double
 * from min_ms up to max_ms, optionally with up to a quarter more at random
 * so many lectures don't retry in step. Used by the ingest (sources, link)
 * and the transcoder (its egress link). */
#ifndef LR_COMMON_BACKOFF_H
#define LR_COMMON_BACKOFF_H

#include <stdint.h>

typedef struct lr_backoff {
    int     min_ms, max_ms;
    int     jitter;    /* add up to 25 % at random */
    int     ms;        /* the last wait, 0 after a success */
    int64_t retry_at;  /* CLOCK_MONOTONIC ns; 0: now */
} lr_backoff;

void lr_backoff_init(lr_backoff *b, int min_ms, int max_ms, int jitter);
/* A failure at now_ns: the next wait doubles (min_ms first), up to max_ms. */
void lr_backoff_failed(lr_backoff *b, int64_t now_ns);
/* A success: the next failure waits min_ms again. */
void lr_backoff_succeeded(lr_backoff *b);

#endif
