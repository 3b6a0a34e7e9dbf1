/* egress/egress.h — the egress role: receives each lecture's ladder over the
 * link, cuts it into segments, keeps them in memory with their playlists and
 * serves them over HTTP. Called by app/roles.c. */
#ifndef LR_EGRESS_EGRESS_H
#define LR_EGRESS_EGRESS_H

#include "common/config.h"

typedef struct lr_egress lr_egress;

/* The `egress:` section of the configuration file (egress_conf.c). */
extern const lr_conf_section lr_egress_conf_section;

/* Applies c's link settings (lr_link_configure), starts the HTTP server and
 * the link listener; c must outlive the role. */
int  lr_egress_start(const lr_config *c, lr_egress **out);
/* The HTTP port actually bound (the configured one, or the one picked for 0). */
int  lr_egress_http_port(const lr_egress *e);
/* SIGHUP: reloads what can change without a restart: with c (a reloaded
 * configuration, which must outlive the role) the keys lr_egress_applies
 * names; then the TLS certificate from its files. */
void lr_egress_reload(lr_egress *e, const lr_config *c);
/* 1 for a key (lr_config_diff's) that lr_egress_reload applies. */
int  lr_egress_applies(const char *key);
void lr_egress_stop(lr_egress **e);

#endif
