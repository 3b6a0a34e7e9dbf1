/* transcode/transcode.h — the transcode role: listens for lectures arriving
 * over the link, makes the ladder (keyframes aligned across rungs) and sends
 * it over one link per lecture to the egress; or makes the ladder of a file.
 * Called by app/roles.c and app/main.c. */
#ifndef LR_TRANSCODE_TRANSCODE_H
#define LR_TRANSCODE_TRANSCODE_H

#include "common/config.h"

typedef struct lr_transcode lr_transcode;

/* The `transcode:` section of the configuration file (transcode_conf.c). */
extern const lr_conf_section lr_transcode_conf_section;

/* Applies c's link settings (lr_link_configure), binds the listener and
 * starts; c must outlive the role. */
int  lr_transcode_start(const lr_config *c, lr_transcode **out);
void lr_transcode_stop(lr_transcode **t);
/* SIGHUP with a reloaded configuration c (which must outlive the role):
 * lectures that arrive from then on take its transcode section (the ladder,
 * the egress links); lectures running keep theirs. */
void lr_transcode_reload(lr_transcode *t, const lr_config *c);
/* 1 for a key (lr_config_diff's) that lr_transcode_reload applies. */
int  lr_transcode_applies(const char *key);

/* The ladder of a file (any input libavformat reads) written as one MPEG-TS
 * file with a program per rung, as fast as it goes (offline.c). Logs where the
 * CPU went. Returns 0 or a negative AVERROR. */
int  lr_transcode_file(const lr_config *c, const char *input, const char *output);

#endif
