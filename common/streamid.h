/* common/streamid.h — SRT stream ids in Access Control syntax
 * ("#!::r=<lecture>,m=publish") and the plain "<lecture>" form OBS users type.
 * Used by every SRT listener and caller. */
#ifndef LR_COMMON_STREAMID_H
#define LR_COMMON_STREAMID_H

#include <stddef.h>

#define LR_LECTURE_NAME_MAX 64

typedef struct lr_streamid {
    char resource[LR_LECTURE_NAME_MAX + 1]; /* r= : the lecture */
    char mode[16];                          /* m= : "request" (default), "publish", ... */
    char user[64];                          /* u= , empty when absent */
    char session[129];                      /* s= : the publish key, empty when absent */
    int  plain;                             /* given as a bare "<lecture>" */
} lr_streamid;

/* A lecture name is 1..64 chars of [A-Za-z0-9_-], starting alphanumeric. */
int lr_lecture_name_valid(const char *name);

/* Parses an SRT stream id (at most 512 bytes, as SRT allows).
 * Returns 0, or AVERROR(EINVAL) for a malformed id, an unknown or repeated
 * key, or an invalid lecture name. */
int lr_streamid_parse(const char *sid, lr_streamid *out);

/* Writes "#!::r=<lecture>,m=<mode>"; returns 0 or AVERROR(EINVAL)
 * (bad name, or buf too small). */
int lr_streamid_format(char *buf, size_t size, const char *lecture, const char *mode);

#endif
