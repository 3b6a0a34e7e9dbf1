/* common/heap_trim.c — see heap_trim.h. */
#include "heap_trim.h"

#include <stdlib.h>  /* defines __GLIBC__ on glibc */
#if defined(__GLIBC__)
#include <malloc.h>
#endif

void lr_heap_trim(void)
{
#if defined(__GLIBC__)
    malloc_trim(0);  /* every arena: whole free pages go back, no pad kept */
#endif
}
