/* tests/unit/test_recorder.c — unit tests of egress/recorder.c on real files
 * in a fresh temporary directory: layout and recording.json, EVENT then VOD,
 * resume with a discontinuity, kill -9 at random moments (never a playlist
 * naming a segment that isn't whole), finishing stale recordings, retention
 * by age and quota, an unreadable recording.json, refused names, an
 * unwritable root. recording.json itself: test_recording_disk.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tmp_root.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libavutil/avstring.h>
#include <libavutil/buffer.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "egress/recorder.h"

#define PDT_BASE 1795873620000LL /* 2026-11-28T13:47:00Z */

/* ---- helpers ---------------------------------------------------------- */

static int setup_root(void **state)
{
    return tmp_root_make(state, "lr-recorder");
}

static int teardown_root(void **state)
{
    return tmp_root_remove(state);
}

/* The content of segment seq of rendition number rend: a size and bytes
 * that differ per segment, so a torn or swapped file is caught. */
static size_t seg_size(int rend, int64_t seq)
{
    return 1000 + (size_t)((seq * 7919 + rend * 131) % 150000);
}

static uint8_t seg_byte(int rend, int64_t seq, size_t i)
{
    return (uint8_t)(seq * 31 + rend * 7 + i);
}

static AVBufferRef *make_seg(int rend, int64_t seq)
{
    size_t n = seg_size(rend, seq);
    AVBufferRef *b = av_buffer_alloc(n);
    assert_non_null(b);
    for (size_t i = 0; i < n; i++)
        b->data[i] = seg_byte(rend, seq, i);
    return b;
}

static AVBufferRef *make_text(const char *s)
{
    AVBufferRef *b = av_buffer_alloc(strlen(s));
    assert_non_null(b);
    memcpy(b->data, s, strlen(s));
    return b;
}

static char *read_text(const char *dir, const char *name)
{
    char *path = av_asprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    av_free(path);
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = av_malloc(n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, n, f), (size_t)n);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static int exists(const char *dir, const char *name)
{
    char *path = av_asprintf("%s/%s", dir, name);
    struct stat st;
    int ok = stat(path, &st) == 0;
    av_free(path);
    return ok;
}

static int count(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void put_seg(lr_recorder *r, const char *rend, int rend_no, int64_t seq, double dur)
{
    lr_seg_info info = { .seq = seq, .duration = dur, .pdt_ms = PDT_BASE + seq * 2000 };
    AVBufferRef *b = make_seg(rend_no, seq);
    assert_int_equal(lr_recorder_put_segment(r, rend, &info, b), 0);
    av_buffer_unref(&b);
}

static void put_init(lr_recorder *r, const char *rend)
{
    AVBufferRef *b = make_text("ftyp-moov-init");
    assert_int_equal(lr_recorder_put_init(r, rend, b), 0);
    av_buffer_unref(&b);
}

typedef struct checked {
    int     nb_segs;
    int64_t first_seq, last_seq;
    int     nb_disc;
} checked;

/* Checks that every segment index.m3u8 names is whole on disk (its size and
 * bytes), that seq only grows, and that only one header is present. */
static checked check_index(const char *rec_dir, const char *rend, int rend_no, const char *ext)
{
    char *dir = av_asprintf("%s/%s", rec_dir, rend);
    char *text = read_text(dir, "index.m3u8");
    checked c = { .first_seq = -1, .last_seq = -1 };
    char *save = NULL;

    if (!text) {
        av_free(dir);
        return c;
    }
    assert_int_equal(count(text, "#EXTM3U"), 1);
    assert_int_equal(count(text, "#EXT-X-TARGETDURATION"), 1);
    c.nb_disc = count(text, "#EXT-X-DISCONTINUITY\n");
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (l[0] == '#')
            continue;
        char *end;
        int64_t seq = strtoll(l, &end, 10);
        assert_true(*end == '.' && !strcmp(end + 1, ext));
        assert_true(seq > c.last_seq);
        char *path = av_asprintf("%s/%s", dir, l);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        size_t want = seg_size(rend_no, seq), got = 0;
        uint8_t buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
            for (size_t i = 0; i < n; i++)
                assert_int_equal(buf[i], seg_byte(rend_no, seq, got + i));
            got += n;
        }
        fclose(f);
        assert_int_equal(got, want);
        av_free(path);
        if (c.first_seq < 0)
            c.first_seq = seq;
        c.last_seq = seq;
        c.nb_segs++;
    }
    av_free(text);
    av_free(dir);
    return c;
}

