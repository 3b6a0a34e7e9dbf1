/* egress/playlist.c — writes HLS media and master playlists as text (RFC 8216;
 * LL-HLS from draft-pantos-hls-rfc8216bis). Pure functions over the structs in
 * playlist.h, called by the packager (live) and the recorder (EVENT, VOD).
 *
 * Every time is written in milliseconds ("2.002"), and every rule checked here
 * is checked on the written value, so what a strict client reads holds too. */
#include "playlist.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <libavutil/bprint.h>
#include <libavutil/common.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

int lr_playlist_target_duration(const lr_seg_info *segs, int nb_segs, int min_target)
{
    int target = min_target;

    for (int i = 0; i < nb_segs; i++) {
        int rounded = (int)lround(segs[i].duration);
        if (rounded > target)
            target = rounded;
    }
    return target;
}

/* ---- small helpers --------------------------------------------------- */

/* A duration we can write: positive, finite, under a day. */
static int valid_seconds(double s)
{
    return isfinite(s) && s > 0 && s < 86400.0;
}

static int64_t to_ms(double seconds)
{
    return llround(seconds * 1000.0);
}

static void print_ms(AVBPrint *bp, int64_t ms)
{
    av_bprintf(bp, "%" PRId64 ".%03d", ms / 1000, (int)(ms % 1000));
}

/* EXTINF rounding (RFC 8216 4.3.3.1): nearest integer, halves up. */
static int64_t rounded_seconds(int64_t ms)
{
    return (ms + 500) / 1000;
}

/* EXT-X-PROGRAM-DATE-TIME in ISO 8601 UTC with milliseconds,
 * 2026-11-28T13:47:00.123Z. The calendar date is worked out once per day
 * (a DVR window of hours has thousands of these lines); the time of day is
 * written digit by digit. */
typedef struct pdt_writer {
    int64_t day;            /* days since the epoch that date[] holds; -1 none */
    char    date[40];       /* "2026-11-28T" */
} pdt_writer;

static void put2(char *p, int v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
}

