/* tests/unit/test_config.c — unit tests of common/config.c with the roles'
 * sections (app/conf.c): defaults, good files, overrides, the rungs list,
 * every class of error with its line, the sample configs under samples/, and
 * that loading changes nothing outside the config (the link layer's settings
 * stay until a role applies them). Run by `meson test --suite unit`. */
#include <setjmp.h>
#include <stdarg.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "lr_test_paths.h"
#include "app/conf.h"
#include "common/config.h"
#include "common/datadir.h"
#include "common/link.h"
#include "common/link_stats.h"
#include "ingest/ingest.h"

#define CONFIGS LR_SOURCE_DIR "/tests/unit/configs/"
#define SAMPLES LR_SOURCE_DIR "/samples/"
#define NAME_EXPECT "a name of 1 to 64 letters, digits, '_' or '-', starting with a letter or digit"

static int setup(void **state)
{
    lr_config *c = calloc(1, sizeof(*c));

    if (!c || lr_config_defaults(c, lr_app_conf_sections) < 0) {
        free(c);
        return -1;
    }
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    lr_config *c = *state;

    lr_config_free(c);
    free(c);
    return 0;
}

/* A path in the program's data folder, as the defaults spell it. */
static const char *in_datadir(const char *rel)
{
    static char paths[4][PATH_MAX];
    static int next;
    char *p = paths[next++ % 4];

    assert_int_equal(lr_datadir_path(p, PATH_MAX, rel), 0);
    return p;
}

static void check_defaults(const lr_config *c)
{
    assert_string_equal(c->log_level, "info");
    assert_string_equal(c->lecture, "demo");
    assert_int_equal(c->link.latency_ms, LR_LINK_LATENCY_AUTO);
    assert_string_equal(c->link.passphrase, "");
    assert_string_equal(c->ingest.source, in_datadir("samples/lecture.mp4"));
    assert_int_equal(c->ingest.loop, 1);
    assert_int_equal(c->ingest.realtime, 1);
    assert_int_equal(c->ingest.nb_links, 1);
    assert_string_equal(c->ingest.links[0], "srt://127.0.0.1:9000");
    assert_string_equal(c->ingest.listen, "");
    assert_int_equal(c->ingest.stall_ms, 1000);
    assert_int_equal(c->ingest.allow_unkeyed_push, 0);
    assert_int_equal(c->ingest.nb_lectures, 0);
    assert_null(c->ingest.lectures[0].name);
    assert_null(c->ingest.lectures[0].sources[0]);
    assert_string_equal(c->transcode.listen, "srt://127.0.0.1:9000");
    assert_int_equal(c->transcode.nb_links, 1);
    assert_string_equal(c->transcode.links[0], "srt://127.0.0.1:9001");
    assert_true(c->transcode.segment_duration == 2.0);
    assert_string_equal(c->transcode.preset, "veryfast");
    assert_int_equal(c->transcode.audio_bitrate_kbps, 96);
    assert_string_equal(c->transcode.rate_control, "crf");
    assert_true(c->transcode.crf == 23);
    assert_int_equal(c->transcode.audio_only, 1);
    assert_int_equal(c->transcode.nb_rungs, 4);
    assert_string_equal(c->transcode.rungs[0].name, "1080p");
    assert_int_equal(c->transcode.rungs[0].width, 1920);
    assert_int_equal(c->transcode.rungs[0].height, 1080);
    assert_int_equal(c->transcode.rungs[0].bitrate_kbps, 5000);
    assert_string_equal(c->transcode.rungs[0].profile, "");
    assert_true(c->transcode.rungs[0].fps == 0);
    assert_true(c->transcode.rungs[0].crf == 0);
    assert_string_equal(c->transcode.rungs[1].name, "720p");
    assert_int_equal(c->transcode.rungs[1].bitrate_kbps, 2800);
    assert_string_equal(c->transcode.rungs[2].name, "480p");
    assert_int_equal(c->transcode.rungs[2].width, 854);
    assert_string_equal(c->transcode.rungs[3].name, "360p");
    assert_int_equal(c->transcode.rungs[3].width, 640);
    assert_int_equal(c->transcode.rungs[3].height, 360);
    assert_int_equal(c->transcode.rungs[3].bitrate_kbps, 800);
    assert_null(c->transcode.rungs[4].name);
    assert_string_equal(c->egress.listen, "srt://127.0.0.1:9001");
    assert_string_equal(c->egress.http, "127.0.0.1:8080");
    assert_int_equal(c->egress.playlist_segments, 6);
    assert_int_equal(c->egress.keep_segments, 30);
    assert_string_equal(c->egress.assets_dir, in_datadir("assets"));
}

static void test_defaults(void **state)
{
    lr_config c = { 0 };

    check_defaults(*state);
    lr_config_free(*state);
    lr_config_free(*state); /* twice is fine: it leaves the config zeroed */
    assert_null(((lr_config *)*state)->log_level);
    lr_config_free(&c);
    assert_int_equal(lr_config_defaults(*state, lr_app_conf_sections), 0);
}

static void test_full_file(void **state)
{
    lr_config *c = *state;
    char err[256] = "untouched";

    assert_int_equal(lr_config_load_file(c, CONFIGS "full.yaml", err, sizeof(err)), 0);
    assert_string_equal(err, "");
    assert_string_equal(c->log_level, "debug");
    assert_string_equal(c->lecture, "cs101");
    assert_int_equal(c->link.latency_ms, 800);
    assert_string_equal(c->link.passphrase, "0123456789abcdef");
    assert_int_equal(c->link.latency_rtt_factor, 4);
    assert_int_equal(c->link.latency_floor_ms, 200);
    assert_int_equal(c->link.latency_ceiling_ms, 3000);
    assert_int_equal(c->link.maxbw_kbps, 20000);
    assert_int_equal(c->link.overhead_pct, 50);
    assert_int_equal(c->link.tlpktdrop, 0);
    assert_int_equal(c->link.intensive_retransmit, 0);
    assert_int_equal(c->link.peer_idle_timeout_ms, 8000);
    assert_int_equal(c->link.stats_interval_s, 0);
    assert_string_equal(c->ingest.source, "rtmp://obs.example.edu/live/cs101");
    assert_int_equal(c->ingest.loop, 0);
    assert_int_equal(c->ingest.realtime, 0);
    assert_string_equal(c->ingest.links[0], "srt://transcode.example.edu:9000");
    assert_string_equal(c->transcode.listen, "srt://[::]:9000");
    assert_string_equal(c->transcode.links[0], "srt://egress.example.cn:9001?latency=900000");
    assert_true(c->transcode.segment_duration == 4.0);
    assert_string_equal(c->transcode.preset, "medium");
    assert_int_equal(c->transcode.audio_bitrate_kbps, 128);
    assert_int_equal(c->transcode.nb_rungs, 3);
    assert_string_equal(c->transcode.rungs[0].name, "1080p");
    assert_int_equal(c->transcode.rungs[0].width, 1920);
    assert_int_equal(c->transcode.rungs[0].height, 1080);
    assert_int_equal(c->transcode.rungs[0].bitrate_kbps, 5000);
    assert_string_equal(c->transcode.rungs[1].name, "540p");
    assert_int_equal(c->transcode.rungs[1].width, 960);
    assert_int_equal(c->transcode.rungs[1].height, 540);
    assert_int_equal(c->transcode.rungs[1].bitrate_kbps, 1800);
    assert_string_equal(c->transcode.rungs[2].name, "audio_low-1");
    assert_int_equal(c->transcode.rungs[2].width, 16);
    assert_int_equal(c->transcode.rungs[2].bitrate_kbps, 50);
    assert_null(c->transcode.rungs[3].name);
    assert_string_equal(c->egress.listen, "srt://0.0.0.0:9001");
    assert_string_equal(c->egress.http, "[::1]:8443");
    assert_int_equal(c->egress.playlist_segments, 10);
    assert_int_equal(c->egress.keep_segments, 10);
    assert_string_equal(c->egress.assets_dir, "/srv/hls.js");
}

