/* tests/unit/tmp_root.h — a fresh folder under /tmp for a unit test's
 * files, and its removal with everything in it. Include after cmocka.h. */
#ifndef LR_TESTS_UNIT_TMP_ROOT_H
#define LR_TESTS_UNIT_TMP_ROOT_H

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavutil/avstring.h>
#include <libavutil/mem.h>

static inline void rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR           *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char *sub = av_asprintf("%s/%s", path, e->d_name);
            rm_rf(sub);
            av_free(sub);
        }
        if (d)
            closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* *state = a new folder /tmp/<prefix>-XXXXXX (heap string). */
static inline int tmp_root_make(void **state, const char *prefix)
{
    char *tmpl = av_asprintf("/tmp/%s-XXXXXX", prefix);
    assert_non_null(tmpl);
    assert_non_null(mkdtemp(tmpl));
    *state = tmpl;
    return 0;
}

static inline int tmp_root_remove(void **state)
{
    rm_rf(*state);
    av_free(*state);
    return 0;
}

#endif
