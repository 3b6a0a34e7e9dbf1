/* app/prom_text.c — see prom_text.h. The text is copied once and cut into
 * NUL-terminated names and values in place (an unescaped value is never
 * longer than its escaped form), so a parse is three allocations whatever
 * its size: the text, the samples and the labels, each sized up front from
 * a count of lines and of '=' signs. The grammar is the one of
 * https://prometheus.io/docs/instrumenting/exposition_formats/ (0.0.4). */
#include "prom_text.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/error.h>
#include <libavutil/mem.h>

typedef struct parser {
    lr_prom_text *t;
    int           line_no;
    char         *err;
    size_t        err_size;
} parser;

static int fail(parser *p, const char *fmt, ...)
{
    va_list ap;
    int     n;

    if (p->err_size > 0) {
        n = snprintf(p->err, p->err_size, "line %d: ", p->line_no);
        if (n >= 0 && (size_t)n < p->err_size) {
            va_start(ap, fmt);
            vsnprintf(p->err + n, p->err_size - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return AVERROR_INVALIDDATA;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static char *skip_blanks(char *s)
{
    while (is_blank(*s))
        s++;
    return s;
}

static int name_char(char c, int first, int colon_ok)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon_ok && c == ':'))
        return 1;
    return !first && c >= '0' && c <= '9';
}

/* The end of a metric name (colon_ok) or label name starting at s; s if
 * there is none. */
static char *name_end(char *s, int colon_ok)
{
    char *e = s;

    while (name_char(*e, e == s, colon_ok))
        e++;
    return e;
}

/* Unescapes the quoted label value starting after the opening quote at
 * *s, in place, NUL-terminated; *s moves past the closing quote. */
static int read_label_value(parser *p, char **s, const char **value)
{
    char *in = *s, *out = *s;

    *value = out;
    for (;;) {
        char c = *in++;
        if (!c)
            return fail(p, "unterminated label value");
        if (c == '"')
            break;
        if (c == '\\') {
            c = *in++;
            if (c == 'n')
                c = '\n';
            else if (c != '\\' && c != '"')
                return fail(p, "unknown escape \\%c in a label value", c ? c : '0');
        }
        *out++ = c;
    }
    *out = '\0';
    *s = in;
    return 0;
}

/* "{name="value",...}" with s just after the '{'; an optional comma
 * before the '}'. Appends to t->labels. */
static int read_labels(parser *p, char **s, lr_prom_sample *sample)
{
    lr_prom_text *t = p->t;
    char         *c = *s;
    int           ret;

    sample->labels = t->labels + t->nb_labels;
    for (;;) {
        c = skip_blanks(c);
        if (*c == '}')
            break;
        char *end = name_end(c, 0);
        if (end == c)
            return fail(p, "label name expected");
        lr_prom_label *l = &t->labels[t->nb_labels];
        char          *after = skip_blanks(end);
        if (*after != '=')
            return fail(p, "'=' expected after label %.*s", (int)(end - c), c);
        *end = '\0';
        l->name = c;
        /* a label twice in one sample is not the format (and would make
         * two samples of one series look different) */
        for (int k = 0; k < sample->nb_labels; k++)
            if (!strcmp(sample->labels[k].name, l->name))
                return fail(p, "label %s repeated in a sample of %s", l->name, sample->name);
        c = skip_blanks(after + 1);
        if (*c != '"')
            return fail(p, "'\"' expected for the value of label %s", l->name);
        c++;
        if ((ret = read_label_value(p, &c, &l->value)) < 0)
            return ret;
        t->nb_labels++;
        sample->nb_labels++;
        c = skip_blanks(c);
        if (*c == ',')
            c++;
        else if (*c != '}')
            return fail(p, "',' or '}' expected after label %s", l->name);
    }
    *s = c + 1;
    return 0;
}

/* The value and the optional timestamp, from s (blanks skipped) to the end. */
static int read_value(parser *p, char *s, lr_prom_sample *sample)
{
    char *end;

    if (!*s)
        return fail(p, "value expected for %s", sample->name);
    sample->value = strtod(s, &end);
    if (end == s || (*end && !is_blank(*end)))
        return fail(p, "bad value for %s", sample->name);
    s = skip_blanks(end);
    if (*s) { /* a timestamp in ms: an integer */
        (void)strtoll(s, &end, 10);
        if (end == s || *skip_blanks(end))
            return fail(p, "bad timestamp for %s", sample->name);
    }
    return 0;
}

static int read_sample(parser *p, char *s)
{
    lr_prom_text   *t = p->t;
    lr_prom_sample *sample = &t->samples[t->nb_samples];
    char           *end = name_end(s, 1);
    int             ret;

    *sample = (lr_prom_sample){ .name = s, .labels = t->labels + t->nb_labels };
    if (end == s)
        return fail(p, "metric name expected");
    char *after = skip_blanks(end);
    int   labels = *after == '{', blank = after != end;
    *end = '\0'; /* after points past it, or at a NUL already */
    if (labels) {
        after++;
        if ((ret = read_labels(p, &after, sample)) < 0)
            return ret;
        after = skip_blanks(after); /* "}1" is taken, as Prometheus takes it */
    } else if (!blank && *after) {
        return fail(p, "a blank expected after the name %s", sample->name);
    }
    if ((ret = read_value(p, after, sample)) < 0)
        return ret;
    t->nb_samples++;
    return 0;
}

/* "# TYPE name type" is recorded, "# HELP" and other comments skipped. */
static int read_comment(parser *p, char *s)
{
    static const char *const types[] = { "counter", "gauge", "histogram", "summary", "untyped" };
    lr_prom_text            *t = p->t;

    s = skip_blanks(s + 1);
    if (strncmp(s, "TYPE", 4) || (s[4] && !is_blank(s[4])))
        return 0;
    char *name = skip_blanks(s + 4), *end = name_end(name, 1);
    if (end == name || !is_blank(*end))
        return fail(p, "# TYPE without a metric name");
    char *type = skip_blanks(end);
    *end = '\0';
    char *type_end = type;
    while (*type_end && !is_blank(*type_end))
        type_end++;
    if (*skip_blanks(type_end))
        return fail(p, "# TYPE %s: one type expected", name);
    *type_end = '\0';
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (!strcmp(type, types[i])) {
            t->families[t->nb_families++] = name;
            return 0;
        }
    }
    return fail(p, "# TYPE %s: unknown type '%s'", name, type);
}

