/* app/main.c — the lecture-relay command line: picks the subcommand, loads
 * the configuration (exit 2 on a bad file), sets the log level from it and
 * hands over to the roles, each of which applies its own settings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <h2o/version.h>
#include <libavformat/avformat.h>
#include <libavutil/bprint.h>
#include <openssl/crypto.h>
#include <srt/srt.h>

#include "common/config.h"
#include "common/datadir.h"
#include "common/heap.h"
#include "common/link.h"
#include "common/log.h"
#include "conf.h"
#include "common/streamid.h"
#include "egress/token.h"
#include "egress/url_sign.h"
#include "lr_build_config.h"
#include "roles.h"
#include "top.h"
#include "transcode/transcode.h"

static const struct command {
    const char *name;
    int         roles;
    const char *summary;
} commands[] = {
    { "run",       LR_ROLE_INGEST | LR_ROLE_TRANSCODE | LR_ROLE_EGRESS,
      "all three roles in one process (the demo: the sample lecture, looped live)" },
    { "ingest",    LR_ROLE_INGEST,
      "take the lecture in from ingest.source and send it to ingest.link" },
    { "transcode", LR_ROLE_TRANSCODE,
      "receive lectures on transcode.listen, send the ladder to transcode.link" },
    { "egress",    LR_ROLE_EGRESS,
      "receive ladders on egress.listen, serve HLS on egress.http" },
    { "check-config", 0, "load --config FILE, report the first error, exit 0 or 2" },
    { "transcode-file", 0,
      "transcode INPUT to OUTPUT.ts (a program per rung) as fast as it goes" },
};

static void usage(FILE *f)
{
    fprintf(f, "lecture-relay %s: live lectures relayed across a lossy border as HLS\n\n"
               "usage: lecture-relay [COMMAND] [--config FILE]\n\ncommands:\n", LR_VERSION);
    for (size_t i = 0; i < FF_ARRAY_ELEMS(commands); i++)
        fprintf(f, "  %-13s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nWith no command, 'run' with the built-in defaults.\n"
               "transcode-file takes INPUT OUTPUT after the options.\n"
               "sign-url --lecture L --expires 2h [--ip A] [--base URL] mints a signed URL.\n"
               "top [--interval S] [--once] URL... watches every lecture across the roles\n"
               "  whose metrics addresses are given (http://127.0.0.1:8080 for the demo).\n"
               "'lecture-relay COMMAND --help' tells more; docs/configuration.md lists every key.\n");
}

/* The versions a bug report needs: ours, and those of the libraries as
 * loaded (libh2o has no run-time version: the one it was built against). */
static void print_version(void)
{
    unsigned f = avformat_version(), s = srt_getversion();

    printf("lecture-relay %s\n", LR_VERSION);
    printf("FFmpeg %s (libavformat %u.%u.%u)\n", av_version_info(), f >> 16, (f >> 8) & 0xff,
           f & 0xff);
    printf("libsrt %u.%u.%u\n", s >> 16, (s >> 8) & 0xff, s & 0xff);
    printf("%s\n", OpenSSL_version(OPENSSL_VERSION));
    printf("libh2o %s (built with)\n", H2O_VERSION);
    printf("data folder %s\n", lr_datadir());
}

/* A file with passphrases, keys or token secrets that every user of the
 * machine can read is worth a warning (docs/deploy.md: chmod 640). */
static void warn_if_secrets_readable(const char *path, const lr_config *c)
{
    struct stat st;
    int secrets = c->link.passphrase[0] || c->egress.nb_token_secrets > 0;

    for (int i = 0; i < c->ingest.nb_lectures; i++)
        secrets |= c->ingest.lectures[i].passphrase[0] || c->ingest.lectures[i].publish_key[0];
    if (secrets && stat(path, &st) == 0 && (st.st_mode & S_IROTH))
        lr_warn("%s holds secrets and every user of this machine can read it: chmod o-r %s",
                path, path);
}

static void command_usage(const struct command *cmd)
{
    printf("usage: lecture-relay %s [--config FILE]\n\n%s.\n\n", cmd->name, cmd->summary);
    if (!strcmp(cmd->name, "run"))
        printf("Without --config it relays %s/samples/lecture.mp4 as lecture 'demo':\n"
               "ingest -> srt://127.0.0.1:9000 -> transcode -> srt://127.0.0.1:9001 -> egress,\n"
               "and prints the player's URL (http://127.0.0.1:8080/watch/demo).\n", lr_datadir());
    else if (!strcmp(cmd->name, "ingest"))
        printf("Keys: lecture, ingest.source (file or URL), ingest.loop, ingest.realtime,\n"
               "ingest.link (srt://TRANSCODER:PORT, or a list of up to 4), link.latency_ms, link.passphrase.\n"
               "Example: samples/ingest.yaml\n");
    else if (!strcmp(cmd->name, "transcode"))
        printf("Keys: transcode.listen, transcode.link (srt://EGRESS:PORT, or a list of up to 4),\n"
               "transcode.segment_duration, transcode.preset, transcode.rungs, link.*.\n"
               "Example: samples/transcode.yaml\n");
    else if (!strcmp(cmd->name, "egress"))
        printf("Keys: egress.listen, egress.http (HOST:PORT), egress.playlist_segments,\n"
               "egress.keep_segments, egress.assets_dir, link.*.\n"
               "Example: samples/egress.yaml\n");
    else if (!strcmp(cmd->name, "transcode-file"))
        printf("usage: lecture-relay transcode-file [--config FILE] INPUT OUTPUT.ts\n"
               "The transcode section's ladder, written as one MPEG-TS file with a program\n"
               "per rung; logs frames per second and where the CPU went (bench/transcode).\n");
    else
        printf("Exit code 0: the file is good; 2: it is not (the message names line and key).\n");
}

