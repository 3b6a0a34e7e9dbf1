/* app/top.h — `lecture-relay top URL...`: every lecture across the given
 * roles, read from their /metrics and refreshed in place on a terminal, or
 * one plain line per lecture per refresh when stdout is not one. Called by
 * app/main.c; the manual is docs/lecture-relay.1.in. */
#ifndef LR_APP_TOP_H
#define LR_APP_TOP_H

/* argv[1] is "top". Returns the exit status: 0 (quit with q, Ctrl-C or a
 * signal; --once: every role answered), 1 (--once: a role did not answer;
 * or the output failed), 2 (a bad command line). */
int lr_top_main(int argc, char **argv);

#endif
