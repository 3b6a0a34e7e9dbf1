/* egress/packager.c — see packager.h.
 *
 * Each rendition keeps the segments its live playlist lists (the time-shift
 * window), the parts of its newest segments, and the parts of the segment
 * being built. Every publication of a part or segment re-renders that
 * rendition's playlist (full and delta forms) once; the HTTP server serves
 * the stored text to every request and wakes the blocked ones.
 *
 * fMP4: video renditions carry only video; the audio is one rendition of its
 * own ("audio"), cut where the lowest rung (never shed) cuts, so segment N and
 * part N.k cover the same time in every rendition. TS: audio is muxed into
 * every video rendition, as old players expect. */
#include "packager.h"

#include <math.h>
#include <pthread.h>
#include <sys/time.h>

#include <libavutil/avstring.h>
#include <libavutil/mem.h>

#include "common/log.h"
#include "common/status.h"
#include "common/stop.h"
#include "common/streamid.h"
#include "common/ts_wall.h"
#include "playlist.h"
#include "recorder.h"
#include "segmenter.h"

#define MAX_RENDS        LR_PACKAGER_MAX_RENDS
#define MAX_PARTS        64     /* per segment */
#define PART_SEGS        4      /* newest complete segments listed with parts */
#define REJOIN_SEGMENTS  3      /* a rendition back after a shed: listed again with
                                   this many segments (HOLD-BACK is 3 target durations) */
#define MAX_LISTED       20000  /* segments in one playlist, whatever the window */
#define MIN_LISTED_CAP   64     /* a time-shift window's list starts this long and grows */
#define LEARN_SEGS       3      /* the segment duration: the longest of the reference's
                                   newest this many whole segments... */
#define LEARN_MIN        2      /* ...known once this many were seen */
#define SEGMENT_MAX_AGE  86400
#define PLAYLIST_MAX_AGE 1   /* the master and init sections */
#define MEDIA_PLAYLIST_MAX_AGE 0  /* no-cache: an HTTP cache holds a second at least,
                                     which is several parts; players that block get
                                     cacheable answers by URL instead */
#define AUDIO_NAME       "audio"
#define AUDIO_GROUP      "aud"
#define CC_GROUP         "cc"

typedef struct rendition rendition;

struct rendition {
    lr_packager  *p;
    char          name[LR_LECTURE_NAME_MAX + 1];
    int           is_audio;        /* the fMP4 audio rendition */
    int           sidx;            /* its input stream in the current link; -1 none */
    int           aidx;            /* TS: the audio muxed in; -1 none */
    lr_segmenter *seg;

    lr_seg_info  *segs;            /* the listed segments, oldest first */
    int           nb_segs, cap_segs;
    double        listed_duration;
    lr_part_info  parts[PART_SEGS][MAX_PARTS]; /* by seq % PART_SEGS */
    int           nb_parts[PART_SEGS]; /* listed */
    int           nb_stored[PART_SEGS]; /* in the store */
    int64_t       parts_seq[PART_SEGS]; /* the segment whose parts are stored there */
    lr_part_info  open[MAX_PARTS]; /* the segment being built */
    int           nb_open;
    int           open_unlisted;   /* a part of it outlasts PART-TARGET (frames were
                                      lost inside it): its parts are not listed */
    int64_t       next_seq;
    int           numbered;        /* with a period: the open segment has its number */
    int           dropping;        /* ...and it was published already (a link back within
                                      the slot it broke in): not published again */
    int64_t       disc_sequence;
    int           pending_disc;    /* the next segment follows a media break */
    int           gap_unlisted;    /* it does, but starts the live window: only the
                                      recording lists the break */
    int64_t       last_pdt_ms;     /* of the newest segment, for continuity */
    double        last_duration;

    int           width, height;
    double        frame_rate;
    int           channels;
    char          codec[24];       /* for CODECS=, from the bitstream */
    int           captions;        /* its video carries CEA-608/708 */
    int64_t       last_in_dts;     /* of its newest packet, 1/90000 */
    int           idle;            /* the link stopped carrying it (shed by the sender) */
    int           render_failing;  /* its playlist did not render last time (logged once) */
    int           resumed;         /* back after idle: number its next output anew */
    int           rejoining;       /* back after idle, its playlist still redirected
                                      until REJOIN_SEGMENTS segments are listed */
    lr_store_obj  reach;           /* how far its last playlist before the redirect
                                      reached (the ll fields; data unused), ll 0 none */
    int64_t       peak_bps, total_bytes;
    double        total_duration;
};

struct lr_packager {
    const lr_egress_conf *ec;
    lr_store      *store;
    char           lecture[LR_LECTURE_NAME_MAX + 1];
    lr_seg_format  format;
    const char    *ext;
    rendition      rends[MAX_RENDS];
    int            nb_rends;
    int            ref;            /* the rendition whose cuts the audio follows */
    int            audio;          /* the audio rendition, -1 none */
    int64_t        last_end_pts;   /* end of the newest segment, 1/90000 */
    int            first_output;   /* nothing of this link published yet */
    int            flushing;       /* check_idle is ending a rendition's segment */
    /* The sender's keyframe period (1/90000) when it names one: a segment's
     * number is then its slot (common/ts_wall.h), the same on every egress
     * node fed the same ladder. 0: numbers count on from the last. */
    int64_t        period;
    int64_t        audio_slot;     /* the slot the fMP4 audio's open segment was cut for */
    int64_t        audio_from;     /* the fMP4 audio starts at the reference's first
                                      keyframe in the link; AV_NOPTS_VALUE until seen */
    /* The segment duration is the sender's keyframe interval (the
     * transcoder's transcode.segment_duration, or the source's GOP in
     * passthrough), learned from the reference rendition's segments: the
     * first of each link may start anywhere in an interval and is not
     * counted, and a keyframe the transcoder forces as a link comes up may
     * cut the next one short, so the longest of the newest ones counts.
     * Until it is known, no playlist is published. */
    double         seg_s;          /* the longest of learned[]; 0 until known */
    double         learned[LEARN_SEGS];
    int            nb_learned;
    int            link_ref_segs;  /* the reference's segments in this link */
    int            target_floor;   /* EXT-X-TARGETDURATION never goes below (it must
                                      not change in a playlist: RFC 8216bis 6.2.1) */
    int            link_ending;    /* the reference rendition's last outputs */
    char          *master;         /* the last master text published */
    lr_recorder   *rec;
    lr_recorder_conf rec_conf;
    int64_t        rec_retry_ns;   /* a recording failed to start: tried again then */
    /* for lr_packager_get_stats, from other threads */
    pthread_mutex_t  stats_lock;
    lr_packager_stats stats;
};

/* ---- what other threads see (lr_packager_get_stats) ---------------------- */

static void note_output(rendition *r, int segment)
{
    lr_packager *p = r->p;
    int i = (int)(r - p->rends);
    int64_t now = lr_now_ns();

    pthread_mutex_lock(&p->stats_lock);
    lr_packager_rend_stats *st = &p->stats.rends[i];
    av_strlcpy(st->name, r->name, sizeof(st->name));
    p->stats.nb_rends = FFMAX(p->stats.nb_rends, i + 1);
    st->live = !r->idle;
    st->part_ns = now;
    if (segment)
        st->segment_ns = now;
    pthread_mutex_unlock(&p->stats_lock);
}

/* A rendition stopped advancing (shed) or every one did (ended). */
static void note_stopped(lr_packager *p, const rendition *r)
{
    pthread_mutex_lock(&p->stats_lock);
    for (int i = 0; i < p->stats.nb_rends; i++)
        if (!r || i == r - p->rends)
            p->stats.rends[i].live = 0;
    pthread_mutex_unlock(&p->stats_lock);
}

/* The recorder's counters as of now (they lag its queue by a segment or
 * two; a finished recording keeps its last figures). */
static void open_recording(lr_packager *p);

