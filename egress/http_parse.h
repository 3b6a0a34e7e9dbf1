/* egress/http_parse.h — what the HTTP server reads from a request before it
 * looks anything up: the path's safety, the LL-HLS query directives, a
 * part's name, a Range header. Pure functions of their bytes (no libh2o),
 * so the fuzzer (tests/fuzz/fuzz_http_request.c) drives exactly what the
 * server runs. */
#ifndef LR_EGRESS_HTTP_PARSE_H
#define LR_EGRESS_HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* A decimal number of 1..18 digits, at most max. Returns 0, or -1. */
int lr_http_parse_number(const char *p, size_t len, int64_t max, int64_t *out);

/* Rejects what no client of ours sends and what could escape a prefix:
 * "..", NUL, percent-encoding, backslashes, control bytes, "//". 1 if safe. */
int lr_http_path_is_safe(const char *p, size_t len);

/* A file name component: [A-Za-z0-9_.-], 1..128 bytes, not starting with
 * '.'. 1 if valid. */
int lr_http_component_valid(const char *p, size_t len);

/* The LL-HLS directives of a playlist request's query (RFC 8216bis 6.2.5). */
typedef struct lr_ll_directives {
    int64_t msn;  /* _HLS_msn; -1: none */
    int     part; /* _HLS_part; -1: none */
    int     skip; /* _HLS_skip=YES or v2 */
} lr_ll_directives;

/* Reads _HLS_msn, _HLS_part, _HLS_skip from the query (others ignored).
 * Returns 0, or -1 for what RFC 8216bis calls a bad request (a directive
 * twice, a bad number, _HLS_part without _HLS_msn). */
int lr_http_parse_directives(const char *q, size_t len, lr_ll_directives *d);

/* "<seq>.<part>.m4s" / ".ts": 1 with the part's numbers, 0 when name isn't
 * a part's. */
int lr_http_parse_part_name(const char *name, size_t len, int64_t *seq, int *part);

/* A Range header's value for a file of size bytes: one "bytes=a-b",
 * "bytes=a-" or "bytes=-n". Returns 1 with [*first, *last], 0 when it is
 * not a range we honour (several ranges, other units: the whole file), or -1
 * when it can't be satisfied (416). */
int lr_http_parse_range(const char *v, size_t len, size_t size, size_t *first, size_t *last);

#endif