static int count_temps(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (e->d_name[0] == '.' && l > 4 && !strcmp(e->d_name + l - 4, ".tmp"))
            n++;
        else if (e->d_name[0] != '.' && e->d_type == DT_DIR) {
            char *sub = av_asprintf("%s/%s", dir, e->d_name);
            n += count_temps(sub);
            av_free(sub);
        }
    }
    if (d)
        closedir(d);
    return n;
}

/* ---- tests ------------------------------------------------------------ */

static void test_new_recording(void **state)
{
    lr_recorder_conf conf = { .root = *state };
    const char *master = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n720p/index.m3u8\n";
    lr_recorder *r = NULL;
    char *t, *dir, *rdir;

    assert_int_equal(lr_recorder_open(&conf, "cs101", "m4s", 1, &r), 0);
    assert_non_null(r);
    assert_int_equal(lr_recorder_next_seq(r), 0);
    const char *id = lr_recorder_id(r);
    assert_int_equal(strlen(id), 16);
    assert_true(id[8] == 'T' && id[15] == 'Z');
    dir = av_asprintf("%s/cs101/%s", (char *)*state, id);
    assert_string_equal(lr_recorder_dir(r), dir);

    assert_int_equal(lr_recorder_put_master(r, master, strlen(master)), 0);
    put_init(r, "720p");
    put_init(r, "audio");
    for (int64_t seq = 0; seq < 3; seq++) {
        put_seg(r, "720p", 0, seq, 2.0);
        put_seg(r, "audio", 1, seq, 2.0);
    }
    lr_recorder_flush(r);

    t = read_text(dir, "master.m3u8");
    assert_string_equal(t, master);
    av_free(t);
    rdir = av_asprintf("%s/720p", dir);
    assert_true(exists(rdir, "init.mp4"));
    assert_true(exists(rdir, "2.m4s"));
    t = read_text(rdir, "index.m3u8");
    assert_non_null(strstr(t, "#EXT-X-PLAYLIST-TYPE:EVENT\n"));
    assert_non_null(strstr(t, "#EXT-X-MAP:URI=\"init.mp4\"\n"));
    assert_non_null(strstr(t, "#EXT-X-PROGRAM-DATE-TIME:2026-11-28T13:47:02.000Z\n"));
    assert_non_null(strstr(t, "#EXT-X-MEDIA-SEQUENCE:0\n"));
    assert_null(strstr(t, "#EXT-X-ENDLIST"));
    assert_int_equal(count(t, "#EXTINF:"), 3);
    av_free(t);
    t = read_text(dir, "recording.json");
    assert_non_null(strstr(t, "\"lecture\": \"cs101\""));
    assert_non_null(strstr(t, "\"finished\": false"));
    assert_non_null(strstr(t, "\"ended\": null"));
    av_free(t);

    lr_recorder_finish(&r);
    assert_null(r);
    t = read_text(rdir, "index.m3u8");
    assert_non_null(strstr(t, "#EXT-X-PLAYLIST-TYPE:VOD\n"));
    assert_non_null(strstr(t, "#EXT-X-ENDLIST\n"));
    av_free(t);
    assert_int_equal(check_index(dir, "720p", 0, "m4s").nb_segs, 3);
    assert_int_equal(check_index(dir, "audio", 1, "m4s").nb_segs, 3);

    int64_t bytes = 2 * strlen("ftyp-moov-init");
    for (int64_t seq = 0; seq < 3; seq++)
        bytes += seg_size(0, seq) + seg_size(1, seq);
    char want[64];
    snprintf(want, sizeof(want), "\"bytes\": %" PRId64, bytes);
    t = read_text(dir, "recording.json");
    assert_non_null(strstr(t, "\"finished\": true"));
    assert_non_null(strstr(t, "\"ended\": \"2026-11-28T13:47:06Z\""));
    assert_non_null(strstr(t, "\"duration_s\": 6.0,"));
    assert_non_null(strstr(t, want));
    assert_non_null(strstr(t, "\"renditions\": [\"720p\", \"audio\"]"));
    av_free(t);
    assert_int_equal(count_temps(dir), 0);
    av_free(rdir);
    av_free(dir);
}