static void note_recording(lr_packager *p)
{
    pthread_mutex_lock(&p->stats_lock);
    p->stats.recording = !!p->rec;
    if (p->rec) {
        p->stats.recording_bytes = lr_recorder_bytes_written(p->rec);
        p->stats.recording_failing = lr_recorder_failing(p->rec);
        p->stats.recording_lost = lr_recorder_dropped(p->rec);
    } else {
        p->stats.recording_failing = p->rec_retry_ns != 0;  /* it should, but can't start */
    }
    pthread_mutex_unlock(&p->stats_lock);
}

void lr_packager_get_stats(lr_packager *p, lr_packager_stats *out)
{
    pthread_mutex_lock(&p->stats_lock);
    *out = p->stats;
    pthread_mutex_unlock(&p->stats_lock);
}

/* ---- publishing ----------------------------------------------------------- */

static void put(lr_packager *p, const char *path, AVBufferRef *buf, const lr_store_obj *tmpl)
{
    lr_store_obj obj = *tmpl;

    obj.data = buf;
    if (lr_store_put(p->store, path, &obj) < 0)
        lr_error("lecture=%s store: cannot publish %s (out of memory)", p->lecture, path);
}

static AVBufferRef *wrap_text(char *text, size_t len)
{
    AVBufferRef *b = av_buffer_create((uint8_t *)text, len, av_buffer_default_free, NULL,
                                      AV_BUFFER_FLAG_READONLY);
    if (!b)
        av_free(text);
    return b;
}

static void rend_path(const rendition *r, char *out, size_t size, const char *file)
{
    snprintf(out, size, "%s/%s/%s", r->p->lecture, r->name, file);
}

static void media_path(const rendition *r, char *out, size_t size, int64_t seq, int part)
{
    if (part < 0)
        snprintf(out, size, "%s/%s/%" PRId64 ".%s", r->p->lecture, r->name, seq, r->p->ext);
    else
        snprintf(out, size, "%s/%s/%" PRId64 ".%d.%s", r->p->lecture, r->name, seq, part,
                 r->p->ext);
}

/* The newest (msn, part) a rendition's playlist lists. */
static int listed_open(const rendition *r)
{
    return r->open_unlisted ? 0 : r->nb_open;
}

static void newest_part(const rendition *r, int64_t *msn, int *part)
{
    if (listed_open(r)) {
        *msn = r->next_seq;
        *part = listed_open(r) - 1;
    } else if (r->nb_segs) {
        *msn = r->segs[r->nb_segs - 1].seq;
        *part = r->segs[r->nb_segs - 1].gap ? -1 : r->nb_parts[*msn % PART_SEGS] - 1;
    } else {
        *msn = r->next_seq - 1;
        *part = -1;
    }
}

static int ll_on(const lr_packager *p)
{
    return p->ec->part_duration > 0;
}

/* EXT-X-PART-INF:PART-TARGET: the video's limit, plus an AAC frame when the
 * audio is a rendition of its own (segmenter.h). */
static double part_target(const lr_packager *p)
{
    return p->ec->part_duration + (p->audio >= 0 ? LR_SEGMENTER_AUDIO_SLACK : 0);
}

static void publish_playlist(rendition *r, int ended)
{
    lr_packager *p = r->p;
    lr_rendition_report reports[MAX_RENDS];
    char uris[MAX_RENDS][LR_LECTURE_NAME_MAX + 24];
    char path[256];
    int nb_reports = 0, ll = ll_on(p) && !ended;
    lr_store_obj tmpl = { .content_type = "application/vnd.apple.mpegurl",
                          .max_age_s = MEDIA_PLAYLIST_MAX_AGE };

    if ((!r->nb_segs && !listed_open(r)) || (r->rejoining && !ended) || (!p->seg_s && !ended))
        return;
    /* Parts are listed for the newest complete segments only. */
    for (int i = FFMAX(0, r->nb_segs - PART_SEGS); i < r->nb_segs; i++) {
        lr_seg_info *s = &r->segs[i];
        s->parts = ll && !s->gap && i >= r->nb_segs - (PART_SEGS - 1) ? r->parts[s->seq % PART_SEGS]
                                                                        : NULL;
        s->nb_parts = s->parts ? r->nb_parts[s->seq % PART_SEGS] : 0;
    }
    for (int i = 0; ll && i < p->nb_rends; i++) {
        rendition *o = &p->rends[i];
        /* only renditions of the master (RFC 8216bis 4.4.5.4): not one shed, nor
         * one back but not yet listed */
        if (o == r || o->sidx < 0 || o->idle || o->rejoining || (!o->nb_segs && !listed_open(o)))
            continue;
        snprintf(uris[nb_reports], sizeof(uris[0]), "../%s/index.m3u8", o->name);
        reports[nb_reports].uri = uris[nb_reports];
        newest_part(o, &reports[nb_reports].last_msn, &reports[nb_reports].last_part);
        nb_reports++;
    }

    int target = lr_playlist_target_duration(r->segs, r->nb_segs, FFMAX(p->target_floor, 1));
    pthread_mutex_lock(&p->stats_lock);
    p->stats.target_duration = target;
    pthread_mutex_unlock(&p->stats_lock);
    /* The init section named with its rendition: a player sent here by a
     * shed rendition's redirect (redirect_idle) takes an init URI equal to
     * the one it has for the same one (hls.js compares the text), and so
     * decoded the stand-in's pictures with the shed rendition's SPS. */
    char init_uri[LR_LECTURE_NAME_MAX + 24];
    snprintf(init_uri, sizeof(init_uri), "../%s/init.mp4", r->name);
    lr_media_playlist pl = {
        .target_duration = target,
        .disc_sequence = r->disc_sequence,
        .segs = r->segs,
        .nb_segs = r->nb_segs,
        .ext = p->ext,
        .init_uri = p->format == LR_SEG_FMP4 ? init_uri : NULL,
        .endlist = ended,
    };
    if (ll) {
        pl.part_target = part_target(p);
        pl.open_seq = r->next_seq;
        pl.open_discontinuity = r->pending_disc && listed_open(r);
        pl.open_parts = r->open;
        pl.nb_open_parts = listed_open(r);
        pl.preload_hint = !r->open_unlisted;
        pl.hold_back = 3.0 * target;
        pl.part_hold_back = 3.0 * pl.part_target;
        pl.can_skip_until = r->listed_duration > 12.0 * target ? 6.0 * target : 0;
        pl.reports = reports;
        pl.nb_reports = nb_reports;
    }
    tmpl.ll = ll;
    tmpl.ll_ended = ended;
    tmpl.ll_target_duration = target;
    tmpl.ll_msn_complete = r->nb_segs ? r->segs[r->nb_segs - 1].seq : -1;
    newest_part(r, &tmpl.ll_part_msn, &tmpl.ll_part);

    for (int skip = 0; skip <= (ll && pl.can_skip_until > 0); skip++) {
        char *text;
        size_t len;
        AVBufferRef *b;
        pl.skip = skip;
        if (lr_playlist_render_media(&pl, &text, &len) < 0) {
            const char *why = lr_playlist_media_problem(&pl);
            if (!r->render_failing)  /* (once a run: it is tried at every part) */
                lr_warn("lecture=%s rendition=%s: playlist not rendered: %s; players get the "
                        "last one", p->lecture, r->name, why ? why : "out of memory");
            r->render_failing = 1;
            return;
        }
        if (r->render_failing)
            lr_info("lecture=%s rendition=%s: playlist rendered again", p->lecture, r->name);
        r->render_failing = 0;
        if (!(b = wrap_text(text, len)))
            return;
        rend_path(r, path, sizeof(path), skip ? "index.m3u8" LR_STORE_DELTA_SUFFIX : "index.m3u8");
        put(p, path, b, &tmpl);
        av_buffer_unref(&b);
    }
}

static int64_t bits_per_s(int64_t bytes, double s)
{
    return (int64_t)(bytes * 8 / FFMAX(s, 0.001));
}

