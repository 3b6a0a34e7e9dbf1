/* tests/fuzz/fuzz_node_answer.c — a peer's /api/v1/node answer as the
 * steering poller reads it from another machine (egress/steer_peers.h).
 * Invariants: a parsed answer holds at most the cap of lectures, each name
 * NUL-terminated and short enough, each age and target duration within a
 * day (so the health check's arithmetic cannot overflow); a refused body
 * leaves an empty answer. */
#include <stdlib.h>
#include <string.h>

#include "egress/steer_peers.h"
#include "fuzz.h"

#define AT_MS INT64_C(1800000000000)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lr_node_answer a;
    char *body;

    if (size > 1 << 18 || !(body = malloc(size + 1)))
        return 0;
    memcpy(body, data, size);
    body[size] = '\0';
    int ret = lr_node_answer_parse(body, AT_MS, &a);
    if (a.nb < 0 || a.nb > LR_NODE_ANSWER_MAX_LECTURES || (ret < 0 && (a.nb || a.full)))
        abort();
    for (int i = 0; i < a.nb; i++) {
        if (!memchr(a.lectures[i].name, '\0', sizeof(a.lectures[i].name)) ||
            a.lectures[i].newest_ms > AT_MS || AT_MS - a.lectures[i].newest_ms > 86400000 ||
            a.lectures[i].target_ms < 0 || a.lectures[i].target_ms > 86400000)
            abort();
    }
    free(body);
    return 0;
}
