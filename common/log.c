/* common/log.c — level-filtered log lines on stderr with a UTC timestamp;
 * FFmpeg's av_log and libsrt's logger are routed here so every line of the
 * process has one shape. Used by every role. Under systemd, when stderr is
 * the journal, a line starts with its syslog priority ("<4>") instead of
 * the time, which the journal records itself. Secrets in URLs and stream
 * ids are replaced (common/redact.h). Control bytes in a line
 * (from names and messages that came over the network) are written as
 * \xHH, so a line is always one line. */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <libavutil/error.h>
#include <libavutil/log.h>
#include <srt/srt.h>

#include "common/redact.h"

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

static pthread_once_t journal_once = PTHREAD_ONCE_INIT;
static int to_journal;

/* systemd sets JOURNAL_STREAM to "device:inode" of the stream it connected. */
static void detect_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;

    to_journal = js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(2, &st) == 0 &&
                 (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* Copies src into dst (size > 0) with control bytes written as \xHH;
 * trailing newlines dropped. */
static void escape_controls(char *dst, size_t size, const char *src)
{
    static const char hex[] = "0123456789abcdef";
    size_t len = strlen(src), o = 0;

    while (len > 0 && src[len - 1] == '\n')
        len--;
    for (size_t i = 0; i < len && o + 1 < size; i++) {
        unsigned char c = (unsigned char)src[i];

        if (c >= 0x20 && c != 0x7f) {
            dst[o++] = (char)c;
        } else if (o + 4 < size) {
            dst[o++] = '\\';
            dst[o++] = 'x';
            dst[o++] = hex[c >> 4];
            dst[o++] = hex[c & 15];
        } else {
            break;
        }
    }
    dst[o] = '\0';
}

static void vlog(enum lr_log_level level, const char *fmt, va_list ap)
{
    static const int syslog_priority[] = { 3, 4, 6, 7 };
    char msg[1024], shown[1100], line[1200];
    struct timespec ts;
    struct tm tm;

    if ((int)level > atomic_load(&log_level))
        return;
    pthread_once(&journal_once, detect_journal);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    lr_redact(msg, shown, sizeof(shown));
    escape_controls(line, sizeof(line), shown);
    /* One fprintf per line: stdio locks the stream, so threads never interleave. */
    if (to_journal) {
        fprintf(stderr, "<%d>%-5s %s\n", syslog_priority[level], level_names[level], line);
        return;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    fprintf(stderr, "%02d:%02d:%02d.%03ld %-5s %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
            ts.tv_nsec / 1000000, level_names[level], line);
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
    /* A non-blocking srt_accept with nothing queued is no error: the link
     * listener asks after every slice (common/link.c) */
    if (message && strstr(message, "srt_accept: no pending connection"))
        level = LR_LOG_DEBUG;
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
