/* egress/segmenter.c — see segmenter.h.
 *
 * fMP4: one mp4 muxer lives as long as the segmenter (movflags frag_custom:
 * a fragment is written only when we flush), writing through a custom
 * AVIOContext into a growing buffer; the bytes between two flushes are one
 * part. TS: one mpegts muxer per segment, so each starts with PAT/PMT; a part
 * is again what was written since the last flush.
 *
 * Every packet is held until the next one arrives, which gives its duration
 * (an fMP4 fragment needs its last sample's duration) and lets the next
 * packet decide whether a part or segment ends before it. Durations are
 * decode-time spans, so a segment lasts exactly the sum of its parts. */
#include "segmenter.h"

#include <math.h>

#include <libavcodec/avcodec.h>
#include <libavcodec/bsf.h>
#include <libavutil/mem.h>
#include <libavutil/opt.h>

#include "common/log.h"
#include "common/ts_mux.h"
#include "common/ts_wall.h"

#define TB90K        ((AVRational){ 1, 90000 })
#define SPACING_MAX  90000   /* a longer step between two frames is a hole, not their rate */
/* Media missing for longer than this is a break: the segment ends a frame
 * after its last frame and the next one follows a discontinuity. Shorter
 * holes stay inside the timeline (the clock is the same on both sides): the
 * hole a failover to a backup on the same clock leaves, up to a GOP of 2 s
 * (ingest/lecture.c, ALIGN_WINDOW), and packets a link gave up. At 1 s, such
 * a hole cut the audio short and marked a discontinuity, and the audio's
 * next segment could start in the slot before the video's keyframe and be
 * dropped as already published (bench/soak: an audio segment missing at a
 * failover). The ingest marks a real break only past 2.5 s without a source. */
#define BREAK_TICKS  202500  /* 2.25 s: 2 s and a margin for frame and audio spacing */
#define MAX_FOLLOW   2048    /* packets an audio-only segmenter holds for cuts */
#define MAX_CUTS     256

typedef struct cut {
    int64_t pts;
    int     segment;
} cut;

struct lr_segmenter {
    lr_segmenter_opts opts;
    lr_seg_emit       emit;
    void             *opaque;
    AVCodecParameters *vpar, *apar;
    AVRational        vtb, atb;
    AVBSFContext     *adts;         /* fMP4 audio: ADTS -> raw AAC + its config */
    int               has_video;

    AVFormatContext  *oc;           /* open muxer; NULL before the first frame */
    AVIOContext      *pb;
    uint8_t          *buf;          /* bytes written since the last part */
    size_t            buf_len, buf_cap;
    uint8_t          *seg;          /* the open segment's parts so far */
    size_t            seg_len, seg_cap;
    int               write_failed;

    AVPacket         *held;         /* the previous packet, not yet written */
    int               held_video;
    int64_t           held_dts;     /* its dts, 1/90000; once written, the
                                     * last primary packet's */
    int64_t           frame_ticks;  /* spacing of the primary stream's frames */

    int               seg_open;
    int64_t           seg_start_pts, seg_start_dts;
    int64_t           seg_slot;     /* with opts.slot_period: the open segment's slot */
    int64_t           pts_delay;    /* pts - dts of the segment's keyframe */
    int               part_index;
    int               part_frames;
    int64_t           part_start_dts;
    int               part_independent;

    cut               cuts[MAX_CUTS]; /* audio-only: where the video cut */
    int               nb_cuts;
    AVPacket        **follow;       /* audio-only: packets waiting for cuts */
    int               nb_follow;
    int64_t           horizon;      /* audio-only: video has been cut up to here */

    char              codec[24];
    int               captions;     /* CEA-608/708 seen in the video's SEI */
};

/* ---- output buffer ------------------------------------------------------ */

static int grow(uint8_t **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t n = FFMAX(need, *cap * 2);
    uint8_t *q = av_realloc(*p, n);
    if (!q)
        return AVERROR(ENOMEM);
    *p = q;
    *cap = n;
    return 0;
}

