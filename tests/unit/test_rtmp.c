/* tests/unit/test_rtmp.c — the RTMP ingest's protocol core: AMF0 round trips
 * and truncations, the chunk reader under every chunk size and hostile
 * headers, the handshake digest against a vector computed elsewhere, and a
 * scripted publish through the session. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/common.h>
#include <libavutil/error.h>
#include <libavutil/intreadwrite.h>
#include <libavutil/mem.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "ingest/rtmp_amf.h"
#include "ingest/rtmp_chunk.h"
#include "ingest/rtmp_handshake.h"
#include "ingest/rtmp_session.h"

/* ---------------------------------------------------------------- AMF0 */

static void set_str(lr_amf_value *v, enum lr_amf_type t, const char *s, size_t len)
{
    v->type = t;
    v->str = av_malloc(len + 1);
    memcpy(v->str, s, len);
    v->str[len] = 0;
    v->len = len;
}

static void set_prop(lr_amf_prop *p, const char *name)
{
    p->name = av_strdup(name);
    p->name_len = strlen(name);
}

/* An object holding one of everything, with an ECMA array and a strict
 * array nested inside. */
static void build_all(lr_amf_value *root, char *long_text, size_t long_len)
{
    lr_amf_prop *p = av_calloc(8, sizeof(*p));
    lr_amf_value *items = av_calloc(3, sizeof(*items));
    lr_amf_prop *ecma = av_calloc(2, sizeof(*ecma));

    memset(root, 0, sizeof(*root));
    root->type = LR_AMF_OBJECT;
    root->props = p;
    root->nb = 8;
    set_prop(&p[0], "num");     p[0].value.type = LR_AMF_NUMBER; p[0].value.number = -1234.5;
    set_prop(&p[1], "yes");     p[1].value.type = LR_AMF_BOOLEAN; p[1].value.boolean = 1;
    set_prop(&p[2], "str");     set_str(&p[2].value, LR_AMF_STRING, "h\0llo", 5);
    set_prop(&p[3], "long");    set_str(&p[3].value, LR_AMF_LONG_STRING, long_text, long_len);
    set_prop(&p[4], "nothing"); p[4].value.type = LR_AMF_NULL;
    set_prop(&p[5], "undef");   p[5].value.type = LR_AMF_UNDEFINED;
    set_prop(&p[6], "when");    p[6].value.type = LR_AMF_DATE;
    p[6].value.number = 1.7e12;
    p[6].value.tz = -60;
    set_prop(&p[7], "arr");
    p[7].value.type = LR_AMF_STRICT_ARRAY;
    p[7].value.items = items;
    p[7].value.nb = 3;
    items[0].type = LR_AMF_NUMBER;
    items[0].number = 3;
    items[1].type = LR_AMF_ECMA_ARRAY;
    items[1].props = ecma;
    items[1].nb = 2;
    set_prop(&ecma[0], "width");  ecma[0].value.type = LR_AMF_NUMBER; ecma[0].value.number = 320;
    set_prop(&ecma[1], "");       set_str(&ecma[1].value, LR_AMF_STRING, "", 0);
    items[2].type = LR_AMF_BOOLEAN;
}

static void amf_round_trip(void **state)
{
    size_t long_len = 70000, used = 0;
    char *long_text = malloc(long_len);
    lr_amf_value v, back;
    AVBPrint a, b;

    for (size_t i = 0; i < long_len; i++)
        long_text[i] = 'a' + i % 26;
    build_all(&v, long_text, long_len);
    av_bprint_init(&a, 0, AV_BPRINT_SIZE_UNLIMITED);
    av_bprint_init(&b, 0, AV_BPRINT_SIZE_UNLIMITED);
    assert_int_equal(lr_amf_encode(&a, &v), 0);
    assert_int_equal(lr_amf_decode((const uint8_t *)a.str, a.len, &back, &used), 0);
    assert_int_equal(used, a.len);

    assert_int_equal(back.type, LR_AMF_OBJECT);
    assert_int_equal(back.nb, 8);
    assert_true(lr_amf_get(&back, "num")->number == -1234.5);
    assert_int_equal(lr_amf_get(&back, "yes")->boolean, 1);
    assert_int_equal(lr_amf_get(&back, "str")->len, 5);
    assert_memory_equal(lr_amf_get(&back, "str")->str, "h\0llo", 5);
    assert_int_equal(lr_amf_get(&back, "long")->type, LR_AMF_LONG_STRING);
    assert_memory_equal(lr_amf_str(lr_amf_get(&back, "long")), long_text, long_len);
    assert_int_equal(lr_amf_get(&back, "nothing")->type, LR_AMF_NULL);
    assert_int_equal(lr_amf_get(&back, "undef")->type, LR_AMF_UNDEFINED);
    assert_int_equal(lr_amf_get(&back, "when")->type, LR_AMF_DATE);
    assert_int_equal(lr_amf_get(&back, "when")->tz, -60);
    assert_int_equal(lr_amf_get(&back, "arr")->nb, 3);
    assert_true(lr_amf_get(&lr_amf_get(&back, "arr")->items[1], "width")->number == 320);
    assert_null(lr_amf_get(&back, "absent"));

    /* and the same bytes again */
    assert_int_equal(lr_amf_encode(&b, &back), 0);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.str, b.str, a.len);

    lr_amf_value_free(&v);
    lr_amf_value_free(&back);
    av_bprint_finalize(&a, NULL);
    av_bprint_finalize(&b, NULL);
    free(long_text);
}