static int read_line(parser *p, char *line)
{
    size_t n = strlen(line);

    if (n && line[n - 1] == '\r')
        line[--n] = '\0';
    line = skip_blanks(line);
    if (!*line)
        return 0;
    if (*line == '#')
        return read_comment(p, line);
    return read_sample(p, line);
}

/* Sizes the arrays so that no pointer into them moves while parsing. */
static int alloc_arrays(lr_prom_text *t, size_t len)
{
    size_t lines = 1, eq = 0;

    for (size_t i = 0; i < len; i++) {
        lines += t->buf[i] == '\n';
        eq += t->buf[i] == '=';
    }
    if (lines > INT32_MAX || eq > INT32_MAX)
        return AVERROR(ENOMEM);
    t->samples = av_malloc_array(lines, sizeof(*t->samples));
    t->families = av_malloc_array(lines, sizeof(*t->families));
    t->labels = av_malloc_array(eq ? eq : 1, sizeof(*t->labels));
    return t->samples && t->families && t->labels ? 0 : AVERROR(ENOMEM);
}

int lr_prom_text_parse(const char *text, size_t len, lr_prom_text **out, char *err, size_t err_size)
{
    lr_prom_text *t = av_mallocz(sizeof(*t));
    parser        p = { .t = t, .err = err, .err_size = err_size };
    int           ret = AVERROR(ENOMEM);

    *out = NULL;
    if (err_size > 0)
        err[0] = '\0';
    if (!t || len == SIZE_MAX || !(t->buf = av_malloc(len + 1)))
        goto fail;
    memcpy(t->buf, text, len);
    t->buf[len] = '\0';
    const char *nul = memchr(t->buf, '\0', len);
    if (nul) {
        p.line_no = 1;
        for (const char *c = t->buf; c < nul; c++)
            p.line_no += *c == '\n';
        ret = fail(&p, "a NUL byte");
        goto fail;
    }
    if ((ret = alloc_arrays(t, len)) < 0)
        goto fail;
    for (char *line = t->buf; line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        p.line_no++;
        if ((ret = read_line(&p, line)) < 0)
            goto fail;
        line = nl ? nl + 1 : NULL;
    }
    *out = t;
    return 0;
fail:
    lr_prom_text_free(&t);
    return ret;
}

void lr_prom_text_free(lr_prom_text **pt)
{
    lr_prom_text *t = *pt;

    if (!t)
        return;
    av_freep(&t->samples);
    av_freep(&t->families);
    av_freep(&t->labels);
    av_freep(&t->buf);
    av_freep(pt);
}

int lr_prom_text_has_family(const lr_prom_text *t, const char *name)
{
    for (int i = 0; i < t->nb_families; i++)
        if (!strcmp(t->families[i], name))
            return 1;
    for (int i = 0; i < t->nb_samples; i++)
        if (!strcmp(t->samples[i].name, name))
            return 1;
    return 0;
}

const char *lr_prom_sample_label(const lr_prom_sample *s, const char *name)
{
    for (int i = 0; i < s->nb_labels; i++)
        if (!strcmp(s->labels[i].name, name))
            return s->labels[i].value;
    return NULL;
}

int lr_prom_same_labels(const lr_prom_sample *a, const lr_prom_sample *b)
{
    if (a->nb_labels != b->nb_labels)
        return 0;
    for (int i = 0; i < a->nb_labels; i++) {
        const char *v = lr_prom_sample_label(b, a->labels[i].name);
        if (!v || strcmp(v, a->labels[i].value))
            return 0;
    }
    return 1;
}

int lr_prom_same_series(const lr_prom_sample *a, const lr_prom_sample *b)
{
    return !strcmp(a->name, b->name) && lr_prom_same_labels(a, b);
}
