/* tests/fuzz/fuzz_config.c — YAML configuration files (lr_config_load_string
 * over the defaults). Invariant: a failure leaves a non-empty, terminated
 * message in err. */
#include <stdlib.h>
#include <string.h>

#include "app/conf.h"
#include "common/config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lr_config c;
    char *yaml, err[256];
    int ret;

    if (size > 65536) /* configs are a few KB; longer inputs only slow the search */
        return 0;
    if (!(yaml = malloc(size + 1)))
        return 0;
    memcpy(yaml, data, size);
    yaml[size] = 0;
    memset(err, 'X', sizeof(err)); /* no stray terminator for a missing message to hide behind */
    if (lr_config_defaults(&c, lr_app_conf_sections) < 0) {
        lr_config_free(&c);
        free(yaml);
        return 0;
    }
    ret = lr_config_load_string(&c, yaml, "fuzz.yaml", err, sizeof(err));
    if (ret < 0 && (!memchr(err, 0, sizeof(err)) || !err[0]))
        abort();
    lr_config_free(&c);
    free(yaml);
    return 0;
}
