/* common/link.c — see link.h. Blocking SRT calls are cut into 100 ms slices
 * so a stop request is seen promptly (the AVIOInterruptCB model of FFmpeg's
 * own libsrt.c); libsrt's errors are converted in lr_srt_error() only. */
#include "link.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdatomic.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavutil/avstring.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>
#include <srt/srt.h>

#include "heartbeat.h"
#include "link_stats.h"
#include "log.h"
#include "ts_wall.h"

#define SLICE_MS 100
#define PROBES   6     /* handshakes at once; the fastest counts (a lost packet costs
                          one a 250 ms resend: at 10 % loss each way a third of them) */

int lr_link_global_init(void)
{
    int ret;

    if (srt_startup() < 0)
        return lr_srt_error("srt_startup");
    if ((ret = lr__link_stats_init()) < 0) {
        srt_cleanup();
        return ret;
    }
    return 0;
}

void lr_link_global_uninit(void)
{
    lr__link_stats_uninit();
    srt_cleanup();
}

void lr_link_configure(const lr_link_settings *s)
{
    lr_link_settings copy = *s;

    copy.passphrase = NULL; /* the caller's string; each link gives its own */
    lr__link_settings_set(&copy);
}

int lr_srt_error(const char *what)
{
    int sys_errno = 0;
    int code = srt_getlasterror(&sys_errno);
    int ret;

    switch (code) {
    case SRT_ETIMEOUT:
    case SRT_EASYNCRCV:
    case SRT_EASYNCSND:   ret = AVERROR(EAGAIN); break;
    case SRT_ECONNREJ:    ret = AVERROR(ECONNREFUSED); break;
    case SRT_ECONNLOST:
    case SRT_ENOCONN:     ret = AVERROR_EOF; break;
    case SRT_ECONNSETUP:
    case SRT_ENOSERVER:   ret = AVERROR(EHOSTUNREACH); break;
    case SRT_ENOBUF:      ret = AVERROR(ENOMEM); break;
    case SRT_EDUPLISTEN:
    case SRT_ESOCKFAIL:   ret = AVERROR(EADDRINUSE); break;
    default:              ret = AVERROR(sys_errno ? sys_errno : EIO); break;
    }
    if (ret != AVERROR(EAGAIN))
        lr_debug("srt %s: %s", what, srt_getlasterror_str());
    return ret;
}

int lr_link_parse_url(const char *url, char *host, size_t host_size, int *port)
{
    const char *p, *colon;
    char *end;
    long v;
    size_t len;

    if (!av_strstart(url, "srt://", &p))
        return AVERROR(EINVAL);
    if (*p == '[') {
        const char *close = strchr(p, ']');
        if (!close || close[1] != ':')
            return AVERROR(EINVAL);
        p++;
        len = (size_t)(close - p);
        colon = close + 1;
    } else {
        colon = strrchr(p, ':');
        if (!colon)
            return AVERROR(EINVAL);
        len = (size_t)(colon - p);
    }
    if (len == 0 || len >= host_size)
        return AVERROR(EINVAL);
    memcpy(host, p, len);
    host[len] = 0;
    errno = 0;
    v = strtol(colon + 1, &end, 10);
    if (errno || end == colon + 1 || (*end && *end != '?' && *end != '/') || v < 0 || v > 65535)
        return AVERROR(EINVAL);
    *port = (int)v;
    return 0;
}

static int resolve(const char *host, int port, int passive, struct sockaddr_storage *ss,
                   int *ss_len)
{
    struct addrinfo hints = { .ai_socktype = SOCK_DGRAM, .ai_flags = passive ? AI_PASSIVE : 0 };
    struct addrinfo *ai = NULL;
    char port_str[16];
    int ret;

    snprintf(port_str, sizeof(port_str), "%d", port);
    if ((ret = getaddrinfo(host, port_str, &hints, &ai))) {
        lr_error("cannot resolve %s: %s", host, gai_strerror(ret));
        return AVERROR(EHOSTUNREACH);
    }
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *ss_len = (int)ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

static void format_peer(const struct sockaddr *sa, char *buf, size_t size)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;

    if (sa && sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
        port = ntohs(in->sin_port);
        snprintf(buf, size, "%s:%d", ip, port);
    } else if (sa && sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
        port = ntohs(in6->sin6_port);
        snprintf(buf, size, "[%s]:%d", ip, port);
    } else {
        snprintf(buf, size, "?");
    }
}

/* Just the IP of "ip:port" or "[v6]:port": an accepted link's peer, which
 * keeps its name across reconnects from new ports. */
static void peer_host(const char *peer, char *buf, size_t size)
{
    const char *colon = strrchr(peer, ':');
    size_t len = colon ? (size_t)(colon - peer) : strlen(peer);

    if (len >= 2 && peer[0] == '[' && peer[len - 1] == ']') {
        peer++;
        len -= 2;
    }
    snprintf(buf, size, "%.*s", (int)len, peer);
}

/* The floor of SRT's input-rate estimate, so a burst after a pause moves at
 * a lecture's rate at least; a link with maxbw_kbps set is capped there. */
#define MIN_INPUT_RATE_KBPS 8000

/* The sending pace: cap_kbps 0 is the links' usual one (the input rate plus
 * the overhead, at least the floor's; or link.maxbw_kbps), a number caps it
 * (never above link.maxbw_kbps) and drops the floor. */
