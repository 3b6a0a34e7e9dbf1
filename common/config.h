/* common/config.h — the one configuration file of every role (YAML), parsed
 * once into typed structs through option tables (common/conf_table.h): the
 * shared keys' in common/config.c, each role's section beside the role,
 * handed in by app/. Defaults run the demo with no file at all. Loading
 * changes nothing but the struct it fills; each role applies what it needs
 * at its start. Called by app/main.c; roles read the structs only. */
#ifndef LR_COMMON_CONFIG_H
#define LR_COMMON_CONFIG_H

#include <stddef.h>

#include "link_settings.h"

#define LR_MAX_RUNGS 8

typedef struct lr_rung_conf {
    char *name;        /* "720p": names the rendition in URLs and playlists */
    int   width;       /* upper bound; the rung never exceeds the source */
    int   height;
    int   bitrate_kbps; /* the cap: maxrate in capped CRF, the rate in CBR */
    char *profile;     /* "" (auto: high above 480 lines, else main), baseline, main, high */
    double fps;        /* frame-rate cap; 0: the source's own (never above it) */
    double crf;        /* capped CRF of this rung; 0: transcode.crf */
} lr_rung_conf;

#define LR_MAX_TOKEN_SECRETS 4
#define LR_MAX_LECTURES 64
#define LR_MAX_SOURCES  4
#define LR_MAX_LINKS    4   /* egress nodes one transcoder feeds (transcode.link),
                                transcoders one ingest feeds (ingest.link) */

typedef struct lr_lecture_conf {
    char *name;          /* the lecture (lr_lecture_name_valid) */
    char *passphrase;    /* SRT passphrase of this lecture's push: "" none, else 10..79 chars */
    char *publish_key;   /* "" none; else 1..128 printable chars without ' ' ',' '=',
                            given by the pusher as s=<key> in the stream id */
    int   takeover;      /* a second publisher replaces the live one (else it is refused) */
    int   switch_back;   /* a recovered earlier source takes the lecture back at a keyframe */
    int   nb_sources;    /* 1..LR_MAX_SOURCES; an omitted list is ["push"] */
    char *sources[LR_MAX_SOURCES]; /* in order of preference; "push" (at most once, needs
                                      ingest.listen), or a URL, or a file path (a relative
                                      one made relative to the file's folder) */
} lr_lecture_conf;

typedef struct lr_ingest_conf {
    char *source;      /* file path or URL libavformat opens (the demo's lecture) */
    int   loop;        /* files: start again at the end, timestamps keep rising;
                          0: play once, the end ends the lecture (docs/ingest.md) */
    int   realtime;    /* files: pace reading at the media's own speed */
    int   nb_links;    /* 1..LR_MAX_LINKS */
    char *links[LR_MAX_LINKS]; /* srt://host:port of each transcoder the ingest calls
                                  (key ingest.link: one URL, or a list for redundant
                                  transcoders) */
    char *listen;      /* srt://host:port of the lecturers' SRT push; "" none */
    int   stall_ms;    /* 100..60000: a source silent this long is failed over */
    int   nb_lectures; /* 0: one lecture, `lecture`, read from `source` */
    lr_lecture_conf lectures[LR_MAX_LECTURES];
    char *rtmp_listen;  /* host:port of the lecturers' RTMP push; "" none */
    char *rtmps_listen; /* host:port of RTMP over TLS; "" none */
    char *rtmps_cert;   /* PEM certificate (chain) for rtmps_listen */
    char *rtmps_key;    /* its private key */
    int   allow_unkeyed_push; /* 1: a lecture without publish_key or passphrase may
                                 take pushes on a listener other machines reach */
} lr_ingest_conf;

typedef struct lr_transcode_conf {
    char  *listen;            /* srt://host:port where ingest links arrive */
    int    nb_links;          /* 1..LR_MAX_LINKS */
    char  *links[LR_MAX_LINKS]; /* srt://host:port of each egress the transcoder calls
                                   (key transcode.link: one URL or a list) */
    double segment_duration;  /* seconds between aligned keyframes */
    char  *preset;            /* x264 preset */
    char  *rate_control;      /* "crf": capped CRF (crf, maxrate = rung bitrate);
                                 "cbr": strict CBR (nal-hrd=cbr) at the rung bitrate */
    double crf;               /* x264 CRF of every rung in capped CRF */
    int    lookahead_frames;  /* x264 rc-lookahead: frames each encoder holds */
    int    audio_bitrate_kbps;
    int    audio_only;        /* also an audio-only rendition ("audio", the shared track) */
    int    adaptive_shedding; /* drop top rungs from a link whose path can't carry them */
    int    passthrough;       /* an H.264 source the top rung's size is that rung, as is;
                                 its IDRs set every rung's keyframes (pipeline.c) */
    int    nb_rungs;
    lr_rung_conf rungs[LR_MAX_RUNGS];
} lr_transcode_conf;

#define LR_MAX_PEERS    7   /* other egress nodes (steering pathways) */
#define LR_MAX_PREFIXES 32  /* client address prefixes with preferred pathways */
#define LR_MAX_UNCAPPED 8   /* addresses free of the per-address cap (egress.uncapped) */
#define LR_MAX_STATUS_UPSTREAMS 8 /* status_upstreams (common/status.h's limit too) */

typedef struct lr_peer_conf {
    char *pathway;  /* its PATHWAY-ID */
    char *url;      /* its base URL as students reach it: https://sh.example.cn */
} lr_peer_conf;

typedef struct lr_prefix_conf {
    char *prefix;   /* "10.1.0.0/16", "2001:db8::/32" */
    int   nb_pathways;
    char *pathways[LR_MAX_PEERS + 1]; /* most preferred first */
} lr_prefix_conf;

