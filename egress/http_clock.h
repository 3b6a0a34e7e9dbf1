/* egress/http_clock.h — libh2o's timers on a clock that never steps.
 *
 * libh2o 2.2's event loop keeps time by gettimeofday, the wall clock: an
 * NTP step or an operator's `date -s` moved every timer of the HTTP server
 * with it. Stepped back 30 s, the heartbeat (a timer a second) stopped for
 * 30 s and the watchdog had systemd restart the egress; parked blocking
 * reloads and idle cut-offs waited 30 s longer. Stepped forward, every idle
 * and handshake timeout fired at once.
 *
 * This file defines the process's gettimeofday. A call from inside libh2o
 * gets a clock that runs with CLOCK_MONOTONIC from the wall clock's value
 * at setup, so its timers never jump; every other caller (libsrt, FFmpeg,
 * OpenSSL, our own code) and libh2o's Date header cache
 * (h2o_context_update_timestamp_cache) get the wall clock, as from libc:
 * a Date header follows a step, so caches in front compute ages right.
 * Our own dates read clock_gettime(CLOCK_REALTIME) and never came here. */
#ifndef LR_EGRESS_HTTP_CLOCK_H
#define LR_EGRESS_HTTP_CLOCK_H

/* Once, before any HTTP loop is created. Returns 1 when libh2o's timers now
 * run on the steady clock, 0 when libh2o could not be found (they keep the
 * wall clock). */
int lr_http_clock_setup(void);

#endif
