/* ingest/ingest.h — the ingest role: takes a lecture in from its source and
 * sends it, timestamps continuous, over the link to the transcoder.
 * Called by app/roles.c. */
#ifndef LR_INGEST_INGEST_H
#define LR_INGEST_INGEST_H

#include "common/config.h"

typedef struct lr_ingest lr_ingest;

/* The `ingest:` section of the configuration file (ingest_conf.c). */
extern const lr_conf_section lr_ingest_conf_section;

/* Applies c's link settings (lr_link_configure) and starts the role's
 * threads; c must outlive the role. Returns 0 or AVERROR. */
int  lr_ingest_start(const lr_config *c, lr_ingest **out);
/* Stops and joins every thread; NULLs *in. */
void lr_ingest_stop(lr_ingest **in);
/* SIGHUP: reloads what can change without a restart. With c (a reloaded
 * configuration, which must outlive the role), the lecture list: lectures
 * added start, lectures removed stop, a lecture whose sources changed
 * starts again, new keys and passphrases take the next publisher; the
 * others see nothing. Then the RTMPS certificate from its files. */
void lr_ingest_reload(lr_ingest *in, const lr_config *c);
/* 1 for a key (lr_config_diff's) that lr_ingest_reload applies. */
int  lr_ingest_applies(const char *key);

#endif