/* The live master with Content Steering (egress.steering): this node's
 * variants, then each peer's at "<peer url>/live/<lecture>/". */
static int render_steered_master(const lr_packager *p, const lr_variant *v, int nb,
                                 const lr_media_entry *media, int nb_media, char **text,
                                 size_t *len)
{
    const lr_steering_conf *st = &p->ec->steering;
    lr_pathway paths[LR_MAX_PEERS + 1];
    char prefixes[LR_MAX_PEERS][512], steer[LR_LECTURE_NAME_MAX + 16];

    paths[0] = (lr_pathway){ .id = st->pathway, .uri_prefix = "" };
    for (int i = 0; i < st->nb_peers; i++) {
        size_t n = strlen(st->peers[i].url);
        while (n && st->peers[i].url[n - 1] == '/')
            n--;
        snprintf(prefixes[i], sizeof(prefixes[i]), "%.*s/live/%s/", (int)n, st->peers[i].url,
                 p->lecture);
        paths[i + 1] = (lr_pathway){ .id = st->peers[i].pathway, .uri_prefix = prefixes[i] };
    }
    snprintf(steer, sizeof(steer), "/steer/%s.json", p->lecture);
    return lr_playlist_render_master(&(lr_master){ .variants = v, .nb_variants = nb,
                                                   .media = nb_media ? media : NULL,
                                                   .nb_media = nb_media, .steering_uri = steer,
                                                   .pathways = paths,
                                                   .nb_pathways = st->nb_peers + 1 },
                                     text, len);
}

static void publish_master(lr_packager *p)
{
    lr_variant v[MAX_RENDS + 1];
    lr_media_entry media[2];
    const rendition *a = p->audio >= 0 && p->rends[p->audio].sidx >= 0 ? &p->rends[p->audio] : NULL;
    char codecs[MAX_RENDS][64], path[256], *text;
    size_t len;
    int nb = 0, nb_media = 0, any_captions = 0;
    AVBufferRef *b;

    if (!p->seg_s || (a && (!a->nb_segs || !a->codec[0])))
        return;  /* listed only once every rendition has a measured segment */
    for (int i = 0; i < p->nb_rends; i++) {
        const rendition *r = &p->rends[i];
        if (r->sidx < 0 || r->is_audio || r->idle || r->rejoining)
            continue;  /* not in the current link (the ladder changed, or it was
                          shed), or back but not yet listed on its own */
        if (!r->nb_segs || !r->codec[0])
            return;
        snprintf(codecs[nb], sizeof(codecs[0]), "%s%s%s", r->codec, a ? "," : "",
                 a ? a->codec : "");
        if (!a && r->aidx >= 0)  /* TS: audio muxed in */
            av_strlcatf(codecs[nb], sizeof(codecs[0]), ",%s", "mp4a.40.2");
        v[nb] = (lr_variant){
            .name = r->name,
            .bandwidth = r->peak_bps + (a ? a->peak_bps : 0),
            .avg_bandwidth = bits_per_s(r->total_bytes, r->total_duration) +
                             (a ? bits_per_s(a->total_bytes, a->total_duration) : 0),
            .width = r->width, .height = r->height, .frame_rate = r->frame_rate,
            .codecs = codecs[nb], .audio_group = a ? AUDIO_GROUP : NULL,
            .closed_captions = r->captions ? CC_GROUP : NULL,
        };
        any_captions |= r->captions;
        nb++;
    }
    if (!nb)
        return;
    if (any_captions)  /* carried in the video's SEI: CC1 is the lecture's captions */
        media[nb_media++] = (lr_media_entry){ .type = "CLOSED-CAPTIONS", .group = CC_GROUP,
                                              .name = "captions", .instream_id = "CC1",
                                              .is_default = 1 };
    if (a) {
        media[nb_media++] = (lr_media_entry){ .type = "AUDIO", .group = AUDIO_GROUP,
                                              .name = "lecture", .uri = AUDIO_NAME "/index.m3u8",
                                              .channels = a->channels, .is_default = 1 };
        /* The audio-only variant, for students on the poorest networks. */
        v[nb++] = (lr_variant){ .name = a->name, .bandwidth = a->peak_bps,
                                .avg_bandwidth = bits_per_s(a->total_bytes, a->total_duration),
                                .codecs = a->codec };
    }
    if (lr_playlist_render_master(&(lr_master){ .variants = v, .nb_variants = nb,
                                                .media = nb_media ? media : NULL,
                                                .nb_media = nb_media }, &text, &len) < 0)
        return;
    if (p->master && !strcmp(p->master, text)) {
        av_free(text);
        return;  /* rendered once per change */
    }
    av_free(p->master);
    p->master = av_strdup(text);
    if (p->rec && p->master)
        lr_recorder_put_master(p->rec, text, len);
    if (p->ec->steering.pathway && *p->ec->steering.pathway) {  /* live: every pathway; the recording: this node's */
        av_freep(&text);
        if (render_steered_master(p, v, nb, media, nb_media, &text, &len) < 0)
            return;
    }
    if (!(b = wrap_text(text, len)))
        return;
    snprintf(path, sizeof(path), "%s/master.m3u8", p->lecture);
    put(p, path, b, &(lr_store_obj){ .content_type = "application/vnd.apple.mpegurl",
                                     .max_age_s = PLAYLIST_MAX_AGE });
    av_buffer_unref(&b);
}

/* ---- the wall clock ----------------------------------------------------- */

static int64_t now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* The ingest sets the link's clock to its wall clock (modulo the 33-bit
 * MPEG-TS timestamp), so a timestamp names the moment the frame arrived at
 * the ingest. A timestamp more than two minutes from our clock either way
 * means the link's clock isn't the ingest's (another sender): the arrival
 * time here stands in. Either way round: our own clock stepped back (NTP, an
 * operator) must not move the dates back with it. */
static int64_t wall_ms_of(int64_t pts)
{
    int64_t now = now_ms();
    int64_t at = lr_ts_unwrap_near(pts, now * 90) / 90;

    return llabs(now - at) < 120000 ? at : now;
}

static int64_t segment_pdt(rendition *r, int64_t start_pts, int disc)
{
    int64_t mapped = wall_ms_of(start_pts);
    int64_t next = r->last_pdt_ms + (int64_t)llround(r->last_duration * 1000);

    /* With a period, every node dates a segment alike: by its timestamp. */
    if (!r->last_pdt_ms || disc || r->p->period)
        return mapped;
    return next;  /* without a discontinuity, dates follow durations (RFC 8216bis 4.4.4.6) */
}

/* ---- the segment duration ------------------------------------------------ */

/* A keyframe this close to the segment's start (the IDR a new link forces)
 * joins the segment to the next one; below half a second, the joined
 * segment still rounds to the target duration, which must never grow.
 * Before the duration is known, a tenth of a second: the first link's
 * forced IDR can come a frame before a scheduled one, and a first segment
 * of one frame ended before the audio's first packet (CI, both builds):
 * the audio then numbered its first segment as the video's first, one
 * behind the video for the whole link. */
#define FIRST_MIN_CUT 0.1

static double min_cut(const lr_packager *p)
{
    return p->seg_s ? p->seg_s * 0.2 : FIRST_MIN_CUT;
}

static void set_seg_s(lr_packager *p, double seg_s)
{
    int first = !p->seg_s;
    lr_seg_info one = { .duration = seg_s };

    p->seg_s = seg_s;
    p->target_floor = lr_playlist_target_duration(&one, 1, FFMAX(p->target_floor, 1));
    for (int i = 0; i < p->nb_rends; i++)
        if (p->rends[i].seg)
            lr_segmenter_set_min_duration(p->rends[i].seg, min_cut(p));
    if (!first)
        return;
    lr_info("lecture=%s segments of %.3f s (the sender's keyframe interval): target duration "
            "%d s", p->lecture, seg_s, p->target_floor);
    for (int i = 0; i < p->nb_rends; i++)  /* held back till now */
        if (p->rends[i].sidx >= 0 && !p->rends[i].idle)
            publish_playlist(&p->rends[i], 0);
    publish_master(p);
}

