/* tests/unit/test_outlinks.c — common/outlinks.c on real SRT links over
 * loopback: every link gets every packet and the tail at the end; a full
 * queue drops what it holds and resumes at a keyframe; a run ends in order
 * and the next one opens a new session; a link that breaks comes back at a
 * keyframe while the other goes on. The peers are link listeners demuxing
 * the TS, as the transcoder and the egress do; each packet carries its
 * number and whether it is a keyframe. The log lines are checked too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libavformat/avformat.h>
#include <libavutil/avstring.h>

#include "common/link.h"
#include "common/outlinks.h"
#include "common/stop.h"
#include "common/ts_mux.h"

#define MAX_SESSIONS 8
#define MAX_PKTS     2048
#define LECTURE      "demo"

/* ---- a peer: a link listener reading each session's packets -------------- */

typedef struct session {
    int64_t seq[MAX_PKTS];
    int     key[MAX_PKTS];
    int     n;
    int     ended;
} session;

typedef struct peer {
    lr_link_listener *l;
    char              url[64];
    lr_stop           stop;
    pthread_mutex_t   lock;
    pthread_cond_t    cond;
    int               cut_after; /* ends its first session after this many packets */
    int               nb_sessions;
    session           s[MAX_SESSIONS];
    pthread_t         readers[MAX_SESSIONS];
} peer;

typedef struct conn {
    peer *p;
    int   sock, session;
} conn;

static peer peers[2];

static void *reader(void *arg)
{
    conn            *c = arg;
    peer            *p = c->p;
    session         *s = &p->s[c->session];
    AVIOContext     *pb = NULL;
    AVFormatContext *ifmt = NULL;
    AVPacket        *pkt = av_packet_alloc();

    if (lr_link_avio_open(c->sock, LR_LINK_IO_READ, &p->stop, 0, &pb) < 0 || !(ifmt = avformat_alloc_context()))
        goto end;
    ifmt->pb = pb;
    ifmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    if (avformat_open_input(&ifmt, NULL, av_find_input_format("mpegts"), NULL) < 0)
        goto end;
    while (av_read_frame(ifmt, pkt) >= 0) {
        pthread_mutex_lock(&p->lock);
        if (pkt->size >= 9 && s->n < MAX_PKTS) {
            memcpy(&s->seq[s->n], pkt->data, 8);
            s->key[s->n++] = pkt->data[8];
        }
        pthread_cond_broadcast(&p->cond);
        pthread_mutex_unlock(&p->lock);
        av_packet_unref(pkt);
        if (c->session == 0 && p->cut_after && s->n >= p->cut_after)
            break; /* the peer goes away */
    }
end:
    avformat_close_input(&ifmt);
    lr_link_avio_close(&pb);
    av_packet_free(&pkt);
    pthread_mutex_lock(&p->lock);
    s->ended = 1;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    av_free(c);
    return NULL;
}

static int accept_link(void *opaque, int sock, const lr_streamid *sid, const char *from)
{
    peer *p = opaque;
    conn *c = av_mallocz(sizeof(*c));
    int   ret = AVERROR(EBUSY);

    pthread_mutex_lock(&p->lock);
    if (c && p->nb_sessions < MAX_SESSIONS) {
        *c = (conn){ p, sock, p->nb_sessions };
        if (!pthread_create(&p->readers[p->nb_sessions], NULL, reader, c)) {
            p->nb_sessions++;
            c = NULL;
            ret = 0;
        }
    }
    pthread_mutex_unlock(&p->lock);
    av_free(c);
    return ret;
}

static void peer_start(peer *p, int cut_after)
{
    lr_link_opts lo = { 120, NULL };

    memset(p, 0, sizeof(*p));
    p->cut_after = cut_after;
    lr_stop_init(&p->stop);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    assert_int_equal(lr_link_listen("srt://127.0.0.1:0", &lo, "test", NULL, accept_link, p, &p->l),
                     0);
    snprintf(p->url, sizeof(p->url), "srt://127.0.0.1:%d", lr_link_listener_port(p->l));
}

