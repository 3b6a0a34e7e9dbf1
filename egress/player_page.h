/* egress/player_page.h — renders the HTML player page /watch/<lecture> (hls.js
 * served by the egress itself in low-latency mode, native HLS on Safari), with
 * a quality menu, latency and rung shown, and the lecture's recordings.
 * Called by egress/http_pages.c. */
#ifndef LR_EGRESS_PLAYER_PAGE_H
#define LR_EGRESS_PLAYER_PAGE_H

#include <stddef.h>

/* The hls.js settings the page uses (window.lrHlsConfig), a script served
 * by egress/http_pages.c as /assets/LR_PLAYER_CONFIG_NAME. */
#define LR_PLAYER_CONFIG_NAME "lr-player.js"
extern const char lr_player_config_js[];
extern const size_t lr_player_config_js_len;

/* Renders the page for lecture into a new av_malloc'd buffer (*html, *len;
 * also NUL-terminated). prefix ("" or "/t/<token>") goes before every URL
 * the page uses; live_query ("" or NULL, or "?<signature>": url_sign.h)
 * follows the live master's URL; recordings_html is a list of <li> items
 * (may be "" or NULL) from lr_recordings_html; nonce (base64) marks the
 * page's inline script and style for its Content-Security-Policy. Returns
 * 0, AVERROR(EINVAL) if the lecture name is not valid (see
 * lr_lecture_name_valid), the prefix or query hold what a signature never
 * does or the nonce is missing, or AVERROR(ENOMEM). */
int lr_player_page_render(const char *lecture, const char *prefix, const char *live_query,
                          const char *recordings_html, const char *nonce, char **html,
                          size_t *len);

#endif
