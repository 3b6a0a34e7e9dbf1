/* egress/http_clock.c — see http_clock.h. */
#include "http_clock.h"
#include <dlfcn.h>
#include <h2o.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/time.h>
#include <time.h>

static uintptr_t h2o_lo, h2o_hi;     /* libh2o's executable segments */
static uintptr_t stamp_lo, stamp_hi; /* h2o_context_update_timestamp_cache */
static int64_t   steady_offset_ns;   /* the wall clock minus the monotonic one, at setup */
static atomic_int ready;

static int64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int find_h2o_text(struct dl_phdr_info *info, size_t size, void *base)
{
    (void)size;
    if ((void *)info->dlpi_addr != base)
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (!h2o_lo || lo < h2o_lo)
            h2o_lo = lo;
        if (hi > h2o_hi)
            h2o_hi = hi;
    }
    return 1;
}

static void setup_once(void)
{
    Dl_info info;
    const ElfW(Sym) *sym = NULL;

    if (!dladdr1((void *)&h2o_context_update_timestamp_cache, &info, (void **)&sym,
                 RTLD_DL_SYMENT) || !sym || !info.dli_saddr)
        return;
    stamp_lo = (uintptr_t)info.dli_saddr;
    stamp_hi = stamp_lo + sym->st_size;
    dl_iterate_phdr(find_h2o_text, info.dli_fbase);
    if (!h2o_lo || stamp_lo < h2o_lo || stamp_hi > h2o_hi)
        return; /* h2o linked in statically, or not as expected: the plain clock */
    steady_offset_ns = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC);
    atomic_store(&ready, 1);
}

int lr_http_clock_setup(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;

    pthread_once(&once, setup_once);
    return atomic_load(&ready);
}

/* The process's gettimeofday: libh2o's own calls, but for its Date cache,
 * get the steady clock; everyone else's the wall clock, as from libc. */
int gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
    uintptr_t caller = (uintptr_t)__builtin_return_address(0);
    int64_t ns;

    (void)tz;
    if (atomic_load_explicit(&ready, memory_order_relaxed) && caller >= h2o_lo &&
        caller < h2o_hi && !(caller >= stamp_lo && caller < stamp_hi))
        ns = clock_ns(CLOCK_MONOTONIC) + steady_offset_ns;
    else
        ns = clock_ns(CLOCK_REALTIME);
    tv->tv_sec = ns / 1000000000;
    tv->tv_usec = ns % 1000000000 / 1000;
    return 0;
}
