/* ingest/rtmp_handshake.h — the server side of the RTMP handshake: the plain
 * C0/C1/C2 echo and the HMAC-SHA256 digest variant Flash-era clients send.
 * Called by rtmp_session.c; tested in tests/unit/test_rtmp.c. */
#ifndef LR_INGEST_RTMP_HANDSHAKE_H
#define LR_INGEST_RTMP_HANDSHAKE_H

#include <stddef.h>
#include <stdint.h>

#define LR_RTMP_VERSION         3
#define LR_RTMP_HANDSHAKE_SIZE  1536   /* C1, C2, S1, S2 */
#define LR_RTMP_DIGEST_SIZE     32

/* The keys of the digest scheme: their first 30 (client) and 36 (server)
 * bytes sign C1 and S1; the whole 62 and 68 bytes key the C2/S2 signature. */
extern const uint8_t lr_rtmp_client_key[62];  /* "Genuine Adobe Flash Player 001" + 32 */
extern const uint8_t lr_rtmp_server_key[68];  /* "Genuine Adobe Flash Media Server 001" + 32 */
#define LR_RTMP_CLIENT_KEY_TEXT 30
#define LR_RTMP_SERVER_KEY_TEXT 36

/* Where the digest of a 1536-byte C1/S1 sits under a scheme: scheme 0 puts
 * the digest block second (offset 772), scheme 1 first (offset 8). */
size_t lr_rtmp_handshake_digest_pos(const uint8_t *c1, int scheme);

/* HMAC-SHA256 with key over c1 minus the 32 digest bytes at pos. */
int lr_rtmp_handshake_digest(const uint8_t *c1, size_t pos, const uint8_t *key, size_t key_len,
                             uint8_t out[LR_RTMP_DIGEST_SIZE]);

/* Finds a valid client digest in c1 (1536 bytes) signed with the Flash
 * Player key. Returns the scheme (0 or 1) and sets *pos, or AVERROR(ENOENT)
 * when c1 carries none (a plain handshake). */
int lr_rtmp_handshake_find_digest(const uint8_t *c1, size_t *pos);

/* Answers C0+C1 (1 + 1536 bytes) with S0+S1+S2 (1 + 2 * 1536 bytes): with
 * a signed S1 and S2 when C1 had a valid digest, else S1 random and S2 an
 * echo of C1. *scheme (if not NULL) gets 0 or 1, or -1 for plain.
 * Returns 0, or AVERROR_INVALIDDATA for a version other than 3 (RTMPE is
 * refused), or AVERROR(EIO) if OpenSSL failed. */
int lr_rtmp_handshake_answer(const uint8_t *c0c1, uint8_t *s0s1s2, int *scheme);

#endif