static int on_write(void *opaque, uint8_t *data, int size)
{
    lr_segmenter *s = opaque;

    if (grow(&s->buf, &s->buf_cap, s->buf_len + (size_t)size) < 0) {
        s->write_failed = 1;
        return AVERROR(ENOMEM);
    }
    memcpy(s->buf + s->buf_len, data, (size_t)size);
    s->buf_len += (size_t)size;
    return size;
}

static AVBufferRef *take_bytes(const uint8_t *p, size_t len)
{
    AVBufferRef *b = av_buffer_alloc(len ? len : 1);
    if (!b)
        return NULL;
    memcpy(b->data, p, len);
    b->size = len;
    return b;
}

static void emit_buffer(lr_segmenter *s, lr_seg_output *o, const uint8_t *p, size_t len)
{
    if (!(o->data = take_bytes(p, len))) {
        lr_error("segmenter: out of memory, output dropped");
        return;
    }
    s->emit(s->opaque, o);
    av_buffer_unref(&o->data);
}

/* ---- muxers ------------------------------------------------------------- */

static void close_muxer(lr_segmenter *s)
{
    if (s->oc) {
        s->oc->pb = NULL;
        avformat_free_context(s->oc);
        s->oc = NULL;
    }
    if (s->pb) {
        av_freep(&s->pb->buffer);
        avio_context_free(&s->pb);
    }
}

static int add_stream(AVFormatContext *oc, const AVCodecParameters *par)
{
    AVStream *st = avformat_new_stream(oc, NULL);

    if (!st)
        return AVERROR(ENOMEM);
    st->time_base = TB90K;
    return avcodec_parameters_copy(st->codecpar, par);
}

static int open_pb(lr_segmenter *s)
{
    unsigned char *iobuf = av_malloc(32768);

    if (!iobuf || !(s->pb = avio_alloc_context(iobuf, 32768, 1, s, NULL, on_write, NULL))) {
        av_free(iobuf);
        return AVERROR(ENOMEM);
    }
    return 0;
}

static int open_fmp4(lr_segmenter *s)
{
    AVDictionary *o = NULL;
    int ret;

    if ((ret = open_pb(s)) < 0)
        return ret;
    if ((ret = avformat_alloc_output_context2(&s->oc, NULL, "mp4", NULL)) < 0)
        return ret;
    s->oc->pb = s->pb;
    s->oc->flags |= AVFMT_FLAG_BITEXACT;  /* the same init bytes every time */
    if ((ret = add_stream(s->oc, s->has_video ? s->vpar : s->apar)) < 0)
        return ret;
    /* frag_discont: the first fragment's decode time is the packet's own, so
     * every rendition (and every link) keeps the link's absolute clock. */
    av_dict_set(&o, "movflags", "frag_custom+empty_moov+default_base_moof+cmaf+frag_discont", 0);
    ret = avformat_write_header(s->oc, &o);
    av_dict_free(&o);
    if (ret < 0)
        return ret;
    avio_flush(s->pb);
    if (s->write_failed)
        return AVERROR(ENOMEM);
    emit_buffer(s, &(lr_seg_output){ .kind = LR_OUT_INIT }, s->buf, s->buf_len);
    s->buf_len = 0;
    return 0;
}

static int open_ts(lr_segmenter *s)
{
    int ret;

    if ((ret = open_pb(s)) < 0)
        return ret;
    if ((ret = lr_ts_mux_alloc(s->pb, &s->oc)) < 0)
        return ret;
    if ((s->vpar && (ret = add_stream(s->oc, s->vpar)) < 0) ||
        (s->apar && (ret = add_stream(s->oc, s->apar)) < 0))
        return ret;
    return lr_ts_mux_begin(s->oc);
}

/* ---- parts and segments ------------------------------------------------- */

