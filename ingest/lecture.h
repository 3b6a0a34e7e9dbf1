/* ingest/lecture.h — one lecture at the ingest: its ordered sources (the
 * lecturer's SRT push, URLs, files), failover between them, and the links to
 * the transcoders (uplinks.h) with timestamps kept continuous. When its last
 * source ends cleanly and no other is live, the lecture ends (its links
 * close) until a source is up again. Called by ingest.c. */
#ifndef LR_INGEST_LECTURE_H
#define LR_INGEST_LECTURE_H

#include "common/config.h"
#include "feed.h"

typedef struct lr_lecture lr_lecture;

typedef struct lr_lecture_spec {
    const char        *name;
    const char *const *sources;    /* "push", or a URL / file path; tried in order */
    int                nb_sources;
    int                loop;       /* files: loop */
    int                realtime;   /* files: pace */
    int                stall_ms;   /* silence that fails a source over */
    int                switch_back; /* a recovered earlier source takes over again */
} lr_lecture_spec;

/* Starts the lecture's thread. c must outlive it; spec's strings too. */
int  lr_lecture_start(const lr_config *c, const lr_lecture_spec *spec, lr_lecture **out);
void lr_lecture_stop(lr_lecture **l);

/* What the ingest's metrics show of a lecture. */
typedef struct lr_lecture_metrics {
    const char   *name;
    int           nb_sources;
    const char   *sources[LR_MAX_SOURCES];  /* as configured */
    lr_feed_stats stats[LR_MAX_SOURCES];
    char          names[LR_MAX_SOURCES][256]; /* lr_feed_name: the session's, when live */
    int           active;                   /* on the link, -1 none */
    int64_t       switches, aligned, breaks, link_reconnects, dropped;
    int64_t       runs;                     /* runs begun: 1, and one more per start
                                               after the lecture ended */
    int           links_up;                 /* links to transcoders connected */
    int           run_open;                 /* a run began and has not ended */
    int64_t       repaired;                 /* timestamps repaired: repeated or early
                                               ones moved on, jumps smoothed */
} lr_lecture_metrics;

/* A consistent copy of the lecture's counters. Any thread. */
void lr_lecture_get_metrics(lr_lecture *l, lr_lecture_metrics *m);

/* A lecturer's push, by protocol. A source "push" takes either; "push-srt"
 * and "push-rtmp" one each, so a list may hold both as separate sources. */
enum { LR_PUSH_SRT, LR_PUSH_RTMP, LR_PUSH_NB };

/* 1 if the lecture has a source taking this protocol's push. */
int  lr_lecture_takes_push(const lr_lecture *l, int proto);
/* 1 while such a push is being read or waits to be. Any thread. */
int  lr_lecture_push_live(lr_lecture *l, int proto);
/* Two lecturers who publish at the same instant: exactly one is taken.
 * At the handshake, a push is refused (AVERROR(EBUSY)) without takeover
 * while another is live or holds a claim; with hold, an admitted push holds
 * a claim on the feed until its hand-over (or LR_PUSH_CLAIM_NS), so that a
 * second admission meanwhile is refused at its handshake too. Hold only a
 * push whose right to publish was proven (its publish key): an SRT
 * handshake admitted here can still fail its passphrase, and a claim left by
 * it would keep the lecturer out. Returns 0, or AVERROR(ENOENT) when the
 * lecture takes no push of proto. Any thread. */
#define LR_PUSH_CLAIM_NS 5000000000LL
int  lr_lecture_claim_push(lr_lecture *l, int proto, int takeover, int hold);
/* Hands over an accepted SRT push socket, ending its claim. Without
 * takeover, decided under the feed's lock with the check: a push already
 * live means it is not taken (AVERROR(EBUSY): the socket stays the
 * caller's, to close); with takeover the live one is abandoned for it.
 * Returns 0 when taken. Any thread. */
int  lr_lecture_offer_push(lr_lecture *l, int sock, const char *peer, int takeover);
/* The same for an admitted RTMP publisher. */
int  lr_lecture_offer_rtmp(lr_lecture *l, lr_rtmp_conn *conn, int takeover);

#endif
