/* egress/player_page.c — the player page template: a <video> element driven by
 * hls.js from /assets/ in low-latency mode (native HLS where hls.js is
 * unsupported: Safari), a quality menu, the live latency and current rung,
 * and the lecture's recordings, playable in the same <video>. Rendered per
 * request by egress/http_pages.c for /watch/<lecture> and /t/<token>/watch/<lecture>. */
#include "player_page.h"

#include <string.h>

#include <libavutil/bprint.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "common/streamid.h"

/* Only validated names ([A-Za-z0-9_-]) and base64url tokens are substituted
 * for %1$s (lecture), %2$s (prefix) and %4$s (the live master's signed
 * query: [A-Za-z0-9_=&?-]), so they need no escaping in the JavaScript
 * string literals they go in; %3$s is http_pages.c's recordings list, built
 * from validated names too; %5$s is the response's CSP nonce (base64). */
static const char page_template[] =
    "<!DOCTYPE html>\n"
    "<html lang=\"en\">\n"
    "<head>\n"
    "<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>%1$s - live lecture</title>\n"
    "<style nonce=\"%5$s\">\n"
    "body{margin:0;background:#111;color:#eee;font-family:sans-serif;font-size:16px}\n"
    "h1{font-size:1.1em;margin:.5em 1em}\n"
    "video{display:block;width:100%%;max-height:80vh;background:#000}\n"
    "#bar{display:flex;flex-wrap:wrap;gap:.5em 1.5em;align-items:center;margin:.5em 1em}\n"
    "select{font-size:1em;padding:.2em}\n"
    "#status{margin:.5em 1em;color:#f88}\n"
    "a{color:#9cf}li{margin:.4em 0}\n"
    "h2{font-size:1em;margin:.5em 1em}\n"
    "</style>\n"
    "</head>\n"
    "<body>\n"
    "<h1>%1$s</h1>\n"
    "<video id=\"video\" controls muted autoplay playsinline></video>\n"
    "<div id=\"bar\">\n"
    "<label>Quality <select id=\"quality\"><option value=\"-1\">Auto</option></select></label>\n"
    "<span>Rung: <b id=\"rung\">-</b></span>\n"
    "<span>Latency: <b id=\"latency\">-</b></span>\n"
    "<span id=\"regionbox\" hidden>Region: <b id=\"region\">-</b></span>\n"
    "<a href=\"#\" id=\"golive\">Live</a>\n"
    "</div>\n"
    "<div id=\"status\"></div>\n"
    "<h2>Recordings</h2>\n"
    "<ul id=\"recordings\">\n%3$s</ul>\n"
    "<script src=\"/assets/hls.min.js\"></script>\n"
    "<script src=\"/assets/" LR_PLAYER_CONFIG_NAME "\"></script>\n"
    "<script nonce=\"%5$s\">\n"
    "(function () {\n"
    "  var live = '%2$s/live/%1$s/master.m3u8%4$s';\n"
    "  var video = document.getElementById('video');\n"
    "  var status = document.getElementById('status');\n"
    "  var quality = document.getElementById('quality');\n"
    "  var rung = document.getElementById('rung');\n"
    "  var latency = document.getElementById('latency');\n"
    "  window.hlsFatalError = null;\n"
    "  window.hls = null;\n"
    "  function play() {\n"
    "    var p = video.play();\n"
    "    if (p && p.catch) p.catch(function () {});\n"
    "  }\n"
    "  function levelName(l) {\n"
    "    return l ? (l.height ? l.height + 'p' : (l.name || 'audio')) : '-';\n"
    "  }\n"
    "  function showRegion(l) {\n"
    "    /* Content Steering: the pathway (egress region) serving this player */\n"
    "    var id = l && l.pathwayId && l.pathwayId !== '.' ? l.pathwayId : null;\n"
    "    document.getElementById('regionbox').hidden = !id;\n"
    "    document.getElementById('region').textContent = id || '-';\n"
    "    window.lrRegion = id;\n"
    "  }\n"
    "  function load(src) {\n"
    "    window.hlsFatalError = null;\n"
    "    status.textContent = '';\n"
    "    if (window.hls) { window.hls.destroy(); window.hls = null; }\n"
    "    if (window.Hls && Hls.isSupported()) {\n"
    "      var hls = new Hls(Object.assign({}, window.lrHlsConfig));\n"
    "      window.hls = hls;\n"
    "      hls.on(Hls.Events.ERROR, function (event, data) {\n"
    "        if (data && data.fatal) {\n"
    "          window.hlsFatalError = String(data.details || data.type || 'fatal');\n"
    "          status.textContent = 'Playback error: ' + window.hlsFatalError;\n"
    "        }\n"
    "      });\n"
    "      hls.on(Hls.Events.MANIFEST_PARSED, function () {\n"
    "        quality.length = 1;\n"
    "        hls.levels.forEach(function (l, i) {\n"
    "          var o = document.createElement('option');\n"
    "          o.value = i; o.textContent = levelName(l);\n"
    "          quality.appendChild(o);\n"
    "        });\n"
    "        play();\n"
    "      });\n"
    "      hls.on(Hls.Events.LEVEL_SWITCHED, function (e, d) {\n"
    "        var l = hls.levels[d.level];\n"
    "        rung.textContent = levelName(l);\n"
    "        showRegion(l);\n"
    "      });\n"
    "      hls.on(Hls.Events.LEVELS_UPDATED, function () {\n"
    "        showRegion(hls.levels[hls.currentLevel]);\n"
    "      });\n"
    "      hls.loadSource(src);\n"
    "      hls.attachMedia(video);\n"
    "      if (window.lrWatchdogTimer) clearInterval(window.lrWatchdogTimer);\n"
    "      window.lrWatchdogTimer = window.lrWatchdog(hls, video);\n"
    "    } else if (video.canPlayType('application/vnd.apple.mpegurl')) {\n"
    "      video.src = src;\n"
    "      video.addEventListener('loadedmetadata', play);\n"
    "      video.addEventListener('error', function () {\n"
    "        window.hlsFatalError = 'native playback error';\n"
    "        status.textContent = 'Playback error';\n"
    "      });\n"
    "    } else {\n"
    "      window.hlsFatalError = 'HLS is not supported by this browser';\n"
    "      status.textContent = window.hlsFatalError;\n"
    "    }\n"
    "  }\n"
    "  quality.addEventListener('change', function () {\n"
    "    if (window.hls) window.lrChooseLevel(window.hls, parseInt(quality.value, 10));\n"
    "  });\n"
    "  setInterval(function () {\n"
    "    var h = window.hls;\n"
    "    latency.textContent = h && isFinite(h.latency) && h.latency > 0 ?\n"
    "      h.latency.toFixed(1) + ' s' : '-';\n"
    "  }, 1000);\n"
    "  document.getElementById('golive').addEventListener('click', function (e) {\n"
    "    e.preventDefault(); load(live);\n"
    "  });\n"
    "  document.getElementById('recordings').addEventListener('click', function (e) {\n"
    "    var a = e.target.closest('a[data-src]');\n"
    "    if (!a) return;\n"
    "    e.preventDefault(); load(a.getAttribute('data-src'));\n"
    "  });\n"
    "  var m = /[?&]rec=([0-9]{8}T[0-9]{6}Z)/.exec(location.search);\n"
    "  var rec = m && document.querySelector('#recordings a[data-src*=\"/' + m[1] + '/\"]');\n"
    "  load(rec ? rec.getAttribute('data-src') :\n"
    "       m ? '%2$s/vod/%1$s/' + m[1] + '/master.m3u8' : live);\n"
    "})();\n"
    "</script>\n"
    "</body>\n"
    "</html>\n";

