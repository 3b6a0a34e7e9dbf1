/* common/stop.h — a stop flag that threads can also wait on: the one way a
 * role tells its threads to finish, and the one way they pace themselves
 * (waiting until a deadline, woken at once by a stop). Used by every role. */
#ifndef LR_COMMON_STOP_H
#define LR_COMMON_STOP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

typedef struct lr_stop {
    atomic_int      requested;
    pthread_mutex_t lock;
    pthread_cond_t  cond;
} lr_stop;

int  lr_stop_init(lr_stop *s);
void lr_stop_destroy(lr_stop *s);
void lr_stop_request(lr_stop *s);
/* Clears a request, for a stop used more than once (abandoning one source). */
void lr_stop_reset(lr_stop *s);
static inline int lr_stop_requested(lr_stop *s) { return atomic_load(&s->requested); }

/* Waits until CLOCK_MONOTONIC reaches deadline_ns or a stop is requested.
 * Returns 1 if stopped, 0 if the deadline passed. */
int lr_stop_wait_until(lr_stop *s, int64_t deadline_ns);

/* Waits on cond (lock held) until woken or CLOCK_MONOTONIC reaches
 * deadline_ns; 0: no deadline. */
void lr_cond_wait_until(pthread_cond_t *cond, pthread_mutex_t *lock, int64_t deadline_ns);

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t lr_now_ns(void);

#endif
