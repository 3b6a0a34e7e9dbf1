/* common/heartbeat.h — liveness of the threads a role can't do without, for
 * systemd's watchdog (app/roles.c pings WATCHDOG=1 only while every
 * registered heartbeat is fresh; a hung thread stops the pings and systemd
 * restarts the role). A thread registers once, then beats from a loop whose
 * every wait is bounded (well under its max_ms): the HTTP event loops (a
 * 1 s timer), the SRT link listeners (100 ms slices), the ingest's lecture
 * threads (waits of 1 s at most), the transcoder's lecture threads and the
 * egress's link receivers (reads of 5 s at most). */
#ifndef LR_COMMON_HEARTBEAT_H
#define LR_COMMON_HEARTBEAT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lr_heartbeat {
    char                 name[96];  /* for the log line when it stops */
    _Atomic int64_t      last_ns;   /* lr_now_ns() of the last beat */
    int64_t              max_ns;    /* stale after this long */
    struct lr_heartbeat *next;      /* the registry's list */
} lr_heartbeat;

/* Adds hb (caller-owned, until unregistered) with its first beat. */
void lr_heartbeat_register(lr_heartbeat *hb, const char *name, int max_ms);
void lr_heartbeat_unregister(lr_heartbeat *hb);
void lr_heartbeat_beat(lr_heartbeat *hb);

/* Whether every registered heartbeat is fresh; if not, the first stale one's
 * name and age in ms are written to name (size bytes) and *age_ms. */
int lr_heartbeat_all_fresh(char *name, size_t size, int64_t *age_ms);

#endif
