/* common/heap_trim.h — hands memory that was freed back to the kernel.
 *
 * glibc's malloc keeps freed memory in the arena of the thread that freed
 * it, and every link session, viewer burst and probe runs on some thread:
 * in bench/soak each 5 s blackout of a border link grew the egress's
 * resident memory by 10 to 20 MiB that was all free (malloc_trim took one
 * from 127 MiB back to 68 MiB), so a dashboard showed a leak where there
 * was none and the machine's memory was held for nothing. The status
 * sampler (status.c), which every role runs, calls this every 10 s; in
 * bench/soak --quick a call took 1 to 17 ms in an egress and up to 39 ms
 * in a transcoder of two ladders, each arena locked only while its own
 * free pages are handed back. */
#ifndef LR_COMMON_HEAP_TRIM_H
#define LR_COMMON_HEAP_TRIM_H

void lr_heap_trim(void);

#endif