static void peer_stop(peer *p)
{
    lr_link_listener_free(&p->l);
    lr_stop_request(&p->stop);
    for (int i = 0; i < p->nb_sessions; i++)
        pthread_join(p->readers[i], NULL);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    lr_stop_destroy(&p->stop);
}

/* Waits on cond (lock held) for at most 50 ms. */
static void wait_a_little(pthread_cond_t *cond, pthread_mutex_t *lock)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 50000000;
    ts.tv_sec += ts.tv_nsec / 1000000000;
    ts.tv_nsec %= 1000000000;
    pthread_cond_timedwait(cond, lock, &ts);
}

#define DEADLINE() (lr_now_ns() + INT64_C(10000000000)) /* 10 s from now */

/* Waits for session i to end; returns its packet count. */
static int session_end(peer *p, int i)
{
    int64_t deadline = DEADLINE();
    int     n;

    pthread_mutex_lock(&p->lock);
    while ((p->nb_sessions <= i || !p->s[i].ended) && lr_now_ns() < deadline)
        wait_a_little(&p->cond, &p->lock);
    assert_true(p->nb_sessions > i && p->s[i].ended);
    n = p->s[i].n;
    pthread_mutex_unlock(&p->lock);
    return n;
}

/* Waits until session i has n packets. */
static void wait_packets(peer *p, int i, int n)
{
    int64_t deadline = DEADLINE();

    pthread_mutex_lock(&p->lock);
    while ((p->nb_sessions <= i || p->s[i].n < n) && lr_now_ns() < deadline)
        wait_a_little(&p->cond, &p->lock);
    assert_true(p->nb_sessions > i && p->s[i].n >= n);
    pthread_mutex_unlock(&p->lock);
}

/* ---- the sender's side ------------------------------------------------- */

static pthread_mutex_t ups_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t  ups_cond = PTHREAD_COND_INITIALIZER;
static int             ups[2];         /* times each link came up */
static int             restart_on_key; /* admit: a key on a link that is down restarts its queue */

static lr_outlink_take admit(void *opaque, lr_outlink *l, const AVPacket *pkt)
{
    if (restart_on_key && !l->up && (pkt->flags & AV_PKT_FLAG_KEY) && lr_pktq_count(l->queue))
        return LR_OUTLINK_RESTART;
    return LR_OUTLINK_QUEUE;
}

static int open_ts(void *opaque, lr_outlink *l, AVIOContext *pb, AVFormatContext **oc)
{
    AVStream *st;
    int       ret;

    if ((ret = lr_ts_mux_alloc(pb, oc)) < 0)
        return ret;
    if (!(st = avformat_new_stream(*oc, NULL))) {
        lr_ts_mux_free(oc);
        return AVERROR(ENOMEM);
    }
    st->codecpar->codec_type = AVMEDIA_TYPE_DATA;
    st->codecpar->codec_id = AV_CODEC_ID_SMPTE_KLV;
    st->time_base = (AVRational){ 1, 90000 };
    if ((ret = lr_ts_mux_begin(*oc)) < 0)
        lr_ts_mux_free(oc);
    return ret;
}

static void link_up(void *opaque, lr_outlink *l, int others_up)
{
    pthread_mutex_lock(&ups_lock);
    ups[l->index]++;
    pthread_cond_broadcast(&ups_cond);
    pthread_mutex_unlock(&ups_lock);
}

static int write_ts(void *opaque, lr_outlink *l, AVFormatContext *oc, AVIOContext *pb,
                    AVPacket *pkt)
{
    pkt->stream_index = 0; /* the TS has one stream; stream 1 rides on it */
    return av_interleaved_write_frame(oc, pkt);
}

static const lr_outlinks_ops ops = {
    .admit = admit,
    .open = open_ts,
    .up = link_up,
    .write = write_ts,
};

/* Waits until link i has come up n times. */
static void wait_up(int i, int n)
{
    int64_t deadline = DEADLINE();

    pthread_mutex_lock(&ups_lock);
    while (ups[i] < n && lr_now_ns() < deadline)
        wait_a_little(&ups_cond, &ups_lock);
    assert_true(ups[i] >= n);
    pthread_mutex_unlock(&ups_lock);
}

