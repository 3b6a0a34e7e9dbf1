/* tests/unit/test_pktq.c — common/pktq.c: each full policy, the bound in
 * packets and in bytes, the keyframe gate, who owns a packet on success and
 * on error, and a producer and a consumer thread through a blocking queue. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <pthread.h>

#include <libavutil/error.h>

#include "common/pktq.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* A packet of size bytes of stream s, its number in pts. */
static AVPacket *packet(int s, int size, int64_t n, int key)
{
    AVPacket *p = av_packet_alloc();

    assert_non_null(p);
    assert_int_equal(av_new_packet(p, size), 0);
    memset(p->data, (int)n, size);
    p->stream_index = s;
    p->pts = p->dts = n;
    p->flags = key ? AV_PKT_FLAG_KEY : 0;
    return p;
}

/* Sends a fresh packet; returns what send did, freeing it if refused. */
static int send_new(lr_pktq *q, int s, int size, int64_t n, int key)
{
    AVPacket *p = packet(s, size, n, key);
    int       ret = lr_pktq_send(q, p);

    av_packet_free(&p);
    return ret;
}

static lr_pktq *make(int max_pkts, size_t max_bytes, enum lr_pktq_full full, uint64_t keys,
                     int gate_all)
{
    lr_pktq_opts o = { .max_pkts = max_pkts,
                       .max_bytes = max_bytes,
                       .full = full,
                       .key_streams = keys,
                       .gate_all = gate_all };
    lr_pktq     *q = NULL;

    assert_int_equal(lr_pktq_alloc(&o, &lock, &q), 0);
    return q;
}

static void bad_options_are_refused(void **state)
{
    lr_pktq_opts o = { .max_pkts = 0 };
    lr_pktq     *q = NULL;

    assert_int_equal(lr_pktq_alloc(&o, &lock, &q), AVERROR(EINVAL));
    o.max_pkts = 4;
    assert_int_equal(lr_pktq_alloc(&o, NULL, &q), AVERROR(EINVAL));
    assert_null(q);
    lr_pktq_free(&q); /* NULL is fine */
}

/* Success moves the reference in (the packet left blank, the queue holding
 * the only reference); an error leaves the packet as it was. */
static void a_send_moves_the_reference_only_on_success(void **state)
{
    lr_pktq     *q = make(1, 0, LR_PKTQ_DROP_TO_KEY, 0, 0);
    AVPacket    *p = packet(0, 100, 1, 1), *out = av_packet_alloc();
    AVBufferRef *buf = av_buffer_ref(p->buf);

    assert_int_equal(lr_pktq_send(q, p), 0);
    assert_null(p->buf);
    assert_null(p->data);
    assert_int_equal(p->size, 0);
    assert_int_equal(av_buffer_get_ref_count(buf), 2); /* ours and the queue's */
    assert_ptr_equal(lr_pktq_peek(q, 0)->data, buf->data);

    av_packet_free(&p);
    p = packet(0, 50, 2, 1);
    assert_int_equal(lr_pktq_send(q, p), AVERROR(ENOBUFS)); /* full */
    assert_non_null(p->buf);
    assert_int_equal(p->size, 50);
    assert_int_equal(lr_pktq_count(q), 0); /* DROP_TO_KEY emptied it */
    assert_int_equal(av_buffer_get_ref_count(buf), 1);

    assert_int_equal(lr_pktq_send(q, p), 0);
    assert_int_equal(lr_pktq_receive(q, out, LR_PKTQ_NONBLOCK), 0);
    assert_int_equal(out->size, 50);
    assert_int_equal(out->pts, 2);
    assert_int_equal(lr_pktq_receive(q, out, LR_PKTQ_NONBLOCK), AVERROR(EAGAIN));

    av_buffer_unref(&buf);
    av_packet_free(&p);
    av_packet_free(&out);
    lr_pktq_free(&q);
    assert_null(q);
}

static void the_bound_in_packets(void **state)
{
    lr_pktq *q = make(3, 0, LR_PKTQ_DROP_OLDEST, 0, 0);

    for (int i = 0; i < 3; i++)
        assert_int_equal(send_new(q, 0, 10, i, 0), 0);
    assert_int_equal(lr_pktq_count(q), 3);
    assert_int_equal(lr_pktq_bytes(q), 30);
    assert_int_equal(send_new(q, 0, 10, 3, 0), 1); /* one older packet went */
    assert_int_equal(lr_pktq_count(q), 3);
    assert_int_equal(lr_pktq_peek(q, 0)->pts, 1);
    assert_int_equal(lr_pktq_peek(q, 2)->pts, 3);
    assert_null(lr_pktq_peek(q, 3));
    assert_null(lr_pktq_peek(q, -1));
    lr_pktq_free(&q);
}