static void amf_every_truncation_fails(void **state)
{
    lr_amf_value v, back;
    AVBPrint a;

    build_all(&v, "xyz", 3);
    av_bprint_init(&a, 0, AV_BPRINT_SIZE_UNLIMITED);
    assert_int_equal(lr_amf_encode(&a, &v), 0);
    for (size_t n = 0; n < a.len; n++) {
        /* exact-size copy: ASan sees a read past the end */
        uint8_t *cut = malloc(n ? n : 1);
        memcpy(cut, a.str, n);
        assert_int_equal(lr_amf_decode(cut, n, &back, NULL), AVERROR_INVALIDDATA);
        assert_int_equal(back.type, LR_AMF_NULL);
        assert_null(back.props);
        free(cut);
    }
    lr_amf_value_free(&v);
    av_bprint_finalize(&a, NULL);
}

static void amf_hostile_lengths_and_depth(void **state)
{
    static const uint8_t huge_array[] = { LR_AMF_STRICT_ARRAY, 0xFF, 0xFF, 0xFF, 0xFF, 0x05 };
    static const uint8_t huge_long[]  = { LR_AMF_LONG_STRING, 0xFF, 0xFF, 0xFF, 0xFF, 'a' };
    static const uint8_t huge_ecma[]  = { LR_AMF_ECMA_ARRAY, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 9 };
    static const uint8_t reference[]  = { 0x07, 0x00, 0x01 };
    uint8_t deep[4 * (LR_AMF_MAX_DEPTH + 8)];
    lr_amf_value v;
    size_t n = 0;

    assert_int_equal(lr_amf_decode(huge_array, sizeof(huge_array), &v, NULL), AVERROR_INVALIDDATA);
    assert_int_equal(lr_amf_decode(huge_long, sizeof(huge_long), &v, NULL), AVERROR_INVALIDDATA);
    assert_int_equal(lr_amf_decode(reference, sizeof(reference), &v, NULL), AVERROR_INVALIDDATA);
    /* an ECMA array's count is a hint only */
    assert_int_equal(lr_amf_decode(huge_ecma, sizeof(huge_ecma), &v, NULL), 0);
    assert_int_equal(v.nb, 0);
    lr_amf_value_free(&v);

    /* {"a":{"a":{... deeper than the bound */
    for (int i = 0; i < LR_AMF_MAX_DEPTH + 8; i++) {
        if (i)
            deep[n++] = 0, deep[n++] = 1, deep[n++] = 'a';
        deep[n++] = LR_AMF_OBJECT;
    }
    assert_int_equal(lr_amf_decode(deep, n, &v, NULL), AVERROR_INVALIDDATA);
}

/* ------------------------------------------------------------- chunks */

typedef struct got {
    lr_rtmp_msg m[64];
    uint8_t    *data[64];
    int         nb;
} got;

static int collect(void *opaque, const lr_rtmp_msg *m)
{
    got *g = opaque;

    assert_true(g->nb < 64);
    g->m[g->nb] = *m;
    g->data[g->nb] = av_memdup(m->data, m->size ? m->size : 1);
    g->nb++;
    return 0;
}

static void got_free(got *g)
{
    for (int i = 0; i < g->nb; i++)
        av_freep(&g->data[i]);
    g->nb = 0;
}

static size_t fifo_take(AVFifo *f, uint8_t **out)
{
    size_t n = av_fifo_can_read(f);
    *out = av_malloc(n ? n : 1);
    av_fifo_read(f, *out, n);
    return n;
}

/* Feeds buf in slices of step bytes. */
static int feed(lr_rtmp_chunk_reader *r, const uint8_t *buf, size_t size, size_t step, got *g)
{
    for (size_t off = 0; off < size; off += step) {
        int ret = lr_rtmp_chunk_read(r, buf + off, FFMIN(step, size - off), collect, g);
        if (ret < 0)
            return ret;
    }
    return 0;
}

