/* ingest/rtmp_amf.c — see rtmp_amf.h. Every read is checked against the end
 * of the input before it happens; arrays grow as their items arrive, never
 * by the count a peer declares. */
#include "rtmp_amf.h"

#include <string.h>

#include <libavutil/error.h>
#include <libavutil/intfloat.h>
#include <libavutil/intreadwrite.h>
#include <libavutil/mem.h>

#define OBJECT_END 0x09

typedef struct dec {
    const uint8_t *p, *end;
    unsigned       nb_values;
} dec;

static int need(const dec *d, size_t n)
{
    return (size_t)(d->end - d->p) >= n ? 0 : AVERROR_INVALIDDATA;
}

/* A length-prefixed string (2 or 4 bytes of length) into a NUL-terminated copy. */
static int read_str(dec *d, int long_len, char **out, size_t *len)
{
    size_t n;
    int ret;

    if ((ret = need(d, long_len ? 4 : 2)) < 0)
        return ret;
    n = long_len ? AV_RB32(d->p) : AV_RB16(d->p);
    d->p += long_len ? 4 : 2;
    if ((ret = need(d, n)) < 0)
        return ret;
    if (!(*out = av_malloc(n + 1)))
        return AVERROR(ENOMEM);
    memcpy(*out, d->p, n);
    (*out)[n] = 0;
    *len = n;
    d->p += n;
    return 0;
}

static int decode_value(dec *d, lr_amf_value *v, int depth);

/* Properties until the empty-name end marker (objects and ECMA arrays). */
static int decode_props(dec *d, lr_amf_value *v, int depth)
{
    unsigned cap = 0;
    int ret;

    for (;;) {
        lr_amf_prop *p;

        if ((ret = need(d, 3)) < 0)
            return ret;
        if (AV_RB16(d->p) == 0 && d->p[2] == OBJECT_END) {
            d->p += 3;
            return 0;
        }
        if (v->nb == cap) {
            unsigned ncap = cap ? cap * 2 : 4;
            void *np = av_realloc_array(v->props, ncap, sizeof(*v->props));
            if (!np)
                return AVERROR(ENOMEM);
            v->props = np;
            cap = ncap;
        }
        p = &v->props[v->nb];
        memset(p, 0, sizeof(*p));
        p->value.type = LR_AMF_NULL;
        v->nb++;
        if ((ret = read_str(d, 0, &p->name, &p->name_len)) < 0)
            return ret;
        if ((ret = decode_value(d, &p->value, depth + 1)) < 0)
            return ret;
    }
}

static int decode_value(dec *d, lr_amf_value *v, int depth)
{
    uint8_t marker;
    int ret;

    memset(v, 0, sizeof(*v));
    v->type = LR_AMF_NULL;
    if (depth > LR_AMF_MAX_DEPTH || ++d->nb_values > LR_AMF_MAX_VALUES)
        return AVERROR_INVALIDDATA;
    if ((ret = need(d, 1)) < 0)
        return ret;
    marker = *d->p++;
    switch (marker) {
    case LR_AMF_NUMBER:
        if ((ret = need(d, 8)) < 0)
            return ret;
        v->number = av_int2double(AV_RB64(d->p));
        d->p += 8;
        break;
    case LR_AMF_BOOLEAN:
        if ((ret = need(d, 1)) < 0)
            return ret;
        v->boolean = !!*d->p++;
        break;
    case LR_AMF_STRING:
    case LR_AMF_LONG_STRING:
        if ((ret = read_str(d, marker == LR_AMF_LONG_STRING, &v->str, &v->len)) < 0)
            return ret;
        break;
    case LR_AMF_NULL:
    case LR_AMF_UNDEFINED:
        break;
    case LR_AMF_ECMA_ARRAY:
        /* the count is only a hint (and often wrong): the end marker rules */
        if ((ret = need(d, 4)) < 0)
            return ret;
        d->p += 4;
        /* fall through */
    case LR_AMF_OBJECT:
        v->type = marker;
        return decode_props(d, v, depth);
    case LR_AMF_STRICT_ARRAY: {
        uint32_t count;
        unsigned cap = 0;

        if ((ret = need(d, 4)) < 0)
            return ret;
        count = AV_RB32(d->p);
        d->p += 4;
        v->type = marker;
        /* every item takes at least one byte: a count beyond the input is a lie */
        if ((ret = need(d, count)) < 0)
            return ret;
        while (v->nb < count) {
            if (v->nb == cap) {
                unsigned ncap = cap ? cap * 2 : 4;
                void *np = av_realloc_array(v->items, ncap, sizeof(*v->items));
                if (!np)
                    return AVERROR(ENOMEM);
                v->items = np;
                cap = ncap;
            }
            if ((ret = decode_value(d, &v->items[v->nb++], depth + 1)) < 0)
                return ret;
        }
        return 0;
    }
    case LR_AMF_DATE:
        if ((ret = need(d, 10)) < 0)
            return ret;
        v->number = av_int2double(AV_RB64(d->p));
        v->tz = (int16_t)AV_RB16(d->p + 8);
        d->p += 10;
        break;
    default:
        return AVERROR_INVALIDDATA;
    }
    v->type = marker;
    return 0;
}

int lr_amf_decode(const uint8_t *buf, size_t size, lr_amf_value *v, size_t *used)
{
    dec d = { .p = buf, .end = buf + size };
    int ret = decode_value(&d, v, 0);

    if (ret < 0) {
        lr_amf_value_free(v);
        return ret;
    }
    if (used)
        *used = d.p - buf;
    return 0;
}