static void the_bound_in_bytes(void **state)
{
    lr_pktq *q = make(100, 1000, LR_PKTQ_DROP_OLDEST, 0, 0);

    for (int i = 0; i < 3; i++)
        assert_int_equal(send_new(q, 0, 300, i, 0), 0);
    assert_int_equal(lr_pktq_bytes(q), 900);
    /* 900 + 300 > 1000: the oldest goes; 600 + 300 fits */
    assert_int_equal(send_new(q, 0, 300, 3, 0), 1);
    assert_int_equal(lr_pktq_bytes(q), 900);
    /* a big one takes as many as it needs */
    assert_int_equal(send_new(q, 0, 800, 4, 0), 3);
    assert_int_equal(lr_pktq_count(q), 1);
    assert_int_equal(lr_pktq_bytes(q), 800);
    /* larger than the bound: alone, it still passes */
    assert_int_equal(send_new(q, 0, 5000, 5, 0), 1);
    assert_int_equal(lr_pktq_bytes(q), 5000);
    assert_int_equal(lr_pktq_flush(q), 1);
    assert_int_equal(lr_pktq_bytes(q), 0);
    lr_pktq_free(&q);
}

/* Full under DROP_TO_KEY: everything goes, and the key streams (here 0, the
 * video) wait for their next keyframe; the others go on. */
static void drop_to_key_resumes_each_key_stream_at_a_keyframe(void **state)
{
    lr_pktq *q = make(4, 0, LR_PKTQ_DROP_TO_KEY, 1 << 0, 0);

    assert_true(lr_pktq_wants_key(q, 0));  /* from the start */
    assert_false(lr_pktq_wants_key(q, 1)); /* not a key stream */
    assert_int_equal(send_new(q, 0, 10, 0, 0), AVERROR(EAGAIN));
    assert_int_equal(send_new(q, 1, 10, 0, 0), 0); /* audio isn't held back */
    assert_int_equal(send_new(q, 0, 10, 1, 1), 0);
    assert_false(lr_pktq_wants_key(q, 0));
    assert_int_equal(send_new(q, 0, 10, 2, 0), 0);
    assert_int_equal(send_new(q, 1, 10, 2, 0), 0);
    assert_int_equal(send_new(q, 0, 10, 3, 0), AVERROR(ENOBUFS));
    assert_int_equal(lr_pktq_count(q), 0);
    assert_true(lr_pktq_wants_key(q, 0));
    assert_int_equal(send_new(q, 0, 10, 4, 0), AVERROR(EAGAIN));
    assert_int_equal(send_new(q, 1, 10, 4, 0), 0);
    assert_int_equal(send_new(q, 0, 10, 5, 1), 0);
    assert_int_equal(send_new(q, 0, 10, 6, 0), 0);
    assert_int_equal(lr_pktq_count(q), 3);
    lr_pktq_free(&q);
}

/* gate_all: while the video waits for a keyframe the audio waits too, so the
 * queue starts at one; with no key stream nothing waits. */
static void gate_all_holds_every_stream_back(void **state)
{
    lr_pktq *q = make(8, 0, LR_PKTQ_DROP_TO_KEY, 1 << 0, 1);

    assert_int_equal(send_new(q, 1, 10, 0, 0), AVERROR(EAGAIN));
    assert_int_equal(send_new(q, 0, 10, 1, 1), 0);
    assert_int_equal(send_new(q, 1, 10, 1, 0), 0);
    lr_pktq_want_key(q, 1 << 0 | 1 << 1); /* stream 1 is no key stream: ignored */
    assert_true(lr_pktq_wants_key(q, 0));
    assert_false(lr_pktq_wants_key(q, 1));
    assert_int_equal(send_new(q, 1, 10, 2, 0), AVERROR(EAGAIN));
    assert_int_equal(lr_pktq_count(q), 2); /* what was queued stays */

    lr_pktq_resync(q, 0); /* a run without video */
    assert_false(lr_pktq_wants_key(q, 0));
    assert_int_equal(send_new(q, 1, 10, 3, 0), 0);
    assert_int_equal(send_new(q, 0, 10, 3, 0), 0);
    lr_pktq_resync(q, 1 << 0);
    assert_int_equal(send_new(q, 1, 10, 4, 0), AVERROR(EAGAIN));
    lr_pktq_free(&q);
}

