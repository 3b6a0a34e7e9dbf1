/* app/roles.h — starts the roles a command asks for, waits for SIGINT or
 * SIGTERM, and stops them in order. Called by main.c. */
#ifndef LR_APP_ROLES_H
#define LR_APP_ROLES_H

#include <signal.h>

#include "common/config.h"

enum { LR_ROLE_INGEST = 1, LR_ROLE_TRANSCODE = 2, LR_ROLE_EGRESS = 4 };

/* Blocks SIGINT, SIGTERM and SIGHUP in the calling thread (and so in every thread
 * created after) and ignores SIGPIPE. Call before any thread exists. */
void lr_roles_block_signals(sigset_t *set);

/* Tells systemd it is ready once the roles are started (common/sd_notify.h),
 * then blocks until a stop signal, taking SIGHUP as a reload: the file at
 * path (NULL: none, the defaults) read again and what changed applied where
 * it can be without dropping anyone (docs/deploy.md, "Reload"), then the
 * certificates. Returns the process exit code. */
int lr_roles_run(const lr_config *c, const char *path, int roles);

#endif
