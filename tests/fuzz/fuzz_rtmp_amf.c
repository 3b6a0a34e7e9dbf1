/* tests/fuzz/fuzz_rtmp_amf.c — AMF0 values as RTMP commands carry them
 * (lr_amf_decode, one value after another). Invariant: what decodes
 * re-encodes to bytes that decode and re-encode to the same bytes. */
#include <stdlib.h>
#include <string.h>

#include <libavutil/bprint.h>

#include "fuzz.h"
#include "ingest/rtmp_amf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t used;

    if (size > (1 << 20))
        return 0;
    while (size) {
        lr_amf_value v, again;
        AVBPrint a, b;

        if (lr_amf_decode(data, size, &v, &used) < 0)
            break;
        if (!used || used > size)
            abort();
        av_bprint_init(&a, 0, AV_BPRINT_SIZE_UNLIMITED);
        av_bprint_init(&b, 0, AV_BPRINT_SIZE_UNLIMITED);
        if (lr_amf_encode(&a, &v) == 0) {
            size_t n;
            if (lr_amf_decode((const uint8_t *)a.str, a.len, &again, &n) < 0 || n != a.len)
                abort();
            if (lr_amf_encode(&b, &again) < 0 || a.len != b.len || memcmp(a.str, b.str, a.len))
                abort();
            lr_amf_value_free(&again);
        }
        av_bprint_finalize(&a, NULL);
        av_bprint_finalize(&b, NULL);
        lr_amf_value_free(&v);
        data += used;
        size -= used;
    }
    return 0;
}
