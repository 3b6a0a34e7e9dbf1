/* ingest/rtmp_listener.h — the RTMP (and RTMPS) push listener: accepts
 * publishers, runs each one's handshake and commands on its own thread, and
 * hands every admitted publish to the caller as a connection that reads as
 * an FLV byte stream. Called by the ingest role; tests/tools/rtmp_dump.c. */
#ifndef LR_INGEST_RTMP_LISTENER_H
#define LR_INGEST_RTMP_LISTENER_H

#include <libavformat/avio.h>

#include "common/stop.h"
#include "rtmp_session.h"


/* Connections that have not published yet: at most this many from one
 * address (more are refused), and a pool of this many, in which a new one
 * takes the place of the oldest. */
#define LR_RTMP_PENDING_PER_IP 4
#define LR_RTMP_PENDING_POOL   16

typedef struct lr_rtmp_listen_opts {
    const char *listen;    /* "host:port" ("[v6]:port"); port 0: any free one */
    const char *tls_cert;  /* PEM certificate (chain) and private key files: */
    const char *tls_key;   /*   both set makes this an RTMPS listener */
    int         max_conns; /* connections alive at once, handed-over ones included; 0: 64 */
    int         setup_ms;  /* from TCP accept to an admitted publish; 0: 10000 */
    int         idle_ms;   /* silence that drops a peer before its publish; 0: 5000 */
} lr_rtmp_listen_opts;

typedef struct lr_rtmp_listener lr_rtmp_listener;
typedef struct lr_rtmp_conn lr_rtmp_conn;

/* Called on the connection's thread once a publish was admitted and
 * NetStream.Publish.Start sent. Return 0 to take c (free it with
 * lr_rtmp_conn_free, from any thread, even after the listener is gone);
 * a negative return leaves c to the listener, which closes it. Return
 * promptly (hand c to a thread of yours): lr_rtmp_listener_free waits for
 * it, so it must not be called from here. */
typedef int lr_rtmp_accept_fn(void *opaque, lr_rtmp_conn *c);

/* Binds, listens and starts the accept thread. admit may be NULL (admit
 * all). Returns 0, AVERROR(EADDRINUSE)/other socket errors, AVERROR(EINVAL)
 * for a bad host or TLS files (logged), AVERROR(ENOMEM). The process should
 * ignore SIGPIPE (app/roles.c does): TLS writes use write(). */
int  lr_rtmp_listen(const lr_rtmp_listen_opts *o, lr_rtmp_admit_fn *admit,
                    lr_rtmp_accept_fn *accept, void *opaque, lr_rtmp_listener **out);
/* The bound port (useful with port 0). */
int  lr_rtmp_listener_port(const lr_rtmp_listener *l);
/* Stops accepting (seen within 100 ms), drops connections still before
 * their publish, joins every thread; NULLs *l. Connections already handed
 * over stay valid. */
void lr_rtmp_listener_free(lr_rtmp_listener **l);
/* RTMPS: reads the certificate and key files again; new connections get
 * them, those in progress keep theirs. The old ones stay if the new ones
 * fail to load (logged). Nothing for plain RTMP. Any thread. */
void lr_rtmp_listener_reload_tls(lr_rtmp_listener *l);

/* The admitted publish (app, lecture name, key, peer). */
const lr_rtmp_publish *lr_rtmp_conn_publish(const lr_rtmp_conn *c);

/* An AVIOContext reading c's media as FLV (open it with the "flv" input
 * format). Its reads return FLV bytes, AVERROR_EOF once the publisher
 * unpublished, AVERROR(ECONNRESET) if it went away without unpublishing,
 * AVERROR_EXIT once stop is requested (checked every 100 ms),
 * AVERROR(ETIMEDOUT) after idle_ms without a byte from the peer (0: never),
 * AVERROR_INVALIDDATA on a protocol error. Each ending is logged once.
 * c must outlive the context; one context per connection. */
int  lr_rtmp_conn_avio_open(lr_rtmp_conn *c, lr_stop *stop, int idle_ms, AVIOContext **pb);
/* Frees a context from lr_rtmp_conn_avio_open (not the connection); NULLs *pb. */
void lr_rtmp_conn_avio_close(AVIOContext **pb);
/* Closes the connection; NULLs *c. After a clean unpublish it first waits
 * up to 2 s for the publisher to close its side. */
void lr_rtmp_conn_free(lr_rtmp_conn **c);

#endif
