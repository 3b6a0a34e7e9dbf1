/* common/annexb.c — see annexb.h. */
#include "annexb.h"

#include <libavcodec/codec_id.h>

int lr_annexb_starts_gop(int codec_id, const uint8_t *p, int size)
{
    for (int i = 0; i + 4 < size; i++) {
        if (p[i] || p[i + 1] || p[i + 2] != 1)
            continue;
        if (codec_id == AV_CODEC_ID_H264) {
            int type = p[i + 3] & 0x1f;
            if (type == 5)
                return 1;
            if (type == 1)   /* a slice of another kind: the picture is not an IDR */
                return 0;
        } else if (codec_id == AV_CODEC_ID_HEVC) {
            int type = (p[i + 3] >> 1) & 0x3f;
            if (type >= 16 && type <= 23)  /* IRAP */
                return 1;
            if (type < 16)
                return 0;
        } else {
            return 0;
        }
        i += 3;
    }
    return 0;
}