void lr_amf_value_free(lr_amf_value *v)
{
    for (unsigned i = 0; v->props && i < v->nb; i++) {
        av_freep(&v->props[i].name);
        lr_amf_value_free(&v->props[i].value);
    }
    for (unsigned i = 0; v->items && i < v->nb; i++)
        lr_amf_value_free(&v->items[i]);
    av_freep(&v->props);
    av_freep(&v->items);
    av_freep(&v->str);
    memset(v, 0, sizeof(*v));
    v->type = LR_AMF_NULL;
}

const lr_amf_value *lr_amf_get(const lr_amf_value *obj, const char *name)
{
    size_t len = strlen(name);

    if (!obj || (obj->type != LR_AMF_OBJECT && obj->type != LR_AMF_ECMA_ARRAY))
        return NULL;
    for (unsigned i = 0; i < obj->nb; i++)
        if (obj->props[i].name_len == len && !memcmp(obj->props[i].name, name, len))
            return &obj->props[i].value;
    return NULL;
}

const char *lr_amf_str(const lr_amf_value *v)
{
    if (!v || (v->type != LR_AMF_STRING && v->type != LR_AMF_LONG_STRING))
        return NULL;
    return v->str;
}

static void put_u8(AVBPrint *b, uint8_t x)
{
    av_bprint_append_data(b, (const char *)&x, 1);
}

static void put_be16(AVBPrint *b, uint16_t x)
{
    uint8_t t[2];
    AV_WB16(t, x);
    av_bprint_append_data(b, (const char *)t, 2);
}

static void put_be32(AVBPrint *b, uint32_t x)
{
    uint8_t t[4];
    AV_WB32(t, x);
    av_bprint_append_data(b, (const char *)t, 4);
}

static void put_double(AVBPrint *b, double v)
{
    uint8_t t[8];
    AV_WB64(t, av_double2int(v));
    av_bprint_append_data(b, (const char *)t, 8);
}

void lr_amf_put_number(AVBPrint *b, double v)
{
    put_u8(b, LR_AMF_NUMBER);
    put_double(b, v);
}

void lr_amf_put_bool(AVBPrint *b, int v)
{
    put_u8(b, LR_AMF_BOOLEAN);
    put_u8(b, !!v);
}

static void put_str_len(AVBPrint *b, const char *s, size_t len, int long_marker)
{
    if (long_marker) {
        put_u8(b, LR_AMF_LONG_STRING);
        put_be32(b, (uint32_t)len);
    } else {
        put_u8(b, LR_AMF_STRING);
        put_be16(b, (uint16_t)len);
    }
    av_bprint_append_data(b, s, (unsigned)len);
}

void lr_amf_put_string(AVBPrint *b, const char *s)
{
    size_t len = strlen(s);
    put_str_len(b, s, len, len > 0xFFFF);
}

void lr_amf_put_null(AVBPrint *b)
{
    put_u8(b, LR_AMF_NULL);
}

void lr_amf_put_undefined(AVBPrint *b)
{
    put_u8(b, LR_AMF_UNDEFINED);
}

void lr_amf_put_object_start(AVBPrint *b)
{
    put_u8(b, LR_AMF_OBJECT);
}

static void put_name_len(AVBPrint *b, const char *name, size_t len)
{
    put_be16(b, (uint16_t)len);
    av_bprint_append_data(b, name, (unsigned)len);
}

void lr_amf_put_name(AVBPrint *b, const char *name)
{
    put_name_len(b, name, strlen(name));
}

void lr_amf_put_object_end(AVBPrint *b)
{
    put_be16(b, 0);
    put_u8(b, OBJECT_END);
}

static int encode(AVBPrint *b, const lr_amf_value *v, int depth)
{
    int ret;

    if (depth > LR_AMF_MAX_DEPTH)
        return AVERROR(EINVAL);
    switch (v->type) {
    case LR_AMF_NUMBER:
        lr_amf_put_number(b, v->number);
        break;
    case LR_AMF_BOOLEAN:
        lr_amf_put_bool(b, v->boolean);
        break;
    case LR_AMF_STRING:
    case LR_AMF_LONG_STRING:
        if (v->len > UINT32_MAX || (v->type == LR_AMF_STRING && v->len > 0xFFFF))
            return AVERROR(EINVAL);
        put_str_len(b, v->str ? v->str : "", v->str ? v->len : 0, v->type == LR_AMF_LONG_STRING);
        break;
    case LR_AMF_NULL:
    case LR_AMF_UNDEFINED:
        put_u8(b, v->type);
        break;
    case LR_AMF_OBJECT:
    case LR_AMF_ECMA_ARRAY:
        put_u8(b, v->type);
        if (v->type == LR_AMF_ECMA_ARRAY)
            put_be32(b, v->nb);
        for (unsigned i = 0; i < v->nb; i++) {
            if (v->props[i].name_len > 0xFFFF)
                return AVERROR(EINVAL);
            put_name_len(b, v->props[i].name, v->props[i].name_len);
            if ((ret = encode(b, &v->props[i].value, depth + 1)) < 0)
                return ret;
        }
        lr_amf_put_object_end(b);
        break;
    case LR_AMF_STRICT_ARRAY:
        put_u8(b, v->type);
        put_be32(b, v->nb);
        for (unsigned i = 0; i < v->nb; i++)
            if ((ret = encode(b, &v->items[i], depth + 1)) < 0)
                return ret;
        break;
    case LR_AMF_DATE:
        put_u8(b, v->type);
        put_double(b, v->number);
        put_be16(b, (uint16_t)v->tz);
        break;
    default:
        return AVERROR(EINVAL);
    }
    return 0;
}

int lr_amf_encode(AVBPrint *b, const lr_amf_value *v)
{
    int ret = encode(b, v, 0);

    if (ret < 0)
        return ret;
    return av_bprint_is_complete(b) ? 0 : AVERROR(ENOMEM);
}