static void chunk_sizes_and_slicing(void **state)
{
    static const uint32_t chunk_sizes[] = { 1, 128, 4096, 65536 };
    static const uint32_t msg_sizes[] = { 0, 1, 127, 128, 129, 4097, 100000 };
    static const uint32_t stamps[] = { 0, 40, 0xFFFFFE, 0xFFFFFF, 0x12345678, 0xFFFFFFFF };
    static const size_t steps[] = { 1, 7, 1000, SIZE_MAX };
    uint8_t *payload = av_malloc(100000);

    for (uint32_t i = 0; i < 100000; i++)
        payload[i] = (uint8_t)(i * 31 + 7);
    for (size_t c = 0; c < FF_ARRAY_ELEMS(chunk_sizes); c++) {
        lr_rtmp_chunk_writer w;
        AVFifo *out = av_fifo_alloc2(1 << 16, 1, AV_FIFO_FLAG_AUTO_GROW);
        uint8_t *bytes;
        size_t size;

        lr_rtmp_chunk_writer_init(&w);
        assert_int_equal(lr_rtmp_chunk_write_control(&w, out, LR_RTMP_SET_CHUNK_SIZE,
                                                     chunk_sizes[c]), 0);
        assert_int_equal(w.chunk_size, chunk_sizes[c]);
        for (size_t k = 0; k < FF_ARRAY_ELEMS(msg_sizes); k++) {
            lr_rtmp_msg m = { .csid = k % 2 ? 4 : 300 + (uint32_t)k, .type = LR_RTMP_VIDEO,
                              .stream_id = 1, .timestamp = stamps[k % FF_ARRAY_ELEMS(stamps)],
                              .data = payload, .size = msg_sizes[k] };
            assert_int_equal(lr_rtmp_chunk_write(&w, out, &m), 0);
        }
        size = fifo_take(out, &bytes);
        for (size_t s = 0; s < FF_ARRAY_ELEMS(steps); s++) {
            lr_rtmp_chunk_reader *r;
            got g = { 0 };

            assert_int_equal(lr_rtmp_chunk_reader_alloc(&r), 0);
            assert_int_equal(feed(r, bytes, size, steps[s], &g), 0);
            assert_int_equal(lr_rtmp_chunk_reader_chunk_size(r), chunk_sizes[c]);
            assert_int_equal(g.nb, 1 + FF_ARRAY_ELEMS(msg_sizes));
            assert_int_equal(g.m[0].type, LR_RTMP_SET_CHUNK_SIZE);
            for (size_t k = 0; k < FF_ARRAY_ELEMS(msg_sizes); k++) {
                assert_int_equal(g.m[k + 1].size, msg_sizes[k]);
                assert_int_equal(g.m[k + 1].timestamp, stamps[k % FF_ARRAY_ELEMS(stamps)]);
                assert_int_equal(g.m[k + 1].csid, k % 2 ? 4 : 300 + k);
                assert_int_equal(g.m[k + 1].stream_id, 1);
                assert_memory_equal(g.data[k + 1], payload, msg_sizes[k]);
            }
            got_free(&g);
            lr_rtmp_chunk_reader_free(&r);
            assert_null(r);
        }
        av_free(bytes);
        av_fifo_freep2(&out);
    }
    av_free(payload);
}

/* The spec's example 1 (section 5.3.2.1): type 0, type 2, then type 3 headers
 * opening new messages repeat the last delta; and a message in chunks whose
 * type 3 continuations carry the extended timestamp again. */