static void test_overrides(void **state)
{
    lr_config *c = *state;
    char err[256];

    assert_int_equal(lr_config_load_string(c,
        "lecture: math-2\n"
        "link: { passphrase: 'a long enough secret' }\n"
        "ingest:\n"
        "  loop: False\n"
        "egress:\n"
        "  keep_segments: 100\n", "o.yaml", err, sizeof(err)), 0);
    assert_string_equal(c->lecture, "math-2");
    assert_string_equal(c->link.passphrase, "a long enough secret");
    assert_int_equal(c->link.latency_ms, LR_LINK_LATENCY_AUTO);
    assert_int_equal(c->ingest.loop, 0);
    assert_int_equal(c->ingest.realtime, 1);
    assert_int_equal(c->egress.keep_segments, 100);
    assert_int_equal(c->transcode.nb_rungs, 4);

    /* a second file overlays the first; an empty passphrase is allowed */
    assert_int_equal(lr_config_load_string(c, "link:\n  passphrase:\nlecture: \"cs101\"\n",
                                           "p.yaml", err, sizeof(err)), 0);
    assert_string_equal(c->link.passphrase, "");
    assert_string_equal(c->lecture, "cs101");

    /* transcode.link: one egress, or a list of them */
    assert_int_equal(lr_config_load_string(c, "transcode:\n  link: [srt://a:1, srt://b:2]\n",
                                           "l.yaml", err, sizeof(err)), 0);
    assert_int_equal(c->transcode.nb_links, 2);
    assert_string_equal(c->transcode.links[1], "srt://b:2");
    assert_int_equal(lr_config_load_string(c, "transcode:\n  link: srt://c:3\n", "l.yaml", err,
                                           sizeof(err)), 0);
    assert_int_equal(c->transcode.nb_links, 1);
    assert_string_equal(c->transcode.links[0], "srt://c:3");

    /* ingest.link: one transcoder, or redundant ones */
    assert_int_equal(lr_config_load_string(c, "ingest:\n  link: [srt://t1:1, srt://t2:2]\n",
                                           "l.yaml", err, sizeof(err)), 0);
    assert_int_equal(c->ingest.nb_links, 2);
    assert_string_equal(c->ingest.links[1], "srt://t2:2");
    assert_int_equal(lr_config_load_string(c, "ingest:\n  link: [srt://t1:1, 'udp://x:2']\n",
                                           "l.yaml", err, sizeof(err)), AVERROR(EINVAL));
    assert_non_null(strstr(err, "ingest.link"));

    /* a section with every key commented out changes nothing */
    assert_int_equal(lr_config_load_string(c, "egress:\n  # http: x\ntranscode: ~\n", "q.yaml",
                                           err, sizeof(err)), 0);
    assert_string_equal(c->egress.http, "127.0.0.1:8080");
}

static void test_rungs_replace(void **state)
{
    lr_config *c = *state;
    char err[256];

    assert_int_equal(lr_config_load_string(c,
        "transcode:\n"
        "  rungs:\n"
        "    - name: only\n"
        "      width: 854\n"
        "      height: 480\n"
        "      bitrate_kbps: 1200\n", "r.yaml", err, sizeof(err)), 0);
    assert_int_equal(c->transcode.nb_rungs, 1);
    assert_string_equal(c->transcode.rungs[0].name, "only");
    assert_int_equal(c->transcode.rungs[0].width, 854);
    assert_int_equal(c->transcode.rungs[0].height, 480);
    assert_int_equal(c->transcode.rungs[0].bitrate_kbps, 1200);
    assert_null(c->transcode.rungs[1].name);
    assert_int_equal(c->transcode.rungs[1].width, 0);

    /* eight rungs is the most */
    assert_int_equal(lr_config_load_string(c,
        "transcode:\n"
        "  rungs:\n"
        "    - { name: a, width: 16, height: 16, bitrate_kbps: 50 }\n"
        "    - { name: b, width: 16, height: 16, bitrate_kbps: 50 }\n"
        "    - { name: c, width: 16, height: 16, bitrate_kbps: 50 }\n"
        "    - { name: d, width: 16, height: 16, bitrate_kbps: 50 }\n"
        "    - { name: e, width: 16, height: 16, bitrate_kbps: 50 }\n"
        "    - { name: f, width: 16, height: 16, bitrate_kbps: 50 }\n"
        "    - { name: g, width: 16, height: 16, bitrate_kbps: 50 }\n"
        "    - { name: h, width: 7680, height: 4320, bitrate_kbps: 50000 }\n",
        "r.yaml", err, sizeof(err)), 0);
    assert_int_equal(c->transcode.nb_rungs, LR_MAX_RUNGS);
    assert_string_equal(c->transcode.rungs[7].name, "h");
}

/* Loads yaml over fresh defaults, expects EINVAL and exactly this message,
 * and checks that the config did not change. */
static void expect_error(const char *yaml, const char *message)
{
    lr_config c;
    char err[512];

    assert_int_equal(lr_config_defaults(&c, lr_app_conf_sections), 0);
    assert_int_equal(lr_config_load_string(&c, yaml, "t.yaml", err, sizeof(err)),
                     AVERROR(EINVAL));
    assert_string_equal(err, message);
    check_defaults(&c);
    lr_config_free(&c);
}

static void test_unknown_key(void **state)
{
    expect_error("egress:\n"
                 "  listen: srt://127.0.0.1:9001\n"
                 "  htp: 127.0.0.1:8080\n",
                 "t.yaml:3: unknown key 'egress.htp' (did you mean 'http'?)");
    expect_error("# comment\ncolour: blue\n", "t.yaml:2: unknown key 'colour'");
    expect_error("transcode:\n  rungs:\n    - { name: a, widht: 16, height: 16 }\n",
                 "t.yaml:3: unknown key 'transcode.rungs[0].widht' (did you mean 'width'?)");
    expect_error("lecture: cs101\nlog-level: debug\n",
                 "t.yaml:2: unknown key 'log-level' (did you mean 'log_level'?)");
}