/* ---- sign-url: mints a signed watch URL for the university portal ------- */

/* "2h", "30m", "45s", "1d" or plain seconds; -1 if malformed. */
static long long parse_duration(const char *s)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || v <= 0)
        return -1;
    if (!*end || !strcmp(end, "s"))
        return v;
    if (!strcmp(end, "m"))
        return v * 60;
    if (!strcmp(end, "h"))
        return v * 3600;
    if (!strcmp(end, "d"))
        return v * 86400;
    return -1;
}

/* egress.url_signing cdn_a or nginx: the page and the master, each with the
 * signature of its own path (egress/url_sign.h). */
static int print_query_signed(const lr_egress_conf *e, int kind, const char *lecture,
                              long long expires, const char *ip, const char *uid, int bl,
                              const char *base)
{
    lr_url_signer s = { .kind = kind, .key = e->token_secrets[0], .param = e->url_signing_param,
                        .expires = expires };
    static const char *const forms[][2] = { { "watch", "/watch/%s" },
                                            { "master", "/live/%s/master.m3u8" } };

    if (*ip) {
        fprintf(stderr, "lecture-relay: sign-url: --ip needs egress.url_signing: path (a "
                        "signature in the query is checked by a cache that can't bind it)\n");
        return 2;
    }
    if (uid && (kind != LR_URL_SIGN_CDN_A || !lr_url_sign_uid_valid(uid))) {
        fprintf(stderr, "lecture-relay: sign-url: --uid is cdn_a's, 1-%d letters and digits\n",
                LR_URL_SIGN_UID_MAX);
        return 2;
    }
    snprintf(s.uid, sizeof(s.uid), "%s", uid ? uid : "0");
    if (!lr_lecture_name_valid(lecture)) {
        fprintf(stderr, "lecture-relay: sign-url: bad --lecture\n");
        return 2;
    }
    for (int i = 0; i < 2; i++) {
        char path[LR_LECTURE_NAME_MAX + 32];
        AVBPrint q;
        snprintf(path, sizeof(path), forms[i][1], lecture);
        av_bprint_init(&q, 0, AV_BPRINT_SIZE_AUTOMATIC);
        if (lr_url_sign(&s, path, strlen(path), NULL, &q) < 0 || !av_bprint_is_complete(&q)) {
            av_bprint_finalize(&q, NULL);
            fprintf(stderr, "lecture-relay: sign-url: could not sign %s\n", path);
            return 1;
        }
        printf("%s: %.*s%s?%s\n", forms[i][0], bl, base, path, q.str);
        av_bprint_finalize(&q, NULL);
    }
    return 0;
}

static int sign_url_main(int argc, char **argv)
{
    const char *config_path = NULL, *lecture = NULL, *expires = NULL, *ip = "", *base = NULL;
    const char *uid = NULL;
    char tok[LR_TOKEN_MAX_LEN + 1], err[512], def_base[300];
    lr_config conf = { 0 };
    int ret = 2;

    for (int i = 2; i < argc; i++) {
        const char **dst = !strcmp(argv[i], "--config") || !strcmp(argv[i], "-c") ? &config_path
                         : !strcmp(argv[i], "--lecture") ? &lecture
                         : !strcmp(argv[i], "--expires") ? &expires
                         : !strcmp(argv[i], "--ip") ? &ip
                         : !strcmp(argv[i], "--uid") ? &uid
                         : !strcmp(argv[i], "--base") ? &base : NULL;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: lecture-relay sign-url --config FILE --lecture L --expires 2h "
                   "[--ip ADDR] [--uid ID] [--base https://host]\n\n"
                   "Prints the lecture's signed player page and master playlist URLs, valid\n"
                   "until the expiry (s, m, h, d suffixes), signed with the first of\n"
                   "egress.token_secrets the way egress.url_signing says: path (a\n"
                   "/t/<token>/ prefix; --ip binds it to one viewer address), cdn_a\n"
                   "(?auth_key=..., --uid names the student) or nginx (?md5=...&expires=...).\n");
            return 0;
        }
        if (!dst || i + 1 >= argc) {
            fprintf(stderr, "lecture-relay: sign-url: unexpected argument '%s' (try --help)\n",
                    argv[i]);
            return 2;
        }
        *dst = argv[++i];
    }
    long long ttl = expires ? parse_duration(expires) : -1;
    if (!lecture || ttl < 0) {
        fprintf(stderr, "lecture-relay: sign-url needs --lecture NAME and --expires DURATION "
                        "(e.g. 2h)\n");
        return 2;
    }
    if (lr_config_defaults(&conf, lr_app_conf_sections) < 0)
        return 1;
    if (config_path && lr_config_load_file(&conf, config_path, err, sizeof(err)) < 0) {
        fprintf(stderr, "lecture-relay: bad configuration: %s\n", err);
        goto end;
    }
    if (conf.egress.nb_token_secrets < 1) {
        fprintf(stderr, "lecture-relay: sign-url: the configuration has no egress.token_secrets\n");
        goto end;
    }
    if (!base) {
        snprintf(def_base, sizeof(def_base), "http://%s", conf.egress.http);
        base = def_base;
    }
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        bl--;
    int kind = lr_url_sign_kind_parse(conf.egress.url_signing);
    if (kind != LR_URL_SIGN_PATH) {  /* signed in the query, each path its own */
        ret = print_query_signed(&conf.egress, kind, lecture, (long long)time(NULL) + ttl, ip, uid,
                                 (int)bl, base);
        goto end;
    }
    if (lr_token_sign(conf.egress.token_secrets[0], lecture, (long long)time(NULL) + ttl, ip,
                      tok, sizeof(tok)) < 0) {
        fprintf(stderr, "lecture-relay: sign-url: bad --lecture or --ip\n");
        goto end;
    }
    printf("watch: %.*s/t/%s/watch/%s\n", (int)bl, base, tok, lecture);
    printf("master: %.*s/t/%s/live/%s/master.m3u8\n", (int)bl, base, tok, lecture);
    ret = 0;
