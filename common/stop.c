/* common/stop.c — see stop.h. A condition variable on CLOCK_MONOTONIC, so a
 * paced reader sleeps exactly until its next packet is due and still wakes
 * the moment the process is asked to stop. */
#include "stop.h"

#include <errno.h>
#include <time.h>

#include <libavutil/error.h>

int lr_stop_init(lr_stop *s)
{
    pthread_condattr_t attr;
    int ret;

    atomic_init(&s->requested, 0);
    if ((ret = pthread_mutex_init(&s->lock, NULL)))
        return AVERROR(ret);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    ret = pthread_cond_init(&s->cond, &attr);
    pthread_condattr_destroy(&attr);
    if (ret) {
        pthread_mutex_destroy(&s->lock);
        return AVERROR(ret);
    }
    return 0;
}

void lr_stop_destroy(lr_stop *s)
{
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
}

void lr_stop_request(lr_stop *s)
{
    pthread_mutex_lock(&s->lock);
    atomic_store(&s->requested, 1);
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

void lr_stop_reset(lr_stop *s)
{
    atomic_store(&s->requested, 0);
}

int64_t lr_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void lr_cond_wait_until(pthread_cond_t *cond, pthread_mutex_t *lock, int64_t deadline_ns)
{
    struct timespec ts = { .tv_sec = deadline_ns / 1000000000,
                           .tv_nsec = deadline_ns % 1000000000 };

    if (deadline_ns)
        pthread_cond_timedwait(cond, lock, &ts);
    else
        pthread_cond_wait(cond, lock);
}

int lr_stop_wait_until(lr_stop *s, int64_t deadline_ns)
{
    struct timespec ts = { .tv_sec = deadline_ns / 1000000000,
                           .tv_nsec = deadline_ns % 1000000000 };
    int stopped;

    pthread_mutex_lock(&s->lock);
    while (!atomic_load(&s->requested) &&
           pthread_cond_timedwait(&s->cond, &s->lock, &ts) != ETIMEDOUT)
        ;
    stopped = atomic_load(&s->requested);
    pthread_mutex_unlock(&s->lock);
    return stopped;
}