static int times_up(int i)
{
    int n;

    pthread_mutex_lock(&ups_lock);
    n = ups[i];
    pthread_mutex_unlock(&ups_lock);
    return n;
}

static lr_stop     stop;
static const char *urls[2];

static lr_outlinks *start(int nb_links, int max_pkts, int keep_while_down, int gate_all)
{
    lr_outlinks_opts o = {
        .lecture = LECTURE,
        .urls = urls,
        .nb_links = nb_links,
        .link = { 120, NULL },
        .stop = &stop,
        .backoff_min_ms = 250,
        .backoff_max_ms = 1000,
        .max_pkts = max_pkts,
        .max_bytes = 1 << 20,
        .keep_while_down = keep_while_down,
        .gate_all = gate_all,
        .name = "test link",
        .peer = "peer",
        .up_note = " (a note)",
    };
    lr_outlinks *ol = NULL;

    lr_stop_reset(&stop);
    memset(ups, 0, sizeof(ups));
    restart_on_key = 0;
    assert_int_equal(lr_outlinks_start(&o, &ops, NULL, &ol), 0);
    return ol;
}

static void begin_run(lr_outlinks *ol, uint64_t keys, const char *why)
{
    lr_outlinks_lock(ol);
    lr_outlinks_begin_run(ol, keys, why);
    lr_outlinks_unlock(ol);
}

/* Packet n of stream s: its number and key flag in its payload. */
static void write_packet(lr_outlinks *ol, int s, int64_t n, int key)
{
    AVPacket *p = av_packet_alloc();

    assert_int_equal(av_new_packet(p, 188), 0);
    memset(p->data, 0, p->size);
    memcpy(p->data, &n, 8);
    p->data[8] = key;
    p->stream_index = s;
    p->pts = p->dts = n * 3000;
    p->flags = key ? AV_PKT_FLAG_KEY : 0;
    lr_outlinks_write(ol, p);
    av_packet_free(&p);
}

static lr_outlink_stats stats(lr_outlinks *ol, int i)
{
    lr_outlink_stats st;

    lr_outlinks_get_stats(ol, i, &st);
    return st;
}

/* ---- the log, captured from stderr -------------------------------------- */

static int   saved_stderr = -1;
static FILE *log_file;

static void capture_log(void)
{
    fflush(stderr);
    log_file = tmpfile();
    assert_non_null(log_file);
    saved_stderr = dup(2);
    dup2(fileno(log_file), 2);
}

/* Everything logged since capture_log (copied to the real stderr at the
 * end). Read with pread: the file offset is the one every thread's stderr
 * writes at, and moving it would put their lines over earlier ones. The
 * whole file, however long SRT's own warnings make it. */
static char *log_text(void)
{
    static char *text;
    struct stat  sb;
    ssize_t      n;

    fflush(stderr);
    assert_int_equal(fstat(fileno(log_file), &sb), 0);
    free(text);
    text = malloc((size_t)sb.st_size + 1);
    assert_non_null(text);
    n = pread(fileno(log_file), text, (size_t)sb.st_size, 0);
    text[n > 0 ? n : 0] = 0;
    return text;
}

static void release_log(void)
{
    const char *text = log_text();

    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    fputs(text, stderr);
    fclose(log_file);
}

/* Whether the line is logged, waiting for it up to the deadline: the
 * thread that logs it may still be on its way when the peer has seen what
 * the line reports (a close, a break). */
static int has_line(const char *fmt, const char *arg)
{
    char    line[256];
    int64_t deadline = DEADLINE();

    snprintf(line, sizeof(line), fmt, arg);
    while (!strstr(log_text(), line)) {
        if (lr_now_ns() > deadline)
            return 0;
        usleep(10000);
    }
    return 1;
}

/* ---- the tests ----------------------------------------------------------- */

/* Two links up: each gets every packet, in order, and at the end what was
 * queued still reaches its peer (the trailer, then the linger). */