/* A whole segment of the reference rendition: not the first of its link
 * (which starts wherever the link did), not one the link's end cut short. */
static void learn(lr_packager *p, const lr_seg_output *o)
{
    double longest = 0;

    if (p->link_ending || o->gap_after || ++p->link_ref_segs < 2)
        return;
    memmove(p->learned, p->learned + 1, sizeof(p->learned) - sizeof(p->learned[0]));
    p->learned[LEARN_SEGS - 1] = o->duration;
    p->nb_learned = FFMIN(p->nb_learned + 1, LEARN_SEGS);
    if (p->nb_learned < LEARN_MIN && !p->seg_s)
        return;
    for (int i = LEARN_SEGS - p->nb_learned; i < LEARN_SEGS; i++)
        longest = FFMAX(longest, p->learned[i]);
    set_seg_s(p, longest);
}

/* After a restart, the window restored from the recording tells the
 * duration until the link does: the longest of its newest segments. */
static void learn_from_window(lr_packager *p, const rendition *r)
{
    int n = FFMIN(r->nb_segs, LEARN_SEGS);

    if (n < LEARN_MIN)
        return;
    for (int i = r->nb_segs - n; i < r->nb_segs; i++)
        p->seg_s = FFMAX(p->seg_s, r->segs[i].duration);  /* quietly: nothing of this link yet */
    p->target_floor = lr_playlist_target_duration(r->segs, r->nb_segs, FFMAX(p->target_floor, 1));
}

/* A time-shift window's list of segments, made room for at least want
 * (MAX_LISTED at most). */
static int grow_list(rendition *r, int want)
{
    int cap = FFMIN(want, MAX_LISTED);
    lr_seg_info *segs;

    if (cap <= r->cap_segs)
        return 0;
    if (!(segs = av_realloc_array(r->segs, (size_t)cap, sizeof(*segs)))) {
        lr_error("lecture=%s rendition=%s: out of memory for a time-shift window of %d segments",
                 r->p->lecture, r->name, cap);
        return AVERROR(ENOMEM);
    }
    r->segs = segs;
    r->cap_segs = cap;
    return 0;
}

/* ---- outputs of the segmenters ------------------------------------------- */

static void forget_segment(rendition *r)
{
    lr_packager *p = r->p;
    const lr_seg_info *old = &r->segs[0];
    char path[256];

    if (old->discontinuity)
        r->disc_sequence++;
    r->listed_duration -= old->duration;
    if (!p->rec) {  /* with a recording, memory is trimmed by keep_segments below */
        media_path(r, path, sizeof(path), old->seq, -1);
        lr_store_remove(p->store, path);
    }
    memmove(r->segs, r->segs + 1, sizeof(*r->segs) * (size_t)--r->nb_segs);
}

static int window_full(const rendition *r)
{
    const lr_egress_conf *ec = r->p->ec;

    if (r->nb_segs >= r->cap_segs)
        return 1;
    if (ec->dvr_window <= 0 || !r->p->rec)
        return r->nb_segs > (ec->dvr_window <= 0 ? ec->playlist_segments : ec->keep_segments);
    return r->nb_segs > 1 && r->listed_duration - r->segs[0].duration >= ec->dvr_window;
}

/* A segment is listed with its parts only if they add up to it: one that
 * doesn't is listed whole, rather than leaving every render of the playlist
 * refused until it leaves the window. */
static int parts_add_up(const rendition *r, double duration)
{
    if (!listed_open(r) || lr_playlist_parts_match(r->open, listed_open(r), duration))
        return 1;
    lr_warn("lecture=%s rendition=%s: segment %" PRId64 " lasts %.3f s, not what its parts add "
            "up to: listed without parts", r->p->lecture, r->name, r->next_seq, duration);
    return 0;
}

/* Lists one more entry (a segment or a gap) at the live edge; the window
 * drops its oldest as it fills. */
static lr_seg_info *list_entry(rendition *r, const lr_seg_info *e)
{
    lr_packager *p = r->p;

    if (r->nb_segs == r->cap_segs && p->ec->dvr_window > 0 && p->rec)
        grow_list(r, 2 * r->cap_segs);  /* on failure the window is shorter, logged */
    if (r->nb_segs == r->cap_segs || window_full(r))
        forget_segment(r);
    r->segs[r->nb_segs++] = *e;
    while (window_full(r))
        forget_segment(r);
    r->listed_duration += e->duration;
    /* parts are listed for the newest segments only (publish_playlist):
     * the one this pushes out of them lists none from now on */
    if (r->nb_segs >= PART_SEGS) {
        r->segs[r->nb_segs - PART_SEGS].parts = NULL;
        r->segs[r->nb_segs - PART_SEGS].nb_parts = 0;
    }
    /* forget_segment moves the list: the new entry is the last */
    return r->segs + r->nb_segs - 1;
}

static void list_gaps(rendition *r, int64_t seq);

static void add_segment(rendition *r, const lr_seg_output *o)
{
    lr_packager *p = r->p;
    char path[256];
    lr_seg_info *info;
    int slot;

    media_path(r, path, sizeof(path), r->next_seq, -1);
    put(p, path, o->data, &(lr_store_obj){
        .content_type = p->format == LR_SEG_TS ? "video/mp2t"
                      : r->is_audio ? "audio/mp4" : "video/iso.segment",
        .max_age_s = SEGMENT_MAX_AGE, .immutable = 1 });

    if (r->nb_segs && r->segs[r->nb_segs - 1].seq + 1 != r->next_seq) {
        if (p->period) {
            list_gaps(r, r->next_seq);  /* numbers are slots: the others' moments */
        } else {
            while (r->nb_segs)  /* this rendition fell behind: start the window again */
                forget_segment(r);
            r->pending_disc = 1;
        }
    }
    info = list_entry(r, &(lr_seg_info){
        .seq = r->next_seq, .duration = o->duration, .discontinuity = r->pending_disc,
        .bytes = o->data->size, .pdt_ms = segment_pdt(r, o->start_pts, r->pending_disc) });
    r->last_pdt_ms = info->pdt_ms;
    r->last_duration = o->duration;
    if (!p->rec && p->rec_retry_ns && lr_now_ns() >= p->rec_retry_ns)
        open_recording(p);
    if (p->rec) {
        lr_seg_info rec = *info;
        rec.discontinuity |= r->gap_unlisted;
        lr_recorder_put_segment(p->rec, r->name, &rec, o->data);
        note_recording(p);
    }
    r->gap_unlisted = 0;
    note_output(r, 1);

    /* The open parts become the segment's, in the slot of the segment
     * PART_SEGS back, whose parts players no longer see listed. */
    slot = (int)(r->next_seq % PART_SEGS);
    for (int k = 0; k < r->nb_stored[slot]; k++) {
        media_path(r, path, sizeof(path), r->parts_seq[slot], k);
        lr_store_remove(p->store, path);
    }
    memcpy(r->parts[slot], r->open, sizeof(*r->open) * (size_t)r->nb_open);
    r->nb_parts[slot] = parts_add_up(r, o->duration) ? listed_open(r) : 0;
    r->nb_stored[slot] = r->nb_open;
    r->parts_seq[slot] = r->next_seq;
    r->nb_open = 0;
    r->open_unlisted = 0;
    /* Memory keeps keep_segments; older listed ones come from the recording. */
    if (p->rec && r->next_seq >= p->ec->keep_segments) {
        media_path(r, path, sizeof(path), r->next_seq - p->ec->keep_segments, -1);
        lr_store_remove(p->store, path);
    }
    r->next_seq++;
    r->pending_disc = 0;
    r->numbered = 0;

    int64_t bps = bits_per_s(o->data->size, FFMAX(o->duration, 0.1));
    r->total_bytes += o->data->size;
    r->total_duration += o->duration;
    r->peak_bps = FFMAX(r->peak_bps, bps);
}

