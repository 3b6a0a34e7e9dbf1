/* tests/fuzz/fuzz_recording_resume.c — an unfinished recording's folder as
 * a crash leaves it, read back by an egress that resumes it
 * (lr_recorder_open with resume, egress/recorder.h): its recording.json and
 * a rendition's index.m3u8 come from the input ("<json>\0<360p index>\0<audio
 * index>"), beside a few real segment files. Invariants: the resumed
 * recording's segments come oldest first with growing numbers, each one a
 * file that exists, and the next number is above all of them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavutil/mem.h>

#include "common/log.h"
#include "egress/recorder.h"
#include "fuzz.h"

#define ID "20261207T072044Z"

static char root[64];

static void put(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    if (len && fwrite(data, 1, len, f) != len)
        abort();
    fclose(f);
}

static int setup(void)
{
    if (root[0])
        return 0;
    lr_log_set_level(LR_LOG_ERROR);
    snprintf(root, sizeof(root), "/tmp/lr-fuzz-resume-XXXXXX");
    return mkdtemp(root) ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *part[3] = { "", "", "" };
    size_t len[3] = { 0, 0, 0 };
    char dir[256], path[320], cmd[128];
    lr_recorder_conf conf = { .root = root };
    lr_recorder *r = NULL;

    if (size > 64 * 1024 || setup() < 0)
        return 0;
    for (int k = 0, at = 0; k < 3 && (size_t)at <= size; k++) {
        const uint8_t *nul = memchr(data + at, 0, size - (size_t)at);
        part[k] = (const char *)data + at;
        len[k] = nul ? (size_t)(nul - (data + at)) : size - (size_t)at;
        at += (int)len[k] + 1;
    }
    snprintf(cmd, sizeof(cmd), "rm -rf %s/cs101", root);
    if (system(cmd) != 0)
        abort();
    snprintf(dir, sizeof(dir), "%s/cs101", root);
    mkdir(dir, 0755);
    snprintf(dir, sizeof(dir), "%s/cs101/" ID, root);
    mkdir(dir, 0755);
    snprintf(path, sizeof(path), "%s/recording.json", dir);
    put(path, part[0], len[0]);
    const char *rends[2] = { "360p", "audio" };
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof(path), "%s/%s", dir, rends[k]);
        mkdir(path, 0755);
        snprintf(path, sizeof(path), "%s/%s/index.m3u8", dir, rends[k]);
        put(path, part[1 + k], len[1 + k]);
        snprintf(path, sizeof(path), "%s/%s/init.mp4", dir, rends[k]);
        put(path, "init", 4);
        for (int s = 898313158; s <= 898313161; s++) {
            snprintf(path, sizeof(path), "%s/%s/%d.m4s", dir, rends[k], s);
            put(path, "media", 5);
        }
        snprintf(path, sizeof(path), "%s/%s/7.m4s.tmp", dir, rends[k]);
        put(path, "left by a crash", 15);
    }

    if (lr_recorder_open(&conf, "cs101", "m4s", 1, &r) == 0) {
        int64_t next = lr_recorder_next_seq(r);
        for (int k = 0; k < 2; k++) {
            lr_seg_info *segs = NULL;
            int nb = 0;
            if (lr_recorder_segments(r, rends[k], 0, &segs, &nb) < 0)
                continue;
            for (int i = 0; i < nb; i++) {
                struct stat st;
                snprintf(path, sizeof(path), "%s/%s/%" PRId64 ".m4s", lr_recorder_dir(r),
                         rends[k], segs[i].seq);
                if ((i && segs[i].seq <= segs[i - 1].seq) || segs[i].seq >= next ||
                    stat(path, &st) != 0)
                    abort();
            }
            av_free(segs);
        }
        lr_recorder_close(&r);
    }
    return 0;
}
