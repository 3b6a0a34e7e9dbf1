/* common/tls_policy.h — the one TLS policy of every listener (HTTPS at the
 * egress, RTMPS at the ingest): TLS 1.2 or newer, and in TLS 1.2 only
 * forward-secret AEAD suites (ECDHE with AES-GCM or ChaCha20-Poly1305;
 * TLS 1.3's suites are all of that kind); no compression, no
 * renegotiation, the server's order of preference. */
#ifndef LR_COMMON_TLS_POLICY_H
#define LR_COMMON_TLS_POLICY_H

#include <openssl/ssl.h>

/* Applies the policy to a server context; 0, or -1 if OpenSSL refused it. */
int lr_tls_server_policy(SSL_CTX *ctx);

#endif
