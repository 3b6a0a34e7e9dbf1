/* common/workers.h — the threads a role starts, one per accepted link:
 * listed when started, joined and freed once ended, all joined at stop.
 * Used by transcode (pipelines) and egress (receivers). */
#ifndef LR_COMMON_WORKERS_H
#define LR_COMMON_WORKERS_H

#include <pthread.h>
#include <stdatomic.h>

/* Embed as the first member of a per-link struct allocated with av_malloc. */
typedef struct lr_worker {
    struct lr_worker *next;
    pthread_t         thread;
    atomic_int        done;
} lr_worker;

typedef struct lr_workers {
    pthread_mutex_t lock;   /* guards the list; hold it to walk `head` */
    lr_worker      *head;
} lr_workers;

void lr_workers_init(lr_workers *w);
/* Starts fn(item) on its own thread and lists item; fn must end with
 * lr_worker_done(item). On error item is not listed and stays the caller's.
 * Returns 0 or a negative AVERROR. */
int  lr_workers_start(lr_workers *w, lr_worker *item, void *(*fn)(void *));
void lr_worker_done(lr_worker *item);
/* Joins and av_free()s every item whose thread has ended; with all, every
 * item (call after telling them to stop). */
void lr_workers_reap(lr_workers *w, int all);
/* Joins everything, then destroys the list. */
void lr_workers_destroy(lr_workers *w);

#endif
