/* common/heap.h — keeps a long-running process's resident memory to what it
 * holds, not its high-water mark.
 *
 * glibc's malloc kept freed memory in two ways that bench/soak showed as
 * growth that never came back:
 * - in the arena of the thread that freed it: every link session, viewer
 *   burst and probe runs on some thread, and each 5 s blackout of a border
 *   link grew an egress by 10 to 20 MiB, all of it free (malloc_trim took
 *   one from 127 MiB back to 68 MiB). lr_heap_trim hands it back; the status
 *   sampler (status.c), which every role runs, calls it every 10 s.
 * - in the heap, for blocks of frames and encoder buffers: after the first
 *   such block is freed, glibc raises its mmap threshold to its size, so
 *   the next ones come from the heap instead of their own mappings, and a
 *   transcoder whose pipelines start and end (a lecture restarting) is left
 *   with holes too fragmented to give back: 67 -> 122 MiB over 8 link
 *   sessions of a 2-rung ladder, against 41-47 MiB with the threshold fixed
 *   at 128 KiB (lr_heap_setup), for about the same CPU time.
 * Elsewhere than glibc both do nothing. */
#ifndef LR_COMMON_HEAP_H
#define LR_COMMON_HEAP_H

/* Once, before the roles start: blocks of 128 KiB and more get mappings of
 * their own, given back when freed. */
void lr_heap_setup(void);
/* Hands whole free pages of every arena back to the kernel. A call took 1
 * to 17 ms in an egress of bench/soak --quick, up to 39 ms in a transcoder
 * of two ladders; each arena is locked only while its own pages go. */
void lr_heap_trim(void);

#endif