static void type3_headers_and_extended_timestamps(void **state)
{
    uint8_t s[512];
    size_t n = 0;
    lr_rtmp_chunk_reader *r;
    got g = { 0 };

    /* csid 4, type 0: ts 1000, length 3, audio, stream 1 */
    memcpy(s + n, (uint8_t[]){ 0x04, 0x00, 0x03, 0xE8, 0, 0, 3, 8, 1, 0, 0, 0, 'a', 'b', 'c' }, 15);
    n += 15;
    /* type 2: delta 20 */
    memcpy(s + n, (uint8_t[]){ 0x84, 0, 0, 20, 'd', 'e', 'f' }, 7);
    n += 7;
    /* two type 3: new messages, delta 20 again */
    memcpy(s + n, (uint8_t[]){ 0xC4, 'g', 'h', 'i', 0xC4, 'j', 'k', 'l' }, 8);
    n += 8;
    /* csid 6, type 0 with extended timestamp 0x01000000, length 200 (two chunks of 128) */
    memcpy(s + n, (uint8_t[]){ 0x06, 0xFF, 0xFF, 0xFF, 0, 0, 200, 9, 1, 0, 0, 0, 1, 0, 0, 0 }, 16);
    n += 16;
    memset(s + n, 'v', 128);
    n += 128;
    /* type 3 continuation: extended timestamp repeated, then the last 72 bytes */
    memcpy(s + n, (uint8_t[]){ 0xC6, 1, 0, 0, 0 }, 5);
    n += 5;
    memset(s + n, 'w', 72);
    n += 72;
    /* csid 6, type 1: delta 33, length 1, video */
    memcpy(s + n, (uint8_t[]){ 0x46, 0, 0, 33, 0, 0, 1, 9, 'x' }, 9);
    n += 9;

    for (size_t step = 1; step <= n; step += step < 8 ? 1 : 97) {
        assert_int_equal(lr_rtmp_chunk_reader_alloc(&r), 0);
        assert_int_equal(feed(r, s, n, step, &g), 0);
        assert_int_equal(g.nb, 6);
        assert_int_equal(g.m[0].timestamp, 1000);
        assert_int_equal(g.m[1].timestamp, 1020);
        assert_int_equal(g.m[2].timestamp, 1040);
        assert_int_equal(g.m[3].timestamp, 1060);
        assert_memory_equal(g.data[3], "jkl", 3);
        assert_int_equal(g.m[4].timestamp, 0x01000000);
        assert_int_equal(g.m[4].size, 200);
        assert_int_equal(g.data[4][127], 'v');
        assert_int_equal(g.data[4][128], 'w');
        assert_int_equal(g.m[5].timestamp, 0x01000000 + 33);
        assert_int_equal(g.m[5].type, LR_RTMP_VIDEO);
        got_free(&g);
        lr_rtmp_chunk_reader_free(&r);
    }
}

static void absurd_length_refused(void **state)
{
    /* 0xFFFFFF (16 MiB) declared: refused at the header, nothing allocated */
    static const uint8_t s[] = { 0x03, 0, 0, 0, 0xFF, 0xFF, 0xFF, 20, 0, 0, 0, 0, 'x' };
    lr_rtmp_chunk_reader *r;
    got g = { 0 };

    assert_int_equal(lr_rtmp_chunk_reader_alloc(&r), 0);
    assert_int_equal(feed(r, s, sizeof(s), SIZE_MAX, &g), AVERROR_INVALIDDATA);
    assert_non_null(strstr(lr_rtmp_chunk_reader_error(r), "exceeds the limit"));
    /* sticky */
    assert_int_equal(lr_rtmp_chunk_read(r, s, 1, collect, &g), AVERROR_INVALIDDATA);
    assert_int_equal(g.nb, 0);
    lr_rtmp_chunk_reader_free(&r);
}

static void bad_chunk_sizes_refused(void **state)
{
    static const uint32_t bad[] = { 0, 0x80000000, 0xFFFFFFFF };

    for (size_t i = 0; i < FF_ARRAY_ELEMS(bad); i++) {
        uint8_t s[16] = { 0x02, 0, 0, 0, 0, 0, 4, LR_RTMP_SET_CHUNK_SIZE, 0, 0, 0, 0 };
        lr_rtmp_chunk_reader *r;
        got g = { 0 };

        AV_WB32(s + 12, bad[i]);
        assert_int_equal(lr_rtmp_chunk_reader_alloc(&r), 0);
        assert_int_equal(feed(r, s, sizeof(s), SIZE_MAX, &g), AVERROR_INVALIDDATA);
        assert_non_null(strstr(lr_rtmp_chunk_reader_error(r), "chunk size"));
        assert_int_equal(lr_rtmp_chunk_reader_chunk_size(r), LR_RTMP_DEFAULT_CHUNK_SIZE);
        lr_rtmp_chunk_reader_free(&r);
    }
}