static void test_wrong_type(void **state)
{
    expect_error("transcode:\n"
                 "  preset: fast\n"
                 "  segment_duration: abc\n",
                 "t.yaml:3: key 'transcode.segment_duration': expected a number between 0.5 "
                 "and 10, got 'abc'");
    expect_error("link:\n  latency_ms: 1.5\n",
                 "t.yaml:2: key 'link.latency_ms': expected auto or an integer between 20 and 8000, "
                 "got '1.5'");
    expect_error("link:\n  latency_ms: [1]\n",
                 "t.yaml:2: key 'link.latency_ms': expected auto or an integer between 20 and 8000, "
                 "got a list");
    expect_error("lecture:\n  name: x\n",
                 "t.yaml:2: key 'lecture': expected a name of 1 to 64 letters, digits, '_' or "
                 "'-', starting with a letter or digit, got a mapping");
    expect_error("transcode:\n  link: [srt://a:1, http://b:2]\n",
                 "t.yaml:2: key 'transcode.link[1]': expected srt://host:port (or a list of "
                 "them: one per egress), got 'http://b:2'");
    expect_error("transcode:\n  link: {a: 1}\n",
                 "t.yaml:2: key 'transcode.link': expected a list of strings, got a mapping");
    expect_error("transcode:\n  rungs: 720p\n",
                 "t.yaml:2: key 'transcode.rungs': expected a list of mappings, got '720p'");
    expect_error("transcode:\n  rungs:\n    - 720p\n",
                 "t.yaml:3: key 'transcode.rungs[0]': expected a mapping, got '720p'");
    expect_error("- a\n- b\n", "t.yaml:1: the top level must be a mapping of keys, got a list");
    expect_error("just text\n",
                 "t.yaml:1: the top level must be a mapping of keys, got 'just text'");
    expect_error("? [a, b]\n: c\n", "t.yaml:1: keys must be names, got a list");
}

static void test_out_of_range(void **state)
{
    expect_error("link:\n  latency_ms: 10\n",
                 "t.yaml:2: key 'link.latency_ms': expected auto or an integer between 20 and 8000, "
                 "got '10'");
    expect_error("egress:\n\n  part_duration: 10.5\n",
                 "t.yaml:3: key 'egress.part_duration': expected a number between 0 and "
                 "2, got '10.5'");
    /* a key an earlier version had says what to do instead */
    expect_error("egress:\n  target_duration: 2.0\n",
                 "t.yaml:2: key 'egress.target_duration' is no more: the egress learns the "
                 "segment duration from the keyframes it receives (transcode.segment_duration, "
                 "or the source's GOP in passthrough): delete the line");
    expect_error("transcode:\n  audio_bitrate_kbps: 99999999999999999999\n",
                 "t.yaml:2: key 'transcode.audio_bitrate_kbps': expected an integer between "
                 "16 and 512, got '99999999999999999999'");
    expect_error("transcode:\n  segment_duration: .nan\n",
                 "t.yaml:2: key 'transcode.segment_duration': expected a number between 0.5 "
                 "and 10, got '.nan'");
    expect_error("transcode:\n  rungs:\n    - { name: a, width: 1281, height: 720, "
                 "bitrate_kbps: 100 }\n",
                 "t.yaml:3: key 'transcode.rungs[0].width': expected an even integer between "
                 "16 and 7680, got '1281'");
    expect_error("transcode:\n  rungs:\n    - name: a\n      width: 1280\n      height: 4322\n",
                 "t.yaml:5: key 'transcode.rungs[0].height': expected an even integer between "
                 "16 and 4320, got '4322'");
    expect_error("transcode:\n  rungs:\n    - name: a\n      width: 1280\n"
                 "      bitrate_kbps: 49\n",
                 "t.yaml:5: key 'transcode.rungs[0].bitrate_kbps': expected an integer between "
                 "50 and 50000, got '49'");
    expect_error("egress:\n  playlist_segments: 8\n  keep_segments: 7\n",
                 "t.yaml:3: key 'egress.keep_segments': keep_segments (7) must be >= "
                 "playlist_segments (8)");
    expect_error("egress:\n  playlist_segments: 31\n",
                 "t.yaml:2: key 'egress.playlist_segments': keep_segments (30) must be >= "
                 "playlist_segments (31)");
}

static void test_bad_bool(void **state)
{
    expect_error("ingest:\n  realtime: true\n  loop: maybe\n",
                 "t.yaml:3: key 'ingest.loop': expected true or false (yes/no, on/off), got "
                 "'maybe'");
    expect_error("ingest:\n  loop: 1\n",
                 "t.yaml:2: key 'ingest.loop': expected true or false (yes/no, on/off), got '1'");
}

static void test_bad_strings(void **state)
{
    expect_error("log_level: verbose\n",
                 "t.yaml:1: key 'log_level': expected one of error, warn, info, debug, got "
                 "'verbose'");
    expect_error("lecture: ../etc\n",
                 "t.yaml:1: key 'lecture': expected a name of 1 to 64 letters, digits, '_' or "
                 "'-', starting with a letter or digit, got '../etc'");
    expect_error("link:\n  passphrase: short\n",
                 "t.yaml:2: key 'link.passphrase': expected an empty passphrase (no "
                 "encryption) or 10 to 79 characters, got 5 characters");
    expect_error("ingest:\n  link: rtmp://x:1\n",
                 "t.yaml:2: key 'ingest.link': expected srt://host:port (or a list of them: one per "
      "transcoder), got 'rtmp://x:1'");
    expect_error("transcode:\n  listen: srt://127.0.0.1\n",
                 "t.yaml:2: key 'transcode.listen': expected srt://host:port, got "
                 "'srt://127.0.0.1'");
    expect_error("egress:\n  listen: srt://h:65536\n",
                 "t.yaml:2: key 'egress.listen': expected srt://host:port, got "
                 "'srt://h:65536'");
    expect_error("egress:\n  http: localhost\n",
                 "t.yaml:2: key 'egress.http': expected host:port, got 'localhost'");
    expect_error("egress:\n  http: \"h:80\\0\"\n",
                 "t.yaml:2: key 'egress.http': expected host:port, got a value with a NUL byte");
    expect_error("transcode:\n  preset: turbo\n",
                 "t.yaml:2: key 'transcode.preset': expected an x264 preset (ultrafast, "
                 "superfast, veryfast, faster, fast, medium, slow, slower, veryslow, "
                 "placebo), got 'turbo'");
    expect_error("ingest:\n  source: ''\n",
                 "t.yaml:2: key 'ingest.source': expected a file path or URL, got ''");
}

static void test_yaml_syntax(void **state)
{
    expect_error("egress:\n  http: [1, 2\nlecture: x\n",
                 "t.yaml:3: YAML syntax error: did not find expected ',' or ']' (while parsing "
                 "a flow sequence)");
    expect_error("lecture: a\n  log_level: b: c\n",
                 "t.yaml:2: YAML syntax error: mapping values are not allowed in this context");
    expect_error("lecture: *nowhere\n",
                 "t.yaml:1: YAML syntax error: found undefined alias");
    expect_error("lecture: a\n---\nlecture: b\n",
                 "t.yaml:2: only one YAML document is allowed per file");
}

