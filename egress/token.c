/* egress/token.c — HMAC-SHA256 signed URL tokens (see token.h and
 * docs/http.md). The MAC covers "lecture:<name>|<expiry>|<ip>", so one
 * token opens a lecture's live stream, its recordings and its player page,
 * nothing else. Called by egress/http_routes.c and app/main.c (sign-url). */
#include "token.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <libavutil/error.h>

#include "common/streamid.h"

#define MAC_LEN    32
#define HEAD_LEN   9 /* expiry (8, big-endian) + ip length (0, 4 or 16) */
#define MAX_RAW    (HEAD_LEN + 16 + MAC_LEN)

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static size_t b64url_encode(const uint8_t *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n) v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n) v |= in[i + 2];
        out[o++] = b64url[(v >> 18) & 63];
        out[o++] = b64url[(v >> 12) & 63];
        if (i + 1 < n) out[o++] = b64url[(v >> 6) & 63];
        if (i + 2 < n) out[o++] = b64url[v & 63];
    }
    out[o] = '\0';
    return o;
}

static int b64url_value(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

/* Strict: no padding, no stray characters, no non-zero trailing bits.
 * Returns the decoded length, or -1. */
static int b64url_decode(const char *in, size_t n, uint8_t *out, size_t out_size)
{
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;

    if (n % 4 == 1)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int v = b64url_value(in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= out_size)
                return -1;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    if (acc & ((1u << bits) - 1))
        return -1;
    return (int)o;
}

/* The IP as its canonical text ("" for none) and its bytes. */
static int parse_ip(const char *ip, uint8_t *bin, int *bin_len)
{
    *bin_len = 0;
    if (!ip || !*ip)
        return 0;
    if (inet_pton(AF_INET, ip, bin) == 1) {
        *bin_len = 4;
        return 0;
    }
    if (inet_pton(AF_INET6, ip, bin) == 1) {
        /* an IPv4-mapped peer address binds like the IPv4 one */
        static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
        if (!memcmp(bin, mapped, 12)) {
            memmove(bin, bin + 12, 4);
            *bin_len = 4;
        } else {
            *bin_len = 16;
        }
        return 0;
    }
    return AVERROR(EINVAL);
}

static int compute_mac(const char *secret, const char *lecture, size_t lecture_len,
                       int64_t expires, const uint8_t *ip, int ip_len, uint8_t *mac)
{
    char msg[512], ip_text[INET6_ADDRSTRLEN] = "";
    unsigned int mac_len = 0;

    if (ip_len && !inet_ntop(ip_len == 4 ? AF_INET : AF_INET6, ip, ip_text, sizeof(ip_text)))
        return AVERROR(EINVAL);
    int n = snprintf(msg, sizeof(msg), "lecture:%.*s|%lld|%s", (int)lecture_len, lecture,
                     (long long)expires, ip_text);
    if (n < 0 || n >= (int)sizeof(msg))
        return AVERROR(EINVAL);
    if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)msg, n, mac,
              &mac_len) || mac_len != MAC_LEN)
        return AVERROR(EINVAL);
    return 0;
}

int lr_token_sign(const char *secret, const char *lecture, int64_t expires, const char *ip,
                  char *out, size_t out_size)
{
    uint8_t raw[MAX_RAW];
    int ip_len, ret;

    if (!secret || !*secret || !lecture || !lr_lecture_name_valid(lecture) || expires < 0)
        return AVERROR(EINVAL);
    if ((ret = parse_ip(ip, raw + HEAD_LEN, &ip_len)) < 0)
        return ret;
    for (int i = 0; i < 8; i++)
        raw[i] = (uint8_t)((uint64_t)expires >> (56 - 8 * i));
    raw[8] = (uint8_t)ip_len;
    if ((ret = compute_mac(secret, lecture, strlen(lecture), expires, raw + HEAD_LEN, ip_len,
                           raw + HEAD_LEN + ip_len)) < 0)
        return ret;
    size_t n = HEAD_LEN + ip_len + MAC_LEN;
    if (out_size < (n + 2) / 3 * 4 + 1)
        return AVERROR(ENOSPC);
    b64url_encode(raw, n, out);
    return 0;
}

int lr_token_verify(const char *const *secrets, int nb_secrets, const char *token, size_t len,
                    const char *lecture, size_t lecture_len, int64_t now, const char *peer_ip)
{
    uint8_t raw[MAX_RAW + 3], peer[16], mac[MAC_LEN];
    int n, peer_len, ok = 0;

    if (len > LR_TOKEN_MAX_LEN || (n = b64url_decode(token, len, raw, sizeof(raw))) < HEAD_LEN)
        return AVERROR(EACCES);
    int ip_len = raw[8];
    if ((ip_len != 0 && ip_len != 4 && ip_len != 16) || n != HEAD_LEN + ip_len + MAC_LEN)
        return AVERROR(EACCES);
    uint64_t exp = 0;
    for (int i = 0; i < 8; i++)
        exp = exp << 8 | raw[i];
    if (exp > INT64_MAX || (int64_t)exp < now)
        return AVERROR(EACCES);
    if (ip_len) {
        if (parse_ip(peer_ip, peer, &peer_len) < 0 || peer_len != ip_len ||
            memcmp(peer, raw + HEAD_LEN, ip_len))
            return AVERROR(EACCES);
    }
    for (int i = 0; i < nb_secrets; i++) {
        if (!secrets[i] || !*secrets[i])
            continue;
        if (compute_mac(secrets[i], lecture, lecture_len, (int64_t)exp, raw + HEAD_LEN, ip_len,
                        mac) < 0)
            continue;
        ok |= !CRYPTO_memcmp(mac, raw + HEAD_LEN + ip_len, MAC_LEN);
    }
    return ok ? 0 : AVERROR(EACCES);
}