static int set_pacing(SRTSOCKET s, int64_t cap_kbps)
{
    int64_t conf = lr__link_settings().maxbw_kbps;
    int64_t kbps = !cap_kbps ? conf : conf ? FFMIN(cap_kbps, conf) : cap_kbps;
    int64_t maxbw = kbps * 1000 / 8;
    int64_t min_inputbw = cap_kbps ? 0 : MIN_INPUT_RATE_KBPS * 1000 / 8;

    if (srt_setsockflag(s, SRTO_MININPUTBW, &min_inputbw, sizeof(min_inputbw)) < 0 ||
        srt_setsockflag(s, SRTO_MAXBW, &maxbw, sizeof(maxbw)) < 0)
        return lr_srt_error("setsockflag bandwidth");
    return 0;
}

/* latency: SRTO_LATENCY in ms (receiving and, as the peer's minimum, sending). */
static int set_common_opts(SRTSOCKET s, const lr_link_opts *o, int latency)
{
    lr_link_settings t = lr__link_settings();
    int live = SRTT_LIVE, yes = 1, timeo = SLICE_MS, drop = !!t.tlpktdrop;
    int retransmit_algo = t.intensive_retransmit ? 0 : 1;
    int idle = t.peer_idle_timeout_ms, ohead = t.overhead_pct, ret;
    int64_t inputbw = 0;

    if (srt_setsockflag(s, SRTO_TRANSTYPE, &live, sizeof(live)) < 0 ||
        srt_setsockflag(s, SRTO_LATENCY, &latency, sizeof(latency)) < 0 ||
        srt_setsockflag(s, SRTO_TLPKTDROP, &drop, sizeof(drop)) < 0 ||
        srt_setsockflag(s, SRTO_RETRANSMITALGO, &retransmit_algo, sizeof(retransmit_algo)) < 0 ||
        srt_setsockflag(s, SRTO_PEERIDLETIMEO, &idle, sizeof(idle)) < 0 ||
        srt_setsockflag(s, SRTO_RCVSYN, &yes, sizeof(yes)) < 0 ||
        srt_setsockflag(s, SRTO_RCVTIMEO, &timeo, sizeof(timeo)) < 0)
        return lr_srt_error("setsockflag");
    /* MAXBW 0: the sender paces at its measured input rate (INPUTBW 0) plus
     * OHEADBW %, the headroom retransmissions get; a number caps it.
     * MININPUTBW: the estimate falls while a source is away, and the second
     * of media the ingest reads before it sends again would then trickle out
     * so slowly that the sender drops it as too late (seen in test_pull). */
    if (srt_setsockflag(s, SRTO_INPUTBW, &inputbw, sizeof(inputbw)) < 0 ||
        srt_setsockflag(s, SRTO_OHEADBW, &ohead, sizeof(ohead)) < 0)
        return lr_srt_error("setsockflag bandwidth");
    if ((ret = set_pacing(s, 0)) < 0)
        return ret;
    if (o->passphrase && *o->passphrase) {
        int keylen = 16;
        if (srt_setsockflag(s, SRTO_PASSPHRASE, o->passphrase, (int)strlen(o->passphrase)) < 0 ||
            srt_setsockflag(s, SRTO_PBKEYLEN, &keylen, sizeof(keylen)) < 0)
            return lr_srt_error("passphrase");
    }
    return 0;
}

/* Waits for n connecting sockets to finish (connected, refused, failed),
 * each's time from started[i] in done_ns[i] (-1: failed, not refused or
 * connected). Returns the number finished, or AVERROR_EXIT. */
static int wait_handshakes(int eid, const SRTSOCKET *s, const int64_t *started, int64_t *done_ns,
                           int n, int64_t deadline_ns, lr_stop *stop)
{
    int finished = 0;

    for (int i = 0; i < n; i++)
        done_ns[i] = INT64_MIN;
    while (finished < n && lr_now_ns() < deadline_ns) {
        SRT_EPOLL_EVENT ev[PROBES];
        srt_epoll_uwait(eid, ev, PROBES, 5);  /* wakes at each outcome; 5 ms at most */
        for (int i = 0; i < n; i++) {
            SRT_SOCKSTATUS state;
            if (done_ns[i] != INT64_MIN)
                continue;
            state = srt_getsockstate(s[i]);
            if (state == SRTS_CONNECTED) {
                done_ns[i] = lr_now_ns() - started[i];
            } else if (state == SRTS_BROKEN || state == SRTS_CLOSED || state == SRTS_NONEXIST) {
                int reason = srt_getrejectreason(s[i]);
                /* a refusal is an answer: the handshake went there and back twice */
                done_ns[i] = reason >= SRT_REJC_PREDEFINED || reason == SRT_REJ_PEER ||
                             reason == SRT_REJ_BADSECRET || reason == SRT_REJ_UNSECURE
                           ? lr_now_ns() - started[i] : -1;
            } else {
                continue;
            }
            finished++;
        }
        if (lr_stop_requested(stop))
            return AVERROR_EXIT;
    }
    return finished;
}

