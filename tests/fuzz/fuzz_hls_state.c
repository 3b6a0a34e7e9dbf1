/* tests/fuzz/fuzz_hls_state.c — a pulled HLS stream's playlist as a
 * university's server (or whoever answers there) sends it: the ingest reads
 * it to tell an ended lecture from a lost one (lr_hls_state_parse), and
 * resolves a master's variant URI against the playlist's URL
 * (lr_hls_state_resolve). Invariants: a known answer or an error; a
 * variant is a NUL-terminated, non-empty string; a resolved URI fits. */
#include <stdlib.h>
#include <string.h>

#include "ingest/hls_state.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text, variant[512], out[1024];
    int ret;

    if (size > 1 << 16)
        return 0;
    if (!(text = malloc(size + 1)))
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    ret = lr_hls_state_parse(text, variant, sizeof(variant));
    if (ret != LR_HLS_LIVE && ret != LR_HLS_ENDED && ret != LR_HLS_MASTER && ret >= 0)
        abort();
    if (ret == LR_HLS_MASTER) {
        if (!memchr(variant, 0, sizeof(variant)) || !variant[0])
            abort();
        if (lr_hls_state_resolve("http://u.example/live/a/master.m3u8?t=1", variant, out,
                                 sizeof(out)) == 0 && !memchr(out, 0, sizeof(out)))
            abort();
    }
    /* the input itself as a reference, against a URL and a file path */
    if (size < 900 && !memchr(text, 0, size)) {
        if (lr_hls_state_resolve("http://u.example/a/b/c.m3u8", text, out, sizeof(out)) == 0 &&
            !memchr(out, 0, sizeof(out)))
            abort();
        if (lr_hls_state_resolve("/srv/hls/x/index.m3u8", text, out, sizeof(out)) == 0 &&
            !memchr(out, 0, sizeof(out)))
            abort();
    }
    free(text);
    return 0;
}
