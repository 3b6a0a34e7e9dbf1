/* common/heartbeat.c — see heartbeat.h. */
#include "common/heartbeat.h"

#include <pthread.h>
#include <stdio.h>

#include "common/stop.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static lr_heartbeat *beats;

void lr_heartbeat_register(lr_heartbeat *hb, const char *name, int max_ms)
{
    snprintf(hb->name, sizeof(hb->name), "%s", name);
    hb->max_ns = (int64_t)max_ms * 1000000;
    atomic_store(&hb->last_ns, lr_now_ns());
    pthread_mutex_lock(&lock);
    hb->next = beats;
    beats = hb;
    pthread_mutex_unlock(&lock);
}

void lr_heartbeat_unregister(lr_heartbeat *hb)
{
    pthread_mutex_lock(&lock);
    for (lr_heartbeat **p = &beats; *p; p = &(*p)->next) {
        if (*p == hb) {
            *p = hb->next;
            break;
        }
    }
    pthread_mutex_unlock(&lock);
}

void lr_heartbeat_beat(lr_heartbeat *hb)
{
    atomic_store_explicit(&hb->last_ns, lr_now_ns(), memory_order_relaxed);
}

int lr_heartbeat_all_fresh(char *name, size_t size, int64_t *age_ms)
{
    int64_t now = lr_now_ns();
    int fresh = 1;

    pthread_mutex_lock(&lock);
    for (lr_heartbeat *hb = beats; hb && fresh; hb = hb->next) {
        int64_t age = now - atomic_load_explicit(&hb->last_ns, memory_order_relaxed);
        if (age > hb->max_ns) {
            fresh = 0;
            snprintf(name, size, "%s", hb->name);
            *age_ms = age / 1000000;
        }
    }
    pthread_mutex_unlock(&lock);
    return fresh;
}