int lr_link_probe_rtt(const char *url, lr_stop *stop)
{
    struct sockaddr_storage ss;
    SRTSOCKET s[PROBES];
    int64_t started[PROBES], done_ns[PROBES], best = -1;
    char host[256];
    int port, ss_len, ret, no = 0, eid, n = 0, timeo = 3000;

    if ((ret = lr_link_parse_url(url, host, sizeof(host), &port)) < 0 ||
        (ret = resolve(host, port, 0, &ss, &ss_len)) < 0)
        return ret;
    if ((eid = srt_epoll_create()) < 0)
        return lr_srt_error("epoll");
    for (n = 0; n < PROBES; n++) {
        int live = SRTT_LIVE, events = SRT_EPOLL_OUT | SRT_EPOLL_ERR;
        s[n] = srt_create_socket();
        if (s[n] == SRT_INVALID_SOCK) {
            ret = lr_srt_error("create_socket");
            goto end;
        }
        if (srt_setsockflag(s[n], SRTO_TRANSTYPE, &live, sizeof(live)) < 0 ||
            srt_setsockflag(s[n], SRTO_STREAMID, LR_LINK_PROBE_STREAMID,
                            (int)strlen(LR_LINK_PROBE_STREAMID)) < 0 ||
            srt_setsockflag(s[n], SRTO_RCVSYN, &no, sizeof(no)) < 0 ||
            srt_setsockflag(s[n], SRTO_CONNTIMEO, &timeo, sizeof(timeo)) < 0 ||
            srt_epoll_add_usock(eid, s[n], &events) < 0) {
            ret = lr_srt_error("probe setup");
            n++;
            goto end;
        }
    }
    for (int i = 0; i < n; i++) {
        started[i] = lr_now_ns();
        if (srt_connect(s[i], (struct sockaddr *)&ss, ss_len) < 0) {
            ret = lr_srt_error("probe connect");
            goto end;
        }
    }
    ret = wait_handshakes(eid, s, started, done_ns, n, lr_now_ns() + (timeo + 200) * INT64_C(1000000),
                          stop);
    if (ret < 0)
        goto end;
    for (int i = 0; i < n; i++)
        if (done_ns[i] >= 0 && (best < 0 || done_ns[i] < best))
            best = done_ns[i];
    /* induction and conclusion: two round trips */
    ret = best < 0 ? AVERROR(ETIMEDOUT) : (int)((best / 2 + 500000) / 1000000);
end:
    for (int i = 0; i < n; i++)
        srt_close(s[i]);
    srt_epoll_release(eid);
    return ret;
}

/* The latency a caller asks for: the number given, or for auto 5 x the RTT
 * to url (measured once, then the link's own smoothed RTT). */
static int caller_latency(const char *url, const char *streamid, const lr_link_opts *o,
                          lr_stop *stop)
{
    lr_link_settings t = lr__link_settings();
    int rtt, latency;
    const char *how = "the last link's";

    if (o->latency_ms != LR_LINK_LATENCY_AUTO)
        return o->latency_ms;
    if ((rtt = lr__link_rtt_recall(url)) < 0) {
        how = "handshake";
        if ((rtt = lr_link_probe_rtt(url, stop)) == AVERROR_EXIT)
            return rtt;
        if (rtt >= 0) {
            lr__link_rtt_remember(url, rtt);
        } else {
            lr_warn("link %s (%s): cannot measure the RTT (%s); latency %d ms until it can",
                    url, streamid, av_err2str(rtt), t.latency_floor_ms);
            return t.latency_floor_ms;
        }
    }
    latency = lr__link_auto_latency(&t, rtt);
    lr_info("link %s (%s): RTT %d ms (%s), latency auto: %d ms", url, streamid, rtt, how,
            latency);
    return latency;
}

int lr_link_connect(const char *url, const char *streamid, const lr_link_opts *o,
                    lr_stop *stop, int *sock)
{
    struct sockaddr_storage ss;
    char host[256], peer[300];
    int port, ss_len, ret, no = 0, yes = 1, eid = -1, latency;
    lr_streamid sid;
    SRTSOCKET s;

    if ((ret = lr_link_parse_url(url, host, sizeof(host), &port)) < 0)
        return ret;
    if ((ret = resolve(host, port, 0, &ss, &ss_len)) < 0)
        return ret;
    if ((latency = caller_latency(url, streamid, o, stop)) < 0)
        return latency;
    s = srt_create_socket();
    if (s == SRT_INVALID_SOCK)
        return lr_srt_error("create_socket");
    if ((ret = set_common_opts(s, o, latency)) < 0)
        goto fail;
    if (srt_setsockflag(s, SRTO_STREAMID, streamid, (int)strlen(streamid)) < 0 ||
        srt_setsockflag(s, SRTO_RCVSYN, &no, sizeof(no)) < 0) {
        ret = lr_srt_error("setsockflag");
        goto fail;
    }
    /* Non-blocking connect, waited for in slices so a stop ends it at once. */
    eid = srt_epoll_create();
    int events = SRT_EPOLL_OUT | SRT_EPOLL_ERR;
    if (eid < 0 || srt_epoll_add_usock(eid, s, &events) < 0) {
        ret = lr_srt_error("epoll");
        goto fail;
    }
    if (srt_connect(s, (struct sockaddr *)&ss, ss_len) < 0) {
        ret = lr_srt_error("connect");
        goto fail;
    }
    for (;;) {
        SRT_EPOLL_EVENT ev[1];
        int n = srt_epoll_uwait(eid, ev, 1, SLICE_MS);
        SRT_SOCKSTATUS st = srt_getsockstate(s);
        if (st == SRTS_CONNECTED)
            break;
        if (st == SRTS_BROKEN || st == SRTS_CLOSED || st == SRTS_NONEXIST) {
            int reason = srt_getrejectreason(s);
            if (reason >= SRT_REJC_PREDEFINED)
                lr_warn("link %s (%s): refused by the peer (code %d)", url, streamid,
                        reason - SRT_REJC_PREDEFINED);
            else
                lr_warn("link %s (%s): connection failed: %s", url, streamid,
                        srt_rejectreason_str(reason));
            ret = reason == SRT_REJ_TIMEOUT ? AVERROR(ETIMEDOUT) : AVERROR(ECONNREFUSED);
            goto fail;
        }
        if (n < 0 && srt_getlasterror(NULL) != SRT_ETIMEOUT) {
            ret = lr_srt_error("epoll_uwait");
            goto fail;
        }
        if (lr_stop_requested(stop)) {
            ret = AVERROR_EXIT;
            goto fail;
        }
    }
    srt_epoll_release(eid);
    if (srt_setsockflag(s, SRTO_RCVSYN, &yes, sizeof(yes)) < 0) {
        ret = lr_srt_error("setsockflag");
        srt_close(s);
        return ret;
    }
    snprintf(peer, sizeof(peer), "%s:%d", host, port);
    lr__link_stats_add(s, "caller",
                       lr_streamid_parse(streamid, &sid) == 0 ? sid.resource : "?", peer, url);
    *sock = s;
    return 0;
fail:
    if (eid >= 0)
        srt_epoll_release(eid);
    srt_close(s);
    return ret;
}

