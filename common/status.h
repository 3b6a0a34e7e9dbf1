/* common/status.h — what the operator's status page draws (/status, its
 * data at /api/v1/status): every metric of the process sampled once a
 * second for the last 15 minutes, and a time line of events (a source
 * switched, a link broke, a rendition shed and back, a recording started
 * and finished). The samples are the /metrics text itself, rendered and
 * read back, so the page and Prometheus never disagree on a number. One
 * history per process, whatever roles it runs; served by the egress's HTTP
 * server and by the metrics server of roles without one (common/metrics.h). */
#ifndef LR_COMMON_STATUS_H
#define LR_COMMON_STATUS_H

#include <stdint.h>

#include <libavutil/attributes.h>
#include <libavutil/bprint.h>

#define LR_STATUS_INTERVAL_MS 1000
#define LR_STATUS_HISTORY     900      /* samples kept: 15 minutes */
#define LR_STATUS_MAX_SERIES  4096     /* beyond this, new series are not kept */
#define LR_STATUS_MAX_EVENTS  512

/* Adds an event to the time line (lecture may be NULL or ""; kind a short
 * word: "source", "link", "shed", "recording", "lecture"). Any thread. */
void lr_status_event(const char *lecture, const char *kind, const char *fmt, ...)
    av_printf_format(3, 4);

/* Starts the sampler (once per process; later calls do nothing), with the
 * roles' names for the page ("ingest, transcode, egress"). Returns 0 or a
 * negative AVERROR. */
int  lr_status_start(const char *roles);
/* Stops the sampler and forgets the samples and upstreams (not the events). */
void lr_status_stop(void);

/* An upstream role's /metrics text (another process: app/upstreams.c
 * fetches it), sampled with the process's own from now on, each of its
 * series with the label origin="<origin>" added; NULL text: it can't be
 * reached (its series get no value). Any thread. At most
 * LR_STATUS_MAX_UPSTREAMS origins. */
#define LR_STATUS_MAX_UPSTREAMS 8
void lr_status_set_upstream(const char *origin, const char *text);
/* An event an upstream role reported (its /api/v1/events), on the time line
 * with the origin before its text. */
void lr_status_upstream_event(const char *origin, int64_t t_ms, const char *lecture,
                              const char *kind, const char *text);

/* Takes one sample now (the sampler's own step; tests). */
void lr_status_sample(int64_t now_ms);

/* The JSON of /api/v1/status: samples taken after since_ms (0: all kept),
 * series with at least one value among them, and events after since_ms. */
void lr_status_render_json(AVBPrint *out, int64_t since_ms);
/* /api/v1/events: the process's own events after since_ms, one a line:
 * "<t_ms>\t<lecture>\t<kind>\t<text>" (tabs and line ends in them made
 * spaces), for the status of a role downstream. */
void lr_status_render_events(AVBPrint *out, int64_t since_ms);

/* The status page's files: "status.html", "status.js", "status.css" and the
 * chart library's, read from the data folder's assets/. Fills *type and
 * returns the bytes (av_free them), or NULL when name is not one of them or
 * can't be read. */
char *lr_status_asset(const char *name, size_t *len, const char **type);

/* A request for the page, its data, its events or its files (path without
 * the query),
 * answered from the status: 1 if path is one of them (then *out holds the
 * body, *type and *status are set), 0 if not. query: the request's, for
 * ?since=. */
int  lr_status_route(const char *path, const char *query, AVBPrint *out, const char **type,
                     int *status);

#endif
