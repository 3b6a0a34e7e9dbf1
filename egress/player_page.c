/* egress/player_page.c — the player page template: a <video> element driven by
 * hls.js from /assets/, or the browser's native HLS where hls.js is unsupported
 * (Safari). Rendered per request by egress/http.c for /watch/<lecture>. */
#include "player_page.h"

#include <libavutil/bprint.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "common/streamid.h"

/* Only validated names ([A-Za-z0-9_-]) are substituted for %1$s, so they need
 * no escaping in HTML or in the JavaScript string literals. */
static const char page_template[] =
    "<!DOCTYPE html>\n"
    "<html lang=\"en\">\n"
    "<head>\n"
    "<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>%1$s - live lecture</title>\n"
    "<style>\n"
    "body{margin:0;background:#111;color:#eee;font-family:sans-serif}\n"
    "h1{font-size:1.1em;margin:.5em 1em}\n"
    "video{display:block;width:100%%;max-height:90vh;background:#000}\n"
    "#status{margin:.5em 1em;color:#f88}\n"
    "</style>\n"
    "</head>\n"
    "<body>\n"
    "<h1>%1$s</h1>\n"
    "<video id=\"video\" controls muted autoplay playsinline></video>\n"
    "<div id=\"status\"></div>\n"
    "<script src=\"/assets/hls.min.js\"></script>\n"
    "<script>\n"
    "(function () {\n"
    "  var src = '/live/%1$s/master.m3u8';\n"
    "  var video = document.getElementById('video');\n"
    "  var status = document.getElementById('status');\n"
    "  window.hlsFatalError = null;\n"
    "  window.hls = null;\n"
    "  function play() {\n"
    "    var p = video.play();\n"
    "    if (p && p.catch) p.catch(function () {});\n"
    "  }\n"
    "  if (window.Hls && Hls.isSupported()) {\n"
    "    var hls = new Hls({lowLatencyMode: false});\n"
    "    window.hls = hls;\n"
    "    hls.on(Hls.Events.ERROR, function (event, data) {\n"
    "      if (data && data.fatal) {\n"
    "        window.hlsFatalError = String(data.details || data.type || 'fatal');\n"
    "        status.textContent = 'Playback error: ' + window.hlsFatalError;\n"
    "      }\n"
    "    });\n"
    "    hls.on(Hls.Events.MANIFEST_PARSED, play);\n"
    "    hls.loadSource(src);\n"
    "    hls.attachMedia(video);\n"
    "  } else if (video.canPlayType('application/vnd.apple.mpegurl')) {\n"
    "    video.src = src;\n"
    "    video.addEventListener('loadedmetadata', play);\n"
    "    video.addEventListener('error', function () {\n"
    "      window.hlsFatalError = 'native playback error';\n"
    "      status.textContent = 'Playback error';\n"
    "    });\n"
    "  } else {\n"
    "    window.hlsFatalError = 'HLS is not supported by this browser';\n"
    "    status.textContent = window.hlsFatalError;\n"
    "  }\n"
    "})();\n"
    "</script>\n"
    "</body>\n"
    "</html>\n";

int lr_player_page_render(const char *lecture, char **html, size_t *len)
{
    AVBPrint bp;
    int ret;

    *html = NULL;
    *len = 0;
    if (!lecture || !lr_lecture_name_valid(lecture))
        return AVERROR(EINVAL);

    av_bprint_init(&bp, 0, AV_BPRINT_SIZE_UNLIMITED);
    av_bprintf(&bp, page_template, lecture);
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