/* hls.js settings, served as /assets/<LR_PLAYER_CONFIG_NAME> so that the
 * browser tests and bench/latency run the player page's own settings.
 * - Catch-up: a player joins at the last independent part, up to a segment
 *   behind the edge, and hls.js stays there unless it may play faster; at
 *   up to 1.2x it reaches PART-HOLD-BACK within seconds (docs/latency.md).
 * - Playlist retries: in LL mode hls.js gives a blocking reload only
 *   max(3 parts, 0.8 target durations) (1.6 s) before it retries without
 *   directives, and by default turns the third timeout into a fatal error.
 *   An ingest outage of a few seconds, during which no part can be
 *   published, must not end playback, so timeouts are retried 15 times
 *   and errors (503 after a blocking reload's 3 target durations) 8 times.
 * - A student's choice of quality stays through errors: a segment one
 *   rendition lacks (an EXT-X-GAP: its keyframe was lost on the way, and
 *   numbers are slots, docs/regions.md) is a fragGap error to hls.js, which
 *   by default then drops a manual choice for its ABR, and at the low
 *   bandwidth estimate of a live edge stayed on the lowest rung for the
 *   rest of a CI run (test_border's shed test, 4 runs of 5 with a gap).
 * - A watchdog: hls.js can stay stuck after an ingest restart (once in about
 *   ten CI runs it neither loaded the new run nor jumped the hole), so a live
 *   player whose picture stands still for 4 s is restarted at the edge; and
 *   after an egress restart it sat idle with the video seeking into the
 *   EXT-X-GAP of the slot the egress was down for (test_kill_roles: 1 run in
 *   4 here, `seeking: True` in its summary), which the watchdog had left
 *   alone: a seek still for 8 s now counts, trying media buffered past it
 *   before the edge. */