/* A lecture stopped just after a segment began: its few frames join the
 * segment before (hls.js leaves a 0.04 s last fragment unplayed). */
static void test_short_tail_joins(void **state)
{
    lr_recorder_conf conf = { .root = *state };
    lr_recorder *r = NULL;
    char *t, *dir, *vdir, *adir;
    struct stat st;

    assert_int_equal(lr_recorder_open(&conf, "cs101", "m4s", 1, &r), 0);
    dir = av_asprintf("%s/cs101/%s", (char *)*state, lr_recorder_id(r));
    put_init(r, "720p");
    put_init(r, "audio");
    for (int64_t seq = 0; seq < 3; seq++) {
        put_seg(r, "720p", 0, seq, 2.0);
        put_seg(r, "audio", 1, seq, 2.0);
    }
    put_seg(r, "720p", 0, 3, 0.04);
    put_seg(r, "audio", 1, 3, 0.6);   /* long enough to stay its own */
    lr_recorder_finish(&r);

    vdir = av_asprintf("%s/720p", dir);
    adir = av_asprintf("%s/audio", dir);
    t = read_text(vdir, "index.m3u8");
    assert_int_equal(count(t, "#EXTINF:"), 3);
    assert_non_null(strstr(t, "#EXTINF:2.040,\n2.m4s\n#EXT-X-ENDLIST\n"));
    av_free(t);
    assert_false(exists(vdir, "3.m4s"));
    char *p = av_asprintf("%s/2.m4s", vdir);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal((size_t)st.st_size, seg_size(0, 2) + seg_size(0, 3));
    av_free(p);
    t = read_text(adir, "index.m3u8");
    assert_int_equal(count(t, "#EXTINF:"), 4);
    av_free(t);
    assert_true(exists(adir, "3.m4s"));
    assert_int_equal(count_temps(dir), 0);
    av_free(vdir);
    av_free(adir);
    av_free(dir);
}