struct lr_link_listener {
    SRTSOCKET          sock;
    int                port;
    char               role[32];
    lr_link_admit_fn  *admit;
    lr_link_accept_fn *accept;
    void              *opaque;
    lr_stop            stop;
    pthread_t          thread;
    int                thread_started;
    lr_heartbeat       hb;  /* the accept loop runs (systemd's watchdog) */
};

/* libsrt's handshake hook: the stream id is known here, so unknown lectures,
 * duplicates and malformed ids are refused before any media flows. */
static int on_handshake(void *opaque, SRTSOCKET ns, int hsversion,
                        const struct sockaddr *peeraddr, const char *streamid)
{
    lr_link_listener *l = opaque;
    lr_link_admission ad = { 0 };
    lr_streamid sid;
    char peer[64];
    int ret;

    format_peer(peeraddr, peer, sizeof(peer));
    if (streamid && !strcmp(streamid, LR_LINK_PROBE_STREAMID)) {
        srt_setrejectreason(ns, SRT_REJC_PREDEFINED + 204);  /* a caller timing us */
        return -1;
    }
    if (lr_streamid_parse(streamid ? streamid : "", &sid) < 0) {
        lr_warn("%s link from %s rejected: malformed stream id '%.80s'", l->role, peer,
                streamid ? streamid : "");
        srt_setrejectreason(ns, SRT_REJC_PREDEFINED + 400);
        return -1;
    }
    ret = l->admit ? l->admit(l->opaque, &sid, peer, &ad) : 0;
    if (ret >= 0 && ad.passphrase) {
        int keylen = 16;
        /* An empty passphrase means an unencrypted link for this lecture. */
        if (srt_setsockflag(ns, SRTO_PASSPHRASE, ad.passphrase, (int)strlen(ad.passphrase)) < 0 ||
            (*ad.passphrase && srt_setsockflag(ns, SRTO_PBKEYLEN, &keylen, sizeof(keylen)) < 0)) {
            lr_warn("lecture=%s %s link from %s rejected: cannot set its passphrase: %s",
                    sid.resource, l->role, peer, srt_getlasterror_str());
            srt_setrejectreason(ns, SRT_REJC_PREDEFINED + 500);
            return -1;
        }
    }
    if (ret < 0) {
        int code = ret == AVERROR(ENOENT) ? 404 : ret == AVERROR(EBUSY) ? 409
                 : ret == AVERROR(EACCES) ? 403 : 400;
        lr_warn("lecture=%s %s link from %s rejected: %s", sid.resource, l->role, peer,
                ad.reason ? ad.reason : av_err2str(ret));
        srt_setrejectreason(ns, SRT_REJC_PREDEFINED + code);
        return -1;
    }
    return 0;
}

/* Takes one connection off the listener's queue, if any: the listener is
 * non-blocking, so this never waits. The accepted socket reads blocking,
 * as every link socket does. */
static SRTSOCKET accept_one(lr_link_listener *l, struct sockaddr_storage *ss)
{
    int ss_len = sizeof(*ss), yes = 1;
    SRTSOCKET ns = srt_accept(l->sock, (struct sockaddr *)ss, &ss_len);

    if (ns == SRT_INVALID_SOCK) {
        if (srt_getlasterror(NULL) / 1000 != MJ_AGAIN)  /* not "none pending" */
            lr_srt_error("accept");
        return ns;
    }
    if (srt_setsockflag(ns, SRTO_RCVSYN, &yes, sizeof(yes)) < 0) {
        lr_srt_error("accepted socket");
        srt_close(ns);
        return SRT_INVALID_SOCK;
    }
    return ns;
}