static void drop_takes_the_oldest(void **state)
{
    lr_pktq *q = make(8, 0, LR_PKTQ_DROP_OLDEST, 0, 0);

    for (int i = 0; i < 6; i++)
        assert_int_equal(send_new(q, 0, 10 + i, i, 0), 0);
    assert_int_equal(lr_pktq_drop(q, 2), 2);
    assert_int_equal(lr_pktq_peek(q, 0)->pts, 2);
    assert_int_equal(lr_pktq_bytes(q), 12 + 13 + 14 + 15);
    assert_int_equal(lr_pktq_drop(q, 10), 4);
    assert_int_equal(lr_pktq_drop(q, 1), 0);
    /* the ring wraps */
    for (int i = 0; i < 20; i++)
        assert_true(send_new(q, 0, 1, i, 0) >= 0);
    for (int i = 0; i < 8; i++)
        assert_int_equal(lr_pktq_peek(q, i)->pts, 12 + i);
    lr_pktq_free(&q); /* frees what is left */
}

static void a_closed_queue_drains_then_ends(void **state)
{
    lr_pktq  *q = make(4, 0, LR_PKTQ_BLOCK, 0, 0);
    AVPacket *out = av_packet_alloc();

    assert_int_equal(send_new(q, 0, 10, 0, 0), 0);
    pthread_mutex_lock(&lock);
    lr_pktq_close(q);
    lr_pktq_close(q);
    pthread_mutex_unlock(&lock);
    assert_int_equal(send_new(q, 0, 10, 1, 0), AVERROR_EOF);
    assert_int_equal(lr_pktq_receive(q, out, 0), 0);
    assert_int_equal(out->pts, 0);
    assert_int_equal(lr_pktq_receive(q, out, 0), AVERROR_EOF);
    av_packet_free(&out);
    lr_pktq_free(&q);
}

/* A producer through a BLOCK queue of 8 waits for the consumer: every packet
 * arrives, in order, and the queue never holds more than its bound. */
#define PAIR_PACKETS 20000

typedef struct pair {
    lr_pktq *q;
    int      most;
    int      sent_ok;
} pair;

static void *producer(void *arg)
{
    pair *p = arg;

    p->sent_ok = 1;
    for (int i = 0; i < PAIR_PACKETS; i++) {
        AVPacket *pkt = packet(i % 2, 1 + i % 700, i, 0);
        pthread_mutex_lock(&lock);
        if (lr_pktq_send(p->q, pkt) != 0)
            p->sent_ok = 0;
        if (lr_pktq_count(p->q) > p->most)
            p->most = lr_pktq_count(p->q);
        pthread_mutex_unlock(&lock);
        av_packet_free(&pkt);
    }
    pthread_mutex_lock(&lock);
    lr_pktq_close(p->q);
    pthread_mutex_unlock(&lock);
    return NULL;
}

static void a_producer_and_a_consumer(void **state)
{
    pair      p = { .q = make(8, 4000, LR_PKTQ_BLOCK, 0, 0) };
    AVPacket *out = av_packet_alloc();
    pthread_t th;
    int64_t   next = 0;
    int       ret;

    assert_int_equal(pthread_create(&th, NULL, producer, &p), 0);
    pthread_mutex_lock(&lock);
    while ((ret = lr_pktq_receive(p.q, out, 0)) == 0) {
        assert_int_equal(out->pts, next);
        assert_int_equal(out->size, 1 + next % 700);
        assert_int_equal(out->data[0], (uint8_t)next);
        assert_true(lr_pktq_bytes(p.q) <= 4000 || lr_pktq_count(p.q) == 1);
        next++;
        av_packet_unref(out);
    }
    pthread_mutex_unlock(&lock);
    assert_int_equal(ret, AVERROR_EOF);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(next, PAIR_PACKETS);
    assert_true(p.sent_ok);
    assert_true(p.most <= 8);
    av_packet_free(&out);
    lr_pktq_free(&p.q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bad_options_are_refused),
        cmocka_unit_test(a_send_moves_the_reference_only_on_success),
        cmocka_unit_test(the_bound_in_packets),
        cmocka_unit_test(the_bound_in_bytes),
        cmocka_unit_test(drop_to_key_resumes_each_key_stream_at_a_keyframe),
        cmocka_unit_test(gate_all_holds_every_stream_back),
        cmocka_unit_test(drop_takes_the_oldest),
        cmocka_unit_test(a_closed_queue_drains_then_ends),
        cmocka_unit_test(a_producer_and_a_consumer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
