/* tests/fuzz/fuzz_recording_meta.c — a recording's recording.json
 * (egress/recording_disk.h): a folder left by a crash, or edited by hand, is
 * outside input to the egress that resumes or lists it. Invariants: what is
 * read is either unknown or valid: a lecture name, an id, rendition names
 * the recorder could have written, finished one of -1, 0, 1. */
#include <stdlib.h>
#include <string.h>

#include "common/streamid.h"
#include "egress/recording_disk.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lr_recording_meta m;

    if (size > LR_RECORDING_JSON_MAX)
        return 0;
    if (lr_recording_meta_parse((const char *)data, size, &m) == 0) {
        if (!memchr(m.lecture, '\0', sizeof(m.lecture)) || !memchr(m.id, '\0', sizeof(m.id)))
            abort();
        if (m.lecture[0] && !lr_lecture_name_valid(m.lecture))
            abort();
        if (m.id[0] && !lr_recording_id_valid(m.id, strlen(m.id)))
            abort();
        if (m.finished < -1 || m.finished > 1 || m.nb_renditions < 0 ||
            m.nb_renditions > LR_RECORDING_MAX_RENDS)
            abort();
        for (int i = 0; i < m.nb_renditions; i++)
            if (!lr_recording_rend_valid(m.renditions[i]))
                abort();
    }
    return 0;
}
