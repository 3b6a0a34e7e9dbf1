/* common/heap.c — see heap.h. */
#include "heap.h"

#include <stdlib.h>  /* defines __GLIBC__ on glibc */
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#define MMAP_THRESHOLD (128 * 1024)  /* glibc's own starting value, kept */

void lr_heap_setup(void)
{
#if defined(__GLIBC__)
    mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD);  /* also stops it moving */
#endif
}

void lr_heap_trim(void)
{
#if defined(__GLIBC__)
    malloc_trim(0);  /* every arena: whole free pages go back, no pad kept */
#endif
}