static void add_part(rendition *r, const lr_seg_output *o)
{
    char path[256];

    if (r->nb_open == MAX_PARTS)
        return;
    media_path(r, path, sizeof(path), r->next_seq, r->nb_open);
    put(r->p, path, o->data, &(lr_store_obj){
        .content_type = r->p->format == LR_SEG_TS ? "video/mp2t"
                      : r->is_audio ? "audio/mp4" : "video/iso.segment",
        .max_age_s = SEGMENT_MAX_AGE, .immutable = 1 });
    r->open[r->nb_open++] = (lr_part_info){ o->duration, o->independent };
    note_output(r, 0);
    /* Frames lost inside a part stretch it past PART-TARGET, which no playlist
     * may list: this segment is then listed whole, without its parts. */
    if (o->duration > part_target(r->p) + 0.0005 && !r->open_unlisted) {
        r->open_unlisted = 1;
        lr_debug("lecture=%s rendition=%s: part %" PRId64 ".%d lasts %.3f s (media lost); "
                 "segment listed without parts", r->p->lecture, r->name, r->next_seq,
                 r->nb_open - 1, o->duration);
    }
}

/* The first part or segment of a new link: if the media jumped across the
 * link break, every rendition's next segment follows a discontinuity, and
 * is announced so from its first part (a segment whose parts were listed
 * without one must not be completed with one). */
static void check_link_jump(lr_packager *p, const lr_seg_output *o)
{
    if (!p->first_output)
        return;
    p->first_output = 0;
    if (p->last_end_pts == AV_NOPTS_VALUE || llabs(o->start_pts - p->last_end_pts) <= 90000)
        return;
    for (int k = 0; k < p->nb_rends; k++)
        p->rends[k].pending_disc = 1;
    lr_info("lecture=%s timestamps jumped %.3f s across the link break: discontinuity",
            p->lecture, (o->start_pts - p->last_end_pts) / 9e4);
}

/* The discontinuity sequence number a rendition gives segment seq: its
 * EXT-X-DISCONTINUITY-SEQUENCE plus the breaks listed up to it. */
static int64_t discontinuities_at(const rendition *r, int64_t seq)
{
    int64_t n = r->disc_sequence;

    for (int i = 0; i < r->nb_segs && r->segs[i].seq <= seq; i++)
        n += r->segs[i].discontinuity;
    return n + (seq >= r->next_seq && r->pending_disc);
}

/* ---- numbers by slot ------------------------------------------------------ */

/* How many slots a hole may list as gaps: a longer one starts the window
 * again (the recording keeps what it held). */
static int64_t max_gaps(const rendition *r)
{
    const lr_egress_conf *ec = r->p->ec;
    double period_s = r->p->period / 90000.0;

    if (ec->dvr_window > 0 && r->p->rec)
        return FFMIN(MAX_LISTED, (int64_t)(ec->dvr_window / period_s) + 1);
    return FFMAX(ec->keep_segments, ec->playlist_segments);
}

/* Slots no segment starts in here (a break in the lecture, this node down
 * or its link broken, a keyframe lost on the way) are listed as EXT-X-GAP,
 * so that the numbers after them are those the other nodes give the same
 * moments. A gap lasts a millisecond, not its slot: after a break the next
 * segment follows a discontinuity, which players place where the
 * playlist's durations end, and so right after what they have buffered, as
 * before numbers were slots; after a lost keyframe the segment before it
 * holds the slot's media. A gap of its slot's length left hls.js a hole in
 * its buffer at the live edge, which it jumped only after seconds (and
 * then, once in two runs, stalled again). */
#define GAP_DURATION 0.001

/* Lists gaps from the window's newest entry up to (not including) seq, or,
 * if that is more than max_gaps, starts the window again. From the newest
 * entry, not from next_seq: a link that starts again gives every rendition
 * the newest number any of them reached (lr_packager_link_start), and a
 * rendition whose segment the break cut short had not reached it. Gaps
 * from next_seq left that segment's number out of its list for good: a
 * playlist no player may be given (not consecutive), so players were given
 * the last one until the hole left the window (bench/soak, 2026-12-07). */
static void list_gaps(rendition *r, int64_t seq)
{
    int64_t from = r->nb_segs ? r->segs[r->nb_segs - 1].seq + 1 : seq;

    if (r->nb_segs && from <= seq && seq - from <= max_gaps(r)) {
        for (int64_t k = from; k < seq; k++) {
            list_entry(r, &(lr_seg_info){ .seq = k, .duration = GAP_DURATION, .gap = 1 });
            r->nb_parts[k % PART_SEGS] = 0;
        }
    } else {
        while (r->nb_segs)
            forget_segment(r);
    }
}

static void skip_to(rendition *r, int64_t seq)
{
    lr_packager *p = r->p;
    int64_t from = r->next_seq, keep = p->ec->keep_segments;
    char path[256];

    /* memory keeps keep_segments by number (add_segment): free what the jump
     * passes over */
    for (int64_t k = FFMAX(0, from - keep); p->rec && k < FFMIN(from, seq - keep); k++) {
        media_path(r, path, sizeof(path), k, -1);
        lr_store_remove(p->store, path);
    }
    list_gaps(r, seq);
    /* No discontinuity of its own: where the media broke (a link back after
     * a jump, a break in the lecture, a restart) it is marked already; a
     * keyframe lost on the way only made the segment before longer. */
    if (r->nb_segs || from)  /* not a node's first segment */
        lr_info("lecture=%s rendition=%s: no segment starts in slots %" PRId64 "-%" PRId64
                " here; %s", p->lecture, r->name, from, seq - 1,
                r->nb_segs ? "listed as gaps" : "the window starts again");
    r->next_seq = seq;
    r->last_pdt_ms = 0;
}

/* The first output of a segment, with a period: its number is its slot. */
static void number_segment(rendition *r, const lr_seg_output *o)
{
    lr_packager *p = r->p;
    /* The audio, too: it starts at the reference's first keyframe
     * (lr_packager_packet) and is cut at or after the reference's cuts,
     * which are at or after the slot's start. */
    int64_t seq = lr_ts_slot(o->start_pts, p->period);

    r->numbered = 1;
    if (r == &p->rends[p->ref])
        p->audio_slot = FFMAX(p->audio_slot, seq);
    if (seq < r->next_seq) {
        r->dropping = 1;
        if (r == &p->rends[p->ref])
            lr_info("lecture=%s segment %" PRId64 " was published before the link broke: "
                    "the rest of it is not", p->lecture, seq);
    } else if (seq > r->next_seq) {
        skip_to(r, seq);
    }
}

/* A rendition back after being idle: its first output takes the number of
 * the segment the reference rendition has at the same moment. */
static void renumber(rendition *r, const lr_seg_output *o)
{
    lr_packager *p = r->p;
    const rendition *ref = p->ref >= 0 ? &p->rends[p->ref] : NULL;
    int64_t behind;

    r->resumed = 0;
    if (p->period) {
        r->next_seq = FFMAX(r->next_seq, lr_ts_slot(o->start_pts, p->period));
    } else {
        if (!ref || ref == r || p->last_end_pts == AV_NOPTS_VALUE || !p->seg_s)
            return;
        behind = llround((p->last_end_pts - o->start_pts) / 90000.0 / p->seg_s);
        r->next_seq = FFMAX(r->next_seq, ref->next_seq - FFMAX(behind, 0));
    }
    if (r->nb_segs && r->segs[r->nb_segs - 1].seq + 1 == r->next_seq)
        return;
    /* A playlist lists consecutive numbers: its window starts again. The
     * break is then listed in the recording only, and the window counts
     * discontinuities as the reference does at that number: a player that
     * followed the stand-in meanwhile (redirect_idle) finds the same
     * discontinuity sequence at the numbers it has (hls.js refuses a
     * playlist that differs there). The count it had before the gap no
     * player has seen since: the redirect stood in for all of them. */
    while (r->nb_segs)
        forget_segment(r);
    r->gap_unlisted = 1;
    r->pending_disc = 0;
    r->disc_sequence = discontinuities_at(ref, r->next_seq);
    r->last_pdt_ms = 0;  /* dated anew: the last date is from before the gap */
}

