/* egress/steering.h — HLS Content Steering (Apple's specification v1.2,
 * RFC 8216bis 4.4.6.6): which pathway (egress node, by region) a player
 * should use, most wanted first, and the steering manifest that says it.
 * Pure: egress/steer_peers.c supplies the pathways' health, http_steer.c
 * serves the manifest (docs/regions.md). */
#ifndef LR_EGRESS_STEERING_H
#define LR_EGRESS_STEERING_H

#include <stdint.h>

#include <libavutil/bprint.h>

#define LR_STEERING_MAX_PATHWAYS 8

/* An address prefix, "10.1.0.0/16" or "2001:db8::/32". */
typedef struct lr_cidr {
    uint8_t addr[16];
    int     len;  /* 4 or 16 */
    int     bits;
} lr_cidr;

/* Returns 0 or AVERROR(EINVAL). An IPv4 prefix also matches IPv4-mapped
 * IPv6 peers (::ffff:a.b.c.d). */
int lr_cidr_parse(const char *s, lr_cidr *out);
int lr_cidr_match(const lr_cidr *c, const char *ip);

/* What a pathway looks like from here. */
typedef struct lr_pathway_state {
    const char *id;
    int         healthy;       /* answered, and its newest segment of the lecture is
                                  at most two target durations old */
    int         over_capacity; /* serving more viewers than it was given */
} lr_pathway_state;

/* Orders the nb pathways into out (indexes into p): the healthy ones not
 * over capacity first, then those over capacity, the unhealthy last; within
 * each, the client's preferred ones (preferred: ids, in the order the
 * operator's address map gives them) ahead of the rest, the rest in their
 * given order. */
void lr_steering_priority(const lr_pathway_state *p, int nb, const char *const *preferred,
                          int nb_preferred, int *out);

/* The steering manifest: {"VERSION":1,"TTL":ttl,"RELOAD-URI":reload_uri,
 * "PATHWAY-PRIORITY":[ids in order]}. reload_uri may be NULL (omitted). */
int lr_steering_manifest(int ttl, const char *reload_uri, const lr_pathway_state *p,
                         const int *order, int nb, AVBPrint *out);

#endif
