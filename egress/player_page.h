/* egress/player_page.h — renders the HTML player page /watch/<lecture> (hls.js
 * served by the egress itself, native HLS on Safari). Called by egress/http.c. */
#ifndef LR_EGRESS_PLAYER_PAGE_H
#define LR_EGRESS_PLAYER_PAGE_H

#include <stddef.h>

/* Renders the page for lecture into a new av_malloc'd buffer (*html, *len;
 * also NUL-terminated). Returns 0, AVERROR(EINVAL) if the lecture name is not
 * valid (see lr_lecture_name_valid), or AVERROR(ENOMEM). */
int lr_player_page_render(const char *lecture, char **html, size_t *len);

#endif