/* Flushes the muxer: what it wrote since the last part is the next part. */
static void close_part(lr_segmenter *s, int64_t end_dts)
{
    lr_seg_output o = { .kind = LR_OUT_PART, .part = s->part_index,
                        .independent = s->part_independent };

    if (!s->part_frames)
        return;
    av_write_frame(s->oc, NULL);  /* fMP4 frag_custom: write the fragment; TS: the PES */
    avio_flush(s->pb);
    o.start_pts = s->part_start_dts + s->pts_delay;
    o.duration = (end_dts - s->part_start_dts) / 90000.0;
    if (grow(&s->seg, &s->seg_cap, s->seg_len + s->buf_len) < 0) {
        lr_error("segmenter: out of memory, part dropped");
    } else {
        memcpy(s->seg + s->seg_len, s->buf, s->buf_len);
        s->seg_len += s->buf_len;
        if (s->opts.part_duration > 0)
            emit_buffer(s, &o, s->buf, s->buf_len);
    }
    s->buf_len = 0;
    s->part_index++;
    s->part_frames = 0;
}

static void close_segment(lr_segmenter *s, int64_t end_dts, int gap)
{
    lr_seg_output o = { .kind = LR_OUT_SEGMENT, .start_pts = s->seg_start_pts,
                        .duration = (end_dts - s->seg_start_dts) / 90000.0,
                        .gap_after = gap };

    if (!s->seg_open)
        return;
    if (end_dts <= s->seg_start_dts) {
        /* Whatever it holds lasts a frame: a playlist can't list 0 s. */
        lr_debug("segmenter: a segment ending where it began lasts a frame");
        end_dts = s->seg_start_dts + s->frame_ticks;
        o.duration = s->frame_ticks / 90000.0;
    }
    close_part(s, end_dts);
    if (s->opts.format == LR_SEG_TS)
        close_muxer(s);  /* flushed already: no trailer, which would add bytes */
    if (s->seg_len)
        emit_buffer(s, &o, s->seg, s->seg_len);
    s->seg_len = 0;
    s->seg_open = 0;
}

static int open_segment(lr_segmenter *s, int64_t pts, int64_t dts)
{
    int ret;

    if (!s->oc) {
        ret = s->opts.format == LR_SEG_FMP4 ? open_fmp4(s) : open_ts(s);
        if (ret < 0) {
            close_muxer(s);
            return ret;
        }
    }
    s->seg_open = 1;
    s->seg_start_pts = pts;
    if (s->opts.slot_period > 0)
        s->seg_slot = lr_ts_slot(pts, s->opts.slot_period);
    s->seg_start_dts = dts;
    s->pts_delay = pts - dts;
    s->part_index = 0;
    s->part_frames = 0;
    s->part_start_dts = dts;
    return 0;
}

/* ---- codec details ------------------------------------------------------ */

/* Names the H.264 codec for CODECS= from the SPS in an Annex B keyframe; if the
 * stream came without extradata, the keyframe's SPS and PPS become it (the
 * mp4 muxer needs them for avcC). */
static void sniff_h264(lr_segmenter *s, const uint8_t *p, int size)
{
    int sps = -1, end = -1;

    for (int i = 0; i + 4 < size; i++) {
        if (p[i] || p[i + 1] || p[i + 2] != 1)
            continue;
        int type = p[i + 3] & 0x1f;
        if (type == 7 && i + 6 < size) {
            snprintf(s->codec, sizeof(s->codec), "avc1.%02x%02x%02x", p[i + 4], p[i + 5],
                     p[i + 6]);
            sps = sps < 0 ? i : sps;
        } else if (type != 8 && sps >= 0 && end < 0) {
            end = i;
        }
    }
    if (sps >= 0 && !s->vpar->extradata_size && end > sps) {
        uint8_t *x = av_mallocz((size_t)(end - sps) + AV_INPUT_BUFFER_PADDING_SIZE);
        if (x) {
            memcpy(x, p + sps, (size_t)(end - sps));
            s->vpar->extradata = x;
            s->vpar->extradata_size = end - sps;
        }
    }
}

