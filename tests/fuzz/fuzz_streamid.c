/* tests/fuzz/fuzz_streamid.c — SRT stream ids as a peer sends them
 * (lr_streamid_parse). Invariant: an id that parses formats back to one that
 * parses to the same lecture and mode. */
#include <stdlib.h>
#include <string.h>

#include "common/streamid.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *sid, buf[LR_LECTURE_NAME_MAX + 64];
    lr_streamid id, again;

    /* SRT hands over at most 512 bytes; the parser must refuse longer ids
     * by itself, so feed somewhat longer ones too. */
    if (size > 4096)
        return 0;
    if (!(sid = malloc(size + 1)))
        return 0;
    memcpy(sid, data, size);
    sid[size] = 0;
    if (lr_streamid_parse(sid, &id) == 0) {
        if (lr_streamid_format(buf, sizeof(buf), id.resource, id.mode) < 0 ||
            lr_streamid_parse(buf, &again) < 0 ||
            strcmp(id.resource, again.resource) || strcmp(id.mode, again.mode))
            abort();
    }
    free(sid);
    return 0;
}