static void *accept_thread(void *arg)
{
    lr_link_listener *l = arg;
    int eid = srt_epoll_create();
    int events = SRT_EPOLL_IN | SRT_EPOLL_ERR;

    if (eid < 0 || srt_epoll_add_usock(eid, l->sock, &events) < 0) {
        lr_srt_error("listener epoll");
        return NULL;
    }
    while (!lr_stop_requested(&l->stop)) {
        SRT_EPOLL_EVENT ev[1];
        struct sockaddr_storage ss;
        char sid_str[513];
        int sid_len = sizeof(sid_str) - 1;
        char peer[64];
        lr_streamid sid;
        SRTSOCKET ns;

        lr_heartbeat_beat(&l->hb);

        /* A connection is looked for after each slice too, not only when
         * libsrt's epoll reports one: once in CI a caller's link was up for
         * 30 s, sending, and never accepted here (docs/border.md). */
        int woke = srt_epoll_uwait(eid, ev, 1, SLICE_MS) > 0 ||
                   srt_epoll_uwait(eid, ev, 1, 0) > 0;  /* one that came just now */
        if ((ns = accept_one(l, &ss)) == SRT_INVALID_SOCK) {
            SRT_SOCKSTATUS st = srt_getsockstate(l->sock);
            if (st == SRTS_LISTENING)
                continue;
            /* the listening socket itself is gone (libsrt torn down under
             * it): every later accept would fail at once, a spinning core */
            lr_error("%s listener: its socket is no longer listening (state %d); "
                     "accepting no more links", l->role, (int)st);
            break;
        }
        format_peer((struct sockaddr *)&ss, peer, sizeof(peer));
        if (!woke)
            lr_warn("%s link from %s was waiting to be accepted though libsrt's epoll did not "
                    "report it", l->role, peer);
        memset(sid_str, 0, sizeof(sid_str));
        if (srt_getsockflag(ns, SRTO_STREAMID, sid_str, &sid_len) < 0 ||
            lr_streamid_parse(sid_str, &sid) < 0) {
            lr_warn("%s link from %s closed: its stream id '%.80s' was admitted at the "
                    "handshake but cannot be read back", l->role, peer, sid_str);
            srt_close(ns);
            continue;
        }
        lr_info("lecture=%s %s link accepted from %s", sid.resource, l->role, peer);
        {
            char host[64];
            peer_host(peer, host, sizeof(host));
            lr__link_stats_add(ns, l->role, sid.resource, host, NULL);
        }
        if (l->accept(l->opaque, ns, &sid, peer) < 0) {
            lr__link_stats_remove(ns);
            srt_close(ns);
        }
    }
    srt_epoll_release(eid);
    return NULL;
}

int lr_link_listen(const char *url, const lr_link_opts *o, const char *role,
                   lr_link_admit_fn *admit, lr_link_accept_fn *accept, void *opaque,
                   lr_link_listener **out)
{
    struct sockaddr_storage ss;
    char host[256];
    int port, ss_len, ret;
    lr_link_listener *l;

    if ((ret = lr_link_parse_url(url, host, sizeof(host), &port)) < 0) {
        lr_error("%s: bad listen URL '%s' (want srt://host:port)", role, url);
        return ret;
    }
    if ((ret = resolve(host, port, 1, &ss, &ss_len)) < 0)
        return ret;
    if (!(l = av_mallocz(sizeof(*l))))
        return AVERROR(ENOMEM);
    l->sock = SRT_INVALID_SOCK;
    av_strlcpy(l->role, role, sizeof(l->role));
    l->admit = admit;
    l->accept = accept;
    l->opaque = opaque;
    if ((ret = lr_stop_init(&l->stop)) < 0) {
        av_free(l);
        return ret;
    }
    l->sock = srt_create_socket();
    if (l->sock == SRT_INVALID_SOCK) {
        ret = lr_srt_error("create_socket");
        goto fail;
    }
    /* auto: the caller, who measured the RTT, asks for more; the larger wins */
    if ((ret = set_common_opts(l->sock, o, o->latency_ms == LR_LINK_LATENCY_AUTO
                                           ? lr__link_settings().latency_floor_ms
                                           : o->latency_ms)) < 0)
        goto fail;
    {
        int no = 0;  /* srt_accept never waits (accept_one) */
        if (srt_setsockflag(l->sock, SRTO_RCVSYN, &no, sizeof(no)) < 0) {
            ret = lr_srt_error("listener");
            goto fail;
        }
    }
    if (srt_bind(l->sock, (struct sockaddr *)&ss, ss_len) < 0) {
        ret = lr_srt_error("bind");
        lr_error("%s: cannot listen on %s: %s", role, url, srt_getlasterror_str());
        goto fail;
    }
    if (srt_listen_callback(l->sock, on_handshake, l) < 0 || srt_listen(l->sock, 16) < 0) {
        ret = lr_srt_error("listen");
        goto fail;
    }
    {
        struct sockaddr_storage bound;
        int blen = sizeof(bound);
        srt_getsockname(l->sock, (struct sockaddr *)&bound, &blen);
        l->port = bound.ss_family == AF_INET6
                ? ntohs(((struct sockaddr_in6 *)&bound)->sin6_port)
                : ntohs(((struct sockaddr_in *)&bound)->sin_port);
    }
    char name[96];
    snprintf(name, sizeof(name), "%s's SRT listener on port %d", role, l->port);
    lr_heartbeat_register(&l->hb, name, 10000);
    if ((ret = pthread_create(&l->thread, NULL, accept_thread, l))) {
        lr_heartbeat_unregister(&l->hb);
        ret = AVERROR(ret);
        goto fail;
    }
    l->thread_started = 1;
    lr_info("%s listening for links on srt://%s:%d", role, host, l->port);
    *out = l;
    return 0;
fail:
    lr_link_listener_free(&l);
    return ret;
}