/* Looks for closed captions (ATSC A/53: an SEI registered user data message
 * whose identifier is "GA94") before the first slice of an Annex B frame. */
static void sniff_captions(lr_segmenter *s, const uint8_t *p, int size)
{
    for (int i = 0; i + 4 < size; i++) {
        if (p[i] || p[i + 1] || p[i + 2] != 1)
            continue;
        int type = p[i + 3] & 0x1f;
        if (type == 1 || type == 5)
            return;  /* slices: the SEI comes before them */
        if (type != 6)
            continue;
        for (int k = i + 4; k + 4 <= size && k < i + 64; k++) {
            if (!memcmp(p + k, "GA94", 4)) {
                s->captions = 1;
                return;
            }
            if (!p[k] && !p[k + 1])
                break;  /* the next start code */
        }
    }
}

static int init_adts(lr_segmenter *s)
{
    const AVBitStreamFilter *f = av_bsf_get_by_name("aac_adtstoasc");
    int ret;

    if (!f)
        return AVERROR_BSF_NOT_FOUND;
    if ((ret = av_bsf_alloc(f, &s->adts)) < 0 ||
        (ret = avcodec_parameters_copy(s->adts->par_in, s->apar)) < 0)
        return ret;
    s->adts->time_base_in = s->atb;
    return av_bsf_init(s->adts);
}

/* ADTS in, raw AAC out; the first packet gives the AudioSpecificConfig the
 * mp4 muxer needs before its header. Returns 1 with *out filled, 0 if the
 * filter wants more, or a negative AVERROR. */
static int unwrap_adts(lr_segmenter *s, const AVPacket *in, AVPacket *out)
{
    AVPacket *p = av_packet_clone(in);
    int ret;

    if (!p)
        return AVERROR(ENOMEM);
    ret = av_bsf_send_packet(s->adts, p);
    av_packet_free(&p);
    if (ret < 0)
        return ret;
    if ((ret = av_bsf_receive_packet(s->adts, out)) < 0)
        return ret == AVERROR(EAGAIN) ? 0 : ret;
    if (!s->apar->extradata_size) {
        size_t n = 0;
        const uint8_t *x = av_packet_get_side_data(out, AV_PKT_DATA_NEW_EXTRADATA, &n);
        const AVCodecParameters *po = s->adts->par_out;
        if (!x && po->extradata_size) {
            x = po->extradata;
            n = (size_t)po->extradata_size;
        }
        if (x && n && (s->apar->extradata = av_mallocz(n + AV_INPUT_BUFFER_PADDING_SIZE))) {
            memcpy(s->apar->extradata, x, n);
            s->apar->extradata_size = (int)n;
        }
    }
    return 1;
}

/* ---- the packet path ---------------------------------------------------- */

/* The primary stream's frame spacing, from the last primary packet to the
 * next one's dts. */
static void learn_spacing(lr_segmenter *s, int64_t next_dts)
{
    if (next_dts != AV_NOPTS_VALUE && s->held_dts != AV_NOPTS_VALUE &&
        next_dts > s->held_dts && next_dts - s->held_dts < SPACING_MAX)
        s->frame_ticks = next_dts - s->held_dts;
}

static void write_held(lr_segmenter *s, int64_t next_dts)
{
    AVPacket *p = s->held;
    int ret;

    if (!p)
        return;
    learn_spacing(s, next_dts);
    p->duration = s->frame_ticks;
    if (s->oc && s->seg_open) {
        p->stream_index = s->opts.format == LR_SEG_TS && !s->held_video && s->vpar ? 1 : 0;
        av_packet_rescale_ts(p, TB90K, s->oc->streams[p->stream_index]->time_base);
        if ((ret = av_write_frame(s->oc, p)) < 0)
            lr_debug("segment: packet not written: %s", av_err2str(ret));
        else
            s->part_frames++;
    }
    av_packet_free(&s->held);
}

