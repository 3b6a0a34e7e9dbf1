/* app/conf.h — the sections a lecture-relay configuration file may have
 * besides the shared ones of common/config.c: one per role, each defined
 * beside its role. Used by main.c, and by the tests and tools that load the
 * program's files. */
#ifndef LR_APP_CONF_H
#define LR_APP_CONF_H

#include "common/config.h"

/* ingest, transcode, egress; NULL-terminated, for lr_config_defaults. */
extern const lr_conf_section *const lr_app_conf_sections[];

#endif