static void test_section_scalar(void **state)
{
    expect_error("lecture: cs101\negress: 8080\n",
                 "t.yaml:2: key 'egress': expected a mapping of keys, got '8080'");
    expect_error("link:\n  - latency_ms: 200\n",
                 "t.yaml:2: key 'link': expected a mapping of keys, got a list");
}

static void test_rung_errors(void **state)
{
    expect_error("transcode:\n"
                 "  rungs:\n"
                 "    - name: hd\n"
                 "      width: 1280\n"
                 "      height: 720\n"
                 "      bitrate_kbps: 2800\n"
                 "    - width: 640\n"
                 "      height: 360\n"
                 "      name: hd\n"
                 "      bitrate_kbps: 800\n",
                 "t.yaml:9: key 'transcode.rungs[1].name': duplicate name 'hd' (also "
                 "transcode.rungs[0])");
    expect_error("transcode:\n  rungs:\n    - name: a\n      width: 640\n      height: 360\n",
                 "t.yaml:3: key 'transcode.rungs[0]': missing 'bitrate_kbps'");
    expect_error("transcode:\n  rungs:\n"
                 "    - { name: a, width: 640, height: 360, bitrate_kbps: 800, fps: 300 }\n",
                 "t.yaml:3: key 'transcode.rungs[0].fps': expected a number between 0 and 240, "
                 "got '300'");
    expect_error("transcode:\n  rungs:\n"
                 "    - { name: a, width: 640, height: 360, bitrate_kbps: 800, crf: 52 }\n",
                 "t.yaml:3: key 'transcode.rungs[0].crf': expected a number between 0 and 51, "
                 "got '52'");
    expect_error("transcode:\n  rungs:\n"
                 "    - { name: a, width: 640, height: 360, bitrate_kbps: 800, profile: hi }\n",
                 "t.yaml:3: key 'transcode.rungs[0].profile': expected empty (automatic), "
                 "baseline, main or high, got 'hi'");
    expect_error("transcode:\n  rate_control: vbr\n",
                 "t.yaml:2: key 'transcode.rate_control': expected crf (capped CRF), cbr or abr, "
                 "got 'vbr'");
    expect_error("transcode:\n  rungs:\n"
                 "    - { name: hd, width: 1280, height: 720, bitrate_kbps: 2000 }\n"
                 "    - { name: audio, width: 640, height: 360, bitrate_kbps: 500 }\n",
                 "t.yaml:4: key 'transcode.rungs[1].name': rung name 'audio' is the audio-only "
                 "rendition's (rename the rung or set audio_only: false)");
    expect_error("transcode:\n  rungs: []\n",
                 "t.yaml:2: key 'transcode.rungs': expected 1 to 8 entries, got 0");
    expect_error("transcode:\n"
                 "  rungs:\n"
                 "    - { name: a, width: 16, height: 16, bitrate_kbps: 50 }\n"
                 "    - { name: b, width: 16, height: 16, bitrate_kbps: 50 }\n"
                 "    - { name: c, width: 16, height: 16, bitrate_kbps: 50 }\n"
                 "    - { name: d, width: 16, height: 16, bitrate_kbps: 50 }\n"
                 "    - { name: e, width: 16, height: 16, bitrate_kbps: 50 }\n"
                 "    - { name: f, width: 16, height: 16, bitrate_kbps: 50 }\n"
                 "    - { name: g, width: 16, height: 16, bitrate_kbps: 50 }\n"
                 "    - { name: h, width: 16, height: 16, bitrate_kbps: 50 }\n"
                 "    - { name: i, width: 16, height: 16, bitrate_kbps: 50 }\n",
                 "t.yaml:3: key 'transcode.rungs': expected 1 to 8 entries, got 9");
    expect_error("transcode:\n  rungs:\n    - { name: 'hd 1', width: 16, height: 16, "
                 "bitrate_kbps: 50 }\n",
                 "t.yaml:3: key 'transcode.rungs[0].name': expected a name of 1 to 64 "
                 "letters, digits, '_' or '-', starting with a letter or digit, got 'hd 1'");
}

static void test_duplicate_key(void **state)
{
    expect_error("egress:\n  http: a:1\n  http: b:2\n",
                 "t.yaml:3: key 'egress.http': given twice (first on line 2)");
}

static void test_empty(void **state)
{
    lr_config *c = *state;
    char err[256];

    assert_int_equal(lr_config_load_string(c, "", "e.yaml", err, sizeof(err)), 0);
    assert_int_equal(lr_config_load_string(c, "# nothing\n\n", "e.yaml", err, sizeof(err)), 0);
    assert_int_equal(lr_config_load_string(c, "---\n", "e.yaml", err, sizeof(err)), 0);
    assert_int_equal(lr_config_load_string(c, "{}\n", "e.yaml", err, sizeof(err)), 0);
    assert_int_equal(lr_config_load_file(c, CONFIGS "empty.yaml", err, sizeof(err)), 0);
    check_defaults(c);
}

static void test_missing_file(void **state)
{
    lr_config *c = *state;
    char err[256];

    assert_int_equal(lr_config_load_file(c, CONFIGS "no-such-file.yaml", err, sizeof(err)),
                     AVERROR(ENOENT));
    assert_string_equal(err, CONFIGS "no-such-file.yaml: cannot open: No such file or directory");
    check_defaults(c);
}

static void test_file_line_numbers(void **state)
{
    lr_config *c = *state;
    char path[] = "/tmp/test_config_XXXXXX";
    char err[256], want[300];
    const char text[] = "lecture: cs101\n\n# comment\negress:\n  htp: 1\n";
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
    close(fd);
    assert_int_equal(lr_config_load_file(c, path, err, sizeof(err)), AVERROR(EINVAL));
    snprintf(want, sizeof(want), "%s:5: unknown key 'egress.htp' (did you mean 'http'?)", path);
    assert_string_equal(err, want);
    unlink(path);
}

static void test_relative_paths(void **state)
{
    lr_config *c = *state;
    char err[256];

    /* in a file, relative paths are relative to the file's folder; URLs stay */
    assert_int_equal(lr_config_load_file(c, SAMPLES "demo.yaml", err, sizeof(err)), 0);
    assert_string_equal(c->ingest.source, LR_SOURCE_DIR "/samples/lecture.mp4");
    assert_string_equal(c->egress.assets_dir, in_datadir("assets"));
    assert_int_equal(lr_config_load_file(c, SAMPLES "ingest.yaml", err, sizeof(err)), 0);
    assert_string_equal(c->ingest.lectures[0].sources[1],
                        "https://video.example.edu/live/cs101/index.m3u8");
    /* from a string, paths are left as given */
    assert_int_equal(lr_config_load_string(c, "ingest: { source: a.mp4 }\n", "s", err,
                                           sizeof(err)), 0);
    assert_string_equal(c->ingest.source, "a.mp4");
}

