/* common/tcp_listen.c — see tcp_listen.h. */
#include "tcp_listen.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netinet/in.h>

#include <libavutil/error.h>

#include "log.h"

int lr_tcp_listen(const char *listen_addr, const char *who, int *out_fd, int *out_port)
{
    char host[256], port[16];
    const char *colon = strrchr(listen_addr, ':');
    struct addrinfo hints = { 0 }, *res = NULL;
    int fd = -1, err = 0, ret;

    if (!colon || colon == listen_addr + strlen(listen_addr) - 1 ||
        strlen(colon + 1) >= sizeof(port) || (size_t)(colon - listen_addr) >= sizeof(host)) {
        lr_error("%s: listen address '%s' is not host:port", who, listen_addr);
        return AVERROR(EINVAL);
    }
    const char *hb = listen_addr, *he = colon;
    if (he - hb >= 2 && *hb == '[' && he[-1] == ']') {
        hb++;
        he--;
    }
    memcpy(host, hb, he - hb);
    host[he - hb] = '\0';
    snprintf(port, sizeof(port), "%s", colon + 1);

    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    ret = getaddrinfo(*host ? host : NULL, port, &hints, &res);
    if (ret) {
        lr_error("%s: cannot resolve listen address '%s': %s", who, listen_addr, gai_strerror(ret));
        return AVERROR(EINVAL);
    }
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int one = 1;
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
            bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, SOMAXCONN) == 0)
            break;
        err = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        lr_error("%s: cannot listen on %s: %s", who, listen_addr, strerror(err ? err : EINVAL));
        return AVERROR(err ? err : EINVAL);
    }

    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
        err = errno;
        close(fd);
        lr_error("%s: getsockname on %s: %s", who, listen_addr, strerror(err));
        return AVERROR(err);
    }
    *out_port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                         : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    *out_fd = fd;
    return 0;
}
