/* ingest/ingest_metrics.c — the ingest's families in the metrics scrape: per
 * lecture and per source, what an operator asks first (which source is on
 * the link, its bitrate and frame rate, how long since its last packet, how
 * often it reconnected and the lecture failed over). Registered by ingest.c. */
#include "ingest_metrics.h"

#include <string.h>

#include <libavutil/common.h>

#include "common/metrics.h"
#include "common/stop.h"

/* The configured source without what may be secret in a URL (user:password@,
 * ?query such as a passphrase). */
static void source_label(AVBPrint *out, const char *url)
{
    const char *scheme = strstr(url, "://"), *host, *at, *end;

    if (!scheme) {
        lr_metrics_label(out, url);
        return;
    }
    host = scheme + 3;
    end = host + strcspn(host, "?#");
    at = memchr(host, '@', (size_t)(end - host));
    if (at && at < host + strcspn(host, "/"))
        host = at + 1;
    for (const char *p = url; p < scheme + 3; p++)
        av_bprint_chars(out, *p, 1);
    char buf[1024];
    size_t n = FFMIN((size_t)(end - host), sizeof(buf) - 1);
    memcpy(buf, host, n);
    buf[n] = '\0';
    lr_metrics_label(out, buf);
}

enum { PER_SOURCE, PER_LECTURE };

typedef struct family {
    const char *name, *type, *help;
    int         scope;
} family;

static const family families[] = {
    { "lr_ingest_source_up", "gauge", "1 while the source has an open session", PER_SOURCE },
    { "lr_ingest_source_active", "gauge", "1 for the source on the link", PER_SOURCE },
    { "lr_ingest_source_bitrate_bps", "gauge", "media bits per second over the last second", PER_SOURCE },
    { "lr_ingest_source_fps", "gauge", "video frames per second over the last second", PER_SOURCE },
    { "lr_ingest_source_seconds_since_packet", "gauge", "time since the source's last packet", PER_SOURCE },
    { "lr_ingest_source_bytes_total", "counter", "media bytes read from the source", PER_SOURCE },
    { "lr_ingest_source_sessions_total", "counter", "sessions opened (connects and reconnects)", PER_SOURCE },
    { "lr_ingest_source_failures_total", "counter", "sessions lost or failed to open", PER_SOURCE },
    { "lr_ingest_source_ended", "gauge", "1 once the source ended cleanly (end of file, EXT-X-ENDLIST, end of stream), until it is live again", PER_SOURCE },
    { "lr_ingest_lecture_source_changes_total", "counter", "switches between sources (failovers and switch-backs)", PER_LECTURE },
    { "lr_ingest_lecture_breaks_total", "counter", "times the lecture was without a source long enough to mark a discontinuity", PER_LECTURE },
    { "lr_ingest_link_up", "gauge", "links to transcoders (ingest.link) that are up", PER_LECTURE },
    { "lr_ingest_link_reconnects_total", "counter", "failed attempts to (re)open the link", PER_LECTURE },
    { "lr_ingest_link_dropped_packets_total", "counter", "packets a link to a transcoder lost (down, or its queue full) or a splice overlapped", PER_LECTURE },
    { "lr_ingest_lecture_runs_total", "counter", "times the lecture started: once, and again after each end when a source is live again", PER_LECTURE },
    { "lr_ingest_lecture_live", "gauge", "1 while a source feeds the lecture", PER_LECTURE },
    { "lr_ingest_lecture_ended", "gauge", "1 once the lecture ended cleanly (its source ended and no other is live), until it starts again", PER_LECTURE },
    { "lr_ingest_lecture_timestamps_repaired_total", "counter", "timestamps the ingest repaired: repeated or slightly early ones moved on, jumps inside a session smoothed", PER_LECTURE },
};

static double source_value(int f, const lr_lecture_metrics *m, int i, int64_t now)
{
    const lr_feed_stats *st = &m->stats[i];
    switch (f) {
    case 0: return st->live;
    case 1: return m->active == i;
    case 2: return st->bitrate_bps;
    case 3: return st->fps;
    case 4: return (now - st->last_pkt_ns) / 1e9;
    case 5: return (double)st->bytes;
    case 6: return (double)st->sessions;
    case 7: return (double)st->failures;
    default: return st->ended;
    }
}

static double lecture_value(int f, const lr_lecture_metrics *m)
{
    switch (f) {
    case 9:  return (double)m->switches;
    case 10: return (double)m->breaks;
    case 11: return m->links_up;
    case 12: return (double)m->link_reconnects;
    case 13: return (double)m->dropped;
    case 14: return (double)m->runs;
    case 15: return m->active >= 0;
    case 16: return m->runs > 0 && !m->run_open;
    default: return (double)m->repaired;
    }
}

/* One series per live source, its labels the session's: the lecturer's
 * address (a push) or the URL pulled, and the encoder it names. */
static void render_info(const lr_lecture_metrics *m, int nb, AVBPrint *out)
{
    lr_metrics_family(out, "lr_ingest_source_info", "gauge",
                      "1 per live source: its session (the lecturer's address for a push, the "
                      "URL pulled) and the encoder its metadata names");
    for (int l = 0; l < nb; l++)
        for (int i = 0; i < m[l].nb_sources; i++) {
            const lr_feed_stats *st = &m[l].stats[i];
            if (!st->live)
                continue;
            av_bprintf(out, "lr_ingest_source_info{lecture=\"");
            lr_metrics_label(out, m[l].name);
            av_bprintf(out, "\",source=\"%d\",session=\"", i + 1);
            source_label(out, m[l].names[i]);
            av_bprintf(out, "\",encoder=\"");
            lr_metrics_label(out, st->encoder);
            av_bprintf(out, "\"} 1\n");
        }
}

void lr_ingest_metrics_render(lr_lecture *const *lectures, int nb, AVBPrint *out)
{
    lr_lecture_metrics m[LR_MAX_LECTURES];
    int64_t now = lr_now_ns();

    nb = FFMIN(nb, LR_MAX_LECTURES);
    for (int l = 0; l < nb; l++)
        lr_lecture_get_metrics(lectures[l], &m[l]);
    for (int f = 0; f < (int)FF_ARRAY_ELEMS(families); f++) {
        lr_metrics_family(out, families[f].name, families[f].type, families[f].help);
        for (int l = 0; l < nb; l++) {
            if (families[f].scope == PER_LECTURE) {
                av_bprintf(out, "%s{lecture=\"", families[f].name);
                lr_metrics_label(out, m[l].name);
                av_bprintf(out, "\"} %.17g\n", lecture_value(f, &m[l]));
                continue;
            }
            for (int i = 0; i < m[l].nb_sources; i++) {
                if (f == 4 && !m[l].stats[i].last_pkt_ns)
                    continue;  /* never had a packet: no age to show */
                av_bprintf(out, "%s{lecture=\"", families[f].name);
                lr_metrics_label(out, m[l].name);
                av_bprintf(out, "\",source=\"%d\",url=\"", i + 1);
                source_label(out, m[l].sources[i]);
                av_bprintf(out, "\"} %.17g\n", source_value(f, &m[l], i, now));
            }
        }
    }
    render_info(m, nb, out);
}
