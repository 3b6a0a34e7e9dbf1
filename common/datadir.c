/* common/datadir.c — see datadir.h. */
#include "common/datadir.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lr_build_config.h"

static char datadir[PATH_MAX];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void resolve(void)
{
    const char *env = getenv("LECTURE_RELAY_DATADIR");
    char exe[PATH_MAX], candidate[PATH_MAX];
    ssize_t n;

    if (env && *env) {
        snprintf(datadir, sizeof(datadir), "%s", env);
        return;
    }
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        char *slash;

        exe[n] = '\0';
        if ((slash = strrchr(exe, '/')))
            *slash = '\0';
        /* each with a file that says it is the data folder */
        static const char *const beside[][2] = { { "/../share/lecture-relay", "/samples" },
                                                 { "", "/samples/lecture.mp4" } };
        for (size_t i = 0; i < sizeof(beside) / sizeof(beside[0]); i++) {
            char mark[PATH_MAX + 32];

            if ((size_t)snprintf(candidate, sizeof(candidate), "%s%s", exe, beside[i][0]) <
                    sizeof(candidate) &&
                snprintf(mark, sizeof(mark), "%s%s", candidate, beside[i][1]) > 0 &&
                access(mark, F_OK) == 0) {
                /* "bin/../share" reads better resolved in messages */
                if (!realpath(candidate, datadir))
                    snprintf(datadir, sizeof(datadir), "%s", candidate);
                return;
            }
        }
    }
    snprintf(datadir, sizeof(datadir), "%s", LR_DATADIR);
}

const char *lr_datadir(void)
{
    pthread_once(&once, resolve);
    return datadir;
}

int lr_datadir_path(char *out, size_t size, const char *rel)
{
    int n = snprintf(out, size, "%s/%s", lr_datadir(), rel);

    return n >= 0 && (size_t)n < size ? 0 : -1;
}