static void print_pdt(AVBPrint *bp, pdt_writer *w, int64_t pdt_ms)
{
    static const char tag[] = "#EXT-X-PROGRAM-DATE-TIME:";
    int64_t day = pdt_ms / 86400000;
    int rem = (int)(pdt_ms % 86400000);
    char tod[] = "hh:mm:ss.mmmZ\n";

    if (day != w->day) {
        time_t secs = (time_t)(day * 86400);
        struct tm tm;

        gmtime_r(&secs, &tm);
        snprintf(w->date, sizeof(w->date), "%04d-%02d-%02dT",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
        w->day = day;
    }
    put2(tod, rem / 3600000);
    put2(tod + 3, rem / 60000 % 60);
    put2(tod + 6, rem / 1000 % 60);
    tod[9] = (char)('0' + rem % 1000 / 100);
    put2(tod + 10, rem % 100);
    av_bprint_append_data(bp, tag, sizeof(tag) - 1);
    av_bprint_append_data(bp, w->date, (unsigned)strlen(w->date));
    av_bprint_append_data(bp, tod, sizeof(tod) - 1);
}

static int finish(AVBPrint *bp, char **out, size_t *len)
{
    size_t n = bp->len;
    int ret;

    if (!av_bprint_is_complete(bp)) {
        av_bprint_finalize(bp, NULL);
        return AVERROR(ENOMEM);
    }
    ret = av_bprint_finalize(bp, out);
    if (ret < 0)
        return ret;
    if (len)
        *len = n;
    return 0;
}

/* ---- media playlist: validation -------------------------------------- */

static int is_ll(const lr_media_playlist *pl)
{
    return pl->part_target > 0;
}

/* Parts: each at most PART-TARGET (rfc8216bis 4.4.4.9), written values. */
static const char *check_parts(const lr_part_info *parts, int nb, int64_t part_target_ms)
{
    if (nb < 0 || (nb > 0 && !parts))
        return "no parts array";
    for (int i = 0; i < nb; i++)
        if (!valid_seconds(parts[i].duration) || to_ms(parts[i].duration) > part_target_ms)
            return "a part longer than PART-TARGET (or not a duration)";
    return NULL;
}

/* A segment's parts carry the same media as the segment (rfc8216bis 3.2). */
int lr_playlist_parts_match(const lr_part_info *parts, int nb_parts, double duration)
{
    int64_t sum = 0;

    for (int i = 0; i < nb_parts; i++)
        sum += to_ms(parts[i].duration);
    return llabs(sum - to_ms(duration)) <= 50;
}

static const char *check_segments(const lr_media_playlist *pl, int64_t part_target_ms)
{
    for (int i = 0; i < pl->nb_segs; i++) {
        const lr_seg_info *s = &pl->segs[i];
        const char *why;

        if (s->seq < 0 || (i > 0 && s->seq != pl->segs[i - 1].seq + 1))
            return "segment numbers not consecutive";
        /* Dates from 1970 to 9999: four-digit years. */
        if (!valid_seconds(s->duration) || s->pdt_ms < 0 || s->pdt_ms >= INT64_C(253402300800000))
            return "a segment's duration or date out of range";
        if (rounded_seconds(to_ms(s->duration)) > pl->target_duration)
            return "a segment longer than the target duration";
        if (!is_ll(pl) || s->nb_parts == 0)
            continue;
        if ((why = check_parts(s->parts, s->nb_parts, part_target_ms)))
            return why;
        if (!lr_playlist_parts_match(s->parts, s->nb_parts, s->duration))
            return "a segment's parts differ from it by more than 50 ms";
    }
    return NULL;
}

/* EXT-X-SERVER-CONTROL limits (rfc8216bis 4.4.3.8), on written values. */
static const char *check_low_latency(const lr_media_playlist *pl)
{
    int64_t target_ms = (int64_t)pl->target_duration * 1000;
    int64_t part_ms = to_ms(pl->part_target);
    const char *why;

    if (!valid_seconds(pl->part_target) || part_ms < 1 || part_ms > target_ms)
        return "PART-TARGET out of range";
    if (!valid_seconds(pl->part_hold_back) || to_ms(pl->part_hold_back) < 2 * part_ms)
        return "PART-HOLD-BACK under twice PART-TARGET";
    if (pl->hold_back != 0
        && (!valid_seconds(pl->hold_back) || to_ms(pl->hold_back) < 3 * target_ms))
        return "HOLD-BACK under three target durations";
    if (pl->can_skip_until != 0
        && (!valid_seconds(pl->can_skip_until) || to_ms(pl->can_skip_until) < 6 * target_ms))
        return "CAN-SKIP-UNTIL under six target durations";
    if (pl->nb_segs > 0 ? pl->open_seq != pl->segs[pl->nb_segs - 1].seq + 1 : pl->open_seq < 0)
        return "the open segment's number is not the last one's + 1";
    /* A finished playlist has no segment under construction. */
    if (pl->endlist && pl->nb_open_parts > 0)
        return "open parts in a finished playlist";
    if ((why = check_parts(pl->open_parts, pl->nb_open_parts, part_ms)))
        return why;
    if (pl->nb_reports < 0 || (pl->nb_reports > 0 && !pl->reports))
        return "no reports array";
    for (int i = 0; i < pl->nb_reports; i++)
        if (!pl->reports[i].uri || pl->reports[i].last_msn < 0 || pl->reports[i].last_part < -1)
            return "a rendition report without URI or numbers";
    return NULL;
}

const char *lr_playlist_media_problem(const lr_media_playlist *pl)
{
    const char *why;

    if (pl->target_duration < 1 || !pl->ext || !*pl->ext || pl->disc_sequence < 0)
        return "no target duration, extension or discontinuity sequence";
    if (pl->nb_segs < 0 || (pl->nb_segs > 0 && !pl->segs))
        return "no segments array";
    if (pl->init_uri && !*pl->init_uri)
        return "an empty init URI";
    if (pl->playlist_type && strcmp(pl->playlist_type, "VOD") && strcmp(pl->playlist_type, "EVENT"))
        return "an unknown playlist type";
    if (is_ll(pl)) {
        if ((why = check_low_latency(pl)))
            return why;
        if (pl->nb_segs == 0 && pl->nb_open_parts == 0)
            return "nothing to list";
    } else if (pl->nb_segs == 0) {
        return "nothing to list";
    }
    return check_segments(pl, is_ll(pl) ? to_ms(pl->part_target) : 0);
}

static int check_media(const lr_media_playlist *pl)
{
    return lr_playlist_media_problem(pl) ? AVERROR(EINVAL) : 0;
}

/* ---- media playlist: text -------------------------------------------- */

/* How many of the oldest segments a delta update replaces with EXT-X-SKIP:
 * those that end further than the Skip Boundary from the end of the last
 * segment (rfc8216bis 6.2.5.1). None unless asked for and offered, and never
 * in a finished playlist (the server ignores _HLS_skip there). */
static int segments_to_skip(const lr_media_playlist *pl)
{
    int64_t boundary, tail = 0;
    int i = pl->nb_segs;

    if (!is_ll(pl) || !pl->skip || pl->can_skip_until <= 0 || pl->endlist)
        return 0;
    boundary = to_ms(pl->can_skip_until);
    /* tail: how far segment i - 1 ends from the end of the playlist. */
    while (i > 0 && tail <= boundary)
        tail += to_ms(pl->segs[--i].duration);
    return tail > boundary ? i : 0;
}

/* The lowest EXT-X-VERSION for what is written (rfc8216bis section 8):
 * 3 for decimal EXTINF, 6 for EXT-X-MAP outside I-frame playlists, 9 for
 * EXT-X-SKIP. The LL-HLS tags themselves need no particular version. */
static int media_version(const lr_media_playlist *pl, int skipped)
{
    if (skipped > 0)
        return 9;
    if (pl->init_uri)
        return 6;
    return 3;
}

static void print_part(AVBPrint *bp, int64_t seq, int index, const lr_part_info *p,
                       const char *ext)
{
    av_bprintf(bp, "#EXT-X-PART:DURATION=");
    print_ms(bp, to_ms(p->duration));
    av_bprintf(bp, ",URI=\"%" PRId64 ".%d.%s\"%s\n", seq, index, ext,
               p->independent ? ",INDEPENDENT=YES" : "");
}

static void print_header(AVBPrint *bp, const lr_media_playlist *pl, int skipped)
{
    int64_t first = pl->nb_segs > 0 ? pl->segs[0].seq : pl->open_seq;

    av_bprintf(bp, "#EXTM3U\n#EXT-X-VERSION:%d\n#EXT-X-TARGETDURATION:%d\n",
               media_version(pl, skipped), pl->target_duration);
    if (is_ll(pl)) {
        av_bprintf(bp, "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=");
        print_ms(bp, to_ms(pl->part_hold_back));
        if (pl->hold_back > 0) {
            av_bprintf(bp, ",HOLD-BACK=");
            print_ms(bp, to_ms(pl->hold_back));
        }
        if (pl->can_skip_until > 0) {
            av_bprintf(bp, ",CAN-SKIP-UNTIL=");
            print_ms(bp, to_ms(pl->can_skip_until));
        }
        av_bprintf(bp, "\n#EXT-X-PART-INF:PART-TARGET=");
        print_ms(bp, to_ms(pl->part_target));
        av_bprintf(bp, "\n");
    }
    /* With EXT-X-SKIP the sequence numbers still count the skipped segments,
     * and the discontinuity sequence is unchanged (rfc8216bis 4.4.5.2). */
    av_bprintf(bp, "#EXT-X-MEDIA-SEQUENCE:%" PRId64 "\n", first);
    if (pl->disc_sequence > 0)
        av_bprintf(bp, "#EXT-X-DISCONTINUITY-SEQUENCE:%" PRId64 "\n", pl->disc_sequence);
    if (pl->playlist_type)
        av_bprintf(bp, "#EXT-X-PLAYLIST-TYPE:%s\n", pl->playlist_type);
    av_bprintf(bp, "#EXT-X-INDEPENDENT-SEGMENTS\n");
    if (pl->init_uri)
        av_bprintf(bp, "#EXT-X-MAP:URI=\"%s\"\n", pl->init_uri);
    if (skipped > 0)
        av_bprintf(bp, "#EXT-X-SKIP:SKIPPED-SEGMENTS=%d\n", skipped);
}

/* Tags that apply to a segment come before its first part (rfc8216bis
 * 4.4.4.9): discontinuity, date-time, then parts, EXTINF and URI. */
static void print_segment(AVBPrint *bp, pdt_writer *pdt, const lr_media_playlist *pl,
                          const lr_seg_info *s)
{
    int64_t ms = to_ms(s->duration);

    if (s->discontinuity)
        av_bprintf(bp, "#EXT-X-DISCONTINUITY\n");
    if (s->pdt_ms > 0)
        print_pdt(bp, pdt, s->pdt_ms);
    if (s->gap)  /* no media: players must not load it (rfc8216bis 4.4.4.7) */
        av_bprintf(bp, "#EXT-X-GAP\n");
    else if (is_ll(pl))
        for (int i = 0; i < s->nb_parts; i++)
            print_part(bp, s->seq, i, &s->parts[i], pl->ext);
    /* One call per line: a DVR window of thousands of segments stays cheap. */
    av_bprintf(bp, "#EXTINF:%" PRId64 ".%03d,\n%" PRId64 ".%s\n",
               ms / 1000, (int)(ms % 1000), s->seq, pl->ext);
}

static void print_live_edge(AVBPrint *bp, const lr_media_playlist *pl)
{
    if (pl->nb_open_parts > 0 && pl->open_discontinuity)
        av_bprintf(bp, "#EXT-X-DISCONTINUITY\n");
    for (int i = 0; i < pl->nb_open_parts; i++)
        print_part(bp, pl->open_seq, i, &pl->open_parts[i], pl->ext);
    /* Never in a playlist with EXT-X-ENDLIST (rfc8216bis 4.4.5.3). */
    if (pl->preload_hint && !pl->endlist)
        av_bprintf(bp, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"%" PRId64 ".%d.%s\"\n",
                   pl->open_seq, pl->nb_open_parts, pl->ext);
    for (int i = 0; i < pl->nb_reports; i++) {
        const lr_rendition_report *r = &pl->reports[i];
        av_bprintf(bp, "#EXT-X-RENDITION-REPORT:URI=\"%s\",LAST-MSN=%" PRId64, r->uri, r->last_msn);
        if (r->last_part >= 0)
            av_bprintf(bp, ",LAST-PART=%d", r->last_part);
        av_bprintf(bp, "\n");
    }
}

/* Refused with EINVAL (nothing written): no ext; target_duration < 1; seq
 * numbers not consecutive; a duration <= 0 or whose written value rounds
 * above target_duration; a date before 1970 or after 9999; an unknown
 * playlist_type; nothing to list. In LL mode also: a part longer than
 * part_target or parts that differ from their segment by more than 50 ms;
 * PART-HOLD-BACK < 2x, HOLD-BACK < 3x or CAN-SKIP-UNTIL < 6x their base;
 * open_seq not last seq + 1; open parts in a finished playlist; a rendition
 * report without URI. */
int lr_playlist_render_media(const lr_media_playlist *pl, char **out, size_t *len)
{
    pdt_writer pdt = { .day = -1 };
    AVBPrint bp;
    int skipped, ret;

    if (!pl || !out)
        return AVERROR(EINVAL);
    *out = NULL;
    ret = check_media(pl);
    if (ret < 0)
        return ret;
    skipped = segments_to_skip(pl);
    /* About 40 bytes a segment; a DVR window of hours is one allocation. */
    av_bprint_init(&bp, 512 + 96 * (unsigned)FFMIN(pl->nb_segs - skipped, 1 << 20),
                   AV_BPRINT_SIZE_UNLIMITED);
    print_header(&bp, pl, skipped);
    for (int i = skipped; i < pl->nb_segs; i++)
        print_segment(&bp, &pdt, pl, &pl->segs[i]);
    if (is_ll(pl))
        print_live_edge(&bp, pl);
    if (pl->endlist)
        av_bprintf(&bp, "#EXT-X-ENDLIST\n");
    return finish(&bp, out, len);
}

/* ---- master playlist ------------------------------------------------- */

static const lr_media_entry *find_group(const lr_master *m, const char *type, const char *group)
{
    for (int i = 0; i < m->nb_media; i++)
        if (!strcmp(m->media[i].type, type) && !strcmp(m->media[i].group, group))
            return &m->media[i];
    return NULL;
}

/* RFC 8216 4.3.4.1 and 4.3.4.1.1: required attributes per TYPE, URI only
 * for AUDIO, INSTREAM-ID only for captions; within a group, distinct NAMEs
 * and at most one DEFAULT=YES. */
static int check_media_entries(const lr_master *m)
{
    if (m->nb_media < 0 || (m->nb_media > 0 && !m->media))
        return AVERROR(EINVAL);
    for (int i = 0; i < m->nb_media; i++) {
        const lr_media_entry *e = &m->media[i];
        int audio;

        if (!e->type || !e->group || !*e->group || !e->name || !*e->name || e->channels < 0)
            return AVERROR(EINVAL);
        audio = !strcmp(e->type, "AUDIO");
        if (!audio && strcmp(e->type, "CLOSED-CAPTIONS"))
            return AVERROR(EINVAL);
        if (audio ? !!e->instream_id : (e->uri || !e->instream_id || e->channels))
            return AVERROR(EINVAL);
        for (int j = 0; j < i; j++) {
            const lr_media_entry *o = &m->media[j];
            if (strcmp(o->type, e->type) || strcmp(o->group, e->group))
                continue;
            if (!strcmp(o->name, e->name) || (o->is_default && e->is_default))
                return AVERROR(EINVAL);
        }
    }
    return 0;
}

static int check_variants(const lr_master *m)
{
    if (m->nb_variants < 1 || !m->variants)
        return AVERROR(EINVAL);
    for (int i = 0; i < m->nb_variants; i++) {
        const lr_variant *v = &m->variants[i];

        if (!v->name || !*v->name || !v->codecs || !*v->codecs || v->bandwidth <= 0
            || v->avg_bandwidth < 0 || v->width < 0 || v->height < 0
            || !isfinite(v->frame_rate) || v->frame_rate < 0)
            return AVERROR(EINVAL);
        if ((v->width > 0) != (v->height > 0))
            return AVERROR(EINVAL);
        /* AUDIO and CLOSED-CAPTIONS name a group of the master (RFC 8216 4.3.4.2). */
        if (v->audio_group && !find_group(m, "AUDIO", v->audio_group))
            return AVERROR(EINVAL);
        if (v->closed_captions && !find_group(m, "CLOSED-CAPTIONS", v->closed_captions))
            return AVERROR(EINVAL);
    }
    return 0;
}

/* A group's id on pathway p: its own on this node's, "<group>-<id>" on a
 * peer's (a rendition group of one pathway names URIs on its node only). */
static void print_group(AVBPrint *bp, const char *group, const lr_pathway *p, int own)
{
    av_bprintf(bp, own || !p ? "%s" : "%s-%s", group, p ? p->id : "");
}

static void print_media_entry(AVBPrint *bp, const lr_media_entry *e, const lr_pathway *p, int own)
{
    av_bprintf(bp, "#EXT-X-MEDIA:TYPE=%s,GROUP-ID=\"", e->type);
    print_group(bp, e->group, p, own || !e->uri);
    av_bprintf(bp, "\",NAME=\"%s\"", e->name);
    if (e->language)
        av_bprintf(bp, ",LANGUAGE=\"%s\"", e->language);
    /* AUTOSELECT must be YES where DEFAULT is (RFC 8216 4.3.4.1). */
    av_bprintf(bp, ",DEFAULT=%s,AUTOSELECT=YES", e->is_default ? "YES" : "NO");
    if (e->channels > 0)
        av_bprintf(bp, ",CHANNELS=\"%d\"", e->channels);
    if (e->instream_id)
        av_bprintf(bp, ",INSTREAM-ID=\"%s\"", e->instream_id);
    if (p)  /* the same rendition on every pathway */
        av_bprintf(bp, ",STABLE-RENDITION-ID=\"%s\"", e->name);
    if (e->uri)
        av_bprintf(bp, ",URI=\"%s%s\"", p ? p->uri_prefix : "", e->uri);
    av_bprintf(bp, "\n");
}

static void print_variant(AVBPrint *bp, const lr_variant *v, const lr_pathway *p, int own)
{
    av_bprintf(bp, "#EXT-X-STREAM-INF:BANDWIDTH=%" PRId64, v->bandwidth);
    if (v->avg_bandwidth > 0)
        av_bprintf(bp, ",AVERAGE-BANDWIDTH=%" PRId64, v->avg_bandwidth);
    av_bprintf(bp, ",CODECS=\"%s\"", v->codecs);
    if (v->width > 0) {
        av_bprintf(bp, ",RESOLUTION=%dx%d", v->width, v->height);
        if (v->frame_rate > 0)
            av_bprintf(bp, ",FRAME-RATE=%.3f", v->frame_rate);
    }
    if (v->audio_group) {
        av_bprintf(bp, ",AUDIO=\"");
        print_group(bp, v->audio_group, p, own);
        av_bprintf(bp, "\"");
    }
    /* No CLOSED-CAPTIONS=NONE on a variant without captions: NONE on one
     * variant means none on any (RFC 8216 4.3.4.2). */
    if (v->closed_captions)
        av_bprintf(bp, ",CLOSED-CAPTIONS=\"%s\"", v->closed_captions);
    if (p)  /* players keep the rung they were on when they change pathway */
        av_bprintf(bp, ",PATHWAY-ID=\"%s\",STABLE-VARIANT-ID=\"%s\"", p->id, v->name);
    av_bprintf(bp, "\n%s%s/index.m3u8\n", p ? p->uri_prefix : "", v->name);
}

/* The lowest EXT-X-VERSION for a master (rfc8216bis section 8): 7 for an
 * INSTREAM-ID of SERVICEn, else 1. */
static int master_version(const lr_master *m)
{
    for (int i = 0; i < m->nb_media; i++)
        if (m->media[i].instream_id && !strncmp(m->media[i].instream_id, "SERVICE", 7))
            return 7;
    return 1;
}

/* [A-Za-z0-9._-]+, and no two alike (the specification's PATHWAY-ID). */
static int check_pathways(const lr_master *m)
{
    if (!m->nb_pathways)
        return m->steering_uri ? AVERROR(EINVAL) : 0;
    if (m->nb_pathways < 0 || !m->pathways || !m->steering_uri || !*m->steering_uri ||
        strchr(m->steering_uri, '"') || strchr(m->steering_uri, '\n'))
        return AVERROR(EINVAL);
    for (int i = 0; i < m->nb_pathways; i++) {
        const char *id = m->pathways[i].id, *pre = m->pathways[i].uri_prefix;
        if (!id || !*id || strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                      "0123456789._-") != strlen(id) ||
            !pre || strchr(pre, '"') || strchr(pre, '\n') || (i == 0 && *pre))
            return AVERROR(EINVAL);
        for (int j = 0; j < i; j++)
            if (!strcmp(m->pathways[j].id, id))
                return AVERROR(EINVAL);
    }
    return 0;
}

