/* tests/fuzz/fuzz_prom_text.c — a role's /metrics body as `lecture-relay
 * top` reads it from another machine (app/prom_text.h). Invariants: a body
 * that parses gives samples whose names and labels are NUL-terminated and
 * whose label lookups agree with their lists; an error says which line. */
#include <stdlib.h>
#include <string.h>

#include "app/prom_text.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lr_prom_text *t = NULL;
    char err[128] = "";

    if (size > 1 << 20)
        return 0;
    if (lr_prom_text_parse((const char *)data, size, &t, err, sizeof(err)) == 0) {
        for (int i = 0; i < t->nb_samples; i++) {
            const lr_prom_sample *s = &t->samples[i];
            if (!s->name || !s->name[0] || s->nb_labels < 0)
                abort();
            for (int k = 0; k < s->nb_labels; k++) {
                const char *v = lr_prom_sample_label(s, s->labels[k].name);
                if (!v || strlen(s->labels[k].name) == 0)
                    abort();
            }
            if (!lr_prom_same_series(s, s))
                abort();
        }
        lr_prom_text_free(&t);
    } else if (t || !memchr(err, '\0', sizeof(err)) || !err[0]) {
        abort();
    }
    return 0;
}
