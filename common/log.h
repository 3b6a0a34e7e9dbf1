/* common/log.h — the one logger of every role: level-filtered lines on stderr,
 * FFmpeg's and libsrt's own logs routed through it. */
#ifndef LR_COMMON_LOG_H
#define LR_COMMON_LOG_H

enum lr_log_level { LR_LOG_ERROR = 0, LR_LOG_WARN, LR_LOG_INFO, LR_LOG_DEBUG };

/* Parses "error|warn|info|debug"; returns 0 or AVERROR(EINVAL). */
int  lr_log_parse_level(const char *name, enum lr_log_level *out);
void lr_log_set_level(enum lr_log_level level);
/* FFmpeg's messages from the calling thread go out as debug lines (1) or
 * as their own level (0, the default): for a thread whose failures are
 * reported once by its own lines (egress/steer_peers.c's polls). */
void lr_log_quiet_libraries(int quiet);

/* Routes av_log and libsrt logging into lr_log. Call once at start-up. */
void lr_log_route_libraries(void);

void lr_log(enum lr_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define lr_error(...) lr_log(LR_LOG_ERROR, __VA_ARGS__)
#define lr_warn(...)  lr_log(LR_LOG_WARN, __VA_ARGS__)
#define lr_info(...)  lr_log(LR_LOG_INFO, __VA_ARGS__)
#define lr_debug(...) lr_log(LR_LOG_DEBUG, __VA_ARGS__)

#endif