/* A secret that fails its check is described by its length, never echoed. */
static void test_secrets_not_echoed(void **state)
{
    lr_config *c = *state;
    char err[512];

    assert_int_equal(lr_config_load_string(c, "egress:\n  token_secrets: [0123456789abcdef, "
                                              "tooShort9]\n", "s.yaml", err, sizeof(err)),
                     AVERROR(EINVAL));
    assert_string_equal(err, "s.yaml:2: key 'egress.token_secrets[1]': expected secrets of at "
                             "least 16 characters, got 9 characters");
    assert_int_equal(lr_config_load_string(c, "link:\n  passphrase: sh0rt\n", "s.yaml", err,
                                           sizeof(err)), AVERROR(EINVAL));
    assert_null(strstr(err, "sh0rt"));
}

static void test_no_memory(void **state)
{
    lr_config *c = *state, d;
    char err[256];

    av_max_alloc(0); /* every av_malloc fails */
    assert_int_equal(lr_config_load_string(c, "lecture: cs101\n", "m.yaml", err, sizeof(err)),
                     AVERROR(ENOMEM));
    assert_int_equal(lr_config_defaults(&d, lr_app_conf_sections), AVERROR(ENOMEM));
    av_max_alloc(INT_MAX);
    assert_null(d.log_level);
    check_defaults(c);
}

static void test_samples(void **state)
{
    static const char *const files[] = { SAMPLES "demo.yaml", SAMPLES "ingest.yaml",
                                         SAMPLES "transcode.yaml", SAMPLES "egress.yaml" };
    lr_config c;
    char err[512];

    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        assert_int_equal(lr_config_defaults(&c, lr_app_conf_sections), 0);
        if (lr_config_load_file(&c, files[i], err, sizeof(err)) < 0)
            fail_msg("%s", err);
        if (i == 0) {
            /* the demo file is the defaults written out; only the sample's
             * path is spelled relative to samples/ */
            assert_string_equal(c.ingest.source, LR_SOURCE_DIR "/samples/lecture.mp4");
            av_freep(&c.ingest.source);
            c.ingest.source = av_strdup(in_datadir("samples/lecture.mp4"));
            check_defaults(&c);
        }
        if (i == 1) {
            /* a push lecture with a backup URL */
            assert_string_equal(c.ingest.listen, "srt://0.0.0.0:9710");
            assert_int_equal(c.ingest.nb_lectures, 1);
            assert_string_equal(c.ingest.lectures[0].name, "cs101");
            assert_int_equal(c.ingest.lectures[0].nb_sources, 2);
            assert_string_equal(c.ingest.lectures[0].sources[0], "push");
        }
        if (i == 2)
            assert_int_equal(c.transcode.nb_rungs, 4);
        lr_config_free(&c);
    }
}

static void test_ingest_lectures(void **state)
{
    lr_config *c = *state;
    const lr_lecture_conf *l = c->ingest.lectures;
    char err[256] = "untouched";

    assert_int_equal(lr_config_load_file(c, CONFIGS "lectures.yaml", err, sizeof(err)), 0);
    assert_string_equal(err, "");
    assert_string_equal(c->ingest.listen, "srt://0.0.0.0:9710");
    assert_int_equal(c->ingest.stall_ms, 2500);
    assert_int_equal(c->ingest.nb_lectures, 2);
    assert_string_equal(l[0].name, "cs101");
    assert_string_equal(l[0].passphrase, "correct horse battery");
    assert_string_equal(l[0].publish_key, "k3y");
    assert_int_equal(l[0].takeover, 0);
    assert_int_equal(l[0].nb_sources, 2);
    assert_string_equal(l[0].sources[0], "push");
    assert_string_equal(l[0].sources[1], "https://lectures.example.edu/cs101/index.m3u8");
    assert_null(l[0].sources[2]);
    assert_string_equal(l[1].name, "Math_2-b");
    assert_string_equal(l[1].passphrase, "");
    assert_string_equal(l[1].publish_key, "~!@#$%^&*()_+-[]{};:'\"<>?/|\\");
    assert_int_equal(l[1].takeover, 1);
    assert_int_equal(l[1].nb_sources, 4);
    assert_string_equal(l[1].sources[0], "rtmp://obs.example.edu/live/math2");
    assert_string_equal(l[1].sources[1], LR_SOURCE_DIR "/tests/unit/configs/backup.mp4");
    assert_string_equal(l[1].sources[2], "/srv/lectures/math2.mp4");
    assert_string_equal(l[1].sources[3], "push");
    assert_null(l[2].name);
    /* the rest of ingest keeps its defaults */
    assert_string_equal(c->ingest.source, in_datadir("samples/lecture.mp4"));
    assert_string_equal(c->lecture, "demo");

    /* a failing file changes nothing, lectures included */
    assert_int_equal(lr_config_load_string(c, "ingest:\n  lectures:\n    - name: x\n"
                                              "  stall_ms: 99\n", "f.yaml", err, sizeof(err)),
                     AVERROR(EINVAL));
    assert_string_equal(err, "f.yaml:4: key 'ingest.stall_ms': expected an integer between 100 "
                             "and 60000, got '99'");
    assert_int_equal(c->ingest.nb_lectures, 2);
    assert_string_equal(l[1].sources[1], LR_SOURCE_DIR "/tests/unit/configs/backup.mp4");
    assert_int_equal(c->ingest.stall_ms, 2500);

    /* a later list replaces the whole list; omitted sources are [push]; listen
     * may follow the lectures; from a string, paths stay as given */
    assert_int_equal(lr_config_load_string(c,
        "ingest:\n"
        "  lectures:\n"
        "    - name: solo\n"
        "    - name: files\n"
        "      sources: [a.mp4, ~/b.mp4]\n"
        "  listen: srt://[::1]:9710\n", "r.yaml", err, sizeof(err)), 0);
    assert_int_equal(c->ingest.nb_lectures, 2);
    assert_string_equal(l[0].name, "solo");
    assert_string_equal(l[0].passphrase, "");
    assert_string_equal(l[0].publish_key, "");
    assert_int_equal(l[0].takeover, 0);
    assert_int_equal(l[0].nb_sources, 1);
    assert_string_equal(l[0].sources[0], "push");
    assert_null(l[0].sources[1]);
    assert_int_equal(l[1].nb_sources, 2);
    assert_string_equal(l[1].sources[0], "a.mp4");
    assert_string_equal(l[1].sources[1], "~/b.mp4");
    assert_null(l[1].sources[2]);
    assert_string_equal(c->ingest.listen, "srt://[::1]:9710");
    assert_int_equal(c->ingest.stall_ms, 2500);

    /* lectures without a push need no listener; the bounds of stall_ms */
    assert_int_equal(lr_config_load_string(c,
        "ingest:\n  listen: ''\n  stall_ms: 60000\n  lectures: [{ name: f, sources: [f.ts] }]\n",
        "n.yaml", err, sizeof(err)), 0);
    assert_string_equal(c->ingest.listen, "");
    assert_int_equal(c->ingest.stall_ms, 60000);
    assert_int_equal(c->ingest.nb_lectures, 1);
    assert_string_equal(l[0].sources[0], "f.ts");
    assert_null(l[1].name);
    assert_int_equal(lr_config_load_string(c, "ingest: { stall_ms: 100 }\n", "m.yaml", err,
                                           sizeof(err)), 0);
    assert_int_equal(c->ingest.stall_ms, 100);
}