int lr_link_listener_port(const lr_link_listener *l)
{
    return l->port;
}

void lr_link_listener_free(lr_link_listener **pl)
{
    lr_link_listener *l = *pl;

    if (!l)
        return;
    lr_stop_request(&l->stop);
    if (l->thread_started) {
        pthread_join(l->thread, NULL);
        lr_heartbeat_unregister(&l->hb);
    }
    if (l->sock != SRT_INVALID_SOCK)
        srt_close(l->sock);
    lr_stop_destroy(&l->stop);
    av_freep(pl);
}

typedef struct link_io {
    SRTSOCKET sock;
    lr_stop  *stop;
    int       idle_ms;
    int64_t   bytes;
    int       error;     /* sticky: once the link is bad, it stays bad */
    int       broke;     /* the error came after LR_LINK_SILENT_END_MS of silence */
    int       any_bytes; /* LR_LINK_IO_READ_STREAM */
    int       synced;    /* any_bytes: TS packets seen */
    int64_t   unsynced;  /* any_bytes: bytes before them */
    atomic_int_fast64_t *last_data_ns; /* reading: the newest message, told the owner */
    const atomic_int    *abort;        /* reading: the owner gives the link up */
    /* writing: the peer's acknowledgements (ack_watch) */
    int64_t   watch_ns, acks, sent, ack_ns;
} link_io;

/* The link carries whole TS packets in every message; anything else is not
 * a lecture (a stray sender, a wrong port) and ends the link at once. */
static int is_ts_message(const uint8_t *buf, int size)
{
    if (size % 188)
        return 0;
    for (int i = 0; i < size; i += 188)
        if (buf[i] != 0x47)
            return 0;
    return 1;
}

/* A byte stream (LR_LINK_IO_READ_STREAM) holds TS packets somewhere in this
 * message: three sync bytes 188 apart. */
#define SYNC_RUN 3
static int holds_ts(const uint8_t *buf, int size)
{
    for (int o = 0; o < 188 && o + 188 * (SYNC_RUN - 1) < size; o++) {
        int j = 0;
        while (j < SYNC_RUN && buf[o + 188 * j] == 0x47)
            j++;
        if (j == SYNC_RUN)
            return 1;
    }
    return 0;
}

/* A publisher whose first bytes hold no TS at all is no encoder of ours (a
 * stray sender, another protocol): refused after this much, not after the
 * demuxer's whole probe. */
#define UNSYNCED_MAX (64 * 1024)

static int link_read(void *opaque, uint8_t *buf, int size)
{
    link_io *io = opaque;
    int64_t since = lr_now_ns();
    int64_t idle_deadline = io->idle_ms ? since + (int64_t)io->idle_ms * 1000000 : 0;

    if (io->error)
        return io->error;
    for (;;) {
        int n;
        if (lr_stop_requested(io->stop))
            return AVERROR_EXIT;
        if (io->abort && atomic_load(io->abort))
            return io->error = AVERROR(ECONNRESET);
        n = srt_recvmsg(io->sock, (char *)buf, size);
        if (n > 0 && io->last_data_ns)
            atomic_store(io->last_data_ns, lr_now_ns());
        if (n <= 0)
            io->broke = lr_now_ns() - since >= LR_LINK_SILENT_END_MS * INT64_C(1000000);
        if (n > 0) {
            if (io->any_bytes && !io->synced && !(io->synced = holds_ts(buf, n)) &&
                (io->unsynced += n) > UNSYNCED_MAX) {
                lr_warn("link: the first %" PRId64 " bytes received are not MPEG-TS packets "
                        "(starting %02x %02x %02x %02x); dropping the link", io->unsynced,
                        buf[0], n > 1 ? buf[1] : 0, n > 2 ? buf[2] : 0, n > 3 ? buf[3] : 0);
                return io->error = AVERROR_INVALIDDATA;
            }
            if (!io->any_bytes && !is_ts_message(buf, n)) {
                lr_warn("link: received %d bytes that are not MPEG-TS packets "
                        "(starting %02x %02x %02x %02x); dropping the link", n, buf[0],
                        n > 1 ? buf[1] : 0, n > 2 ? buf[2] : 0, n > 3 ? buf[3] : 0);
                return io->error = AVERROR_INVALIDDATA;
            }
            io->bytes += n;
            return n;
        }
        if (n == 0)
            return io->error = AVERROR_EOF;
        n = lr_srt_error("recvmsg");
        if (n != AVERROR(EAGAIN))
            return io->error = n;
        if (idle_deadline && lr_now_ns() > idle_deadline)
            return io->error = AVERROR(ETIMEDOUT);
    }
}

/* A receiver that died without a word (killed, its host gone) is noticed by
 * SRT only after its peer idle timeout and 16 expiry timers, 4 to 7 s; its
 * restarted self gets nothing meanwhile. So a sender that has sent and had
 * no acknowledgement for longer than the peer's latency plus two RTTs (the
 * receiver could play nothing of it any more; at least a second) breaks the
 * link itself, and its caller redials. A blackout the latency absorbs
 * breaks nothing. Looked at every ACK_WATCH_MS of writing. */