static void check_idle(lr_packager *p, rendition *from, const lr_seg_output *o);
static void redirect_idle(lr_packager *p);

/* The audio is cut where the reference's parts and segments end. With a
 * period, a part of the reference that ends in a new slot also ends the
 * audio's segment: the reference's segment runs on only because its
 * keyframe was lost on the way, and the audio, whole, keeps one segment a
 * slot (a gap in the audio has no other rendition to be mended from). */
static void cut_audio(lr_packager *p, int64_t end, int segment)
{
    if (p->period && !segment && lr_ts_slot(end, p->period) > p->audio_slot)
        segment = 1;
    if (segment && p->period)
        p->audio_slot = FFMAX(p->audio_slot, lr_ts_slot(end, p->period));
    lr_segmenter_cut(p->rends[p->audio].seg, end, segment);
}

static void on_output(void *opaque, const lr_seg_output *o)
{
    rendition *r = opaque;
    lr_packager *p = r->p;
    char path[256];

    if (o->kind != LR_OUT_INIT)
        check_link_jump(p, o);
    if (o->kind != LR_OUT_INIT && r->resumed)
        renumber(r, o);
    if (o->kind != LR_OUT_INIT && p->period && !r->numbered)
        number_segment(r, o);

    switch (o->kind) {
    case LR_OUT_INIT:
        rend_path(r, path, sizeof(path), "init.mp4");
        put(p, path, o->data, &(lr_store_obj){ .content_type = r->is_audio ? "audio/mp4"
                                                                          : "video/mp4",
                                               .max_age_s = PLAYLIST_MAX_AGE });
        if (p->rec)
            lr_recorder_put_init(p->rec, r->name, o->data);
        return;
    case LR_OUT_PART:
        if (!r->dropping)
            add_part(r, o);
        if (r->idle)
            return;
        if (r == &p->rends[p->ref] && p->audio >= 0 && p->rends[p->audio].seg && !p->link_ending)
            cut_audio(p, o->start_pts + (int64_t)llround(o->duration * 90000), 0);
        if (!r->dropping)
            publish_playlist(r, 0);
        return;
    case LR_OUT_SEGMENT:
        if (r == &p->rends[p->ref] && p->audio >= 0 && p->rends[p->audio].seg && !p->link_ending)
            cut_audio(p, o->start_pts + (int64_t)llround(o->duration * 90000), 1);
        if (r->seg && lr_segmenter_codec(r->seg)[0])
            av_strlcpy(r->codec, lr_segmenter_codec(r->seg), sizeof(r->codec));
        if (r->seg && lr_segmenter_has_captions(r->seg))
            r->captions = 1;
        if (r->dropping) {
            r->dropping = r->numbered = 0;
            r->pending_disc = 1;
        } else {
            add_segment(r, o);
        }
        if (o->gap_after) {
            r->pending_disc = 1;
            if (r == &p->rends[p->ref])
                lr_info("lecture=%s the media breaks off after segment %" PRId64
                        ": discontinuity", p->lecture, r->next_seq - 1);
        }
        if (r == &p->rends[p->ref]) {
            p->last_end_pts = o->start_pts + (int64_t)llround(o->duration * 90000);
            learn(p, o);
        }
        if (r->rejoining && r->nb_segs >= REJOIN_SEGMENTS) {
            r->rejoining = 0;
            lr_info("lecture=%s rendition=%s: back in the master with %d segments", p->lecture,
                    r->name, r->nb_segs);
        }
        if (!r->idle)
            publish_playlist(r, 0);
        if (!r->is_audio && !r->idle && !p->flushing)
            check_idle(p, r, o);
        publish_master(p);
        return;
    }
}

/* ---- renditions the link stops carrying ------------------------------------ */

/* A shed rendition's last playlist, kept under "index.m3u8"
 * LR_STORE_LAST_SUFFIX (store.h) with how far it reached in r->reach: its
 * redirect (redirect_idle) answers a blocking reload that playlist satisfies
 * with it (egress/http_live.c), and sends on only the requests beyond it. Else a
 * player waiting for the rendition's last part would be sent to that part
 * of the stand-in: from the middle of a GOP of another encoding, which
 * doesn't decode after this one's. */
static void keep_last_playlist(rendition *r)
{
    char path[256];
    lr_store_obj last;

    r->reach.ll = 0;
    rend_path(r, path, sizeof(path), "index.m3u8");
    if (lr_store_get(r->p->store, path, strlen(path), &last) < 0)
        return;
    if (last.ll && !last.ll_ended && !last.redirect) {
        rend_path(r, path, sizeof(path), "index.m3u8" LR_STORE_LAST_SUFFIX);
        put(r->p, path, last.data, &last);
        r->reach = last;
        r->reach.data = NULL;
    }
    lr_store_obj_unref(&last);
}

/* A video rendition whose packets stopped while `from` made a whole segment
 * more (the transcoder shed it from this link: transcode/shed.h) leaves the
 * master, and its playlist redirects to a stand-in. It comes back with its
 * packets (lr_packager_packet). */
static void check_idle(lr_packager *p, rendition *from, const lr_seg_output *o)
{
    int64_t end = o->start_pts + (int64_t)llround(o->duration * 90000);
    int64_t grace = (int64_t)(1.5 * p->seg_s * 90000);
    int shed = 0;

    if (!p->seg_s)
        return;  /* not before the sender's rhythm is known */
    for (int i = 0; i < p->nb_rends; i++) {
        rendition *r = &p->rends[i];
        if (r == from || r->is_audio || r->idle || r->sidx < 0 || !r->seg ||
            r->last_in_dts == AV_NOPTS_VALUE || r->last_in_dts >= end - grace)
            continue;
        if (i == p->ref)  /* the audio follows the cuts of a rendition still coming */
            p->ref = (int)(from - p->rends);
        /* Its last segment is ended and listed: the sender stops a shed rung
         * at a keyframe (transcode/fanout.c), so that segment is whole but
         * for its last frame (which the demuxer hands over only with the
         * rung's next one: stale), and a player on the rendition takes all
         * of it before the redirect hands it over at the next segment, which
         * begins with a keyframe in the stand-in too (keep_last_playlist). A
         * hole of a frame, which players step over, is what remains. */
        p->flushing = 1;
        lr_segmenter_flush(r->seg);
        p->flushing = 0;
        r->idle = 1;
        note_stopped(p, r);
        keep_last_playlist(r);
        lr_info("lecture=%s rendition=%s: the link stopped carrying it; out of the master",
                p->lecture, r->name);
        lr_status_event(p->lecture, "shed", "rendition %s stopped coming (shed): out of the "
                        "master", r->name);
        shed = 1;
    }
    if (shed)
        redirect_idle(p);
}

/* A rendition carried again: its delta playlist comes back only once its
 * new window is long enough, and till then the full key answers (with the
 * redirect while it rejoins). */
static void drop_delta_redirect(rendition *r)
{
    char path[256];

    rend_path(r, path, sizeof(path), "index.m3u8" LR_STORE_DELTA_SUFFIX);
    lr_store_remove(r->p->store, path);
}

/* The rendition a player on idle rendition r is sent to: the largest one
 * still carried and listed below it, else the smallest carried. */
static const rendition *stand_in(const lr_packager *p, const rendition *r)
{
    const rendition *below = NULL, *smallest = NULL;

    for (int i = 0; i < p->nb_rends; i++) {
        const rendition *o = &p->rends[i];
        if (o->is_audio || o->idle || o->rejoining || o->sidx < 0 ||
            (!o->nb_segs && !listed_open(o)))
            continue;
        if (o->height < r->height && (!below || o->height > below->height))
            below = o;
        if (!smallest || o->height < smallest->height)
            smallest = o;
    }
    return below ? below : smallest;
}

