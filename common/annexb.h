/* common/annexb.h — what an H.264 or HEVC access unit in Annex B (start
 * codes, as MPEG-TS carries it) is, read from its NAL unit headers. Used by
 * the egress (keyframe flags of a link read without parsers) and the
 * transcoder (a passed-through source's IDRs set every rung's keyframes). */
#ifndef LR_COMMON_ANNEXB_H
#define LR_COMMON_ANNEXB_H

#include <stdint.h>

/* Whether an Annex B access unit of codec_id (AV_CODEC_ID_H264 or _HEVC)
 * starts a closed GOP: an IDR slice (H.264) or an IRAP picture (HEVC). */
int lr_annexb_starts_gop(int codec_id, const uint8_t *data, int size);

#endif
