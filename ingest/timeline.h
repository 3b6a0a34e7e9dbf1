/* ingest/timeline.h — the link's clock: keeps the timestamps a lecture sends
 * moving forward and continuous while sources come and go (reconnects,
 * failovers, a source that jumps or restarts). Pure; called by lecture.c,
 * tested in tests/unit/test_timeline.c. All times are 1/90000. */
#ifndef LR_INGEST_TIMELINE_H
#define LR_INGEST_TIMELINE_H

#include <stdint.h>

#define LR_TIMELINE_STREAMS 8

typedef struct lr_timeline {
    int64_t origin;                          /* where the first session starts;
                                                AV_NOPTS_VALUE: at the source's own clock */
    int64_t offset;                          /* added to the source's timestamps */
    int64_t last_in;                         /* previous source dts, any stream */
    int64_t last_out[LR_TIMELINE_STREAMS];   /* highest dts sent per link stream */
    int64_t sent_in[LR_TIMELINE_STREAMS];    /* nb_splices when the stream last sent */
    int64_t max_out;                         /* highest dts sent on any stream */
    int64_t gap;                             /* spacing left at a splice (one frame) */
    int64_t splice_gap;                      /* spacing at the pending splice */
    int     splice;                          /* the next packet starts a new session */
    int64_t nb_splices;                      /* source changes and breaks so far */
    int64_t nb_breaks;                       /* jumps inside one session */
    int64_t nb_nudged;                       /* repeated or slightly early dts moved on */
} lr_timeline;

void lr_timeline_init(lr_timeline *t);
/* The next packet comes from a new source session (a failover, a reconnect)
 * and is placed `gap` after the last one sent (<= 0: one frame). A gap of
 * more than a second marks a real break (the lecture had no source): the
 * egress sees the jump and writes EXT-X-DISCONTINUITY. */
void lr_timeline_splice(lr_timeline *t, int64_t gap);
/* Maps a packet's source dts on link stream `stream` to the link's timeline.
 * Returns its dts on the link (its pts moves by t->offset and must stay >= that
 * dts), or INT64_MIN if the packet must be dropped: it lies well before what
 * the stream has already sent, or is the first of its stream after a splice
 * and lies before that (the overlap of two sessions). Inside a session, a dts
 * that repeats or steps back by less than LR_TIMELINE_NUDGE is the source's
 * jitter (GStreamer's flvmux under load repeats video timestamps): the packet
 * is kept, one tick after the last, since dropping a frame would break every
 * frame that refers to it. A jump of more than 10 s forward or 2 s back inside a session counts
 * as a break and is spliced over, so the link stays continuous. */
#define LR_TIMELINE_NUDGE 9000                /* 100 ms */
int64_t lr_timeline_map(lr_timeline *t, unsigned stream, int64_t dts);

#endif
