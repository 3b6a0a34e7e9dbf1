/* egress/token.h — signed URLs: a token that rides in the path
 * (/t/<token>/live/<lecture>/..., /t/<token>/vod/<lecture>/...,
 * /t/<token>/watch/<lecture>) so that the relative URIs inside playlists
 * carry it. Minted by `lecture-relay sign-url`, checked by egress/http_routes.c. */
#ifndef LR_EGRESS_TOKEN_H
#define LR_EGRESS_TOKEN_H

#include <stddef.h>
#include <stdint.h>

/* base64url of 8 (expiry) + 1 (ip length) + 16 (ip) + 32 (MAC) bytes. */
#define LR_TOKEN_MAX_LEN 80

/* Mints a token for lecture valid until expires (Unix seconds), bound to
 * ip ("" or NULL: any address; else an IPv4 or IPv6 literal), signed with
 * secret. Writes a NUL-terminated base64url string into out. Returns 0,
 * AVERROR(EINVAL) (bad lecture, ip or empty secret) or AVERROR(ENOSPC). */
int lr_token_sign(const char *secret, const char *lecture, int64_t expires, const char *ip,
                  char *out, size_t out_size);

/* Checks token (len bytes) for lecture (lecture_len bytes) at time now from
 * a client at peer_ip (an IPv4/IPv6 literal) against each of the
 * nb_secrets secrets. Returns 0 when valid, else AVERROR(EACCES) (any
 * reason: malformed, forged, expired, other lecture, other address). */
int lr_token_verify(const char *const *secrets, int nb_secrets, const char *token, size_t len,
                    const char *lecture, size_t lecture_len, int64_t now, const char *peer_ip);

#endif