static void test_resume(void **state)
{
    lr_recorder_conf conf = { .root = *state };
    lr_recorder *r = NULL;
    lr_seg_info *segs;
    char *dir, *t;
    int nb;

    assert_int_equal(lr_recorder_open(&conf, "phy2", "ts", 0, &r), 0);
    dir = av_strdup(lr_recorder_dir(r));
    for (int64_t seq = 0; seq < 5; seq++) {
        put_seg(r, "720p", 0, seq, 2.0);
        if (seq < 4) /* the audio rendition is one behind at the "crash" */
            put_seg(r, "audio", 1, seq, 2.0);
    }
    lr_recorder_close(&r);
    assert_null(r);
    t = read_text(dir, "recording.json");
    assert_non_null(strstr(t, "\"finished\": false"));
    av_free(t);

    assert_int_equal(lr_recorder_open(&conf, "phy2", "ts", 1, &r), 0);
    assert_string_equal(lr_recorder_dir(r), dir);
    assert_int_equal(lr_recorder_next_seq(r), 5);
    assert_int_equal(lr_recorder_segments(r, "720p", 0, &segs, &nb), 0);
    assert_int_equal(nb, 5);
    assert_int_equal(segs[4].seq, 4);
    assert_int_equal(segs[4].bytes, seg_size(0, 4));
    assert_true(segs[2].pdt_ms == PDT_BASE + 4000);
    av_free(segs);
    /* A segment already on disk is refused: seq only grows. */
    lr_seg_info old = { .seq = 4, .duration = 2.0 };
    AVBufferRef *b = make_seg(0, 4);
    assert_int_equal(lr_recorder_put_segment(r, "720p", &old, b), AVERROR(EINVAL));
    av_buffer_unref(&b);

    put_seg(r, "720p", 0, 5, 2.0);
    put_seg(r, "audio", 1, 5, 2.0);
    lr_recorder_flush(r);

    checked v = check_index(dir, "720p", 0, "ts");
    assert_int_equal(v.nb_segs, 6);
    assert_int_equal(v.first_seq, 0);
    assert_int_equal(v.nb_disc, 1);
    t = read_text(dir, "720p/index.m3u8");
    assert_non_null(strstr(t, "#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2026-11-28T13:47:10"));
    assert_null(strstr(t, "#EXT-X-MAP"));
    av_free(t);
    /* audio jumps from 3 to 5: one playlist, a discontinuity at the jump */
    checked a = check_index(dir, "audio", 1, "ts");
    assert_int_equal(a.nb_segs, 5);
    assert_int_equal(a.last_seq, 5);
    assert_int_equal(a.nb_disc, 1);

    /* The last 4 s of 720p: the segments ending at 8, 10 and 12 s. */
    assert_int_equal(lr_recorder_segments(r, "720p", 4.0, &segs, &nb), 0);
    assert_int_equal(nb, 3);
    assert_int_equal(segs[0].seq, 3);
    assert_int_equal(segs[2].seq, 5);
    assert_int_equal(segs[2].discontinuity, 1);
    av_free(segs);
    assert_int_equal(lr_recorder_segments(r, "1080p", 4.0, &segs, &nb), 0);
    assert_int_equal(nb, 0);

    lr_recorder_finish(&r);
    t = read_text(dir, "audio/index.m3u8");
    assert_non_null(strstr(t, "#EXT-X-PLAYLIST-TYPE:VOD\n"));
    assert_int_equal(count(t, "#EXT-X-ENDLIST"), 1);
    assert_int_equal(count(t, "#EXT-X-PLAYLIST-TYPE"), 1);
    av_free(t);

    /* A finished recording is never resumed. */
    assert_int_equal(lr_recorder_open(&conf, "phy2", "ts", 1, &r), 0);
    assert_string_not_equal(lr_recorder_dir(r), dir);
    assert_int_equal(lr_recorder_next_seq(r), 0);
    lr_recorder_close(&r);
    av_free(dir);
}

/* The child of one crash round: resumes, says where it continues, then
 * writes segments of two renditions until it is killed. */
static void crash_child(const char *root, int fd)
{
    lr_recorder_conf conf = { .root = root };
    lr_recorder *r = NULL;
    int64_t next;

    if (lr_recorder_open(&conf, "crash", "m4s", 1, &r) < 0)
        _exit(3);
    next = lr_recorder_next_seq(r);
    put_init(r, "720p");
    put_init(r, "audio");
    if (write(fd, &next, sizeof(next)) != sizeof(next))
        _exit(4);
    for (int64_t seq = next; seq < next + 5000; seq++) {
        put_seg(r, "720p", 0, seq, 2.0);
        put_seg(r, "audio", 1, seq, 2.0);
        if (seq % 4 == 3) {
            lr_recorder_flush(r);
            if (write(fd, &seq, sizeof(seq)) != sizeof(seq))
                _exit(4);
        }
    }
    _exit(0);
}