static void test_ingest_defaults(void **state)
{
    const lr_config *c = *state;

    assert_string_equal(c->ingest.listen, "");
    assert_int_equal(c->ingest.stall_ms, 1000);
    assert_int_equal(c->ingest.nb_lectures, 0);
    for (int i = 0; i < LR_MAX_LECTURES; i++) {
        assert_null(c->ingest.lectures[i].name);
        assert_int_equal(c->ingest.lectures[i].nb_sources, 0);
    }
}

static void test_ingest_lecture_errors(void **state)
{
    const char *head = "ingest:\n  listen: srt://0.0.0.0:9710\n  lectures:\n";
    char yaml[4096];
    size_t len;

#define LECTURE_ERROR(body, msg) \
    (snprintf(yaml, sizeof(yaml), "%s%s", head, body), expect_error(yaml, msg))
    /* lines: 4 is the first lecture's first key */
    LECTURE_ERROR("    - name: a\n"
                  "      sources: [push]\n"
                  "    - sources: [x.mp4]\n"
                  "      name: a\n",
                  "t.yaml:7: key 'ingest.lectures[1].name': duplicate name 'a' (also "
                  "ingest.lectures[0])");
    LECTURE_ERROR("    - name: ../x\n",
                  "t.yaml:4: key 'ingest.lectures[0].name': expected " NAME_EXPECT ", got '../x'");
    LECTURE_ERROR("    - name: ''\n",
                  "t.yaml:4: key 'ingest.lectures[0].name': expected " NAME_EXPECT ", got ''");
    LECTURE_ERROR("    - sources: [push]\n",
                  "t.yaml:4: key 'ingest.lectures[0]': missing 'name'");
    LECTURE_ERROR("    - name: a\n      source: x.mp4\n",
                  "t.yaml:5: unknown key 'ingest.lectures[0].source' (did you mean 'sources'?)");
    LECTURE_ERROR("    - name: a\n      sources: push\n",
                  "t.yaml:5: key 'ingest.lectures[0].sources': expected a list of strings, got "
                  "'push'");
    LECTURE_ERROR("    - name: a\n      sources: { push: 1 }\n",
                  "t.yaml:5: key 'ingest.lectures[0].sources': expected a list of strings, got "
                  "a mapping");
    LECTURE_ERROR("    - name: a\n      sources: [push, b, c, d, e]\n",
                  "t.yaml:5: key 'ingest.lectures[0].sources': expected 1 to 4 entries, got 5");
    LECTURE_ERROR("    - name: a\n      sources: []\n",
                  "t.yaml:5: key 'ingest.lectures[0].sources': expected 1 to 4 entries, got 0");
    LECTURE_ERROR("    - name: a\n      sources:\n",
                  "t.yaml:5: key 'ingest.lectures[0].sources': expected a list of strings, got "
                  "''");
    LECTURE_ERROR("    - name: a\n"
                  "      sources:\n"
                  "        - push\n"
                  "        - x.mp4\n"
                  "        - [y.mp4]\n",
                  "t.yaml:8: key 'ingest.lectures[0].sources[2]': expected 'push', 'push-srt', "
                  "'push-rtmp', a URL or a file path, got a list");
    LECTURE_ERROR("    - name: a\n      sources: [x.mp4, ~]\n",
                  "t.yaml:5: key 'ingest.lectures[0].sources[1]': expected 'push', 'push-srt', "
                  "'push-rtmp', a URL or a file path, got '~'");
    LECTURE_ERROR("    - name: a\n      sources: [x.mp4, \"\"]\n",
                  "t.yaml:5: key 'ingest.lectures[0].sources[1]': expected 'push', 'push-srt', "
                  "'push-rtmp', a URL or a file path, got ''");
    LECTURE_ERROR("    - name: a\n      sources: [\"x\\0.mp4\"]\n",
                  "t.yaml:5: key 'ingest.lectures[0].sources[0]': expected 'push', 'push-srt', "
                  "'push-rtmp', a URL or a file path, got a value with a NUL byte");
    LECTURE_ERROR("    - name: a\n"
                  "      sources:\n"
                  "        - push\n"
                  "        - x.mp4\n"
                  "        - push\n",
                  "t.yaml:8: key 'ingest.lectures[0].sources[2]': source 'push' listed twice "
                  "(also [0])");
    LECTURE_ERROR("    - name: a\n      passphrase: short\n",
                  "t.yaml:5: key 'ingest.lectures[0].passphrase': expected an empty passphrase "
                  "(no encryption) or 10 to 79 characters, got 5 characters");
    LECTURE_ERROR("    - name: a\n      passphrase: "
                  "\"01234567890123456789012345678901234567890123456789012345678901234567890123456789\"\n",
                  "t.yaml:5: key 'ingest.lectures[0].passphrase': expected an empty passphrase "
                  "(no encryption) or 10 to 79 characters, got 80 characters");
    LECTURE_ERROR("    - name: a\n      publish_key: \"a,b\"\n",
                  "t.yaml:5: key 'ingest.lectures[0].publish_key': expected up to 128 printable "
                  "characters without spaces, ',' or '=', got 3 characters");
    LECTURE_ERROR("    - name: a\n\n      publish_key: a=b\n",
                  "t.yaml:6: key 'ingest.lectures[0].publish_key': expected up to 128 printable "
                  "characters without spaces, ',' or '=', got 3 characters");
    LECTURE_ERROR("    - name: a\n      publish_key: \"a b\"\n",
                  "t.yaml:5: key 'ingest.lectures[0].publish_key': expected up to 128 printable "
                  "characters without spaces, ',' or '=', got 3 characters");
    LECTURE_ERROR("    - name: a\n      publish_key: \"k\\u00e9y\"\n",
                  "t.yaml:5: key 'ingest.lectures[0].publish_key': expected up to 128 printable "
                  "characters without spaces, ',' or '=', got 4 characters");
    LECTURE_ERROR("    - name: a\n      publish_key: "
                  "0123456789012345678901234567890123456789012345678901234567890123"
                  "45678901234567890123456789012345678901234567890123456789012345678\n",
                  "t.yaml:5: key 'ingest.lectures[0].publish_key': expected up to 128 printable "
                  "characters without spaces, ',' or '=', got 129 characters");
    LECTURE_ERROR("    - name: a\n      takeover: maybe\n",
                  "t.yaml:5: key 'ingest.lectures[0].takeover': expected true or false "
                  "(yes/no, on/off), got 'maybe'");
    LECTURE_ERROR("    - name: a\n      takeover: 1\n",
                  "t.yaml:5: key 'ingest.lectures[0].takeover': expected true or false "
                  "(yes/no, on/off), got '1'");
    LECTURE_ERROR("    - name: a\n"
                  "      sources: [push-srt, x.mp4, push]\n",
                  "t.yaml:5: key 'ingest.lectures[0].sources[2]': source 'push' takes a push "
                  "that 'push-srt' ([0]) already takes");
    LECTURE_ERROR("    - a\n",
                  "t.yaml:4: key 'ingest.lectures[0]': expected a mapping, got 'a'");
#undef LECTURE_ERROR

    /* 'push' without ingest.listen: the line of that source */
    expect_error("ingest:\n"
                 "  lectures:\n"
                 "    - name: a\n"
                 "      sources: [x.mp4]\n"
                 "    - name: b\n"
                 "      sources:\n"
                 "        - y.mp4\n"
                 "        - push\n",
                 "t.yaml:8: key 'ingest.lectures[1].sources[1]': source 'push' needs "
                 "ingest.listen, rtmp_listen or rtmps_listen");
    expect_error("ingest:\n  listen: \"\"\n  lectures:\n    - { name: a, sources: [push] }\n",
                 "t.yaml:4: key 'ingest.lectures[0].sources[0]': source 'push' needs "
                 "ingest.listen, rtmp_listen or rtmps_listen");
    expect_error("ingest:\n  listen: srt://h:1\n  lectures:\n"
                 "    - { name: a, sources: [push-rtmp] }\n",
                 "t.yaml:4: key 'ingest.lectures[0].sources[0]': source 'push-rtmp' needs "
                 "ingest.rtmp_listen or rtmps_listen");
    expect_error("ingest:\n  rtmps_listen: \"0.0.0.0:1936\"\n",
                 "t.yaml:2: key 'ingest.rtmps_listen': rtmps_listen needs rtmps_cert and "
                 "rtmps_key");
    /* sources omitted: [push], blamed on the lecture */
    expect_error("ingest:\n  lectures:\n    - name: a\n      takeover: yes\n",
                 "t.yaml:3: key 'ingest.lectures[0]': source 'push' needs ingest.listen, "
                 "rtmp_listen or rtmps_listen");

    /* a lecture anyone could take: pushes on a listener other machines reach,
     * with nothing to check the pusher by; refused unless said so */
    expect_error("ingest:\n  listen: srt://0.0.0.0:9710\n  lectures:\n    - name: a\n"
                 "      publish_key: k\n    - name: b\n",
                 "t.yaml:6: key 'ingest.lectures[1]': lecture 'b' takes pushes on "
                 "srt://0.0.0.0:9710 (open to other machines) with no publish_key or "
                 "passphrase, so anyone could publish it: give it one, or set "
                 "ingest.allow_unkeyed_push");
    /* over RTMP a passphrase checks nothing (it is SRT's) */
    expect_error("ingest:\n  rtmp_listen: \"[::]:1935\"\n  lectures:\n    - name: a\n"
                 "      passphrase: ten-chars-or-more\n",
                 "t.yaml:4: key 'ingest.lectures[0]': lecture 'a' takes pushes on [::]:1935 "
                 "(open to other machines) with no publish_key, so anyone could publish it: "
                 "give it one, or set ingest.allow_unkeyed_push");
    {
        static const char *const ok[] = {
            /* loopback listeners; a keyed lecture; a pulled one; said so */
            "ingest:\n  listen: srt://127.0.0.1:9710\n  rtmp_listen: \"[::1]:1935\"\n"
            "  lectures: [{ name: a }]\n",
            "ingest:\n  listen: srt://0.0.0.0:9710\n  lectures: [{ name: a, passphrase: "
            "ten-chars-or-more }]\n",
            "ingest:\n  listen: srt://0.0.0.0:9710\n  lectures: [{ name: a, sources: [x.mp4] }]\n",
            "ingest:\n  allow_unkeyed_push: yes\n  listen: srt://0.0.0.0:9710\n"
            "  lectures: [{ name: a }]\n",
        };
        for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
            lr_config c;
            char err[512];

            assert_int_equal(lr_config_defaults(&c, lr_app_conf_sections), 0);
            if (lr_config_load_string(&c, ok[i], "ok.yaml", err, sizeof(err)) < 0)
                fail_msg("%s: %s", ok[i], err);
            lr_config_free(&c);
        }
    }

    /* the lectures are from an earlier file, the listener goes in this one */
    {
        lr_config c;
        char err[256];

        assert_int_equal(lr_config_defaults(&c, lr_app_conf_sections), 0);
        assert_int_equal(lr_config_load_string(&c, "ingest:\n  lectures: [{ name: a }]\n"
                                                    "  listen: srt://127.0.0.1:1\n", "a.yaml", err,
                                               sizeof(err)), 0);
        assert_int_equal(lr_config_load_string(&c, "lecture: x\n\ningest:\n  listen: ''\n",
                                               "b.yaml", err, sizeof(err)), AVERROR(EINVAL));
        assert_string_equal(err, "b.yaml:4: key 'ingest.listen': source 'push' of lecture 'a' "
                                 "needs ingest.listen, rtmp_listen or rtmps_listen");
        assert_string_equal(c.ingest.listen, "srt://127.0.0.1:1");
        assert_string_equal(c.lecture, "demo");
        lr_config_free(&c);
    }

    expect_error("ingest:\n  listen: udp://x:1\n",
                 "t.yaml:2: key 'ingest.listen': expected empty (no push listener) or "
                 "srt://host:port without '?options', got 'udp://x:1'");
    expect_error("ingest:\n  listen: srt://0.0.0.0:9710?latency=200\n",
                 "t.yaml:2: key 'ingest.listen': expected empty (no push listener) or "
                 "srt://host:port without '?options', got 'srt://0.0.0.0:9710?latency=200'");
    expect_error("ingest:\n  stall_ms: 60001\n",
                 "t.yaml:2: key 'ingest.stall_ms': expected an integer between 100 and 60000, "
                 "got '60001'");
    expect_error("ingest:\n  lectures: cs101\n",
                 "t.yaml:2: key 'ingest.lectures': expected a list of mappings, got 'cs101'");
    expect_error("ingest:\n  lectures: []\n",
                 "t.yaml:2: key 'ingest.lectures': expected 1 to 64 entries, got 0");
    len = (size_t)snprintf(yaml, sizeof(yaml), "ingest:\n  lectures:\n");
    for (int i = 0; i <= LR_MAX_LECTURES; i++)
        len += (size_t)snprintf(yaml + len, sizeof(yaml) - len, "    - { name: l%d, sources: "
                                "[x.mp4] }\n", i);
    assert_true(len < sizeof(yaml));
    expect_error(yaml, "t.yaml:3: key 'ingest.lectures': expected 1 to 64 entries, got 65");
}