/* Decides, before pkt (already in 1/90000), whether a part or segment ends. */
static int place(lr_segmenter *s, int is_video, AVPacket *pkt, int is_cut, int cut_segment)
{
    int64_t dts = pkt->dts, pts = pkt->pts;
    int key = is_video ? !!(pkt->flags & AV_PKT_FLAG_KEY) : 1;
    int seen = s->held_dts != AV_NOPTS_VALUE;  /* held, or written by TS audio */
    int gap = seen && dts > s->held_dts + BREAK_TICKS;
    int primary = is_video || !s->has_video;
    int seg_cut, part_cut, back;
    int64_t part_ticks = (int64_t)(s->opts.part_duration * 90000);
    int ret;

    if (!primary) {  /* TS audio muxed beside video: never decides a cut */
        write_held(s, AV_NOPTS_VALUE);
        return 0;
    }
    back = seen && dts <= s->held_dts;
    if (s->has_video && s->opts.slot_period > 0)  /* an extra keyframe (a link's first) is no cut */
        seg_cut = key && (!s->seg_open || gap || pts < s->seg_start_pts ||
                          lr_ts_slot(pts, s->opts.slot_period) != s->seg_slot);
    else if (s->has_video)
        seg_cut = key && (!s->seg_open || gap || pts < s->seg_start_pts ||
                          pts - s->seg_start_pts >= s->opts.min_duration * 90000);
    else
        seg_cut = !s->seg_open || gap || back || (is_cut && cut_segment);
    /* Video parts never exceed part_duration (a keyframe inside a segment
     * doesn't cut one short: parts must be >= 85% of PART-TARGET); audio
     * follows the video's cuts, so its parts may run one audio frame longer
     * (PART-TARGET allows it), and never cuts on its own, which would leave
     * a sliver of a part before the video's cut. A frame missing or late
     * (a part of 8 frames looked full) never closes one under 85 % of the
     * largest PART-TARGET it can be listed with. */
    if (s->has_video)
        part_cut = part_ticks > 0 && s->seg_open &&
                   dts + s->frame_ticks - s->part_start_dts > part_ticks &&
                   dts - s->part_start_dts >=
                       (int64_t)ceil(0.85 * (s->opts.part_duration + LR_SEGMENTER_AUDIO_SLACK) *
                                     90000);
    else  /* audio: only where the video cut (a lone audio part is unlisted if long) */
        part_cut = part_ticks > 0 && s->seg_open && is_cut;
    if (s->has_video && !s->seg_open && !key)
        return AVERROR(EAGAIN);  /* wait for the first keyframe */

    learn_spacing(s, dts);  /* TS audio beside video may have written the held frame */
    write_held(s, dts);
    if (seg_cut) {
        close_segment(s, gap || back ? s->held_dts + s->frame_ticks : dts, gap);
        if (back)
            close_muxer(s);  /* mp4 needs rising dts: a new muxer, a new init */
        if ((ret = open_segment(s, pts, dts)) < 0)
            return ret;
    } else if (part_cut && s->part_frames) {
        close_part(s, dts);
    }
    if (!s->part_frames) {
        s->part_start_dts = dts;
        s->part_independent = key;
    }
    return 0;
}

static int hold(lr_segmenter *s, int is_video, AVPacket *pkt)
{
    s->held = pkt;
    s->held_video = is_video;
    s->held_dts = pkt->dts;
    return 0;
}

static int push_primary(lr_segmenter *s, int is_video, AVPacket *pkt, int is_cut, int cut_seg)
{
    int ret = place(s, is_video, pkt, is_cut, cut_seg);

    if (ret < 0) {
        av_packet_free(&pkt);
        return ret == AVERROR(EAGAIN) ? 0 : ret;
    }
    if (!is_video && s->has_video) {  /* TS: audio goes straight in */
        if (s->oc && s->seg_open) {
            pkt->stream_index = 1;
            av_write_frame(s->oc, pkt);  /* mpegts keeps 1/90000 */
        }
        av_packet_free(&pkt);
        return 0;
    }
    return hold(s, is_video, pkt);
}