static void bounds_on_streams_and_pending(void **state)
{
    lr_rtmp_chunk_reader *r;
    uint8_t hdr[16];
    uint8_t *big = av_mallocz(4 << 20);
    int ret = 0;

    /* 65 chunk streams, each opened by a type 0 header of an unfinished
     * message: chunk size 1, so one byte completes each chunk */
    assert_int_equal(lr_rtmp_chunk_reader_alloc(&r), 0);
    memcpy(hdr, (uint8_t[]){ 0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0, 0, 0, 1 }, 16);
    assert_int_equal(lr_rtmp_chunk_read(r, hdr, 16, NULL, NULL), 0);
    for (int i = 0; i < LR_RTMP_MAX_CHUNK_STREAMS + 1 && ret == 0; i++) {
        uint8_t s[15] = { 0x01, 0, 0, 0, 0, 0, 0, 0, 10, 8, 1, 0, 0, 0, 'a' };
        s[1] = i & 0xFF;
        s[2] = i >> 8;
        ret = lr_rtmp_chunk_read(r, s, sizeof(s), NULL, NULL);
    }
    assert_int_equal(ret, AVERROR_INVALIDDATA);
    assert_non_null(strstr(lr_rtmp_chunk_reader_error(r), "chunk streams"));
    lr_rtmp_chunk_reader_free(&r);

    /* 4 MiB chunks of 8 MiB messages on many streams: the total is bounded */
    assert_int_equal(lr_rtmp_chunk_reader_alloc(&r), 0);
    memcpy(hdr, (uint8_t[]){ 0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0, 0x40, 0, 0 }, 16);
    assert_int_equal(lr_rtmp_chunk_read(r, hdr, 16, NULL, NULL), 0);
    ret = 0;
    for (int i = 0; i < 8 && ret == 0; i++) {
        uint8_t s[12] = { 3 + i, 0, 0, 0, 0x80, 0, 0, 9, 1, 0, 0, 0 };
        if (!(ret = lr_rtmp_chunk_read(r, s, sizeof(s), NULL, NULL)))
            ret = lr_rtmp_chunk_read(r, big, 4 << 20, NULL, NULL);
    }
    assert_int_equal(ret, AVERROR_INVALIDDATA);
    assert_non_null(strstr(lr_rtmp_chunk_reader_error(r), "unfinished messages"));
    lr_rtmp_chunk_reader_free(&r);
    av_free(big);
}

static void abort_and_acknowledgement(void **state)
{
    lr_rtmp_chunk_reader *r;
    got g = { 0 };
    uint32_t seq = 0;
    uint8_t s[64];
    size_t n = 0;

    /* csid 5: 200-byte message, first 128-byte chunk only */
    memcpy(s + n, (uint8_t[]){ 0x05, 0, 0, 0, 0, 0, 200, 8, 1, 0, 0, 0 }, 12);
    n += 12;
    assert_int_equal(lr_rtmp_chunk_reader_alloc(&r), 0);
    assert_int_equal(lr_rtmp_chunk_read(r, s, n, collect, &g), 0);
    uint8_t body[128] = { 0 };
    assert_int_equal(lr_rtmp_chunk_read(r, body, sizeof(body), collect, &g), 0);
    /* Abort(5), then a fresh 2-byte message on csid 5 is accepted */
    n = 0;
    memcpy(s + n, (uint8_t[]){ 0x02, 0, 0, 0, 0, 0, 4, 2, 0, 0, 0, 0, 0, 0, 0, 5 }, 16);
    n += 16;
    memcpy(s + n, (uint8_t[]){ 0x05, 0, 0, 9, 0, 0, 2, 8, 1, 0, 0, 0, 'o', 'k' }, 14);
    n += 14;
    /* Window Acknowledgement Size 100 */
    memcpy(s + n, (uint8_t[]){ 0x02, 0, 0, 0, 0, 0, 4, 5, 0, 0, 0, 0, 0, 0, 0, 100 }, 16);
    n += 16;
    assert_int_equal(lr_rtmp_chunk_ack_due(r, &seq), 0);
    assert_int_equal(lr_rtmp_chunk_read(r, s, n, collect, &g), 0);
    assert_int_equal(g.nb, 3);
    assert_int_equal(g.m[1].size, 2);
    assert_int_equal(g.m[1].timestamp, 9);
    assert_memory_equal(g.data[1], "ok", 2);
    assert_int_equal(lr_rtmp_chunk_ack_due(r, &seq), 1);
    assert_int_equal(seq, 12 + 128 + n);
    assert_int_equal(lr_rtmp_chunk_ack_due(r, &seq), 0);
    got_free(&g);
    lr_rtmp_chunk_reader_free(&r);
}

/* ---------------------------------------------------------- handshake */

/* C1 as a Flash-era client makes it, deterministic; the digests below were
 * computed with Python's hmac module, not with this code. */
static void make_c1(uint8_t *c1)
{
    for (int i = 0; i < LR_RTMP_HANDSHAKE_SIZE; i++)
        c1[i] = (uint8_t)(i * 7 + 3);
    memset(c1, 0, 4);
    memcpy(c1 + 4, (uint8_t[]){ 9, 0, 124, 2 }, 4);
}

static void unhex(const char *h, uint8_t *out)
{
    for (int i = 0; i < 32; i++) {
        unsigned x;
        sscanf(h + 2 * i, "%2x", &x);
        out[i] = (uint8_t)x;
    }
}