#define ACK_WATCH_MS   100
#define ACK_TIMEOUT_MS 1000
static int ack_watch(link_io *io)
{
    int64_t now = lr_now_ns();
    SRT_TRACEBSTATS perf;
    int latency = 0, len = sizeof(latency);

    if (now - io->watch_ns < ACK_WATCH_MS * INT64_C(1000000))
        return 0;
    io->watch_ns = now;
    if (srt_bstats(io->sock, &perf, 0) < 0)
        return 0;  /* the send itself will say */
    if (!io->ack_ns || perf.pktRecvACKTotal != io->acks || perf.pktSentTotal == io->sent) {
        io->ack_ns = now;
        io->acks = perf.pktRecvACKTotal;
        io->sent = perf.pktSentTotal;
        return 0;
    }
    srt_getsockflag(io->sock, SRTO_PEERLATENCY, &latency, &len);
    int64_t limit_ms = FFMAX(ACK_TIMEOUT_MS, latency + 2 * (int64_t)perf.msRTT);
    if (now - io->ack_ns < limit_ms * INT64_C(1000000))
        return 0;
    lr_warn("link: no acknowledgement from the peer for %" PRId64 " ms while sending "
            "(latency %d ms, RTT %.0f ms): it is gone; breaking the link",
            (now - io->ack_ns) / 1000000, latency, perf.msRTT);
    return io->error = AVERROR(ECONNRESET);
}

static int link_write(void *opaque, uint8_t *buf, int size)
{
    link_io *io = opaque;
    int done = 0, ret;

    if (io->error)
        return io->error;
    if ((ret = ack_watch(io)) < 0)
        return ret;

    while (done < size) {
        int chunk = FFMIN(size - done, LR_LINK_PAYLOAD);
        if (lr_stop_requested(io->stop))
            return AVERROR_EXIT;
        if (srt_sendmsg(io->sock, (const char *)buf + done, chunk, -1, 0) < 0)
            return lr_srt_error("sendmsg");
        done += chunk;
    }
    io->bytes += size;
    return size;
}

int lr_link_avio_open(int sock, enum lr_link_io mode, lr_stop *stop, int idle_ms,
                      AVIOContext **pb)
{
    int write = mode == LR_LINK_IO_WRITE;
    int buf_size = write ? LR_LINK_PAYLOAD : 8192;
    uint8_t *buf = NULL;
    link_io *io = NULL;
    AVIOContext *ctx;

    if (!(io = av_mallocz(sizeof(*io))) || !(buf = av_malloc(buf_size)))
        goto fail;
    io->sock = sock;
    io->stop = stop;
    io->idle_ms = idle_ms;
    io->any_bytes = mode == LR_LINK_IO_READ_STREAM;
    ctx = avio_alloc_context(buf, buf_size, write, io, write ? NULL : link_read,
                             write ? link_write : NULL, NULL);
    if (!ctx)
        goto fail;
    ctx->max_packet_size = write ? LR_LINK_PAYLOAD : 0;
    ctx->seekable = 0;
    lr__link_stats_side(sock, write);
    *pb = ctx;
    return 0;
fail:
    av_free(buf);
    av_free(io);
    lr__link_stats_remove(sock);
    srt_close(sock);
    return AVERROR(ENOMEM);
}

/* Whether every program of the link names a sender of ours (the SDT's
 * service_provider): the ingest's link (from_ingest), or a transcoded
 * ladder. Anyone else's TS gets the full probe at once. */
static int our_sender(const AVFormatContext *ifmt, int from_ingest)
{
    const char *want = from_ingest ? LR_TS_PROVIDER_INGEST : LR_TS_PROVIDER;

    if (!ifmt->nb_programs)
        return 0;
    for (unsigned i = 0; i < ifmt->nb_programs; i++) {
        const AVDictionaryEntry *e = av_dict_get(ifmt->programs[i]->metadata,
                                                 "service_provider", NULL, 0);
        if (!e || strncmp(e->value, want, strlen(want)))
            return 0;
    }
    return 1;
}

/* A stream whose parameters the probe has not learned. */
static int unknown_stream(const AVStream *st)
{
    const AVCodecParameters *par = st->codecpar;

    if (par->codec_type == AVMEDIA_TYPE_VIDEO)
        return par->codec_id == AV_CODEC_ID_NONE || par->width <= 0;
    if (par->codec_type == AVMEDIA_TYPE_AUDIO)
        return par->codec_id == AV_CODEC_ID_NONE || par->sample_rate <= 0;
    return 0;
}

int lr_link_probe(AVFormatContext **pifmt, int from_ingest, int64_t quick_us, int64_t full_us)
{
    AVFormatContext *ifmt = *pifmt;
    int ret, unknown = 0;

    if (!our_sender(ifmt, from_ingest)) {
        ifmt->max_analyze_duration = full_us;
        return avformat_find_stream_info(ifmt, NULL);
    }
    ifmt->max_analyze_duration = quick_us;
    if ((ret = avformat_find_stream_info(ifmt, NULL)) < 0)
        return ret;
    for (unsigned i = 0; i < ifmt->nb_streams; i++)
        unknown += unknown_stream(ifmt->streams[i]);
    if (!unknown)
        return ret;
    /* A stream that began between keyframes (a rung of a ladder whose other
     * links were up: no keyframe forced for this one). The demuxer can't be
     * probed twice: a fresh one reads on from here, for longer. */
    lr_info("link: %d stream(s) not known after %.1f s of the link; probing again for up to "
            "%.1f s", unknown, quick_us / 1e6, full_us / 1e6);
    AVIOContext *pb = ifmt->pb;
    int flags = ifmt->flags;
    AVIOInterruptCB cb = ifmt->interrupt_callback;
    int64_t probesize = ifmt->probesize;
    const AVInputFormat *fmt = ifmt->iformat;
    avformat_close_input(pifmt);  /* (custom I/O: pb stays) */
    if (!(ifmt = avformat_alloc_context()))
        return AVERROR(ENOMEM);
    ifmt->pb = pb;
    ifmt->flags = flags;
    ifmt->interrupt_callback = cb;
    ifmt->probesize = probesize;
    if ((ret = avformat_open_input(&ifmt, NULL, fmt, NULL)) < 0)
        return ret;  /* (freed by avformat_open_input) */
    *pifmt = ifmt;
    ifmt->max_analyze_duration = full_us;
    return avformat_find_stream_info(ifmt, NULL);
}

