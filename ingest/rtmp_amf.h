/* ingest/rtmp_amf.h — AMF0, the value encoding of RTMP commands: a bounded
 * decoder into a small value tree and an encoder. Used by rtmp_session.c for
 * connect/publish and the replies; fuzzed by tests/fuzz/fuzz_rtmp_amf.c. */
#ifndef LR_INGEST_RTMP_AMF_H
#define LR_INGEST_RTMP_AMF_H

#include <stddef.h>
#include <stdint.h>

#include <libavutil/bprint.h>

/* The markers we read and write (AMF0 spec, section 2.1). References, typed
 * objects, XML documents and the AMF3 switch are refused. */
enum lr_amf_type {
    LR_AMF_NUMBER       = 0x00,
    LR_AMF_BOOLEAN      = 0x01,
    LR_AMF_STRING       = 0x02,
    LR_AMF_OBJECT       = 0x03,
    LR_AMF_NULL         = 0x05,
    LR_AMF_UNDEFINED    = 0x06,
    LR_AMF_ECMA_ARRAY   = 0x08,
    LR_AMF_STRICT_ARRAY = 0x0A,
    LR_AMF_DATE         = 0x0B,
    LR_AMF_LONG_STRING  = 0x0C,
};

/* Bounds on what one lr_amf_decode() accepts, whatever the input declares:
 * nesting (objects in arrays in objects...) and the number of values. */
#define LR_AMF_MAX_DEPTH  32
#define LR_AMF_MAX_VALUES 16384

typedef struct lr_amf_prop lr_amf_prop;
typedef struct lr_amf_value lr_amf_value;

struct lr_amf_value {
    enum lr_amf_type type;
    double        number;   /* NUMBER; DATE: milliseconds since the epoch */
    int16_t       tz;       /* DATE: the time-zone field, as sent */
    int           boolean;  /* BOOLEAN: 0 or 1 */
    char         *str;      /* STRING, LONG_STRING: NUL-terminated copy (may hold NULs) */
    size_t        len;      /* its length without the terminator */
    lr_amf_prop  *props;    /* OBJECT, ECMA_ARRAY: in input order */
    lr_amf_value *items;    /* STRICT_ARRAY */
    unsigned      nb;       /* number of props or items */
};

struct lr_amf_prop {
    char        *name;      /* NUL-terminated copy */
    size_t       name_len;
    lr_amf_value value;
};

/* Decodes one value from buf into *v (which the caller then owns and frees
 * with lr_amf_value_free). *used, if not NULL, gets the bytes consumed.
 * Returns 0, AVERROR_INVALIDDATA for a truncated, unknown or too deeply
 * nested value (never reading past buf + size; *v is left empty), or
 * AVERROR(ENOMEM). */
int  lr_amf_decode(const uint8_t *buf, size_t size, lr_amf_value *v, size_t *used);
/* Frees what *v holds and leaves it an empty NULL value. */
void lr_amf_value_free(lr_amf_value *v);

/* The property called name of an OBJECT or ECMA_ARRAY, or NULL. */
const lr_amf_value *lr_amf_get(const lr_amf_value *obj, const char *name);
/* The text of a STRING or LONG_STRING, else NULL. */
const char *lr_amf_str(const lr_amf_value *v);

/* Appends v's encoding. Returns 0, AVERROR(EINVAL) for a value deeper than
 * LR_AMF_MAX_DEPTH or of no known type, AVERROR(ENOMEM) if b ran out. */
int  lr_amf_encode(AVBPrint *b, const lr_amf_value *v);

/* Primitive writers for building replies by hand; check
 * av_bprint_is_complete(b) once at the end. A string longer than 65535
 * bytes is written as a long string. */
void lr_amf_put_number(AVBPrint *b, double v);
void lr_amf_put_bool(AVBPrint *b, int v);
void lr_amf_put_string(AVBPrint *b, const char *s);
void lr_amf_put_null(AVBPrint *b);
void lr_amf_put_undefined(AVBPrint *b);
void lr_amf_put_object_start(AVBPrint *b);
/* A property name (then write its value); names are at most 65535 bytes. */
void lr_amf_put_name(AVBPrint *b, const char *name);
void lr_amf_put_object_end(AVBPrint *b);

#endif
