/* tests/fuzz/replay_main.c — main() for fuzz targets built without a fuzzing
 * engine: feeds every file named on the command line, or found in a named
 * directory or in its immediate subdirectories, to LLVMFuzzerTestOneInput.
 * Each input gets its own exact-size heap copy, so ASan sees overreads.
 * Exits 0 when every input ran; 1 when a path cannot be read or none held a file. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int run_file(const char *path, unsigned *nb_run)
{
    FILE *f = fopen(path, "rb");
    uint8_t *data = NULL;
    long size;

    if (!f)
        goto fail;
    if (fseek(f, 0, SEEK_END) < 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0)
        goto fail;
    /* malloc(0) may return NULL; keep one byte but report the real size */
    if (!(data = malloc(size ? (size_t)size : 1)))
        goto fail;
    if (size && fread(data, 1, (size_t)size, f) != (size_t)size)
        goto fail;
    fclose(f);
    LLVMFuzzerTestOneInput(data, (size_t)size);
    free(data);
    (*nb_run)++;
    return 0;
fail:
    fprintf(stderr, "replay: %s: %s\n", path, strerror(errno ? errno : EIO));
    free(data);
    if (f)
        fclose(f);
    return -1;
}

static int not_hidden(const struct dirent *d)
{
    return d->d_name[0] != '.';
}

/* depth 0: a path from the command line; a directory there is read with its
 * immediate subdirectories (depth 1), and no deeper. */
static int run_path(const char *path, int depth, unsigned *nb_run)
{
    struct dirent **names = NULL;
    struct stat st;
    int n, ret = 0;

    if (stat(path, &st) < 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (S_ISREG(st.st_mode))
        return run_file(path, nb_run);
    if (!S_ISDIR(st.st_mode) || depth > 1)
        return 0;
    /* sorted, so a replay always runs in the same order */
    if ((n = scandir(path, &names, not_hidden, alphasort)) < 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    for (int i = 0; i < n; i++) {
        size_t len = strlen(path) + strlen(names[i]->d_name) + 2;
        char *sub = malloc(len);

        if (sub)
            snprintf(sub, len, "%s/%s", path, names[i]->d_name);
        if (!sub || run_path(sub, depth + 1, nb_run) < 0)
            ret = -1;
        free(sub);
        free(names[i]);
    }
    free(names);
    return ret;
}

int main(int argc, char **argv)
{
    unsigned nb_run = 0;
    int ret = 0;

    for (int i = 1; i < argc; i++)
        if (run_path(argv[i], 0, &nb_run) < 0)
            ret = 1;
    fprintf(stderr, "replay: %u input(s) ran\n", nb_run);
    if (!nb_run) {
        fprintf(stderr, "usage: %s FILE|DIR...  (no input found)\n", argv[0]);
        return 1;
    }
    return ret;
}
