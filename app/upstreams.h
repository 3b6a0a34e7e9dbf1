/* app/upstreams.h — the status page of a process shows its upstream roles
 * too (status_upstreams: the ingest's and transcoder's metrics addresses,
 * on other machines): their /metrics sampled with its own, and their events
 * on its time line (common/status.h). */
#ifndef LR_APP_UPSTREAMS_H
#define LR_APP_UPSTREAMS_H

#include "common/config.h"

typedef struct lr_upstreams lr_upstreams;

/* Starts polling c's status_upstreams (nothing to do without any: *out
 * NULL). The egress's metrics_token goes with each request. Returns 0 or a
 * negative AVERROR (logged). */
int  lr_upstreams_start(const lr_config *c, lr_upstreams **out);
void lr_upstreams_stop(lr_upstreams **u);

#endif