/* The link layer's settings, field by field, against what a role would
 * give it (its passphrase each link gives itself: never kept). */
static void expect_link_settings(const lr_link_settings *want)
{
    lr_link_settings got = lr__link_settings();

    assert_int_equal(got.latency_rtt_factor, want->latency_rtt_factor);
    assert_int_equal(got.latency_floor_ms, want->latency_floor_ms);
    assert_int_equal(got.latency_ceiling_ms, want->latency_ceiling_ms);
    assert_int_equal(got.maxbw_kbps, want->maxbw_kbps);
    assert_int_equal(got.overhead_pct, want->overhead_pct);
    assert_int_equal(got.tlpktdrop, want->tlpktdrop);
    assert_int_equal(got.intensive_retransmit, want->intensive_retransmit);
    assert_int_equal(got.peer_idle_timeout_ms, want->peer_idle_timeout_ms);
    assert_int_equal(got.stats_interval_s, want->stats_interval_s);
    assert_null(got.passphrase);
}

/* Loading is a function of the file: the link layer keeps its settings (the
 * built-in ones, which are the config's defaults) until a role applies the
 * loaded ones at its start, as lr_*_start do with lr_link_configure. */
static void test_load_changes_nothing_else(void **state)
{
    static const lr_link_settings builtin = LR_LINK_SETTINGS_DEFAULTS;
    lr_config *c = *state;
    char err[256];

    expect_link_settings(&builtin);
    expect_link_settings(&c->link); /* the config's defaults are the link layer's */
    assert_int_equal(c->link.latency_ms, builtin.latency_ms);

    assert_int_equal(lr_config_load_file(c, CONFIGS "full.yaml", err, sizeof(err)), 0);
    assert_int_equal(c->link.stats_interval_s, 0);
    expect_link_settings(&builtin);
    /* a file that fails halfway, after its link section, neither */
    assert_int_equal(lr_config_load_string(c, "link: { latency_floor_ms: 300 }\nnope: 1\n",
                                           "f.yaml", err, sizeof(err)), AVERROR(EINVAL));
    expect_link_settings(&builtin);
    assert_int_equal(c->link.latency_floor_ms, 200);

    lr_link_configure(&c->link); /* what a role does at its start */
    expect_link_settings(&c->link);
    lr_link_configure(&builtin);
    expect_link_settings(&builtin);
}

