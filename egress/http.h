/* egress/http.h — the egress's HTTP server (libh2o evloop; HTTP/1.1, h2c
 * with prior knowledge, and h2 over TLS by ALPN): /live/ from the store
 * (with LL-HLS blocking reload and preload-hint holding), /vod/ recordings
 * from disk, signed URLs /t/<token>/..., the player page /watch/<lecture>,
 * /assets/, the lecture list / and /api/v1/lectures, /metrics and /healthz.
 * Called by the egress role (and tests/tools/serve_fixture). docs/http.md. */
#ifndef LR_EGRESS_HTTP_H
#define LR_EGRESS_HTTP_H

#include "common/config.h"
#include "store.h"

typedef struct lr_http lr_http;

/* Binds conf->http (and conf->tls_listen when set; "host:port", port 0 picks
 * a free one) synchronously with conf->http_threads loops sharing each port
 * (SO_REUSEPORT), then serves from those threads. Reads the rest of the
 * egress section (assets_dir, cors_origins, tokens, recordings_dir, ...);
 * conf must outlive the server. Returns 0 or a negative AVERROR (the
 * reason logged). */
int  lr_http_start(const lr_egress_conf *conf, lr_store *store, lr_http **out);
/* The ports actually bound (TLS: -1 when there is none). */
int  lr_http_port(const lr_http *h);
int  lr_http_tls_port(const lr_http *h);
/* SIGHUP. With conf (a reloaded configuration's egress section, which must
 * outlive the server), its token secrets, require_token, metrics_token and
 * the certificate's file names apply from the next request on; the rest of
 * it is not read. Then the TLS certificate and key are loaded again from
 * their files in the server's own thread (the old ones are kept if the new
 * ones fail to load); nothing without TLS. Safe to call from any thread. */
void lr_http_reload(lr_http *h, const lr_egress_conf *conf);
/* Stops taking connections, answers parked requests (503), lets responses
 * in flight finish (at most 5 s), joins the threads, frees; NULLs *h. */
void lr_http_stop(lr_http **h);

#endif
