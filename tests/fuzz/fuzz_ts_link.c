/* tests/fuzz/fuzz_ts_link.c — arbitrary bytes as the MPEG-TS of a link, opened
 * the way transcode/transcode.c and egress/egress.c open theirs: a custom,
 * non-seekable AVIOContext, the mpegts demuxer forced, stream info probed,
 * then packets read. Mostly fuzzes libavformat; checks that our way of
 * driving it (custom I/O, forced format, close paths) is safe. Bounded to
 * MAX_PACKETS packets and a small probe. */
#include <stdlib.h>
#include <string.h>

#include <libavformat/avformat.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>

#include "fuzz.h"

#define IO_BUF_SIZE 8192 /* what lr_link_avio_open() uses for reading */
#define MAX_PACKETS 200

typedef struct mem_reader {
    const uint8_t *data;
    size_t size, pos;
} mem_reader;

static int mem_read(void *opaque, uint8_t *buf, int buf_size)
{
    mem_reader *r = opaque;
    size_t n = r->size - r->pos;

    if (!n)
        return AVERROR_EOF;
    if (n > (size_t)buf_size)
        n = (size_t)buf_size;
    memcpy(buf, r->data + r->pos, n);
    r->pos += n;
    return (int)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mem_reader reader = { .data = data, .size = size };
    AVFormatContext *fmt = NULL;
    AVIOContext *pb = NULL;
    AVDictionary *opts = NULL;
    AVPacket *pkt = NULL;
    uint8_t *buf = NULL;

    av_log_set_level(AV_LOG_QUIET);
    if (!(buf = av_malloc(IO_BUF_SIZE)))
        return 0;
    if (!(pb = avio_alloc_context(buf, IO_BUF_SIZE, 0, &reader, mem_read, NULL, NULL))) {
        av_free(buf);
        return 0;
    }
    pb->seekable = 0; /* an SRT link cannot seek */
    if (!(fmt = avformat_alloc_context()))
        goto end;
    fmt->pb = pb;
    fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    av_dict_set(&opts, "probesize", "65536", 0);
    av_dict_set(&opts, "analyzeduration", "1000000", 0);
    /* on failure this frees fmt and sets it NULL; pb stays ours */
    if (avformat_open_input(&fmt, NULL, av_find_input_format("mpegts"), &opts) < 0)
        goto end;
    if (avformat_find_stream_info(fmt, NULL) < 0)
        goto end;
    if (!(pkt = av_packet_alloc()))
        goto end;
    for (int i = 0; i < MAX_PACKETS && av_read_frame(fmt, pkt) >= 0; i++) {
        /* touch what the egress and transcode read from every packet */
        if (pkt->stream_index < 0 || (unsigned)pkt->stream_index >= fmt->nb_streams ||
            (pkt->size && !pkt->data))
            abort();
        av_packet_unref(pkt);
    }
end:
    av_packet_free(&pkt);
    av_dict_free(&opts);
    avformat_close_input(&fmt);
    if (pb)
        av_freep(&pb->buffer);
    avio_context_free(&pb);
    return 0;
}