static void every_link_gets_everything_and_the_tail(void **state)
{
    lr_outlinks *ol;

    peer_start(&peers[0], 0);
    peer_start(&peers[1], 0);
    urls[0] = peers[0].url;
    urls[1] = peers[1].url;
    ol = start(2, 1000, 0, 0);
    begin_run(ol, 1 << 0, "test codecs changed");
    wait_up(0, 1);
    wait_up(1, 1);
    for (int n = 0; n < 600; n++)
        write_packet(ol, 0, n, n % 25 == 0);
    lr_outlinks_drain(ol);
    for (int i = 0; i < 2; i++) {
        lr_outlink_stats st = stats(ol, i);
        assert_int_equal(session_end(&peers[i], 0), 600);
        for (int n = 0; n < 600; n++)
            assert_int_equal(peers[i].s[0].seq[n], n);
        assert_int_equal(peers[i].nb_sessions, 1);
        assert_int_equal(st.sent, 600);
        assert_int_equal(st.up, 0);
        assert_int_equal(st.lost_full + st.lost_key + st.lost_down + st.lost_run, 0);
        assert_true(has_line("lecture=" LECTURE " test link up to %s (a note)", urls[i]));
    }
    lr_outlinks_free(&ol);
    peer_stop(&peers[0]);
    peer_stop(&peers[1]);
}

/* A link whose peer isn't there: its queue (8 packets) fills, is dropped at
 * the 9th, logged once, and its key stream resumes at the next keyframe while
 * the other stream goes on; a keyframe restarts what a link that is down
 * holds (admit's LR_OUTLINK_RESTART); stopped, the rest is dropped. */
static void a_full_queue_drops_all_and_resumes_at_a_keyframe(void **state)
{
    lr_outlinks     *ol;
    lr_outlink_stats st;

    peer_start(&peers[0], 0);
    urls[0] = peers[0].url;
    peer_stop(&peers[0]); /* nobody listens there now */
    ol = start(1, 8, 1, 0);
    begin_run(ol, 1 << 0, "test codecs changed");
    write_packet(ol, 0, 0, 0); /* waits for a keyframe */
    for (int n = 1; n <= 9; n++)
        write_packet(ol, 0, n, n == 1);
    st = stats(ol, 0);
    assert_int_equal(st.lost_key, 1);
    assert_int_equal(st.lost_full, 9);
    assert_true(has_line("lecture=" LECTURE " peer %s is not keeping up: its queue is full, 9 "
                         "packets dropped; it resumes at the next keyframe",
                         urls[0]));
    write_packet(ol, 0, 10, 0);
    write_packet(ol, 1, 10, 0); /* not a key stream: queued */
    write_packet(ol, 0, 11, 1);
    write_packet(ol, 0, 12, 0);
    st = stats(ol, 0);
    assert_int_equal(st.lost_key, 2);
    assert_int_equal(st.lost_down, 0);
    restart_on_key = 1;
    write_packet(ol, 0, 13, 1); /* the three before it go */
    st = stats(ol, 0);
    assert_int_equal(st.lost_down, 3);
    assert_int_equal(st.up, 0);
    assert_int_equal(st.sent, 0);
    lr_stop_request(&stop); /* the connect gives up at once */
    lr_outlinks_drain(ol);
    st = stats(ol, 0);
    assert_int_equal(st.lost_run, 1);
    write_packet(ol, 0, 14, 1); /* after the end: dropped */
    assert_int_equal(stats(ol, 0).lost_run, 2);
    lr_outlinks_free(&ol);
    assert_null(ol);
}

/* lr_outlinks_end_run: the link sends what it holds, closes in order and
 * stays closed; what comes meanwhile is dropped. The next run opens a new
 * session, and a run begun while one is open ends it in order first. */