/* A shed rendition's playlist answers 302 to a stand-in's (egress/http_respond.c
 * keeps the query: blocking reloads carry on there), rather than 404: a
 * player already on it (hls.js never reloads the master) moves down without
 * an error. Renditions' numbers match, so a player follows the stand-in from
 * the segment after the rendition's last (keep_last_playlist). A rendition
 * that comes back starts a new window: its own playlist replaces the
 * redirect (and it is back in the master) once that lists REJOIN_SEGMENTS
 * segments, as a player joining it needs (hls.js takes a playlist of open
 * parts alone for an empty one, an error that puts the rendition out of its
 * choice). */
static void redirect_idle(lr_packager *p)
{
    static const char *const files[] = { "index.m3u8", "index.m3u8" LR_STORE_DELTA_SUFFIX };

    for (int i = 0; i < p->nb_rends; i++) {
        const rendition *r = &p->rends[i], *to;
        char path[256], *uri;
        AVBufferRef *b;

        if (!(r->idle || r->rejoining) || r->is_audio || !(to = stand_in(p, r)))
            continue;
        if (!(uri = av_asprintf("../%s/index.m3u8", to->name)) ||
            !(b = wrap_text(uri, strlen(uri)))) {
            lr_error("lecture=%s rendition=%s: out of memory for its redirect", p->lecture,
                     r->name);
            continue;
        }
        lr_store_obj tmpl = r->reach;  /* the ll fields: how far its last playlist reached */
        tmpl.content_type = "text/plain";
        tmpl.max_age_s = MEDIA_PLAYLIST_MAX_AGE;
        tmpl.immutable = 0;
        tmpl.redirect = 1;
        for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
            rend_path(r, path, sizeof(path), files[f]);
            put(p, path, b, &tmpl);
        }
        av_buffer_unref(&b);
        lr_info("lecture=%s rendition=%s: its playlist redirects to %s's", p->lecture, r->name,
                to->name);
    }
}

/* ---- renditions ----------------------------------------------------------- */

static rendition *attach_rendition(lr_packager *p, const char *name)
{
    rendition *r;
    int cap;

    for (int i = 0; i < p->nb_rends; i++)
        if (!strcmp(p->rends[i].name, name))
            return &p->rends[i];
    if (p->nb_rends == MAX_RENDS)
        return NULL;
    r = &p->rends[p->nb_rends];
    memset(r, 0, sizeof(*r));
    /* A time-shift window's list grows as it fills (grow_list): how many
     * segments it holds depends on the segment duration, learned later. */
    cap = p->ec->dvr_window > 0 && p->rec ? MIN_LISTED_CAP
        : FFMAX(p->ec->keep_segments, p->ec->playlist_segments) + 2;
    if (!(r->segs = av_calloc((size_t)cap, sizeof(*r->segs))))
        return NULL;
    r->cap_segs = cap;
    r->p = p;
    r->sidx = r->aidx = -1;
    av_strlcpy(r->name, name, sizeof(r->name));
    /* After a restart the window comes back from the recording. */
    if (p->rec) {
        lr_seg_info *old = NULL;
        int nb = 0;
        if (lr_recorder_segments(p->rec, name, p->ec->dvr_window, &old, &nb) >= 0 && nb &&
            (p->ec->dvr_window <= 0 || grow_list(r, nb + 2) >= 0)) {
            int from = FFMAX(0, nb - (r->cap_segs - 2));
            for (int i = from + 1; i < nb; i++)  /* a playlist lists consecutive seqs */
                if (old[i].seq != old[i - 1].seq + 1)
                    from = i;
            for (int i = from; i < nb; i++) {
                r->segs[i - from] = old[i];
                r->listed_duration += old[i].duration;
            }
            r->nb_segs = nb - from;
            r->pending_disc = 1;  /* the egress restarted: the media jumps */
            r->last_pdt_ms = old[nb - 1].pdt_ms;
            r->last_duration = old[nb - 1].duration;
            if (!p->seg_s)
                learn_from_window(p, r);
        }
        av_free(old);
    }
    p->nb_rends++;
    return r;
}

/* The keyframe period the sender names (common/ts_wall.h); 0 none. */
static int64_t link_period(const AVFormatContext *ifmt)
{
    for (unsigned i = 0; i < ifmt->nb_programs; i++) {
        const AVDictionaryEntry *sp = av_dict_get(ifmt->programs[i]->metadata,
                                                  "service_provider", NULL, 0);
        int64_t period = sp ? lr_ts_provider_period(sp->value) : 0;
        if (period)
            return period;
    }
    return 0;
}

const char *lr_program_name(const AVFormatContext *ifmt, unsigned v)
{
    for (unsigned i = 0; i < ifmt->nb_programs; i++) {
        const AVProgram *prog = ifmt->programs[i];
        for (unsigned k = 0; k < prog->nb_stream_indexes; k++) {
            const AVDictionaryEntry *sn;
            if (prog->stream_index[k] == v &&
                (sn = av_dict_get(prog->metadata, "service_name", NULL, 0)))
                return sn->value;
        }
    }
    return NULL;
}

static int open_segmenter(lr_packager *p, rendition *r, const AVStream *video,
                          const AVStream *audio)
{
    lr_segmenter_opts o = { .format = p->format,
                            .min_duration = min_cut(p),
                            .part_duration = p->ec->part_duration,
                            .slot_period = p->period };

    lr_segmenter_free(&r->seg);
    r->nb_open = 0;  /* parts of an unfinished segment died with the link */
    r->open_unlisted = 0;
    r->numbered = r->dropping = 0;
    return lr_segmenter_alloc(video, audio, &o, on_output, r, &r->seg);
}

/* A recording that can't start (a full disk, a folder not writable) is
 * tried again every REC_RETRY_S while the lecture goes on; the first
 * failure is logged, the retries quietly, the start after all once. */
#define REC_RETRY_S 10
static void open_recording(lr_packager *p)
{
    int retry = p->rec_retry_ns != 0;

    if (p->rec || !p->rec_conf.root || !p->rec_conf.root[0])
        return;
    p->rec_conf.quiet = retry;
    if (lr_recorder_open(&p->rec_conf, p->lecture, p->ext, 1, &p->rec) < 0) {
        if (!retry)
            lr_warn("lecture=%s: the recording is tried again every %d s (lr_recording_failing)",
                    p->lecture, REC_RETRY_S);
        p->rec_retry_ns = lr_now_ns() + REC_RETRY_S * INT64_C(1000000000);
        note_recording(p);
        return;  /* the lecture goes on without a recording meanwhile */
    }
    if (retry)
        lr_info("lecture=%s: the recording started after all", p->lecture);
    p->rec_retry_ns = 0;
    lr_store_set_disk_dir(p->store, p->lecture, lr_recorder_dir(p->rec));
    note_recording(p);
    lr_status_event(p->lecture, "recording", "recording %s started", lr_recorder_id(p->rec));
}

