/* common/metrics.h — the process's metrics in Prometheus text format. Each
 * part (an ingest, a transcoder, an egress) registers a collector that
 * writes its own families when scraped, reading its own state under its own
 * locks, so nothing is counted twice and nothing goes stale. Served by the
 * egress's HTTP server at /metrics and, for roles without one, by
 * lr_metrics_serve. */
#ifndef LR_COMMON_METRICS_H
#define LR_COMMON_METRICS_H

#include <libavutil/bprint.h>

/* Writes "# HELP/# TYPE" once per family and then its samples. */
typedef void lr_metrics_collect_fn(void *opaque, AVBPrint *out);

/* Adds a collector; returns a handle > 0, or a negative AVERROR. */
int  lr_metrics_register(lr_metrics_collect_fn *fn, void *opaque);
/* Removes it; once this returns, fn is not running and won't be called. */
void lr_metrics_unregister(int handle);
/* Renders every collector into out (text/plain; version=0.0.4). */
void lr_metrics_render(AVBPrint *out);

/* Helpers for collectors: a family header, and a label value escaped as
 * the text format wants (\\, \", \n). */
void lr_metrics_family(AVBPrint *out, const char *name, const char *type, const char *help);
void lr_metrics_label(AVBPrint *out, const char *value);

/* The operator's token check of /metrics and the status page, on the
 * egress and on lr_metrics_serve: 1 if token (non-empty) is given as the
 * Authorization header's "Bearer <token>" (auth: the header's value, NULL
 * none) or as the query's admin_token=<token> (query without '?', NULL
 * none; a browser opening the page). Compared in constant time. */
int  lr_metrics_token_ok(const char *token, const char *auth, size_t auth_len,
                         const char *query, size_t query_len);

typedef struct lr_metrics_server lr_metrics_server;

/* Serves GET /metrics on host:port ("127.0.0.1:9100") from its own thread:
 * one small request per connection, 2 s to send it, at most 16 at a time.
 * Also the status page (common/status.h: /status, /api/v1/status and its
 * files), to a client on this machine or one showing token (empty: to
 * none other). */
int  lr_metrics_serve(const char *hostport, const char *token, lr_metrics_server **out);
void lr_metrics_server_free(lr_metrics_server **s);

#endif
