/* common/link_settings.h — what every link of a process shares: the
 * configuration's `link:` section. common/config.c fills it from the file;
 * each role hands it to the link layer at its start (lr_link_configure in
 * common/link.h). No libavformat here, so common/config.h can include it. */
#ifndef LR_COMMON_LINK_SETTINGS_H
#define LR_COMMON_LINK_SETTINGS_H

/* latency_ms: sized from the RTT to the peer (latency_rtt_factor x RTT within
 * the floor and ceiling); see docs/border.md. */
#define LR_LINK_LATENCY_AUTO 0

typedef struct lr_link_settings {
    int   latency_ms;           /* SRTO_LATENCY of every link, or LR_LINK_LATENCY_AUTO */
    char *passphrase;           /* the links between roles: "" none, else 10..79 chars */
    int   latency_rtt_factor;   /* auto latency: this many RTTs */
    int   latency_floor_ms;     /* … at least this */
    int   latency_ceiling_ms;   /* … and at most this */
    int   maxbw_kbps;           /* SRTO_MAXBW; 0: input rate (estimated) + overhead_pct */
    int   overhead_pct;         /* SRTO_OHEADBW: room for retransmissions, 5..100 */
    int   tlpktdrop;            /* SRTO_TLPKTDROP: drop what is too late to play */
    int   intensive_retransmit; /* SRTO_RETRANSMITALGO 0: resend on every loss report */
    int   peer_idle_timeout_ms; /* SRTO_PEERIDLETIMEO: a silent peer breaks the link */
    int   stats_interval_s;     /* one stats line per link every this; 0: none */
} lr_link_settings;

/* The link layer's settings until a role configures it; the same as the
 * config's defaults (tests/unit/test_config.c checks). */
#define LR_LINK_SETTINGS_DEFAULTS                                                           \
    { .latency_ms = LR_LINK_LATENCY_AUTO, .passphrase = NULL, .latency_rtt_factor = 5,      \
      .latency_floor_ms = 120, .latency_ceiling_ms = 8000, .maxbw_kbps = 0,                 \
      .overhead_pct = 25, .tlpktdrop = 1, .intensive_retransmit = 1,                        \
      .peer_idle_timeout_ms = 4000, .stats_interval_s = 30 }

#endif
