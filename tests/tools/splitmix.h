/* tests/tools/splitmix.h — the test tools' seeded random numbers
 * (splitmix64), so that a run can be repeated from its seed: impair's
 * losses and jitter, llhls_viewers' rung choices and switch times. */
#ifndef LR_TESTS_TOOLS_SPLITMIX_H
#define LR_TESTS_TOOLS_SPLITMIX_H

#include <stdint.h>

static inline uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static inline double rand_unit(uint64_t *s)
{
    return (double)(splitmix64(s) >> 11) * 0x1.0p-53;
}

#endif
