/* tests/fuzz/fuzz_rtmp_handshake.c — an RTMP client's C0+C1 (1 + 1536
 * bytes: ingest/rtmp_handshake.h), as any encoder on the internet may send
 * it. Invariants: version 3 is answered with S0 = 3; a C1 whose digest the
 * answer found is answered in the same scheme, and S1's own digest (signed
 * with the server's key) is where that scheme puts it. */
#include <stdlib.h>
#include <string.h>

#include "ingest/rtmp_handshake.h"
#include "fuzz.h"

#define C1_SIZE 1536

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t c0c1[1 + C1_SIZE] = { 3 }, out[1 + 2 * C1_SIZE];
    size_t pos;
    int scheme = -2;

    /* short inputs are padded with zeros: the reader takes exactly 1537 */
    memcpy(c0c1, data, size < sizeof(c0c1) ? size : sizeof(c0c1));
    int found = lr_rtmp_handshake_find_digest(c0c1 + 1, &pos);
    if (found >= 0 && (found > 1 || pos + LR_RTMP_DIGEST_SIZE > C1_SIZE ||
                       pos != lr_rtmp_handshake_digest_pos(c0c1 + 1, found)))
        abort();
    int r = lr_rtmp_handshake_answer(c0c1, out, &scheme);
    if (r == 0) {
        if (out[0] != 3 || c0c1[0] != 3 || scheme < -1 || scheme > 1)
            abort();
        if ((found >= 0) != (scheme >= 0) || (found >= 0 && scheme != found))
            abort();
    } else if (c0c1[0] == 3 && r != 0) {
        abort();  /* version 3 is always answered (OpenSSL failing aside) */
    }
    return 0;
}
