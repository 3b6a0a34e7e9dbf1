/* common/conf_table.h — option tables: how a section of the configuration
 * file describes its keys (name, type, offset, default, range, check), so
 * defaults, parsing, messages, copying and freeing all follow one
 * description. Included by the files that hold a table: common/config.c
 * (the shared keys and the link section) and each role's own (ingest/
 * ingest_conf.c, transcode/transcode_conf.c, egress/egress_conf.c); code that
 * reads a configuration needs only common/config.h. */
#ifndef LR_COMMON_CONF_TABLE_H
#define LR_COMMON_CONF_TABLE_H

#include <stddef.h>

#include "config.h"

#define LR_CONF_MAX_OPTS    32 /* entries in one table */
#define LR_CONF_MAX_STRLIST 16 /* items of one string list */

enum lr_conf_type {
    LR_OPT_STRING,
    LR_OPT_INT,
    LR_OPT_DOUBLE,
    LR_OPT_BOOL,
    LR_OPT_SECTION,
    LR_OPT_LIST,    /* a list of mappings, each read through .sub */
    LR_OPT_STRLIST, /* char *[max_elems] and a count; def.str: its one item */
};

enum lr_conf_flags {
    LR_OPT_EVEN        = 1 << 0, /* int: must be even */
    LR_OPT_REQUIRED    = 1 << 1, /* list element key that must be given */
    LR_OPT_UNIQUE      = 1 << 2, /* list element string that must differ between elements */
    LR_OPT_SECRET      = 1 << 3, /* string: never echoed in messages */
    LR_OPT_PATH        = 1 << 4, /* string: a relative path is relative to the file's folder */
    LR_OPT_ONE_OR_LIST = 1 << 5, /* string list: a lone string is a list of one */
};

/* Checks a string; on failure returns 0 (the entry's expect says what it wanted). */
typedef int lr_conf_check_fn(const char *s);

/* Cross-checks a section or list element once its keys are read; lines[i]
 * is the line of table entry i (0 when the file did not set it). Returns the
 * index of the entry to blame, or -1 when all is well; why names the problem
 * and at, when not left empty, a place inside the entry's value ("[2]",
 * "[0].sources[1]"), which the message names with its line. */
typedef int lr_conf_validate_fn(const void *base, const int *lines, char *at, size_t at_size,
                                char *why, size_t why_size);

/* Fills what a section's table defaults can't (a list's default entries),
 * after them. Returns 0 or AVERROR(ENOMEM). */
typedef int lr_conf_init_fn(void *base);

typedef struct lr_conf_opt {
    const char       *name;
    enum lr_conf_type type;
    size_t            offset;
    union {
        const char *str;
        int         i;
        double      d;
    } def;
    double            min, max; /* int, double */
    unsigned          flags;
    lr_conf_check_fn *check;    /* string */
    const char       *expect;   /* string: what check wants, for messages */
    const char       *keyword;  /* string list: an item taken as it is, not checked or a path;
                                   int: a word that stands for 0 ("auto") */
    const struct lr_conf_opt *sub; /* section and list element table */
    lr_conf_validate_fn *validate; /* section, list element */
    lr_conf_init_fn     *init;     /* section */
    size_t            elem_size;   /* list */
    size_t            count_offset;
    int               max_elems;
} lr_conf_opt;

/* A role's top-level section: its key, where its struct lies in lr_config
 * (offsetof), its table, and the two hooks above (NULL: none). The role
 * defines one beside its code; app/ hands the list to lr_config_defaults. */
struct lr_conf_section {
    const char          *name;
    size_t               offset;
    const lr_conf_opt   *opts;
    lr_conf_validate_fn *validate;
    lr_conf_init_fn     *init;
};

/* Table entries: name, struct, field, default, then check or range, flags.
 * Short names, since only the files that hold a table include this header. */
#define STR(name_, st, f, def_, check_, expect_, flags_)                                   \
    { .name = name_, .type = LR_OPT_STRING, .offset = offsetof(st, f), .def.str = def_,    \
      .check = check_, .expect = expect_, .flags = flags_ }
#define INT(name_, st, f, def_, min_, max_, flags_)                                        \
    { .name = name_, .type = LR_OPT_INT, .offset = offsetof(st, f), .def.i = def_,         \
      .min = min_, .max = max_, .flags = flags_ }
#define DBL(name_, st, f, def_, min_, max_)                                                \
    { .name = name_, .type = LR_OPT_DOUBLE, .offset = offsetof(st, f), .def.d = def_,      \
      .min = min_, .max = max_ }
#define BOOL(name_, st, f, def_)                                                           \
    { .name = name_, .type = LR_OPT_BOOL, .offset = offsetof(st, f), .def.i = def_ }

#define LR_CONF_TABLE_FITS(t)                                                              \
    _Static_assert(sizeof(t) / sizeof(t[0]) <= LR_CONF_MAX_OPTS + 1, #t " too long")

/* What the shared checks below want, for the entries' expect. */
#define LR_CONF_SRT_URL    "srt://host:port"
#define LR_CONF_NAME                                                                       \
    "a name of 1 to 64 letters, digits, '_' or '-', starting with a letter or digit"
#define LR_CONF_PASSPHRASE "an empty passphrase (no encryption) or 10 to 79 characters"

/* Sets every key of table t in base to its default (strings are heap
 * copies), sections' init included: for an init that fills list entries.
 * Returns 0 or AVERROR(ENOMEM); what it set stays for lr_config_free. */
int lr_conf_set_defaults(const lr_conf_opt *t, void *base);

/* Checks more than one table uses (common/config.c). */
int lr_conf_in_list(const char *s, const char *const *list); /* list ends with NULL */
int lr_conf_check_name(const char *s);         /* lr_lecture_name_valid */
int lr_conf_check_nonempty(const char *s);
int lr_conf_check_passphrase(const char *s);   /* "" or 10..79 characters */
int lr_conf_check_srt_url(const char *s);      /* srt://host:port, "?options" allowed */
int lr_conf_check_srt_listen_or_empty(const char *s); /* "" or srt://host:port, no options */
int lr_conf_check_hostport(const char *s);     /* host:port or [v6]:port */
int lr_conf_check_hostport_or_empty(const char *s);

#endif