/* Audio-only: the video has cut at or before p and p has arrived, so
 * everything before the cut is here: the part (or segment) closes now rather
 * than when the video's next cut lets p itself in, a part later. A break (p
 * far from the held packet, or before it) is left to place(). */
static void close_before(lr_segmenter *s, const AVPacket *p)
{
    int cut_seg = 0;

    if (!s->nb_cuts || p->pts < s->cuts[0].pts || !s->held || !s->seg_open ||
        p->dts <= s->held_dts || p->dts > s->held_dts + BREAK_TICKS)
        return;
    while (s->nb_cuts && p->pts >= s->cuts[0].pts) {
        cut_seg |= s->cuts[0].segment;
        memmove(s->cuts, s->cuts + 1, sizeof(*s->cuts) * (size_t)--s->nb_cuts);
    }
    write_held(s, p->dts);
    if (cut_seg)
        close_segment(s, p->dts, 0);  /* p opens the next one */
    else if (s->opts.part_duration > 0)
        close_part(s, p->dts);
}

/* Audio-only: feeds the packets the video's cuts have caught up with. */
static int drain_follow(lr_segmenter *s, int force)
{
    int done = 0, ret = 0;

    while (done < s->nb_follow) {
        AVPacket *p = s->follow[done];
        int is_cut = 0, cut_seg = 0;
        if (!force && p->pts >= s->horizon)
            break;
        while (s->nb_cuts && p->pts >= s->cuts[0].pts) {
            is_cut = 1;
            cut_seg |= s->cuts[0].segment;
            memmove(s->cuts, s->cuts + 1, sizeof(*s->cuts) * (size_t)--s->nb_cuts);
        }
        done++;
        if ((ret = push_primary(s, 0, p, is_cut, cut_seg)) < 0)
            break;
    }
    if (ret >= 0 && !force && done < s->nb_follow)
        close_before(s, s->follow[done]);
    memmove(s->follow, s->follow + done, sizeof(*s->follow) * (size_t)(s->nb_follow - done));
    s->nb_follow -= done;
    return ret;
}

int lr_segmenter_push(lr_segmenter *s, int is_video, const AVPacket *in)
{
    AVPacket *pkt;
    int ret;

    if (is_video && !s->vpar)
        return 0;
    if (!is_video && !s->apar)
        return 0;
    if (in->pts == AV_NOPTS_VALUE && in->dts == AV_NOPTS_VALUE)
        return 0;
    if (!(pkt = av_packet_alloc()))
        return AVERROR(ENOMEM);
    if (!is_video && s->adts) {
        if ((ret = unwrap_adts(s, in, pkt)) <= 0) {
            av_packet_free(&pkt);
            return ret;
        }
    } else if ((ret = av_packet_ref(pkt, in)) < 0) {
        av_packet_free(&pkt);
        return ret;
    }
    av_packet_rescale_ts(pkt, is_video ? s->vtb : s->atb, TB90K);
    if (pkt->dts == AV_NOPTS_VALUE)
        pkt->dts = pkt->pts;
    if (pkt->pts == AV_NOPTS_VALUE)
        pkt->pts = pkt->dts;
    pkt->pos = -1;
    if (is_video && (pkt->flags & AV_PKT_FLAG_KEY) && s->vpar->codec_id == AV_CODEC_ID_H264)
        sniff_h264(s, pkt->data, pkt->size);
    if (is_video && !s->captions && s->vpar->codec_id == AV_CODEC_ID_H264)
        sniff_captions(s, pkt->data, pkt->size);

    if (s->has_video || is_video)
        return push_primary(s, is_video, pkt, 0, 0);

    /* Audio rendition: wait until the video has been cut past this packet. */
    if (s->nb_follow == MAX_FOLLOW) {
        lr_debug("segmenter: no video cuts for %d audio packets; cutting alone", MAX_FOLLOW);
        drain_follow(s, 1);
    }
    s->follow[s->nb_follow++] = pkt;
    return drain_follow(s, 0);
}