const char lr_player_config_js[] =
    "/* lecture-relay: hls.js settings of the player page */\n"
    "window.lrHlsConfig = {\n"
    "  lowLatencyMode: true,\n"
    "  maxLiveSyncPlaybackRate: 1.2,\n"
    "  preserveManualLevelOnError: true,\n"
    "  playlistLoadPolicy: { default: {\n"
    "    maxTimeToFirstByteMs: 10000, maxLoadTimeMs: 20000,\n"
    "    timeoutRetry: { maxNumRetry: 15, retryDelayMs: 0, maxRetryDelayMs: 0 },\n"
    "    errorRetry: { maxNumRetry: 8, retryDelayMs: 500, maxRetryDelayMs: 2000 }\n"
    "  } }\n"
    "};\n"
    "/* The quality menu: the chosen rung from the next fragment on (-1: auto),\n"
    "   keeping what is buffered. hls.currentLevel would flush the whole buffer,\n"
    "   a rebuffer with low latency's 2 s of it. */\n"
    "window.lrChooseLevel = function (hls, level) { hls.nextLevel = level; };\n"
    "/* A live player whose picture has not moved for 4 s while the lecture\n"
    "   went on is restarted at the live edge (once every 8 s at most). A seek\n"
    "   that has not completed in 8 s counts too: hls.js's nudge over a hole is\n"
    "   a seek, and one into an EXT-X-GAP left it idle with the video seeking\n"
    "   for good; there, media buffered past the hole is tried first. */\n"
    "window.lrWatchdog = function (hls, video) {\n"
    "  var last = -1, still = 0, cooldown = 0;\n"
    "  return setInterval(function () {\n"
    "    var d = hls.levels && hls.levels[hls.currentLevel] &&\n"
    "            hls.levels[hls.currentLevel].details;\n"
    "    var edge = hls.liveSyncPosition, t = video.currentTime;\n"
    "    if (cooldown > 0) cooldown--;\n"
    "    if (!d || !d.live || video.paused || !isFinite(edge)) {\n"
    "      still = 0; last = t; return;\n"
    "    }\n"
    "    still = t === last ? still + 1 : 0;\n"
    "    last = t;\n"
    "    if (still < (video.seeking ? 8 : 4) || cooldown || edge <= t + 1) return;\n"
    "    still = 0; cooldown = 8;\n"
    "    window.lrWatchdogRestarts = (window.lrWatchdogRestarts || 0) + 1;\n"
    "    var b = video.buffered;\n"
    "    for (var i = 0; video.seeking && i < b.length; i++)\n"
    "      if (b.start(i) > t && b.start(i) < t + 5) { video.currentTime = b.start(i) + 0.05; return; }\n"
    "    hls.stopLoad(); hls.startLoad(edge); video.currentTime = edge;\n"
    "  }, 1000);\n"
    "};\n";
const size_t lr_player_config_js_len = sizeof(lr_player_config_js) - 1;

/* Nothing but what tokens and signatures are made of (extra: '/' for a
 * prefix, "?=&" for a query). */
static int chars_valid(const char *p, const char *extra)
{
    for (; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
              (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || strchr(extra, *p)))
            return 0;
    return 1;
}

int lr_player_page_render(const char *lecture, const char *prefix, const char *live_query,
                          const char *recordings_html, const char *nonce, char **html,
                          size_t *len)
{
    AVBPrint bp;
    int ret;

    *html = NULL;
    *len = 0;
    if (!prefix)
        prefix = "";
    if (!live_query)
        live_query = "";
    if (!recordings_html)
        recordings_html = "";
    if (!lecture || !lr_lecture_name_valid(lecture) || !chars_valid(prefix, "/") ||
        !chars_valid(live_query, "?=&") || !nonce || !*nonce || !chars_valid(nonce, "+/="))
        return AVERROR(EINVAL);

    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    av_bprintf(&bp, page_template, lecture, prefix, recordings_html, live_query, nonce);
    if (!av_bprint_is_complete(&bp)) {
        av_bprint_finalize(&bp, NULL);
        return AVERROR(ENOMEM);
    }
    *len = bp.len;
    ret = av_bprint_finalize(&bp, html);
    if (ret < 0)
        *len = 0;
    return ret;
}