static void verify_answer(const uint8_t *c1, size_t cpos, int scheme, const uint8_t *ans)
{
    const uint8_t *s1 = ans + 1, *s2 = s1 + LR_RTMP_HANDSHAKE_SIZE;
    uint8_t want[32], key[32], msg[LR_RTMP_HANDSHAKE_SIZE];
    size_t spos = lr_rtmp_handshake_digest_pos(s1, scheme);
    unsigned len;

    assert_int_equal(ans[0], 3);
    assert_int_not_equal(AV_RB32(s1 + 4), 0);
    /* S1: HMAC with the server key's text over S1 minus its digest */
    memcpy(msg, s1, spos);
    memcpy(msg + spos, s1 + spos + 32, LR_RTMP_HANDSHAKE_SIZE - spos - 32);
    HMAC(EVP_sha256(), "Genuine Adobe Flash Media Server 001", 36, msg,
         LR_RTMP_HANDSHAKE_SIZE - 32, want, &len);
    assert_memory_equal(want, s1 + spos, 32);
    /* S2: keyed by HMAC(full server key, client digest) */
    HMAC(EVP_sha256(), lr_rtmp_server_key, 68, c1 + cpos, 32, key, &len);
    HMAC(EVP_sha256(), key, 32, s2, LR_RTMP_HANDSHAKE_SIZE - 32, want, &len);
    assert_memory_equal(want, s2 + LR_RTMP_HANDSHAKE_SIZE - 32, 32);
}

static void handshake_digest_vectors(void **state)
{
    static const struct { int scheme; size_t pos; const char *hex; } v[] = {
        { 0, 942, "e6a7fbdda4aab503b4e693e92d6f18d9d4b89f3ef0e95fffe767a4830aa37109" },
        { 1, 290, "612af37c38c4a1b74e5737fc4021ded17ed92a9431c19bc665cf421131bad8a6" },
    };

    assert_memory_equal(lr_rtmp_client_key, "Genuine Adobe Flash Player 001", 30);
    for (size_t i = 0; i < FF_ARRAY_ELEMS(v); i++) {
        uint8_t c0c1[1 + LR_RTMP_HANDSHAKE_SIZE], *c1 = c0c1 + 1, digest[32];
        uint8_t ans[1 + 2 * LR_RTMP_HANDSHAKE_SIZE];
        size_t pos = 0;
        int scheme = -2;

        c0c1[0] = 3;
        make_c1(c1);
        assert_int_equal(lr_rtmp_handshake_digest_pos(c1, v[i].scheme), v[i].pos);
        assert_int_equal(lr_rtmp_handshake_digest(c1, v[i].pos, lr_rtmp_client_key, 30, digest), 0);
        uint8_t expect[32];
        unhex(v[i].hex, expect);
        assert_memory_equal(digest, expect, 32);
        memcpy(c1 + v[i].pos, digest, 32);

        assert_int_equal(lr_rtmp_handshake_find_digest(c1, &pos), v[i].scheme);
        assert_int_equal(pos, v[i].pos);
        assert_int_equal(lr_rtmp_handshake_answer(c0c1, ans, &scheme), 0);
        assert_int_equal(scheme, v[i].scheme);
        verify_answer(c1, pos, scheme, ans);

        /* one flipped bit: no valid digest, so the plain echo */
        c1[v[i].pos + 5] ^= 1;
        assert_int_equal(lr_rtmp_handshake_find_digest(c1, &pos), AVERROR(ENOENT));
        assert_int_equal(lr_rtmp_handshake_answer(c0c1, ans, &scheme), 0);
        assert_int_equal(scheme, -1);
        assert_memory_equal(ans + 1 + LR_RTMP_HANDSHAKE_SIZE, c1, LR_RTMP_HANDSHAKE_SIZE);
    }
}

static void handshake_plain_and_bad_version(void **state)
{
    uint8_t c0c1[1 + LR_RTMP_HANDSHAKE_SIZE] = { 3 };
    uint8_t ans[1 + 2 * LR_RTMP_HANDSHAKE_SIZE];
    int scheme = -2;

    for (int i = 9; i < 1 + LR_RTMP_HANDSHAKE_SIZE; i++)
        c0c1[i] = (uint8_t)i;
    assert_int_equal(lr_rtmp_handshake_answer(c0c1, ans, &scheme), 0);
    assert_int_equal(scheme, -1);
    assert_int_equal(ans[0], 3);
    assert_memory_equal(ans + 1 + LR_RTMP_HANDSHAKE_SIZE, c0c1 + 1, LR_RTMP_HANDSHAKE_SIZE);
    c0c1[0] = 6;  /* RTMPE */
    assert_int_equal(lr_rtmp_handshake_answer(c0c1, ans, &scheme), AVERROR_INVALIDDATA);
}

