/* common/log.c — level-filtered log lines on stderr with a UTC timestamp;
 * FFmpeg's av_log and libsrt's logger are routed here so every line of the
 * process has one shape. Used by every role. */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <libavutil/error.h>
#include <libavutil/log.h>
#include <srt/srt.h>

static atomic_int log_level = LR_LOG_INFO;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

int lr_log_parse_level(const char *name, enum lr_log_level *out)
{
    for (int i = 0; i <= LR_LOG_DEBUG; i++) {
        if (!strcmp(name, level_names[i])) {
            *out = (enum lr_log_level)i;
            return 0;
        }
    }
    return AVERROR(EINVAL);
}

void lr_log_set_level(enum lr_log_level level)
{
    atomic_store(&log_level, level);
}

static void vlog(enum lr_log_level level, const char *fmt, va_list ap)
{
    char line[1024];
    struct timespec ts;
    struct tm tm;
    int n;

    if ((int)level > atomic_load(&log_level))
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = snprintf(line, sizeof(line), "%02d:%02d:%02d.%03ld %-5s ",
                 tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
                 level_names[level]);
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    n = (int)strlen(line);
    while (n > 0 && line[n - 1] == '\n')
        line[--n] = 0;
    /* One fputs per line: stdio locks the stream, so threads never interleave. */
    fprintf(stderr, "%s\n", line);
}

void lr_log(enum lr_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(level, fmt, ap);
    va_end(ap);
}

/* FFmpeg writes one line in several calls ("Packet corrupt (...)" then ".\n"):
 * the pieces gather per thread and go out as one line at the newline. The
 * line is named by what logged it, e.g. "mpegts" or "libx264", not just the
 * kind of context. */
static _Thread_local int libraries_quiet;

void lr_log_quiet_libraries(int quiet)
{
    libraries_quiet = quiet;
}

static void av_log_to_lr(void *avcl, int av_level, const char *fmt, va_list ap)
{
    static _Thread_local char line[768];
    static _Thread_local size_t used;
    enum lr_log_level level;
    const AVClass *cls = avcl ? *(const AVClass **)avcl : NULL;
    size_t n;

    if (av_level > AV_LOG_VERBOSE)
        return;
    level = av_level <= AV_LOG_ERROR   ? LR_LOG_ERROR
          : av_level <= AV_LOG_WARNING ? LR_LOG_WARN
          : av_level <= AV_LOG_INFO    ? LR_LOG_DEBUG /* FFmpeg's info is chatty */
                                       : LR_LOG_DEBUG;
    if (libraries_quiet)
        level = LR_LOG_DEBUG;
    if ((int)level > atomic_load(&log_level))
        return;
    if (used < sizeof(line))
        vsnprintf(line + used, sizeof(line) - used, fmt, ap);
    n = strlen(line);
    if (n > 0 && line[n - 1] != '\n' && n < sizeof(line) - 1) {
        used = n;                      /* the rest of the line comes next */
        return;
    }
    while (n > 0 && line[n - 1] == '\n')
        line[--n] = '\0';
    used = 0;
    lr_log(level, "ffmpeg %s: %s",
           !cls ? "-" : cls->item_name ? cls->item_name(avcl) : cls->class_name, line);
    line[0] = '\0';
}

static void srt_log_to_lr(void *opaque, int srt_level, const char *file, int line,
                          const char *area, const char *message)
{
    /* libsrt levels are syslog's: 3 error, 4 warning, 5 notice, 7 debug. */
    enum lr_log_level level = srt_level <= 3 ? LR_LOG_WARN : LR_LOG_DEBUG;
    lr_log(level, "srt %s: %s", area ? area : "-", message);
}

void lr_log_route_libraries(void)
{
    av_log_set_callback(av_log_to_lr);
    srt_setloghandler(NULL, srt_log_to_lr);
    srt_setloglevel(4 /* LOG_WARNING */);
    srt_setlogflags(SRT_LOGF_DISABLE_TIME | SRT_LOGF_DISABLE_THREADNAME |
                    SRT_LOGF_DISABLE_SEVERITY | SRT_LOGF_DISABLE_EOL);
}
