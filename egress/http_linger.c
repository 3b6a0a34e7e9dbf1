/* egress/http_linger.c — lingering close, as nginx's lingering_close does.
 *
 * libh2o 2.2 close()s a connection's socket as soon as its last write is
 * handed to the kernel (a "TODO use lingering close" in its http1.c). What
 * the client has not read yet is then left in an orphaned socket, and the
 * kernel may throw it away with a reset: when a request the server never
 * read is still queued, or under the orphan limits and memory pressure. A
 * student on a slow link who asks with `Connection: close` for a segment or
 * a recording gets it cut short (the unit test test_replace_while_serving
 * caught it: 1 MiB of a 4 MiB answer, then end of file).
 *
 * So each connection keeps a second descriptor of its socket (a dup taken at
 * accept). When libh2o closes its own, the socket stays open through this
 * one: shutdown(SHUT_WR) sends the FIN after the queued data, what the
 * client still sends is read and thrown away, and the socket is closed once
 * the client has acknowledged everything (SIOCOUTQ 0), has closed its side,
 * or has made no progress for LINGER_IDLE_MS. The connection counts against
 * max_conns and the per-address cap until then. */
#include "http_internal.h"

#include <fcntl.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>

#define LINGER_TICK_MS 50
#define LINGER_IDLE_MS 10000 /* no byte acknowledged or read for this long: closed */

void lr__http_linger_init(worker *w)
{
    h2o_linklist_init_anchor(&w->lingering);
    h2o_timeout_init(w->loop, &w->linger_t, LINGER_TICK_MS);
    w->linger_inited = 1;
}

void lr__http_linger_keep(conn *c)
{
    int fd = h2o_socket_get_fd(c->sock);
    /* none (EMFILE): the connection closes the way libh2o closes it */
    c->linger_fd = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
}

static int unsent(int fd)
{
    int n = 0;
    return ioctl(fd, SIOCOUTQ, &n) == 0 ? n : 0;
}

/* Reads what the client sent and throws it away; 1 while it may send more. */
static int discard_input(conn *c, int *progress)
{
    char sink[4096];
    for (;;) {
        ssize_t n = recv(c->linger_fd, sink, sizeof(sink), MSG_DONTWAIT);
        if (n > 0) {
            *progress = 1;
            continue;
        }
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
    }
}

static void finish(conn *c)
{
    close(c->linger_fd);
    c->linger_fd = -1;
    h2o_linklist_unlink(&c->link);
    lr__http_conn_free(c);
}

static void on_tick(h2o_timeout_entry_t *e)
{
    worker *w = H2O_STRUCT_FROM_MEMBER(worker, linger_e, e);
    uint64_t now = h2o_now(w->loop);

    for (h2o_linklist_t *n = w->lingering.next, *next; n != &w->lingering; n = next) {
        next = n->next;
        conn *c = H2O_STRUCT_FROM_MEMBER(conn, link, n);
        int progress = 0;
        int open = discard_input(c, &progress);
        int left = unsent(c->linger_fd);
        if (left < c->linger_unsent)
            progress = 1;
        c->linger_unsent = left;
        if (progress)
            c->linger_moved_ms = now;
        if (!open || !left)
            finish(c);
        else if (now - c->linger_moved_ms >= LINGER_IDLE_MS) {
            lr_debug("http: %s read nothing for %d s after its answer; %d bytes of it dropped",
                     c->ip[0] ? c->ip : "a client", LINGER_IDLE_MS / 1000, left);
            finish(c);
        }
    }
    if (!h2o_linklist_is_empty(&w->lingering))
        h2o_timeout_link(w->loop, &w->linger_t, &w->linger_e);
}

int lr__http_linger_start(conn *c)
{
    worker *w = c->w;

    if (c->linger_fd < 0)
        return 0;
    c->linger_unsent = unsent(c->linger_fd);
    if (!c->linger_unsent || shutdown(c->linger_fd, SHUT_WR) < 0) {
        /* everything acknowledged already (or the socket is gone): nothing
         * to wait for, unless a request is still unread (a reset) */
        int progress;
        discard_input(c, &progress);
        close(c->linger_fd);
        c->linger_fd = -1;
        return 0;
    }
    c->linger_moved_ms = h2o_now(w->loop);
    h2o_linklist_insert(&w->lingering, &c->link);
    w->linger_e.cb = on_tick;
    if (!h2o_timeout_is_linked(&w->linger_e))
        h2o_timeout_link(w->loop, &w->linger_t, &w->linger_e);
    return 1;
}

void lr__http_linger_dispose(worker *w)
{
    if (!w->linger_inited)
        return;
    while (!h2o_linklist_is_empty(&w->lingering))
        finish(H2O_STRUCT_FROM_MEMBER(conn, link, w->lingering.next));
    if (h2o_timeout_is_linked(&w->linger_e))
        h2o_timeout_unlink(&w->linger_e);
    h2o_timeout_dispose(w->loop, &w->linger_t);
    w->linger_inited = 0;
}