/* ------------------------------------------------------------ session */

typedef struct admit_log {
    char app[32], name[32], key[32];
    int  verdict;
    int  calls;
} admit_log;

static int admit(void *opaque, lr_rtmp_publish *p, const char **reason)
{
    admit_log *a = opaque;

    a->calls++;
    snprintf(a->app, sizeof(a->app), "%s", p->app);
    snprintf(a->name, sizeof(a->name), "%s", p->name);
    snprintf(a->key, sizeof(a->key), "%s", p->key ? p->key : "(none)");
    if (a->verdict == AVERROR(EACCES))
        *reason = "wrong key";
    return a->verdict;
}

static void put_command(lr_rtmp_chunk_writer *w, AVFifo *out, uint32_t stream, AVBPrint *b)
{
    lr_rtmp_msg m = { .csid = 3, .type = LR_RTMP_COMMAND_AMF0, .stream_id = stream,
                      .data = (const uint8_t *)b->str, .size = b->len };
    assert_true(av_bprint_is_complete(b));
    assert_int_equal(lr_rtmp_chunk_write(w, out, &m), 0);
    av_bprint_finalize(b, NULL);
    av_bprint_init(b, 0, AV_BPRINT_SIZE_UNLIMITED);
}

/* A publisher as FFmpeg behaves: connect, releaseStream, FCPublish,
 * createStream, publish, metadata, media, FCUnpublish. */
static size_t script_publish(const char *tc_url, const char *name, uint8_t **bytes)
{
    lr_rtmp_chunk_writer w;
    AVFifo *out = av_fifo_alloc2(4096, 1, AV_FIFO_FLAG_AUTO_GROW);
    uint8_t hs[1 + 2 * LR_RTMP_HANDSHAKE_SIZE] = { 3 };
    uint8_t media[300];
    AVBPrint b;
    size_t n;

    av_fifo_write(out, hs, sizeof(hs));  /* C0, C1 (plain), C2 */
    lr_rtmp_chunk_writer_init(&w);
    av_bprint_init(&b, 0, AV_BPRINT_SIZE_UNLIMITED);
    lr_amf_put_string(&b, "connect");
    lr_amf_put_number(&b, 1);
    lr_amf_put_object_start(&b);
    lr_amf_put_name(&b, "app");
    lr_amf_put_string(&b, "live");
    lr_amf_put_name(&b, "tcUrl");
    lr_amf_put_string(&b, tc_url);
    lr_amf_put_object_end(&b);
    put_command(&w, out, 0, &b);
    lr_amf_put_string(&b, "releaseStream");
    lr_amf_put_number(&b, 2);
    lr_amf_put_null(&b);
    lr_amf_put_string(&b, name);
    put_command(&w, out, 0, &b);
    lr_amf_put_string(&b, "createStream");
    lr_amf_put_number(&b, 3);
    lr_amf_put_null(&b);
    put_command(&w, out, 0, &b);
    lr_amf_put_string(&b, "publish");
    lr_amf_put_number(&b, 4);
    lr_amf_put_null(&b);
    lr_amf_put_string(&b, name);
    lr_amf_put_string(&b, "live");
    put_command(&w, out, 1, &b);
    lr_amf_put_string(&b, "@setDataFrame");
    lr_amf_put_string(&b, "onMetaData");
    lr_amf_put_object_start(&b);
    lr_amf_put_name(&b, "width");
    lr_amf_put_number(&b, 320);
    lr_amf_put_object_end(&b);
    {
        lr_rtmp_msg m = { .csid = 4, .type = LR_RTMP_DATA_AMF0, .stream_id = 1,
                          .data = (const uint8_t *)b.str, .size = b.len };
        assert_int_equal(lr_rtmp_chunk_write(&w, out, &m), 0);
        av_bprint_finalize(&b, NULL);
        av_bprint_init(&b, 0, AV_BPRINT_SIZE_UNLIMITED);
    }
    memset(media, 0x17, sizeof(media));
    for (uint32_t i = 0; i < 3; i++) {
        lr_rtmp_msg m = { .csid = 6, .type = i == 1 ? LR_RTMP_AUDIO : LR_RTMP_VIDEO,
                          .stream_id = 1, .timestamp = 0x1000000 + 40 * i,
                          .data = media, .size = sizeof(media) };
        assert_int_equal(lr_rtmp_chunk_write(&w, out, &m), 0);
    }
    lr_amf_put_string(&b, "FCUnpublish");
    lr_amf_put_number(&b, 5);
    lr_amf_put_null(&b);
    lr_amf_put_string(&b, name);
    put_command(&w, out, 0, &b);
    av_bprint_finalize(&b, NULL);
    n = fifo_take(out, bytes);
    av_fifo_freep2(&out);
    return n;
}

