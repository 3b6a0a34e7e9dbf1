/* common/tcp_listen.h — a listening TCP socket from "host:port" ("[v6]:port",
 * ":port" for any address, port 0 for any free one). Used by the egress's
 * HTTP server and the metrics server. */
#ifndef LR_COMMON_TCP_LISTEN_H
#define LR_COMMON_TCP_LISTEN_H

/* Binds (SO_REUSEADDR), listens, non-blocking and close-on-exec. Returns 0
 * with the socket and the port actually bound, or a negative AVERROR (the
 * reason logged, prefixed with `who`). */
int lr_tcp_listen(const char *listen_addr, const char *who, int *out_fd, int *out_port);

#endif