/* A config knows only the sections it was made with: without the roles'
 * the shared keys still load, and a role's key is unknown. */
static void test_sections(void **state)
{
    const lr_conf_section *const ingest_only[] = { &lr_ingest_conf_section, NULL };
    lr_config c;
    char err[256];

    assert_int_equal(lr_config_defaults(&c, NULL), 0);
    assert_string_equal(c.lecture, "demo");
    assert_int_equal(c.link.latency_floor_ms, 120);
    assert_null(c.egress.http);
    assert_int_equal(c.transcode.nb_rungs, 0);
    assert_int_equal(lr_config_load_string(&c, "lecture: a\nlink: { overhead_pct: 30 }\n",
                                           "s.yaml", err, sizeof(err)), 0);
    assert_int_equal(c.link.overhead_pct, 30);
    assert_int_equal(lr_config_load_string(&c, "egress:\n  http: x:1\n", "s.yaml", err,
                                           sizeof(err)), AVERROR(EINVAL));
    assert_string_equal(err, "s.yaml:1: unknown key 'egress'");
    lr_config_free(&c);

    assert_int_equal(lr_config_defaults(&c, ingest_only), 0);
    assert_string_equal(c.ingest.links[0], "srt://127.0.0.1:9000");
    assert_null(c.transcode.listen);
    assert_int_equal(lr_config_load_string(&c, "ingest: { stall_ms: 200 }\ntranscode: ~\n",
                                           "s.yaml", err, sizeof(err)), AVERROR(EINVAL));
    assert_string_equal(err, "s.yaml:2: unknown key 'transcode'");
    assert_int_equal(c.ingest.stall_ms, 1000);
    lr_config_free(&c);
}

/* What a reload changed: each key once, lists as one key, nothing when the
 * same file is read twice. */
static void collect_key(void *opaque, const char *key)
{
    char *keys = opaque;
    size_t n = strlen(keys);
    snprintf(keys + n, 512 - n, "%s ", key);
}

static void test_diff(void **state)
{
    static const char a[] =
        "lecture: demo\n"
        "ingest:\n  listen: srt://127.0.0.1:9000\n"
        "  lectures:\n    - {name: cs101, publish_key: k1}\n    - {name: ma201}\n"
        "egress:\n  token_secrets: [0123456789abcdef0123]\n  listen: srt://127.0.0.1:9001\n";
    static const char b[] =
        "lecture: demo\n"
        "ingest:\n  listen: srt://127.0.0.1:9000\n"
        "  lectures:\n    - {name: cs101, publish_key: k2}\n    - {name: ma201}\n"
        "egress:\n  token_secrets: [abcdefabcdefabcdefab, 0123456789abcdef0123]\n"
        "  listen: srt://127.0.0.1:9002\n"
        "link:\n  latency_ms: 400\n";
    lr_config ca, cb, cc;
    char err[256], keys[512] = "";

    (void)state;
    assert_int_equal(lr_config_defaults(&ca, lr_app_conf_sections), 0);
    assert_int_equal(lr_config_defaults(&cb, lr_app_conf_sections), 0);
    assert_int_equal(lr_config_defaults(&cc, lr_app_conf_sections), 0);
    assert_int_equal(lr_config_load_string(&ca, a, "a", err, sizeof(err)), 0);
    assert_int_equal(lr_config_load_string(&cb, b, "b", err, sizeof(err)), 0);
    assert_int_equal(lr_config_load_string(&cc, a, "a", err, sizeof(err)), 0);
    assert_int_equal(lr_config_diff(&ca, &cc, collect_key, keys), 0);
    assert_string_equal(keys, "");
    assert_int_equal(lr_config_diff(&ca, &cb, collect_key, keys), 4);
    assert_string_equal(keys, "link.latency_ms ingest.lectures egress.listen egress.token_secrets ");
    lr_config_free(&ca);
    lr_config_free(&cb);
    lr_config_free(&cc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test(test_diff),
        cmocka_unit_test_setup_teardown(test_full_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overrides, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rungs_replace, setup, teardown),
        cmocka_unit_test(test_unknown_key),
        cmocka_unit_test(test_wrong_type),
        cmocka_unit_test(test_out_of_range),
        cmocka_unit_test(test_bad_bool),
        cmocka_unit_test(test_bad_strings),
        cmocka_unit_test(test_yaml_syntax),
        cmocka_unit_test(test_section_scalar),
        cmocka_unit_test(test_rung_errors),
        cmocka_unit_test(test_duplicate_key),
        cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_line_numbers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_relative_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secrets_not_echoed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_memory, setup, teardown),
        cmocka_unit_test(test_samples),
        cmocka_unit_test_setup_teardown(test_ingest_lectures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ingest_defaults, setup, teardown),
        cmocka_unit_test(test_ingest_lecture_errors),
        cmocka_unit_test_setup_teardown(test_load_changes_nothing_else, setup, teardown),
        cmocka_unit_test(test_sections),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
