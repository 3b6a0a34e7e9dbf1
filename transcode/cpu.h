/* transcode/cpu.h — where a pipeline's CPU time goes: the calling thread's
 * own CPU clock, and the CPU of every thread of the process whose name starts
 * with a prefix (a pipeline names its decoding and encoding threads, and the
 * codec threads they create inherit the name). Linux /proc. Called by
 * pipeline.c for the per-stage line logged at the end of a lecture. */
#ifndef LR_TRANSCODE_CPU_H
#define LR_TRANSCODE_CPU_H

#include <stdint.h>

/* CPU time of the calling thread, ns. */
int64_t lr_cpu_thread_ns(void);
/* Summed CPU time (user + system) of this process's live threads whose name
 * starts with prefix, ns; 0 where /proc is unreadable. */
int64_t lr_cpu_threads_ns(const char *prefix);
/* Names the calling thread (at most 15 characters are kept). */
void    lr_cpu_name_thread(const char *name);

#endif