/* HLS Content Steering across egress nodes (egress/steering.h, docs/regions.md). */
typedef struct lr_steering_conf {
    char *pathway;          /* this node's PATHWAY-ID; "" no steering */
    int   ttl;              /* seconds between a player's steering manifest reloads */
    int   viewer_capacity;  /* more viewers than this and the node moves down; 0 none */
    int   nb_peers;
    lr_peer_conf peers[LR_MAX_PEERS];
    int   nb_prefixes;
    lr_prefix_conf prefixes[LR_MAX_PREFIXES];
} lr_steering_conf;

typedef struct lr_egress_conf {
    char  *listen;            /* srt://host:port where ladder links arrive */
    char  *http;              /* host:port of the HTTP server */
    int    playlist_segments; /* segments listed in a live media playlist */
    int    keep_segments;     /* segments kept in memory per rendition */
    int    feeds_per_lecture; /* links one lecture may arrive on at once (redundant
                                 feeds, egress/feeds.h); 1..LR_MAX_FEEDS */
    char  *assets_dir;        /* folder holding hls.min.js for the player page */
    /* packaging (egress/packager.c, docs/recordings.md) */
    char  *segment_format;    /* "fmp4" (CMAF, default) or "ts" */
    double part_duration;     /* LL-HLS part target, seconds; 0: no parts */
    double dvr_window;        /* seconds a live playlist reaches back */
    double recording_grace;   /* a link gone this long ends the lecture's recording */
    double retention_days;    /* finished recordings older than this go; 0 keep */
    int    recordings_quota_mb; /* recordings_dir kept under this; 0 no limit */
    double recordings_min_free_pct; /* its file system kept this free; 0 no floor */
    /* HTTP side (egress/http*.c, docs/http.md) */
    int    http_threads;      /* 1..64 event loops sharing the port (SO_REUSEPORT) */
    char  *tls_listen;        /* host:port of HTTPS (h2 + http/1.1 by ALPN); "" none */
    char  *tls_cert;          /* PEM certificate chain for tls_listen (reloaded on SIGHUP) */
    char  *tls_key;           /* its private key */
    char  *cors_origins;      /* Access-Control-Allow-Origin: "*" or space-separated origins */
    int    require_token;     /* /live, /vod, /watch only signed (/t/<token>/ or the query) */
    char  *url_signing;       /* also accepted in the query, and written into playlists:
                                 "path" (none), "cdn_a" or "nginx" (egress/url_sign.h) */
    char  *url_signing_param; /* cdn_a's query parameter ("auth_key") */
    int    nb_token_secrets;  /* 0..LR_MAX_TOKEN_SECRETS; the first one signs */
    char  *token_secrets[LR_MAX_TOKEN_SECRETS];
    int    max_conns_per_ip;  /* 0: no cap */
    int    nb_uncapped;       /* 1..LR_MAX_UNCAPPED */
    char  *uncapped[LR_MAX_UNCAPPED]; /* CIDRs (or "loopback") free of max_conns_per_ip */
    int    max_conns;         /* connections at once, every address; 0: no cap */
    int    max_parked;        /* LL-HLS requests parked at once; 0: no cap */
    char  *metrics_token;     /* "" none: /metrics for loopback clients only; else also
                                 for "Authorization: Bearer <it>" */
    char  *recordings_dir;    /* <dir>/<lecture>/<id>/ served at /vod/; "" none */
    lr_steering_conf steering;
} lr_egress_conf;

/* A role's section of the file (common/conf_table.h). */
typedef struct lr_conf_section lr_conf_section;

typedef struct lr_config {
    const lr_conf_section *const *sections; /* the roles' sections it has (lr_config_defaults) */
    char *log_level;
    char *lecture;            /* the lecture the demo and single-source roles carry */
    char *metrics;            /* host:port of a /metrics server of its own; "" none */
    int   nb_status_upstreams;  /* other processes' roles the status page shows too */
    char *status_upstreams[LR_MAX_STATUS_UPSTREAMS]; /* their metrics addresses (URLs) */
    lr_link_settings  link;   /* every link's (common/link_settings.h) */
    lr_ingest_conf    ingest;
    lr_transcode_conf transcode;
    lr_egress_conf    egress;
} lr_config;

/* Fills every field with its default (strings are heap copies): the shared
 * keys' and those of sections, a NULL-terminated list of the roles' sections
 * the file may have (lecture-relay's: app/conf.h). A role not in the list
 * keeps its struct zeroed, and its key in a file is an unknown key. c keeps
 * the list, which must outlive it. */
int  lr_config_defaults(lr_config *c, const lr_conf_section *const *sections);

/* Overlays a YAML file on c (call lr_config_defaults first). Writes nothing
 * but c and err: no global, no other module's state.
 * On error returns AVERROR(EINVAL) (or ENOENT/ENOMEM), leaves c as it was and
 * writes a message "FILE:LINE: key 'section.key': what is wrong" into err. */
int  lr_config_load_file(lr_config *c, const char *path, char *err, size_t err_size);
/* Same from a string; name stands for FILE in messages. */
int  lr_config_load_string(lr_config *c, const char *yaml, const char *name,
                           char *err, size_t err_size);

/* What a reload changes: calls changed with each key whose value differs
 * between a and b (both made by lr_config_defaults with the same sections),
 * a top-level key or a role's ("egress.token_secrets"; a list or a
 * subsection as one key: "ingest.lectures"). Returns how many. */
typedef void lr_config_changed_fn(void *opaque, const char *key);
int  lr_config_diff(const lr_config *a, const lr_config *b, lr_config_changed_fn *changed,
                    void *opaque);

/* Frees every string; leaves c zeroed. Accepts a half-filled config. */
void lr_config_free(lr_config *c);

#endif
