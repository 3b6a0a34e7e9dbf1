/* app/prom_text.h — reads the Prometheus text exposition format (0.0.4), the
 * body of a role's /metrics, into samples. Used by `lecture-relay top`
 * (app/top.c); tested by tests/unit/test_prom_text.c. */
#ifndef LR_APP_PROM_TEXT_H
#define LR_APP_PROM_TEXT_H

#include <stddef.h>

typedef struct lr_prom_label {
    const char *name;
    const char *value; /* unescaped (\\, \" and \n) */
} lr_prom_label;

typedef struct lr_prom_sample {
    const char          *name;
    const lr_prom_label *labels; /* in the order the text gives them */
    int                  nb_labels;
    double               value; /* NaN and +-Inf as the text says */
} lr_prom_sample;

/* One parsed body; owns every string its samples point to. */
typedef struct lr_prom_text {
    lr_prom_sample *samples;
    int             nb_samples;
    const char    **families; /* names declared by "# TYPE" */
    int             nb_families;
    char           *buf;    /* the text, unescaped in place */
    lr_prom_label  *labels; /* every sample's labels, one after another */
    int             nb_labels;
} lr_prom_text;

/* Parses len bytes of text (need not end in a NUL). Blank lines, comments
 * and "# HELP" are skipped; timestamps are accepted and ignored. On error,
 * err (if err_size > 0) says which line and why: "line 3: value expected".
 * Returns 0 with *out set (free with lr_prom_text_free), or
 * AVERROR_INVALIDDATA / AVERROR(ENOMEM) with *out NULL. */
int lr_prom_text_parse(const char *text, size_t len, lr_prom_text **out, char *err,
                       size_t err_size);
/* Frees *t and everything it owns; *t = NULL. Accepts NULL. */
void lr_prom_text_free(lr_prom_text **t);

/* 1 if name was declared by "# TYPE" or has a sample of that very name. */
int lr_prom_text_has_family(const lr_prom_text *t, const char *name);
/* The value of the sample's label name, or NULL. */
const char *lr_prom_sample_label(const lr_prom_sample *s, const char *name);
/* 1 if a and b have the same labels with the same values, in any order
 * (their names may differ: a family's _total beside another's). */
int lr_prom_same_labels(const lr_prom_sample *a, const lr_prom_sample *b);
/* 1 if a and b are the same series: the same name and the same labels. */
int lr_prom_same_series(const lr_prom_sample *a, const lr_prom_sample *b);

#endif
