/* transcode/transcode.h — the transcode role: listens for lectures arriving
 * over the link, makes the ladder (keyframes aligned across rungs) and sends
 * it over one link per lecture to the egress. Called by app/roles.c. */
#ifndef LR_TRANSCODE_TRANSCODE_H
#define LR_TRANSCODE_TRANSCODE_H

#include "common/config.h"

typedef struct lr_transcode lr_transcode;

/* Binds the listener and starts; c must outlive the role. */
int  lr_transcode_start(const lr_config *c, lr_transcode **out);
void lr_transcode_stop(lr_transcode **t);

#endif