static int contains(const uint8_t *hay, size_t n, const char *needle)
{
    size_t l = strlen(needle);
    for (size_t i = 0; i + l <= n; i++)
        if (!memcmp(hay + i, needle, l))
            return 1;
    return 0;
}

static void session_publish_to_flv(void **state)
{
    admit_log a = { .verdict = 0 };
    lr_rtmp_session *s;
    uint8_t *in, *out, *flv;
    size_t n = script_publish("rtmp://h/live", "cs101?key=SECRET&x=1", &in), nout, nflv;
    int ret = 0;

    assert_int_equal(lr_rtmp_session_alloc("127.0.0.1:5000", admit, &a, &s), 0);
    for (size_t off = 0; off < n && ret == 0; off += 50)
        ret = lr_rtmp_session_feed(s, in + off, FFMIN(50, n - off));
    assert_int_equal(ret, AVERROR_EOF);
    assert_int_equal(lr_rtmp_session_unpublished(s), 1);
    assert_int_equal(a.calls, 1);
    assert_string_equal(a.app, "live");
    assert_string_equal(a.name, "cs101");
    assert_string_equal(a.key, "SECRET");

    nout = fifo_take(lr_rtmp_session_out(s), &out);
    assert_true(nout > 1 + 2 * LR_RTMP_HANDSHAKE_SIZE);
    assert_int_equal(out[0], 3);
    assert_true(contains(out, nout, "NetConnection.Connect.Success"));
    assert_true(contains(out, nout, "NetStream.Publish.Start"));

    /* FLV: header, onMetaData (no @setDataFrame), video, audio, video */
    nflv = fifo_take(lr_rtmp_session_flv(s), &flv);
    assert_memory_equal(flv, "FLV\x01\x05\0\0\0\x09\0\0\0\0", 13);
    assert_int_equal(flv[13], 18);
    assert_false(contains(flv, nflv, "@setDataFrame"));
    assert_true(contains(flv, nflv, "onMetaData"));
    size_t p = 13;
    int tags = 0;
    while (p < nflv) {
        uint32_t size = AV_RB24(flv + p + 1);
        uint32_t ts = AV_RB24(flv + p + 4) | (uint32_t)flv[p + 7] << 24;
        if (tags >= 1)
            assert_int_equal(ts, 0x1000000 + 40 * (tags - 1));
        assert_int_equal(AV_RB32(flv + p + 11 + size), 11 + size);
        p += 11 + size + 4;
        tags++;
    }
    assert_int_equal(p, nflv);
    assert_int_equal(tags, 4);
    av_free(in);
    av_free(out);
    av_free(flv);
    lr_rtmp_session_free(&s);
}

static void session_refusal(void **state)
{
    admit_log a = { .verdict = AVERROR(EACCES) };
    lr_rtmp_session *s;
    uint8_t *in, *out;
    size_t n = script_publish("rtmp://h/live?key=FROMURL", "cs101", &in), nout;

    assert_int_equal(lr_rtmp_session_alloc("127.0.0.1:5001", admit, &a, &s), 0);
    assert_int_equal(lr_rtmp_session_feed(s, in, n), AVERROR(EACCES));
    assert_string_equal(a.key, "FROMURL");
    assert_int_equal(lr_rtmp_session_publishing(s), 0);
    nout = fifo_take(lr_rtmp_session_out(s), &out);
    assert_true(contains(out, nout, "NetStream.Publish.Unauthorized"));
    assert_true(contains(out, nout, "wrong key"));
    assert_int_equal(av_fifo_can_read(lr_rtmp_session_flv(s)), 0);
    /* sticky */
    assert_int_equal(lr_rtmp_session_feed(s, in, 1), AVERROR(EACCES));
    av_free(in);
    av_free(out);
    lr_rtmp_session_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(amf_round_trip),
        cmocka_unit_test(amf_every_truncation_fails),
        cmocka_unit_test(amf_hostile_lengths_and_depth),
        cmocka_unit_test(chunk_sizes_and_slicing),
        cmocka_unit_test(type3_headers_and_extended_timestamps),
        cmocka_unit_test(absurd_length_refused),
        cmocka_unit_test(bad_chunk_sizes_refused),
        cmocka_unit_test(bounds_on_streams_and_pending),
        cmocka_unit_test(abort_and_acknowledgement),
        cmocka_unit_test(handshake_digest_vectors),
        cmocka_unit_test(handshake_plain_and_bad_version),
        cmocka_unit_test(session_publish_to_flv),
        cmocka_unit_test(session_refusal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
