/* common/ts_wall.h — the link's timestamps on the wall-clock axis.
 *
 * The ingest starts a link's clock at its wall clock modulo MPEG-TS's 33
 * bits (ingest/lecture.c), so a timestamp names, within a day's wrap, the
 * moment its frame arrived there. Each demuxer unwraps timestamps from
 * wherever it started, so two processes can disagree by a multiple of 2^33;
 * unwrapped next to the wall clock instead, every process (the transcoder
 * scheduling keyframes, each egress node numbering segments) gets the same
 * value for the same frame. Slots are the segment periods on that axis:
 * segment number N on every egress node is the slot its first frame is in. */
#ifndef LR_COMMON_TS_WALL_H
#define LR_COMMON_TS_WALL_H

#include <stddef.h>
#include <stdint.h>

#define LR_TS_WRAP (INT64_C(1) << 33)

/* The value congruent to ts (mod 2^33, ts in 1/90000) nearest to ref. Pure. */
int64_t lr_ts_unwrap_near(int64_t ts, int64_t ref);
/* The wall clock in 1/90000 (CLOCK_REALTIME). */
int64_t lr_ts_wall_now(void);
/* ts unwrapped next to the wall clock. */
int64_t lr_ts_wall(int64_t ts);
/* floor(a / b) for b > 0, also for negative a. Pure. */
int64_t lr_floor_div(int64_t a, int64_t b);
/* The slot (segment number) of ts: floor(lr_ts_wall(ts) / period). */
int64_t lr_ts_slot(int64_t ts, int64_t period);

/* The link names the schedule's period in each program's service_provider
 * (the SDT): "lecture-relay keyframe-period=<1/90000>", or "lecture-relay"
 * alone when keyframes keep no schedule (passthrough). */
void    lr_ts_provider_name(char *out, size_t size, int64_t period);
/* The period a service_provider names; 0 none or malformed. Pure. */
int64_t lr_ts_provider_period(const char *provider);

/* Every link of ours names itself with this prefix; the ingest's link as
 * LR_TS_PROVIDER_INGEST (its video starts at a keyframe and its audio beside
 * it, so the transcoder's probe can be short). */
#define LR_TS_PROVIDER        "lecture-relay"
#define LR_TS_PROVIDER_INGEST LR_TS_PROVIDER " ingest"

#endif
