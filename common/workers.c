/* common/workers.c — see workers.h. */
#include "workers.h"

#include <libavutil/error.h>
#include <libavutil/mem.h>

void lr_workers_init(lr_workers *w)
{
    pthread_mutex_init(&w->lock, NULL);
    w->head = NULL;
}

int lr_workers_start(lr_workers *w, lr_worker *item, void *(*fn)(void *))
{
    int ret;

    atomic_init(&item->done, 0);
    if ((ret = pthread_create(&item->thread, NULL, fn, item)))
        return AVERROR(ret);
    pthread_mutex_lock(&w->lock);
    item->next = w->head;
    w->head = item;
    pthread_mutex_unlock(&w->lock);
    return 0;
}

void lr_worker_done(lr_worker *item)
{
    atomic_store(&item->done, 1);
}

void lr_workers_reap(lr_workers *w, int all)
{
    lr_worker **pp = &w->head;

    pthread_mutex_lock(&w->lock);
    while (*pp) {
        lr_worker *item = *pp;
        if (all || atomic_load(&item->done)) {
            *pp = item->next;
            /* Joining can wait: never hold the lock across it. */
            pthread_mutex_unlock(&w->lock);
            pthread_join(item->thread, NULL);
            av_free(item);
            pthread_mutex_lock(&w->lock);
            pp = &w->head;
        } else {
            pp = &item->next;
        }
    }
    pthread_mutex_unlock(&w->lock);
}

void lr_workers_destroy(lr_workers *w)
{
    lr_workers_reap(w, 1);
    pthread_mutex_destroy(&w->lock);
}
