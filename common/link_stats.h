/* common/link_stats.h — what the link module keeps about its links: the
 * process's link settings, the last RTT measured to each caller URL, and one
 * stats entry per link (role, lecture, peer) that survives reconnects. It
 * serves them as Prometheus families and logs them every stats_interval_s.
 * Internal to common/link.c (lr__ names); operators see docs/border.md. */
#ifndef LR_COMMON_LINK_STATS_H
#define LR_COMMON_LINK_STATS_H

#include "link.h"

/* Registers the metrics collector, starts the stats thread. */
int  lr__link_stats_init(void);
void lr__link_stats_uninit(void);

/* A copy of the settings now in force (lr_link_configure). */
lr_link_settings lr__link_settings(void);
void lr__link_settings_set(const lr_link_settings *s);

/* Latency for LR_LINK_LATENCY_AUTO: latency_rtt_factor x rtt_ms within floor
 * and ceiling. */
int  lr__link_auto_latency(const lr_link_settings *s, int rtt_ms);

/* The RTT last measured to url (probe, or the link's own smoothed RTT while
 * it ran); -1 when never. */
int  lr__link_rtt_recall(const char *url);
void lr__link_rtt_remember(const char *url, int rtt_ms);

/* A link socket is up: role ("egress", …), lecture, peer (the caller's
 * address for accepted links, the URL's host:port for callers); url is the
 * URL a caller dialled (NULL for accepted links): its RTT is remembered. A
 * second link with the same role, lecture and peer counts as a reconnect. */
void lr__link_stats_add(int sock, const char *role, const char *lecture, const char *peer,
                        const char *url);
/* The socket carries media one way: write = send side. Also reads the
 * latency negotiated at the handshake. */
void lr__link_stats_side(int sock, int write);
/* Before the socket is closed: keeps its totals, marks the link down. */
void lr__link_stats_remove(int sock);

#endif
