/* app/roles.h — starts the roles a command asks for, waits for SIGINT or
 * SIGTERM, and stops them in order. Called by main.c. */
#ifndef LR_APP_ROLES_H
#define LR_APP_ROLES_H

#include "common/config.h"

enum { LR_ROLE_INGEST = 1, LR_ROLE_TRANSCODE = 2, LR_ROLE_EGRESS = 4 };

/* Blocks until a stop signal; returns the process exit code. */
int lr_roles_run(const lr_config *c, int roles);

#endif
