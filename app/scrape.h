/* app/scrape.h — fetches the /metrics of several roles at once, for
 * `lecture-relay top` (app/top.c): plain HTTP/1.1 GETs (HTTPS through
 * OpenSSL) on non-blocking sockets under one deadline, so a role that
 * doesn't answer costs one timeout, not one per role. */
#ifndef LR_APP_SCRAPE_H
#define LR_APP_SCRAPE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

typedef struct lr_scrape_target {
    char url[512];       /* as the operator wrote it, for messages */
    char authority[300]; /* host:port as in the URL: the Host header */
    char host[256];      /* without the brackets of an IPv6 address */
    char port[8];
    char path[512]; /* the URL's path with /metrics appended */
    int  tls;       /* https:// */
} lr_scrape_target;

typedef struct lr_scrape_result {
    int     ok;     /* 1: "200 OK" and the whole body */
    int     status; /* the HTTP status, 0 before one came */
    char   *body;   /* av_malloc'd, NUL-terminated; NULL unless ok */
    size_t  body_len;
    int64_t elapsed_ms; /* from the start of lr_scrape_all to the end of this one */
    char    error[256]; /* why not ok: "connection refused", "HTTP 404 ..." */
} lr_scrape_result;

/* "http://HOST:PORT[/PATH]", "https://..." or a bare "HOST:PORT" (http).
 * The path gets "/metrics" appended unless it already ends with it. Returns
 * 0, or AVERROR(EINVAL) with the reason in err. */
int lr_scrape_parse_url(const char *url, lr_scrape_target *t, char *err, size_t err_size);

/* A client context for https:// targets that verifies the server's
 * certificate and name against the system's CAs, or cafile's if given.
 * Returns 0, or a negative AVERROR with the reason in err. */
int  lr_scrape_tls_new(const char *cafile, SSL_CTX **out, char *err, size_t err_size);
void lr_scrape_tls_free(SSL_CTX **ctx);

/* GETs every target's path, all at once, sending "Authorization: Bearer
 * token" if token is set (a header-safe string: lr_scrape_token_valid).
 * tls may be NULL when no target is https://. Returns once all have
 * finished or timeout_ms has passed, each result filled in (reset first:
 * the caller frees them with lr_scrape_result_reset). Returns 0, or
 * AVERROR_EXIT as soon as cancel_fd (if >= 0) becomes readable, with the
 * unfinished results saying so. */
int lr_scrape_all(const lr_scrape_target *targets, int nb, const char *token, SSL_CTX *tls,
                  int timeout_ms, int cancel_fd, lr_scrape_result *results);
/* Frees the body and clears the result. */
void lr_scrape_result_reset(lr_scrape_result *r);

/* 1 if token can go into a header: printable ASCII, no blanks. */
int lr_scrape_token_valid(const char *token);

#endif
