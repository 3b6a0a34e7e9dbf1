/* tests/unit/test_link_stats.c — common/link_stats.c's series per (role,
 * lecture, peer), on real SRT sockets over loopback: a second link from a
 * peer is "peer#2" while both are up, and when the first goes down the one
 * still up takes its label over, as a reconnect if the first carried media
 * (a caller that redialled after its handshake failed on its side left a
 * half-open socket here, and its real link read as down: issue 25). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <libavutil/bprint.h>
#include <srt/srt.h>

#include "common/link_stats.h"
#include "common/metrics.h"

static int listener;
static struct sockaddr_in where;

/* One connected pair: the caller end and the accepted end. */
static void connect_pair(int *caller, int *accepted)
{
    struct sockaddr_in from;
    int len = sizeof(from);

    *caller = srt_create_socket();
    assert_int_not_equal(*caller, SRT_INVALID_SOCK);
    assert_int_equal(srt_connect(*caller, (struct sockaddr *)&where, sizeof(where)), 0);
    *accepted = srt_accept(listener, (struct sockaddr *)&from, &len);
    assert_int_not_equal(*accepted, SRT_INVALID_SOCK);
}

/* One message from caller to accepted, read there: the link carried media. */
static void carry(int caller, int accepted)
{
    char msg[188] = { 0x47 }, got[1500];

    assert_int_equal(srt_sendmsg(caller, msg, sizeof(msg), -1, 1), sizeof(msg));
    assert_int_equal(srt_recvmsg(accepted, got, sizeof(got)), sizeof(msg));
}

/* The value of metric{...lecture="lecture",peer="peer"...} at /metrics, -1
 * when absent. */
static double sample_of(const char *lecture, const char *metric, const char *peer)
{
    AVBPrint b;
    char key[160];
    const char *p;
    double v = -1;

    snprintf(key, sizeof(key), "%s{role=\"egress\",lecture=\"%s\",peer=\"%s\",", metric,
             lecture, peer);
    av_bprint_init(&b, 0, AV_BPRINT_SIZE_UNLIMITED);
    lr_metrics_render(&b);
    if ((p = strstr(b.str, key)) && (p = strchr(p, '}')))
        v = strtod(p + 1, NULL);
    av_bprint_finalize(&b, NULL);
    return v;
}

static double sample(const char *metric, const char *peer)
{
    return sample_of("demo", metric, peer);
}

static void a_later_link_takes_the_label_over(void **state)
{
    int c1, a1, c2, a2, c3, a3;

    connect_pair(&c1, &a1);
    connect_pair(&c2, &a2);
    lr__link_stats_add(a1, "egress", "demo", "127.0.0.1", NULL);
    lr__link_stats_add(a2, "egress", "demo", "127.0.0.1", NULL);
    assert_true(sample("lr_link_up", "127.0.0.1") == 1);
    assert_true(sample("lr_link_up", "127.0.0.1#2") == 1);

    /* the first one breaks: the link still up reads as the peer's, and
     * as its reconnect */
    carry(c1, a1);
    lr__link_stats_remove(a1);
    srt_close(a1);
    assert_true(sample("lr_link_up", "127.0.0.1") == 1);
    assert_true(sample("lr_link_reconnects_total", "127.0.0.1") == 1);
    assert_true(sample("lr_link_up", "127.0.0.1#2") == -1);

    /* a new second link is "#2" again; its end leaves the first alone */
    connect_pair(&c3, &a3);
    lr__link_stats_add(a3, "egress", "demo", "127.0.0.1", NULL);
    assert_true(sample("lr_link_up", "127.0.0.1#2") == 1);
    lr__link_stats_remove(a3);
    srt_close(a3);
    assert_true(sample("lr_link_up", "127.0.0.1") == 1);
    assert_true(sample("lr_link_up", "127.0.0.1#2") == 0);

    /* the last one down: down, not gone */
    lr__link_stats_remove(a2);
    srt_close(a2);
    assert_true(sample("lr_link_up", "127.0.0.1") == 0);
    assert_true(sample("lr_link_reconnects_total", "127.0.0.1") == 1);
    srt_close(c1);
    srt_close(c2);
    srt_close(c3);
}

/* A caller whose handshake failed on its side dials again while the socket
 * this side accepted is still open: that one never carries a packet and is
 * no reconnect of the link once it times out. */
static void a_half_open_socket_is_no_reconnect(void **state)
{
    int c1, a1, c2, a2;

    connect_pair(&c1, &a1);
    connect_pair(&c2, &a2);
    lr__link_stats_add(a1, "egress", "half", "127.0.0.1", NULL);
    lr__link_stats_add(a2, "egress", "half", "127.0.0.1", NULL);
    carry(c2, a2);
    lr__link_stats_remove(a1);
    srt_close(a1);
    assert_true(sample_of("half", "lr_link_up", "127.0.0.1") == 1);
    assert_true(sample_of("half", "lr_link_reconnects_total", "127.0.0.1") == 0);
    lr__link_stats_remove(a2);
    srt_close(a2);
    srt_close(c1);
    srt_close(c2);
}

static int setup(void **state)
{
    int len = sizeof(where);

    assert_int_equal(srt_startup() >= 0, 1);
    assert_int_equal(lr__link_stats_init(), 0);
    listener = srt_create_socket();
    where = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = 0 };
    inet_pton(AF_INET, "127.0.0.1", &where.sin_addr);
    assert_int_equal(srt_bind(listener, (struct sockaddr *)&where, sizeof(where)), 0);
    assert_int_equal(srt_getsockname(listener, (struct sockaddr *)&where, &len), 0);
    assert_int_equal(srt_listen(listener, 8), 0);
    return 0;
}

static int teardown(void **state)
{
    srt_close(listener);
    lr__link_stats_uninit();
    srt_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_later_link_takes_the_label_over),
        cmocka_unit_test(a_half_open_socket_is_no_reconnect),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
