/* ingest/rtmp_handshake.c — see rtmp_handshake.h. The digest scheme is the
 * one every Flash-era encoder (FMLE, librtmp, FFmpeg) uses: a 764-byte
 * digest block whose first four bytes place the 32-byte HMAC inside it. */
#include "rtmp_handshake.h"

#include <string.h>

#include <libavutil/error.h>
#include <libavutil/intreadwrite.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "common/log.h"

#define KEY_TAIL 0xF0, 0xEE, 0xC2, 0x4A, 0x80, 0x68, 0xBE, 0xE8, 0x2E, 0x00, 0xD0, 0xD1, \
                 0x02, 0x9E, 0x7E, 0x57, 0x6E, 0xEC, 0x5D, 0x2D, 0x29, 0x80, 0x6F, 0xAB, \
                 0x93, 0xB8, 0xE6, 0x36, 0xCF, 0xEB, 0x31, 0xAE

const uint8_t lr_rtmp_client_key[62] = {
    'G', 'e', 'n', 'u', 'i', 'n', 'e', ' ', 'A', 'd', 'o', 'b', 'e', ' ', 'F', 'l', 'a', 's',
    'h', ' ', 'P', 'l', 'a', 'y', 'e', 'r', ' ', '0', '0', '1', KEY_TAIL
};

const uint8_t lr_rtmp_server_key[68] = {
    'G', 'e', 'n', 'u', 'i', 'n', 'e', ' ', 'A', 'd', 'o', 'b', 'e', ' ', 'F', 'l', 'a', 's',
    'h', ' ', 'M', 'e', 'd', 'i', 'a', ' ', 'S', 'e', 'r', 'v', 'e', 'r', ' ', '0', '0', '1',
    KEY_TAIL
};

/* What we claim to be in S1 when answering a digest handshake (FMS 3.5). */
#define SERVER_VERSION 0x03050101

/* OpenSSL's errors, converted and logged in one place. */
static int openssl_error(const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[256];

    ERR_error_string_n(e, buf, sizeof(buf));
    lr_error("rtmp: handshake: %s failed: %s", what, e ? buf : "unknown error");
    ERR_clear_error();
    return AVERROR(EIO);
}

size_t lr_rtmp_handshake_digest_pos(const uint8_t *c1, int scheme)
{
    size_t block = scheme == 0 ? 772 : 8;
    unsigned sum = c1[block] + c1[block + 1] + c1[block + 2] + c1[block + 3];
    return block + 4 + sum % 728;
}

int lr_rtmp_handshake_digest(const uint8_t *c1, size_t pos, const uint8_t *key, size_t key_len,
                             uint8_t out[LR_RTMP_DIGEST_SIZE])
{
    uint8_t msg[LR_RTMP_HANDSHAKE_SIZE - LR_RTMP_DIGEST_SIZE];
    unsigned len = 0;

    memcpy(msg, c1, pos);
    memcpy(msg + pos, c1 + pos + LR_RTMP_DIGEST_SIZE,
           LR_RTMP_HANDSHAKE_SIZE - pos - LR_RTMP_DIGEST_SIZE);
    if (!HMAC(EVP_sha256(), key, (int)key_len, msg, sizeof(msg), out, &len) ||
        len != LR_RTMP_DIGEST_SIZE)
        return openssl_error("HMAC-SHA256");
    return 0;
}

/* Constant-time compare of two digests. */
static int same_digest(const uint8_t *a, const uint8_t *b)
{
    uint8_t diff = 0;
    for (int i = 0; i < LR_RTMP_DIGEST_SIZE; i++)
        diff |= a[i] ^ b[i];
    return !diff;
}

int lr_rtmp_handshake_find_digest(const uint8_t *c1, size_t *pos)
{
    uint8_t want[LR_RTMP_DIGEST_SIZE];
    int ret;

    /* a zero version field announces the plain handshake */
    if (!AV_RB32(c1 + 4))
        return AVERROR(ENOENT);
    for (int scheme = 0; scheme < 2; scheme++) {
        size_t p = lr_rtmp_handshake_digest_pos(c1, scheme);

        if ((ret = lr_rtmp_handshake_digest(c1, p, lr_rtmp_client_key,
                                            LR_RTMP_CLIENT_KEY_TEXT, want)) < 0)
            return ret;
        if (same_digest(want, c1 + p)) {
            *pos = p;
            return scheme;
        }
    }
    return AVERROR(ENOENT);
}

int lr_rtmp_handshake_answer(const uint8_t *c0c1, uint8_t *s0s1s2, int *scheme)
{
    const uint8_t *c1 = c0c1 + 1;
    uint8_t *s1 = s0s1s2 + 1, *s2 = s1 + LR_RTMP_HANDSHAKE_SIZE;
    uint8_t key[LR_RTMP_DIGEST_SIZE];
    unsigned key_len = 0;
    size_t cpos, spos;
    int sch, ret;

    if (c0c1[0] != LR_RTMP_VERSION) {
        lr_debug("rtmp: handshake: version %d is not plain RTMP (3)", c0c1[0]);
        return AVERROR_INVALIDDATA;
    }
    s0s1s2[0] = LR_RTMP_VERSION;
    if (RAND_bytes(s1, 2 * LR_RTMP_HANDSHAKE_SIZE) != 1)
        return openssl_error("RAND_bytes");
    AV_WB32(s1, 0);

    sch = lr_rtmp_handshake_find_digest(c1, &cpos);
    if (sch == AVERROR(ENOENT)) {
        /* plain: S1 = time, zero, random; S2 echoes C1 */
        AV_WB32(s1 + 4, 0);
        memcpy(s2, c1, LR_RTMP_HANDSHAKE_SIZE);
        if (scheme)
            *scheme = -1;
        return 0;
    }
    if (sch < 0)
        return sch;

    /* S1 signed in the client's scheme with the server key's text part */
    AV_WB32(s1 + 4, SERVER_VERSION);
    spos = lr_rtmp_handshake_digest_pos(s1, sch);
    if ((ret = lr_rtmp_handshake_digest(s1, spos, lr_rtmp_server_key,
                                        LR_RTMP_SERVER_KEY_TEXT, s1 + spos)) < 0)
        return ret;
    /* S2: random, then HMAC(HMAC(full server key, client digest), S2 head) */
    if (!HMAC(EVP_sha256(), lr_rtmp_server_key, sizeof(lr_rtmp_server_key),
              c1 + cpos, LR_RTMP_DIGEST_SIZE, key, &key_len) ||
        !HMAC(EVP_sha256(), key, (int)key_len, s2, LR_RTMP_HANDSHAKE_SIZE - LR_RTMP_DIGEST_SIZE,
              s2 + LR_RTMP_HANDSHAKE_SIZE - LR_RTMP_DIGEST_SIZE, NULL))
        return openssl_error("HMAC-SHA256");
    if (scheme)
        *scheme = sch;
    return 0;
}
