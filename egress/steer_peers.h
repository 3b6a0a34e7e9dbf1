/* egress/steer_peers.h — what the other egress nodes of a lecture service
 * look like from here: each peer's /api/v1/node polled by one thread, with
 * a deadline, so that the steering manifest (steering.h) can put a peer
 * that is down, stale or full last. Started by egress/egress.c when
 * egress.steering names peers; read by egress/http_steer.c. */
#ifndef LR_EGRESS_STEER_PEERS_H
#define LR_EGRESS_STEER_PEERS_H

#include <stdint.h>

#include "common/config.h"
#include "common/streamid.h"

typedef struct lr_steer_peers lr_steer_peers;

#define LR_NODE_ANSWER_MAX_LECTURES 64

/* A peer's /api/v1/node answer, read at at_ms (our clock):
 * {"viewers":N,"capacity":C,
 *  "lectures":{"cs101":{"age_ms":340,"target_duration_ms":2000}}} */
typedef struct lr_node_answer {
    int full;  /* more viewers than its capacity */
    int nb;
    struct {
        char    name[LR_LECTURE_NAME_MAX + 1];
        int64_t newest_ms;  /* at_ms minus the age it reported */
        int64_t target_ms;  /* its target duration there, 0 unknown */
    } lectures[LR_NODE_ANSWER_MAX_LECTURES];
} lr_node_answer;

/* Parses body (NUL-terminated; it came from another machine, so anything).
 * A lecture whose name is too long or whose age or target duration is
 * negative or beyond a day is left out. Returns 0, or -1 when body is not
 * such an object. */
int lr_node_answer_parse(const char *body, int64_t at_ms, lr_node_answer *out);

/* Polls conf's peers every interval_ms (answers wait at most timeout_ms).
 * Returns 0 or AVERROR(ENOMEM); no peers: *out NULL, 0. */
int lr_steer_peers_start(const lr_steering_conf *conf, int interval_ms, int timeout_ms,
                         lr_steer_peers **out);
void lr_steer_peers_stop(lr_steer_peers **p);

/* Peer i (conf order) for lecture: 1 when its last poll was answered (a
 * refusal or a missed deadline counts at once), within three intervals,
 * and showed the lecture's newest segment at most two of its target
 * durations old by now (max_age_ms if it gave none: a node that doesn't
 * carry the lecture itself judges by the peer's duration, not a guess);
 * *full: it reported more viewers than its capacity. */
int lr_steer_peers_healthy(lr_steer_peers *p, int i, const char *lecture, int64_t max_age_ms,
                           int *full);

#endif
