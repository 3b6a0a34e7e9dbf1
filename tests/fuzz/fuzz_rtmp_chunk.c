/* tests/fuzz/fuzz_rtmp_chunk.c — what an RTMP publisher sends after the
 * handshake: the chunk reader alone (sliced by the first byte), then the
 * whole session (commands, publish, FLV) after a plain handshake.
 * Invariants: no message over LR_RTMP_MAX_MESSAGE; FLV output well framed. */
#include <stdlib.h>
#include <string.h>

#include <libavutil/error.h>
#include <libavutil/intreadwrite.h>
#include <libavutil/mem.h>

#include "common/log.h"
#include "fuzz.h"
#include "ingest/rtmp_chunk.h"
#include "ingest/rtmp_handshake.h"
#include "ingest/rtmp_session.h"

static int check_msg(void *opaque, const lr_rtmp_msg *m)
{
    if (m->size > LR_RTMP_MAX_MESSAGE || (m->size && !m->data))
        abort();
    /* touch every byte: ASan catches a message pointing outside its buffer */
    for (uint32_t i = 0; i < m->size; i++)
        *(unsigned *)opaque += m->data[i];
    return 0;
}

static int admit(void *opaque, lr_rtmp_publish *p, const char **reason)
{
    if (!p->name || !p->app || !p->peer || !p->tc_url)
        abort();
    if (strcmp(p->name, "x") && strcmp(p->name, "y"))
        return AVERROR(ENOENT);
    if (!p->key || strcmp(p->key, "k")) {
        *reason = "wrong key";
        return AVERROR(EACCES);
    }
    return 0;
}

/* The FLV stream must be a header then whole tags, each followed by its size. */
static void check_flv(AVFifo *f)
{
    size_t n = av_fifo_can_read(f), p = 13;
    uint8_t *b;

    if (!n)
        return;
    if (!(b = av_malloc(n)))
        return;
    av_fifo_read(f, b, n);
    if (n < 13 || memcmp(b, "FLV\x01\x05\0\0\0\x09\0\0\0\0", 13))
        abort();
    while (p < n) {
        uint32_t size;
        if (n - p < 15)
            abort();
        size = AV_RB24(b + p + 1);
        if (n - p < 15 + (size_t)size || AV_RB32(b + p + 11 + size) != 11 + size)
            abort();
        p += 15 + (size_t)size;
    }
    av_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    static const uint8_t handshake[1 + 2 * LR_RTMP_HANDSHAKE_SIZE] = { 3 };
    lr_rtmp_chunk_reader *r = NULL;
    lr_rtmp_session *s = NULL;
    unsigned sum = 0;
    size_t step;

    if (!quiet) {
        lr_log_set_level(LR_LOG_ERROR);
        quiet = 1;
    }
    if (size > (1 << 20))
        return 0;
    step = size ? 1 + data[0] * 37 : 1;

    if (lr_rtmp_chunk_reader_alloc(&r) == 0) {
        for (size_t off = 0; off < size; off += step)
            if (lr_rtmp_chunk_read(r, data + off, size - off < step ? size - off : step,
                                   check_msg, &sum) < 0)
                break;
        lr_rtmp_chunk_reader_free(&r);
    }

    if (lr_rtmp_session_alloc("127.0.0.1:1", admit, NULL, &s) == 0) {
        int ret = lr_rtmp_session_feed(s, handshake, sizeof(handshake));
        for (size_t off = 0; off < size && ret == 0; off += step) {
            ret = lr_rtmp_session_feed(s, data + off, size - off < step ? size - off : step);
            av_fifo_reset2(lr_rtmp_session_out(s));
        }
        check_flv(lr_rtmp_session_flv(s));
        lr_rtmp_session_free(&s);
    }
    return 0;
}
