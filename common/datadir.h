/* common/datadir.h — where the program's shared files are: the player
 * page's assets (hls.min.js) and the sample lecture. No path of the source
 * tree is compiled in; the folder is found next to the running binary:
 *   $LECTURE_RELAY_DATADIR                    when set (tests, odd layouts)
 *   <binary's folder>/../share/lecture-relay  an install, wherever its prefix
 *                                             or DESTDIR put it
 *   <binary's folder>                         the build tree, which meson
 *                                             lays out as the data folder
 *                                             (assets/, samples/)
 *   LR_DATADIR                                the install path meson knows,
 *                                             when none of these exists */
#ifndef LR_COMMON_DATADIR_H
#define LR_COMMON_DATADIR_H

#include <stddef.h>

/* A string default of the configuration that starts with this is a path
 * inside the data folder (common/config.c expands it). */
#define LR_IN_DATADIR "${datadir}/"

/* The data folder (resolved once; never NULL). */
const char *lr_datadir(void);

/* Writes "<datadir>/<rel>" into out; 0, or -1 if it did not fit. */
int lr_datadir_path(char *out, size_t size, const char *rel);

#endif
