/* egress/http.h — the egress's HTTP server (libh2o, evloop): serves the
 * store under /live/, the player page /watch/<lecture>, its script under
 * /assets/, the lecture list /, and /healthz. Called by the egress role. */
#ifndef LR_EGRESS_HTTP_H
#define LR_EGRESS_HTTP_H

#include "store.h"

typedef struct lr_http lr_http;

/* Binds listen ("host:port"; port 0 picks a free one) synchronously, then
 * serves from its own thread. assets_dir holds hls.min.js.
 * Returns 0 or a negative AVERROR (the bind's error is logged). */
int  lr_http_start(const char *listen, lr_store *store, const char *assets_dir,
                   lr_http **out);
/* The port actually bound. */
int  lr_http_port(const lr_http *h);
/* Stops the loop (woken from this thread, no polling), joins, frees; NULLs *h. */
void lr_http_stop(lr_http **h);

#endif