void lr_segmenter_cut(lr_segmenter *s, int64_t pts, int segment)
{
    if (s->has_video)
        return;
    if (s->nb_cuts == MAX_CUTS)
        memmove(s->cuts, s->cuts + 1, sizeof(*s->cuts) * (size_t)--s->nb_cuts);
    s->cuts[s->nb_cuts++] = (cut){ pts, segment };
    s->horizon = FFMAX(s->horizon, pts);
    drain_follow(s, 0);
}

void lr_segmenter_flush(lr_segmenter *s)
{
    int64_t end;

    if (!s->has_video)
        drain_follow(s, 1);
    /* The open segment ends one frame after its last primary packet, held
     * or written already (TS audio beside video writes the held frame). */
    end = s->held_dts != AV_NOPTS_VALUE ? s->held_dts + s->frame_ticks : s->seg_start_dts;
    write_held(s, AV_NOPTS_VALUE);
    close_segment(s, end, 0);
}

void lr_segmenter_set_min_duration(lr_segmenter *s, double min_duration)
{
    s->opts.min_duration = min_duration;
}

const char *lr_segmenter_codec(const lr_segmenter *s)
{
    return s->codec;
}

int lr_segmenter_has_captions(const lr_segmenter *s)
{
    return s->captions;
}

int lr_segmenter_alloc(const AVStream *video, const AVStream *audio,
                       const lr_segmenter_opts *opts, lr_seg_emit emit, void *opaque,
                       lr_segmenter **out)
{
    lr_segmenter *s = av_mallocz(sizeof(*s));
    int ret = AVERROR(ENOMEM);

    if (!s)
        return AVERROR(ENOMEM);
    s->opts = *opts;
    s->emit = emit;
    s->opaque = opaque;
    s->horizon = INT64_MIN;
    s->held_dts = AV_NOPTS_VALUE;
    s->frame_ticks = video ? 3000 : 1920;
    if (!video && !audio) {
        ret = AVERROR(EINVAL);
        goto fail;
    }
    if (video) {
        s->has_video = 1;
        s->vtb = video->time_base;
        if (!(s->vpar = avcodec_parameters_alloc()) ||
            avcodec_parameters_copy(s->vpar, video->codecpar) < 0)
            goto fail;
        s->vpar->codec_tag = 0;
    }
    if (audio) {
        s->atb = audio->time_base;
        if (!(s->apar = avcodec_parameters_alloc()) ||
            avcodec_parameters_copy(s->apar, audio->codecpar) < 0)
            goto fail;
        s->apar->codec_tag = 0;
        if (audio->codecpar->codec_id == AV_CODEC_ID_AAC) {
            int p = audio->codecpar->profile;
            snprintf(s->codec, sizeof(s->codec), "mp4a.40.%d",
                     p == FF_PROFILE_AAC_HE ? 5 : p == FF_PROFILE_AAC_HE_V2 ? 29 : 2);
        }
        if (opts->format == LR_SEG_FMP4 && audio->codecpar->codec_id == AV_CODEC_ID_AAC &&
            (ret = init_adts(s)) < 0)
            goto fail;
        if (!video && !(s->follow = av_calloc(MAX_FOLLOW, sizeof(*s->follow))))
            goto fail;
    }
    if (video)
        s->codec[0] = 0;
    *out = s;
    return 0;
fail:
    lr_segmenter_free(&s);
    return ret < 0 ? ret : AVERROR(ENOMEM);
}

void lr_segmenter_free(lr_segmenter **ps)
{
    lr_segmenter *s = *ps;

    if (!s)
        return;
    close_muxer(s);
    av_packet_free(&s->held);
    for (int i = 0; i < s->nb_follow; i++)
        av_packet_free(&s->follow[i]);
    av_free(s->follow);
    av_bsf_free(&s->adts);
    av_free(s->buf);
    av_free(s->seg);
    avcodec_parameters_free(&s->vpar);
    avcodec_parameters_free(&s->apar);
    av_freep(ps);
}