int lr_link_read_packet(AVFormatContext *ifmt, AVPacket *pkt)
{
    link_io *io = ifmt->pb ? ifmt->pb->opaque : NULL;

    for (int bad = 0;; bad++) {
        int ret = av_read_frame(ifmt, pkt);
        if (ret != AVERROR_INVALIDDATA || (io && io->error) || bad >= 100)
            return ret;
    }
}

void lr_link_close_socket(int sock)
{
    lr__link_stats_remove(sock);
    srt_close(sock);
}

void lr_link_avio_watch(AVIOContext *pb, const atomic_int *abort,
                        atomic_int_fast64_t *last_data_ns)
{
    link_io *io = pb->opaque;

    io->abort = abort;
    io->last_data_ns = last_data_ns;
}

int64_t lr_link_avio_bytes(AVIOContext *pb)
{
    return ((link_io *)pb->opaque)->bytes;
}

int lr_link_avio_broke(AVIOContext *pb)
{
    const link_io *io = pb->opaque;
    return io->error && io->broke;
}

/* A live-mode SRT socket closes without lingering, and the receiver drops
 * what it holds for later delivery when the connection goes: the last
 * latency's worth of media (the end of a lecture, the tail before a source
 * restart) would be lost. So the sender waits until the peer has
 * acknowledged everything, then for the peer's latency and DELIVER_MARGIN_MS,
 * in which it delivers it; it gives up when the link breaks, stop is
 * requested or LINGER_MS pass. Polled: libsrt has no event for an empty send
 * buffer. The margin was 20 ms: a receiver whose CPU was busy when the link
 * came up (its delivery clock set that much late) lost the tail, up to 46 of
 * 600 packets (test_outlinks, 12 runs of 30 beside bench/soak at nice 10;
 * none in 20 with 100 ms). */
#define LINGER_MS         3000
#define DELIVER_MARGIN_MS 100
static int linger_wanted(const link_io *io, int64_t deadline)
{
    return !io->error && !(io->stop && lr_stop_requested(io->stop)) &&
           srt_getsockstate(io->sock) == SRTS_CONNECTED && lr_now_ns() < deadline;
}

static void drain_send_buffer(const link_io *io)
{
    int64_t deadline = lr_now_ns() + LINGER_MS * INT64_C(1000000), delivered;
    size_t blocks = 0, bytes = 0;
    int latency_ms = 0, len = sizeof(latency_ms);

    /* it returns the buffer's span in ms, or -1 */
    while (linger_wanted(io, deadline) && srt_getsndbuffer(io->sock, &blocks, &bytes) >= 0 &&
           blocks > 0)
        usleep(10000);
    if (blocks || srt_getsockflag(io->sock, SRTO_PEERLATENCY, &latency_ms, &len) < 0)
        return;

    delivered = lr_now_ns() + (int64_t)(latency_ms + DELIVER_MARGIN_MS) * 1000000;
    while (linger_wanted(io, FFMIN(deadline, delivered)))
        usleep(10000);
}

int lr_link_avio_health(AVIOContext *pb, lr_link_health *h)
{
    const link_io *io = pb->opaque;
    SRT_TRACEBSTATS perf;
    size_t blocks = 0, bytes = 0;
    int len = sizeof(h->latency_ms);

    if (srt_bstats(io->sock, &perf, 0) < 0 ||
        srt_getsockflag(io->sock, SRTO_PEERLATENCY, &h->latency_ms, &len) < 0)
        return AVERROR(EIO);  /* the link broke: its writer says so */
    h->rtt_ms = perf.msRTT;
    h->acks = perf.pktRecvACKTotal;
    h->sent = perf.pktSentTotal;
    h->send_dropped = perf.pktSndDropTotal;
    h->send_buffer_ms = FFMAX(0, srt_getsndbuffer(io->sock, &blocks, &bytes));
    return 0;
}

int lr_link_avio_pace(AVIOContext *pb, int64_t cap_kbps)
{
    const link_io *io = pb->opaque;

    return set_pacing(io->sock, cap_kbps);
}

void lr_link_avio_close(AVIOContext **pb)
{
    link_io *io;

    if (!*pb)
        return;
    io = (*pb)->opaque;
    if ((*pb)->write_flag) {
        avio_flush(*pb);
        drain_send_buffer(io);
    }
    lr__link_stats_remove(io->sock);
    srt_close(io->sock);
    av_freep(&(*pb)->buffer);
    av_free(io);
    avio_context_free(pb);
}
