/* common/sd_notify.h — the service manager's notification protocol
 * (sd_notify(3)) without libsystemd: one datagram to $NOTIFY_SOCKET. Under
 * systemd with Type=notify, "READY=1" ends the start-up; anywhere else
 * (no NOTIFY_SOCKET) it does nothing. */
#ifndef LR_COMMON_SD_NOTIFY_H
#define LR_COMMON_SD_NOTIFY_H

/* Sends state ("READY=1", "STOPPING=1", "STATUS=…", newline-separated).
 * Returns 1 if sent, 0 if there is no service manager to tell, or a
 * negative errno. */
int lr_sd_notify(const char *state);

#endif