int lr_playlist_render_master(const lr_master *m, char **out, size_t *len)
{
    AVBPrint bp;
    int ret, nb_paths;

    if (!m || !out)
        return AVERROR(EINVAL);
    *out = NULL;
    ret = check_media_entries(m);
    if (ret >= 0)
        ret = check_variants(m);
    if (ret >= 0)
        ret = check_pathways(m);
    if (ret < 0)
        return ret;
    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    av_bprintf(&bp, "#EXTM3U\n#EXT-X-VERSION:%d\n#EXT-X-INDEPENDENT-SEGMENTS\n", master_version(m));
    if (m->nb_pathways)
        av_bprintf(&bp, "#EXT-X-CONTENT-STEERING:SERVER-URI=\"%s\",PATHWAY-ID=\"%s\"\n",
                   m->steering_uri, m->pathways[0].id);
    nb_paths = m->nb_pathways ? m->nb_pathways : 1;
    for (int k = 0; k < nb_paths; k++) {
        const lr_pathway *p = m->nb_pathways ? &m->pathways[k] : NULL;
        for (int i = 0; i < m->nb_media; i++)  /* captions are in the video: listed once */
            if (m->media[i].uri || k == 0)
                print_media_entry(&bp, &m->media[i], p, k == 0);
    }
    for (int k = 0; k < nb_paths; k++)
        for (int i = 0; i < m->nb_variants; i++)
            print_variant(&bp, &m->variants[i], m->nb_pathways ? &m->pathways[k] : NULL, k == 0);
    return finish(&bp, out, len);
}

int lr_playlist_master_without_audio_only(const char *in, size_t len, char **out, size_t *out_len)
{
    AVBPrint bp;
    int skip_uri = 0;

    av_bprint_init(&bp, len + 1, AV_BPRINT_SIZE_UNLIMITED);
    for (size_t i = 0; i < len;) {
        const char *line = in + i, *nl = memchr(line, '\n', len - i);
        size_t n = nl ? (size_t)(nl - line) + 1 : len - i;
        i += n;
        if (skip_uri && n && line[0] != '#') {  /* the dropped variant's URI */
            skip_uri = 0;
            continue;
        }
        if (n > 18 && !memcmp(line, "#EXT-X-STREAM-INF:", 18) &&
            !memmem(line, n, "RESOLUTION=", 11)) {
            skip_uri = 1;
            continue;
        }
        av_bprint_append_data(&bp, line, (unsigned)n);
    }
    if (!av_bprint_is_complete(&bp)) {
        av_bprint_finalize(&bp, NULL);
        return AVERROR(ENOMEM);
    }
    *out_len = bp.len;
    return av_bprint_finalize(&bp, out);
}