end:
    lr_config_free(&conf);
    return ret;
}

int main(int argc, char **argv)
{
    const struct command *cmd = &commands[0];
    const char *config_path = NULL, *files[2] = { NULL, NULL };
    int nb_files = 0;
    enum lr_log_level level;
    lr_config conf = { 0 };
    char err[512];
    sigset_t sigs;
    int i = 1, ret;

    if (argc > 1 && !strcmp(argv[1], "sign-url"))
        return sign_url_main(argc, argv);
    if (argc > 1 && !strcmp(argv[1], "top"))
        return lr_top_main(argc, argv);
    if (argc > 1 && argv[1][0] != '-') {
        cmd = NULL;
        for (size_t k = 0; k < FF_ARRAY_ELEMS(commands); k++)
            if (!strcmp(argv[1], commands[k].name))
                cmd = &commands[k];
        if (!cmd) {
            fprintf(stderr, "lecture-relay: unknown command '%s'\n\n", argv[1]);
            usage(stderr);
            return 2;
        }
        i = 2;
    }
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            if (i == 1)
                usage(stdout);
            else
                command_usage(cmd);
            return 0;
        } else if (!strcmp(argv[i], "--version")) {
            print_version();
            return 0;
        } else if ((!strcmp(argv[i], "--config") || !strcmp(argv[i], "-c")) && i + 1 < argc) {
            config_path = argv[++i];
        } else if (!strcmp(cmd->name, "transcode-file") && argv[i][0] != '-' && nb_files < 2) {
            files[nb_files++] = argv[i];
        } else {
            fprintf(stderr, "lecture-relay: unexpected argument '%s' (try --help)\n", argv[i]);
            return 2;
        }
    }

    if ((ret = lr_config_defaults(&conf, lr_app_conf_sections)) < 0) {
        fprintf(stderr, "lecture-relay: out of memory\n");
        return 1;
    }
    if (config_path && lr_config_load_file(&conf, config_path, err, sizeof(err)) < 0) {
        fprintf(stderr, "lecture-relay: bad configuration: %s\n", err);
        lr_config_free(&conf);
        return 2;
    }
    if (config_path)
        warn_if_secrets_readable(config_path, &conf);
    if (!strcmp(cmd->name, "transcode-file")) {
        if (nb_files != 2) {
            fprintf(stderr, "lecture-relay: transcode-file needs INPUT and OUTPUT\n");
            lr_config_free(&conf);
            return 2;
        }
        if (lr_log_parse_level(conf.log_level, &level) == 0)
            lr_log_set_level(level);
        lr_log_route_libraries();
        ret = lr_transcode_file(&conf, files[0], files[1]) < 0 ? 1 : 0;
        lr_config_free(&conf);
        return ret;
    }
    if (!cmd->roles) {
        if (!config_path) {
            fprintf(stderr, "lecture-relay: check-config needs --config FILE\n");
            ret = 2;
        } else {
            printf("%s: ok\n", config_path);
            ret = 0;
        }
        lr_config_free(&conf);
        return ret;
    }
    if (lr_log_parse_level(conf.log_level, &level) == 0)
        lr_log_set_level(level);
    lr_log_route_libraries();
    lr_roles_block_signals(&sigs);
    lr_heap_setup();
    if (lr_link_global_init() < 0) {
        lr_config_free(&conf);
        return 1;
    }
    ret = lr_roles_run(&conf, config_path, cmd->roles);
    lr_link_global_uninit();
    lr_config_free(&conf);
    return ret;
}
