/* transcode/cpu.c — see cpu.h. */
#include "cpu.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int64_t lr_cpu_thread_ns(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts))
        return 0;
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* utime + stime of one task, in clock ticks, if its name starts with prefix. */
static int64_t task_ticks(const char *dir, const char *prefix)
{
    char path[300], buf[512], *name, *end;
    unsigned long utime = 0, stime = 0;
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "/proc/self/task/%s/stat", dir);
    if (!(f = fopen(path, "r")))
        return 0;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    /* pid (comm) state ...: comm may hold spaces, so split at the last ')'. */
    if (!(name = strchr(buf, '(')) || !(end = strrchr(buf, ')')))
        return 0;
    *end = 0;
    if (strncmp(name + 1, prefix, strlen(prefix)))
        return 0;
    /* after ") ": state ppid pgrp session tty tpgid flags minflt cminflt majflt
     * cmajflt utime stime: fields 3..15 of the line, utime 14th, stime 15th */
    if (sscanf(end + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
               &utime, &stime) != 2)
        return 0;
    return (int64_t)(utime + stime);
}

int64_t lr_cpu_threads_ns(const char *prefix)
{
    long hz = sysconf(_SC_CLK_TCK);
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int64_t ticks = 0;

    if (!d || hz <= 0) {
        if (d)
            closedir(d);
        return 0;
    }
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            ticks += task_ticks(e->d_name, prefix);
    closedir(d);
    return ticks * (1000000000LL / hz);
}

void lr_cpu_name_thread(const char *name)
{
    char n[16];

    snprintf(n, sizeof(n), "%s", name);
    pthread_setname_np(pthread_self(), n);
}