static void test_kill9(void **state)
{
    const char *root = *state;
    char *lecture_dir = av_asprintf("%s/crash", root);
    unsigned seed = 20261128;
    int64_t max_listed = -1;
    int rounds_with_temps = 0;
    char *rec_dir = NULL;

    for (int round = 0; round < 20; round++) {
        int fds[2];
        int64_t next = -1;
        pid_t pid;
        int status;

        assert_int_equal(pipe(fds), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            crash_child(root, fds[1]);
        }
        close(fds[1]);
        assert_int_equal(read(fds[0], &next, sizeof(next)), sizeof(next));
        /* Sequence numbers go upward across every restart. */
        assert_true(next > max_listed);
        /* Every other round, first let 4 segments per rendition reach the
         * disk, so the rounds surely make progress. */
        for (int64_t done = -1; round % 2 == 0 && done < next + 3;)
            assert_int_equal(read(fds[0], &done, sizeof(done)), sizeof(done));
        struct timespec ts = { 0, (long)(rand_r(&seed) % 60) * 1000000L };
        nanosleep(&ts, NULL); /* the moment of the kill, not a readiness wait */
        kill(pid, SIGKILL);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        close(fds[0]);

        /* One recording, resumed every round. */
        DIR *d = opendir(lecture_dir);
        struct dirent *e;
        int nb_recs = 0;
        while (d && (e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            nb_recs++;
            av_free(rec_dir);
            rec_dir = av_asprintf("%s/%s", lecture_dir, e->d_name);
        }
        closedir(d);
        assert_int_equal(nb_recs, 1);
        rounds_with_temps += count_temps(rec_dir) > 0;
        checked v = check_index(rec_dir, "720p", 0, "m4s");
        checked a = check_index(rec_dir, "audio", 1, "m4s");
        if (v.last_seq > max_listed)
            max_listed = v.last_seq;
        if (a.last_seq > max_listed)
            max_listed = a.last_seq;
    }
    print_message("kill -9: 20 rounds, %" PRId64 " segments listed, %d rounds left temp files\n",
                  max_listed + 1, rounds_with_temps);
    assert_true(max_listed >= 40); /* 10 rounds wrote 4 segments at least */

    lr_recorder_conf conf = { .root = root };
    lr_recorder *r = NULL;
    assert_int_equal(lr_recorder_open(&conf, "crash", "m4s", 1, &r), 0);
    assert_string_equal(lr_recorder_dir(r), rec_dir);
    assert_int_equal(count_temps(rec_dir), 0);
    int64_t next = lr_recorder_next_seq(r);
    assert_true(next > max_listed);
    put_seg(r, "720p", 0, next, 2.0);
    put_seg(r, "audio", 1, next, 2.0);
    lr_recorder_finish(&r);
    checked v = check_index(rec_dir, "720p", 0, "m4s");
    assert_int_equal(v.last_seq, next);
    assert_true(v.nb_disc >= 1);
    char *t = read_text(rec_dir, "720p/index.m3u8");
    assert_non_null(strstr(t, "#EXT-X-ENDLIST\n"));
    av_free(t);
    check_index(rec_dir, "audio", 1, "m4s");
    av_free(rec_dir);
    av_free(lecture_dir);
}

static void age_files(const char *dir, double age_s)
{
    struct timespec ts[2];
    clock_gettime(CLOCK_REALTIME, &ts[0]);
    ts[0].tv_sec -= (time_t)age_s;
    ts[1] = ts[0];
    const char *names[] = { "recording.json", "720p/index.m3u8" };
    for (int i = 0; i < 2; i++) {
        char *p = av_asprintf("%s/%s", dir, names[i]);
        assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
        av_free(p);
    }
}

static char *unfinished_recording(const char *root, const char *lecture, int nb)
{
    lr_recorder_conf conf = { .root = root };
    lr_recorder *r = NULL;
    assert_int_equal(lr_recorder_open(&conf, lecture, "m4s", 0, &r), 0);
    char *dir = av_strdup(lr_recorder_dir(r));
    put_init(r, "720p");
    for (int i = 0; i < nb; i++)
        put_seg(r, "720p", 0, i, 2.0);
    lr_recorder_close(&r);
    return dir;
}

static void test_finish_stale(void **state)
{
    lr_recorder_conf conf = { .root = *state };
    char *old = unfinished_recording(*state, "hist1", 4);
    char *fresh = unfinished_recording(*state, "hist2", 2);
    char *t;

    age_files(old, 1000);
    assert_int_equal(lr_recordings_finish_stale(&conf, 600), 1);
    t = read_text(old, "720p/index.m3u8");
    assert_non_null(strstr(t, "#EXT-X-PLAYLIST-TYPE:VOD\n"));
    assert_non_null(strstr(t, "#EXT-X-ENDLIST\n"));
    av_free(t);
    t = read_text(old, "recording.json");
    assert_non_null(strstr(t, "\"finished\": true"));
    assert_non_null(strstr(t, "\"ended\": \"2026-11-28T13:47:08Z\""));
    assert_non_null(strstr(t, "\"duration_s\": 8.0,"));
    av_free(t);
    t = read_text(fresh, "720p/index.m3u8");
    assert_non_null(strstr(t, "#EXT-X-PLAYLIST-TYPE:EVENT\n"));
    av_free(t);
    t = read_text(fresh, "recording.json");
    assert_non_null(strstr(t, "\"finished\": false"));
    av_free(t);
    /* Nothing left to finish. */
    assert_int_equal(lr_recordings_finish_stale(&conf, 600), 0);
    av_free(old);
    av_free(fresh);
}

/* A finished recording with 10 segments whose recording.json says it ended
 * days_ago days ago. */
static char *finished_recording(const char *root, const char *lecture, double days_ago)
{
    char *dir = unfinished_recording(root, lecture, 10);
    time_t ended = time(NULL) - (time_t)(days_ago * 86400);
    struct tm tm;
    char iso[32], *json, *path;
    gmtime_r(&ended, &tm);
    strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
    json = av_asprintf("{\"lecture\": \"%s\", \"id\": \"x\", \"started\": \"%s\", \"ended\": "
                       "\"%s\", \"duration_s\": 20.0, \"finished\": true, \"bytes\": 1, "
                       "\"renditions\": [\"720p\"]}\n", lecture, iso, iso);
    path = av_asprintf("%s/recording.json", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(json, f);
    fclose(f);
    av_free(json);
    av_free(path);
    return dir;
}

static int64_t dir_bytes(const char *path)
{
    struct stat st;
    int64_t total = 0;
    if (lstat(path, &st) < 0)
        return 0;
    if (!S_ISDIR(st.st_mode))
        return st.st_size;
    DIR *d = opendir(path);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char *sub = av_asprintf("%s/%s", path, e->d_name);
        total += dir_bytes(sub);
        av_free(sub);
    }
    closedir(d);
    return total;
}

static int dir_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static void test_sweep(void **state)
{
    const char *root = *state;
    char *d40 = finished_recording(root, "old", 40);
    char *d20 = finished_recording(root, "mid", 20);
    char *d1 = finished_recording(root, "new", 1);
    char *live = unfinished_recording(root, "live", 10);
    lr_recorder_conf conf = { .root = root, .retention_days = 30 };

    /* Older than live's own start, but unfinished: never removed. */
    age_files(live, 90 * 86400.0);
    assert_int_equal(lr_recordings_sweep(&conf), 1);
    assert_false(dir_exists(d40));
    assert_true(dir_exists(d20) && dir_exists(d1) && dir_exists(live));

    /* Quota: just under what is there now, so the oldest (20 days) goes. */
    conf.quota_bytes = dir_bytes(root) - 1;
    assert_int_equal(lr_recordings_sweep(&conf), 1);
    assert_false(dir_exists(d20));
    assert_true(dir_exists(d1) && dir_exists(live));
    assert_true(dir_bytes(root) <= conf.quota_bytes);

    /* A quota nothing fits in removes every finished one, never the live. */
    conf.quota_bytes = 1;
    assert_int_equal(lr_recordings_sweep(&conf), 1);
    assert_false(dir_exists(d1));
    assert_true(dir_exists(live));
    assert_int_equal(check_index(live, "720p", 0, "m4s").nb_segs, 10);
    assert_int_equal(lr_recordings_sweep(&conf), 0);

    av_free(d40);
    av_free(d20);
    av_free(d1);
    av_free(live);
}

static void put_json(const char *dir, const char *text, size_t len)
{
    char *path = av_asprintf("%s/recording.json", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
    av_free(path);
}

/* A recording.json that is malformed, too large or missing makes its
 * recording unreadable: never removed by retention, read back from its
 * playlists when stale; the recordings beside it are swept as usual. */
static void test_unreadable_json(void **state)
{
    const char *root = *state;
    char *good = finished_recording(root, "good", 40);
    char *broken = finished_recording(root, "broken", 40);
    char *huge = finished_recording(root, "huge", 40);
    char *gone = finished_recording(root, "gone", 40);
    char *stale = unfinished_recording(root, "stale", 3);
    lr_recorder_conf conf = { .root = root, .retention_days = 30 };
    size_t n = 64 * 1024 + 1;
    char *big = av_malloc(n), *t, *p;

    memset(big, ' ', n);
    memcpy(big, "{\"finished\": true}", 18);
    put_json(huge, big, n);
    av_free(big);
    put_json(broken, "{\"finished\": true, \"ended\": ", 28);
    p = av_asprintf("%s/recording.json", gone);
    assert_int_equal(unlink(p), 0);
    av_free(p);
    put_json(stale, "{\"finished\": false", 18);
    age_files(stale, 1000);

    assert_int_equal(lr_recordings_sweep(&conf), 1);
    assert_false(dir_exists(good));
    assert_true(dir_exists(broken) && dir_exists(huge) && dir_exists(gone));

    /* The stale one's playlists say it never ended: finished, and its
     * recording.json written whole again (the others were written just now). */
    assert_int_equal(lr_recordings_finish_stale(&conf, 600), 1);
    t = read_text(stale, "recording.json");
    assert_non_null(strstr(t, "\"finished\": true"));
    assert_non_null(strstr(t, "\"duration_s\": 6.0,"));
    av_free(t);
    t = read_text(stale, "720p/index.m3u8");
    assert_non_null(strstr(t, "#EXT-X-ENDLIST\n"));
    av_free(t);
    av_free(good);
    av_free(broken);
    av_free(huge);
    av_free(gone);
    av_free(stale);
}

static void test_bad_names(void **state)
{
    lr_recorder_conf conf = { .root = *state };
    const char *bad[] = { "a/b", "..", ".", "", "../etc", "x y" };
    lr_recorder *r = NULL;
    lr_seg_info info = { .seq = 0, .duration = 2.0 };
    lr_seg_info *segs;
    AVBufferRef *b = make_seg(0, 0);
    int nb;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(lr_recorder_open(&conf, bad[i], "m4s", 0, &r), AVERROR(EINVAL));
        assert_null(r);
    }
    assert_int_equal(lr_recorder_open(&conf, NULL, "m4s", 0, &r), AVERROR(EINVAL));
    assert_int_equal(lr_recorder_open(&conf, "cs101", "mp4", 0, &r), AVERROR(EINVAL));
    assert_int_equal(lr_recorder_open(&conf, "cs101", "m4s/..", 0, &r), AVERROR(EINVAL));

    assert_int_equal(lr_recorder_open(&conf, "cs101", "m4s", 0, &r), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(lr_recorder_put_segment(r, bad[i], &info, b), AVERROR(EINVAL));
        assert_int_equal(lr_recorder_put_init(r, bad[i], b), AVERROR(EINVAL));
        assert_int_equal(lr_recorder_segments(r, bad[i], 0, &segs, &nb), AVERROR(EINVAL));
    }
    assert_int_equal(lr_recorder_put_segment(r, NULL, &info, b), AVERROR(EINVAL));
    info.seq = -1;
    assert_int_equal(lr_recorder_put_segment(r, "720p", &info, b), AVERROR(EINVAL));
    lr_recorder_flush(r);
    /* Nothing was written outside the recording. */
    char *parent = av_asprintf("%s/cs101", (char *)*state);
    assert_false(exists(parent, "b"));
    assert_false(exists(*state, "etc"));
    av_free(parent);
    lr_recorder_finish(&r); /* empty: removed */
    av_buffer_unref(&b);
}

/* A stuck disk never stalls the caller: the writer is held on a FIFO where
 * segment 0's temporary file goes, the queue fills, further segments are
 * dropped at once and counted; once the disk moves again recording goes on,
 * with a discontinuity where segments are missing. */
static void test_full_queue_drops(void **state)
{
    lr_recorder_conf conf = { .root = *state };
    lr_recorder *r = NULL;
    int accepted = 0, refused = 0, accepted_late = 0;

    assert_int_equal(lr_recorder_open(&conf, "slow", "m4s", 0, &r), 0);
    char *rdir = av_asprintf("%s/720p", lr_recorder_dir(r));
    char *fifo = av_asprintf("%s/.0.m4s.tmp", rdir);
    assert_int_equal(mkdir(rdir, 0755), 0);
    assert_int_equal(mkfifo(fifo, 0644), 0);

    for (int64_t seq = 0; seq < 40; seq++) {
        lr_seg_info info = { .seq = seq, .duration = 2.0 };
        AVBufferRef *b = make_seg(0, seq);
        int ret = lr_recorder_put_segment(r, "720p", &info, b);
        av_buffer_unref(&b);
        if (ret == 0) {
            /* Once full, full until the disk moves; but the writer may take
             * segment 0 (and block on the FIFO) only after the queue filled,
             * which frees one place, once. */
            accepted_late += refused > 0;
            assert_true(accepted_late <= 1);
            accepted++;
        } else {
            assert_int_equal(ret, AVERROR(EAGAIN));
            refused++;
        }
    }
    /* The queue bound, plus segment 0 if the writer had taken it already. */
    assert_true(accepted == LR_RECORDER_QUEUE_SEGMENTS ||
                accepted == LR_RECORDER_QUEUE_SEGMENTS + 1);
    assert_int_equal(lr_recorder_dropped(r), refused);

    /* The disk moves: segment 0 fails (a FIFO can't be fsync'ed), the rest
     * are written. */
    int rd = open(fifo, O_RDONLY | O_NONBLOCK);
    assert_true(rd >= 0);
    lr_recorder_flush(r);
    close(rd);
    put_seg(r, "720p", 0, 40, 2.0);
    lr_recorder_flush(r);
    assert_int_equal(lr_recorder_dropped(r), refused + 1);

    checked c = check_index(lr_recorder_dir(r), "720p", 0, "m4s");
    assert_int_equal(c.nb_segs, accepted - 1 + 1);
    assert_int_equal(c.first_seq, 1);
    assert_int_equal(c.last_seq, 40);
    assert_int_equal(c.nb_disc, 1 + accepted_late);  /* each hole in the numbers */
    lr_recorder_finish(&r);
    av_free(fifo);
    av_free(rdir);
}

static void test_unwritable_root(void **state)
{
    char *file = av_asprintf("%s/not-a-dir", (char *)*state);
    char *root = av_asprintf("%s/sub", file);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    lr_recorder_conf conf = { .root = root };
    lr_recorder *r = NULL;

    assert_int_equal(lr_recorder_open(&conf, "cs101", "m4s", 1, &r), AVERROR(ENOTDIR));
    assert_null(r);
    assert_true(lr_recordings_sweep(&conf) < 0);
    assert_true(lr_recordings_finish_stale(&conf, 10) < 0);
    av_free(root);
    av_free(file);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_new_recording, setup_root, teardown_root),
        cmocka_unit_test_setup_teardown(test_resume, setup_root, teardown_root),
        cmocka_unit_test_setup_teardown(test_short_tail_joins, setup_root, teardown_root),
        cmocka_unit_test_setup_teardown(test_kill9, setup_root, teardown_root),
        cmocka_unit_test_setup_teardown(test_finish_stale, setup_root, teardown_root),
        cmocka_unit_test_setup_teardown(test_sweep, setup_root, teardown_root),
        cmocka_unit_test_setup_teardown(test_unreadable_json, setup_root, teardown_root),
        cmocka_unit_test_setup_teardown(test_full_queue_drops, setup_root, teardown_root),
        cmocka_unit_test_setup_teardown(test_bad_names, setup_root, teardown_root),
        cmocka_unit_test_setup_teardown(test_unwritable_root, setup_root, teardown_root),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