int lr_packager_link_start(lr_packager *p, const AVFormatContext *ifmt)
{
    int aidx = av_find_best_stream((AVFormatContext *)ifmt, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
    int64_t next_seq = 0;
    int nb = 0, ret;

    open_recording(p);
    if (p->rec)
        next_seq = lr_recorder_next_seq(p->rec);
    for (int i = 0; i < p->nb_rends; i++) {
        if (p->rends[i].idle || p->rends[i].rejoining)
            drop_delta_redirect(&p->rends[i]);
        p->rends[i].sidx = p->rends[i].aidx = -1;
        p->rends[i].last_in_dts = AV_NOPTS_VALUE;
        p->rends[i].idle = p->rends[i].resumed = p->rends[i].rejoining = 0;
        next_seq = FFMAX(next_seq, p->rends[i].next_seq);
    }
    p->ref = -1;
    p->audio = -1;
    p->period = link_period(ifmt);
    p->audio_slot = INT64_MIN;
    p->audio_from = AV_NOPTS_VALUE;
    for (unsigned v = 0; v < ifmt->nb_streams; v++) {
        const AVStream *st = ifmt->streams[v];
        const char *sn = lr_program_name(ifmt, v);
        char name[LR_LECTURE_NAME_MAX + 1];
        rendition *r;

        if (st->codecpar->codec_type != AVMEDIA_TYPE_VIDEO || st->codecpar->width <= 0)
            continue;
        if (sn && lr_lecture_name_valid(sn) && strcmp(sn, AUDIO_NAME))
            av_strlcpy(name, sn, sizeof(name));
        else
            snprintf(name, sizeof(name), "v%u", v);
        if (!(r = attach_rendition(p, name)))
            break;
        r->sidx = (int)v;
        r->width = st->codecpar->width;
        r->height = st->codecpar->height;
        r->frame_rate = st->avg_frame_rate.num ? av_q2d(st->avg_frame_rate)
                      : st->r_frame_rate.num ? av_q2d(st->r_frame_rate) : 0;
        if (r->frame_rate > 240)
            r->frame_rate = 0;
        if (p->format == LR_SEG_TS)
            r->aidx = aidx;
        if ((ret = open_segmenter(p, r, st, r->aidx >= 0 ? ifmt->streams[aidx] : NULL)) < 0)
            return ret;
        /* the audio follows the last video stream: the ladder's lowest
         * rung, which the transcoder never sheds (transcode/shed.h). Had it
         * followed the top rung, a shed would hold the audio's parts back
         * until check_idle noticed, then cut one segment of several. */
        p->ref = (int)(r - p->rends);
        nb++;
    }
    if (nb && p->format == LR_SEG_FMP4 && aidx >= 0) {
        rendition *a = attach_rendition(p, AUDIO_NAME);
        if (a) {
            a->is_audio = 1;
            a->sidx = aidx;
            a->channels = ifmt->streams[aidx]->codecpar->ch_layout.nb_channels;
            if ((ret = open_segmenter(p, a, NULL, ifmt->streams[aidx])) < 0)
                return ret;
            p->audio = (int)(a - p->rends);
        }
    }
    /* Renditions continue from one shared number, so segment N is the same
     * moment in each of them. */
    for (int i = 0; i < p->nb_rends; i++)
        p->rends[i].next_seq = next_seq;
    p->first_output = 1;
    p->link_ref_segs = 0;
    return nb;
}

/* A shed rendition's last PES, cut off by the shed, is handed over by the
 * demuxer only when the rendition's next one begins: that frame is from
 * before the gap (older than the reference's newest segment by more than a
 * target duration), not the rendition coming back, whose number it would
 * set (renumber) far behind the others'. */
static int stale(const lr_packager *p, const AVPacket *pkt)
{
    return pkt->dts != AV_NOPTS_VALUE && p->last_end_pts != AV_NOPTS_VALUE &&
           p->seg_s && pkt->dts < p->last_end_pts - (int64_t)(p->seg_s * 90000);
}

void lr_packager_packet(lr_packager *p, const AVPacket *pkt)
{
    /* The audio rendition starts with the video, at the reference's first
     * keyframe: audio before it would make the audio's first segment longer
     * than the video's, and start it earlier than the same number does on
     * every other egress node. */
    if (p->ref >= 0 && pkt->stream_index == p->rends[p->ref].sidx &&
        p->audio_from == AV_NOPTS_VALUE && (pkt->flags & AV_PKT_FLAG_KEY))
        p->audio_from = pkt->pts;
    for (int i = 0; i < p->nb_rends; i++) {
        rendition *r = &p->rends[i];
        if (!r->seg)
            continue;
        if (r->is_audio && p->ref >= 0 && pkt->stream_index == r->sidx &&
            (p->audio_from == AV_NOPTS_VALUE || pkt->pts < p->audio_from))
            continue;
        if (pkt->stream_index == r->sidx) {
            if (!r->is_audio) {
                if (r->idle && stale(p, pkt)) {
                    lr_debug("lecture=%s rendition=%s: a frame from before it was shed, "
                             "left out", p->lecture, r->name);
                    continue;
                }
                r->last_in_dts = pkt->dts;
                if (r->idle) {
                    drop_delta_redirect(r);
                    r->idle = 0;
                    r->resumed = r->rejoining = 1;
                    r->pending_disc = 1;
                    lr_info("lecture=%s rendition=%s: the link carries it again", p->lecture,
                            r->name);
                    lr_status_event(p->lecture, "shed", "rendition %s back", r->name);
                }
            }
            lr_segmenter_push(r->seg, !r->is_audio, pkt);
        }
        else if (pkt->stream_index == r->aidx)
            lr_segmenter_push(r->seg, 0, pkt);
    }
}

void lr_packager_link_end(lr_packager *p)
{
    /* First: the audio follows its cuts. The video's end is not a cut:
     * nothing starts there, and the audio may run a little longer (the
     * transcoder pads it past the video); it stays in the last segment
     * rather than opening one more, which would put the audio one segment
     * number ahead of the video from then on. */
    p->link_ending = 1;
    if (p->ref >= 0 && p->rends[p->ref].seg)
        lr_segmenter_flush(p->rends[p->ref].seg);
    p->link_ending = 0;
    for (int i = 0; i < p->nb_rends; i++)
        if (p->rends[i].seg && i != p->ref)
            lr_segmenter_flush(p->rends[i].seg);
    for (int i = 0; i < p->nb_rends; i++) {
        lr_segmenter_free(&p->rends[i].seg);
        p->rends[i].nb_open = 0;
        p->rends[i].open_unlisted = 0;
    }
}

void lr_packager_end(lr_packager *p)
{
    for (int i = 0; i < p->nb_rends; i++)
        if (p->rends[i].sidx >= 0)
            publish_playlist(&p->rends[i], 1);
    if (p->rec) {
        lr_info("lecture=%s ended: recording %s is now on demand", p->lecture,
                lr_recorder_id(p->rec));
        lr_status_event(p->lecture, "recording", "recording %s finished, on demand now",
                        lr_recorder_id(p->rec));
        lr_store_set_disk_dir(p->store, p->lecture, NULL);
        lr_recorder_finish(&p->rec);
        note_recording(p);
    }
    note_stopped(p, NULL);
}

int lr_packager_alloc(const lr_egress_conf *ec, lr_store *store, const char *lecture,
                      lr_packager **out)
{
    lr_packager *p = av_mallocz(sizeof(*p));

    if (!p)
        return AVERROR(ENOMEM);
    p->ec = ec;
    p->store = store;
    av_strlcpy(p->lecture, lecture, sizeof(p->lecture));
    p->format = !strcmp(ec->segment_format, "ts") ? LR_SEG_TS : LR_SEG_FMP4;
    p->ext = p->format == LR_SEG_TS ? "ts" : "m4s";
    p->last_end_pts = AV_NOPTS_VALUE;
    p->ref = p->audio = -1;
    pthread_mutex_init(&p->stats_lock, NULL);
    p->rec_conf = (lr_recorder_conf){ .root = ec->recordings_dir,
                                      .retention_days = ec->retention_days,
                                      .quota_bytes = (int64_t)ec->recordings_quota_mb << 20 };
    *out = p;
    return 0;
}

void lr_packager_free(lr_packager **pp)
{
    lr_packager *p = *pp;

    if (!p)
        return;
    for (int i = 0; i < p->nb_rends; i++) {
        lr_segmenter_free(&p->rends[i].seg);
        av_freep(&p->rends[i].segs);
    }
    lr_recorder_close(&p->rec);
    av_free(p->master);
    pthread_mutex_destroy(&p->stats_lock);
    av_freep(pp);
}