static void a_run_ends_in_order_and_the_next_opens_a_new_session(void **state)
{
    lr_outlinks     *ol;
    lr_outlink_stats st;

    peer_start(&peers[0], 0);
    urls[0] = peers[0].url;
    ol = start(1, 1000, 1, 1);
    write_packet(ol, 0, 0, 1); /* no run yet: nothing connects */
    begin_run(ol, 1 << 0, "test codecs changed");
    wait_up(0, 1); /* a run that ends before its link is up drops what it had */
    for (int n = 1; n <= 40; n++)
        write_packet(ol, 0, n, n % 10 == 1);
    lr_outlinks_lock(ol);
    lr_outlinks_end_run(ol, "the test ended");
    lr_outlinks_unlock(ol);
    assert_int_equal(session_end(&peers[0], 0), 40);
    assert_int_equal(peers[0].s[0].seq[0], 1);
    assert_true(has_line("lecture=" LECTURE " test link to %s closed: the test ended", urls[0]));
    assert_int_equal(stats(ol, 0).up, 0);
    for (int n = 41; n <= 50; n++)
        write_packet(ol, 0, n, n == 41);
    begin_run(ol, 1 << 0, "test codecs changed");
    st = stats(ol, 0);
    assert_int_equal(st.lost_run, 1 + 10); /* before the run, and between the runs */
    assert_int_equal(st.sent, 40);
    for (int n = 51; n <= 80; n++)
        write_packet(ol, 0, n, n % 10 == 1);
    wait_up(0, 2);
    wait_packets(&peers[0], 1, 30);
    begin_run(ol, 1 << 0, "test codecs changed");
    for (int n = 81; n <= 110; n++)
        write_packet(ol, 0, n, n % 10 == 1);
    assert_int_equal(session_end(&peers[0], 1), 30);
    assert_true(
        has_line("lecture=" LECTURE " test codecs changed: new link session to %s", urls[0]));
    wait_up(0, 3); /* the end doesn't open a link that is down */
    lr_outlinks_drain(ol);
    assert_int_equal(session_end(&peers[0], 2), 30);
    assert_int_equal(peers[0].s[2].seq[0], 81);
    assert_true(peers[0].s[2].key[0]);
    assert_int_equal(peers[0].nb_sessions, 3);
    lr_outlinks_free(&ol);
    peer_stop(&peers[0]);
}

/* Peer 0 goes away after 30 packets: its link breaks, drops its queue,
 * reconnects after the backoff and starts again at a keyframe; peer 1 gets
 * every packet meanwhile. */
static void a_broken_link_comes_back_at_a_keyframe(void **state)
{
    lr_outlinks     *ol;
    lr_outlink_stats st;
    int              n, last;

    peer_start(&peers[0], 30);
    peer_start(&peers[1], 0);
    urls[0] = peers[0].url;
    urls[1] = peers[1].url;
    ol = start(2, 1000, 0, 1);
    begin_run(ol, 1 << 0, "test codecs changed");
    wait_up(0, 1);
    wait_up(1, 1);
    /* until 40 packets after it came back */
    for (n = 0, last = MAX_PKTS; n < MAX_PKTS && n < last; n++) {
        if (last == MAX_PKTS && times_up(0) == 2)
            last = n + 40;
        write_packet(ol, 0, n, n % 10 == 0);
        usleep(2000);
    }
    lr_outlinks_drain(ol);
    assert_int_equal(session_end(&peers[1], 0), n);
    assert_true(n < MAX_PKTS);
    assert_int_equal(session_end(&peers[0], 0), 30);
    assert_true(session_end(&peers[0], 1) > 0);
    assert_true(peers[0].s[1].key[0]);
    assert_true(peers[0].s[1].seq[0] > 30);
    st = stats(ol, 0);
    assert_true(st.lost_down + st.lost_key > 0);
    assert_int_equal(st.sent + st.lost_down + st.lost_key + st.lost_full + st.lost_run, n);
    assert_int_equal(stats(ol, 1).sent, n);
    assert_true(has_line("lecture=" LECTURE " test link to %s broke", urls[0]));
    lr_outlinks_free(&ol);
    peer_stop(&peers[0]);
    peer_stop(&peers[1]);
}

static int setup(void **state)
{
    assert_int_equal(lr_link_global_init(), 0);
    lr_stop_init(&stop);
    capture_log();
    return 0;
}

static int teardown(void **state)
{
    release_log();
    lr_stop_destroy(&stop);
    lr_link_global_uninit();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_link_gets_everything_and_the_tail),
        cmocka_unit_test(a_full_queue_drops_all_and_resumes_at_a_keyframe),
        cmocka_unit_test(a_run_ends_in_order_and_the_next_opens_a_new_session),
        cmocka_unit_test(a_broken_link_comes_back_at_a_keyframe),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
