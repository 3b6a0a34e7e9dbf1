#!/bin/sh
# samples/make-sample.sh — regenerate samples/lecture.mp4, the sample lecture.
#
# 24 s, 1280x720, 30 fps constant, H.264 High (libx264, yuv420p, keyframe every
# 60 frames = every 2 s, matching the default segment_duration), AAC-LC 48 kHz
# stereo 96 kb/s, MP4 with +faststart.
#
# Picture: six "slides" (4 s each) with a title and bullet lines, a small
# "lecturer" panel (testsrc2) drifting along the lower right corner, and a
# burnt-in clock (media time + frame number) so a viewer can see time advance.
# Sound: espeak-ng reading a short lecture, padded/trimmed to 24 s.
#
# --clip FILE writes a variant to FILE instead: the same lecture with a 4 s
# video clip shown on slide 4 (12-16 s: a 1120x540 fractal zoom with camera
# grain, full motion), encoded as a lecturer's encoder pushes it (CRF 16, up
# to 6 Mb/s). bench/ladder-bytes measures on it: a lecture where the ladder's
# bitrate caps bind for a while, which they never do on the plain sample.
#
# Needs: ffmpeg (Debian 12: 5.1) with libx264, espeak-ng, fonts-dejavu-core.
# Reproducible: bitexact flags, one x264 thread, no metadata; re-running with
# the same tool versions produces the same bytes.
set -eu

CLIP=
case "$#:${1:-}" in
    0:) ;;
    2:--clip) CLIP=$(realpath -m "$2") ;;
    *) echo "usage: make-sample.sh [--clip FILE]" >&2; exit 2 ;;
esac

cd "$(dirname "$0")"

FONT=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
FONTB=/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf
FONTM=/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf
OUT=lecture.mp4
DUR=24
RATE="-crf 23 -maxrate 700k -bufsize 1400k"
if [ -n "$CLIP" ]; then
    OUT=$CLIP
    RATE="-crf 16 -maxrate 6000k -bufsize 12000k"
fi

for f in "$FONT" "$FONTB" "$FONTM"; do
    [ -r "$f" ] || { echo "make-sample.sh: missing font $f (install fonts-dejavu-core)" >&2; exit 1; }
done
command -v ffmpeg >/dev/null || { echo "make-sample.sh: ffmpeg not found" >&2; exit 1; }
command -v espeak-ng >/dev/null || { echo "make-sample.sh: espeak-ng not found" >&2; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/make-sample.XXXXXX")
trap 'rm -rf "$TMP"' EXIT INT TERM

# --- speech ---------------------------------------------------------------
espeak-ng -v en-us -s 150 -w "$TMP/speech.wav" \
"Welcome to computer networks. Today we follow a packet across the internet. \
First, the link layer moves frames between neighbours. \
The internet protocol routes packets hop by hop. \
TCP turns lost packets into a reliable stream, and controls congestion. \
Finally, we will see how live video is cut into segments and delivered."

# --- slides ---------------------------------------------------------------
# One line per slide: title|bullet|bullet|bullet. Keep the text free of
# ' : , % and backslashes so it needs no filtergraph escaping.
cat > "$TMP/slides.txt" <<'EOF'
Introduction to Computer Networks|Lecture 7 - from packets to live video|Layers - link / network / transport / app|Reading - chapter 3 and chapter 6
The Link Layer|Frames - headers - checksums|Ethernet and Wi-Fi share the medium|MAC addresses name the next hop
The Internet Protocol|Best-effort delivery of datagrams|Routing tables and longest-prefix match|TTL stops packets that loop forever
Transport - TCP and UDP|TCP gives a reliable ordered byte stream|Congestion control - slow start / AIMD|UDP is thin - SRT adds recovery on top
Streaming Live Video|Encode once - cut into 2 s segments|Playlists tell players what to fetch next|Adaptive bitrate picks the best rung
Summary|Every layer hides the one below it|Loss and delay are the enemies of live|Questions? - office hours Thursday 14h
EOF

N=$(wc -l < "$TMP/slides.txt")
SLIDE=$((DUR / N))

{
    printf '%s\n' "color=c=0xF5F2EA:s=1280x720:r=30:d=$DUR,format=yuv420p,"
    printf '%s\n' "drawbox=x=0:y=0:w=1280:h=110:color=0x1F3A5F:t=fill,"
    printf '%s\n' "drawbox=x=0:y=690:w=1280:h=30:color=0x1F3A5F:t=fill,"
    printf '%s\n' "drawtext=fontfile=$FONT:text='CS101 Computer Networks - sample lecture':fontsize=18:fontcolor=white:x=24:y=696,"
    i=0
    while IFS='|' read -r title b1 b2 b3; do
        s=$((i * SLIDE)); e=$(((i + 1) * SLIDE))
        en="enable='gte(t\\,$s)*lt(t\\,$e)'"
        printf '%s\n' "drawtext=fontfile=$FONTB:text='Slide $((i + 1))/$N - $title':fontsize=44:fontcolor=white:x=40:y=32:$en,"
        y=190
        for b in "$b1" "$b2" "$b3"; do
            printf '%s\n' "drawtext=fontfile=$FONT:text='• $b':fontsize=34:fontcolor=0x222222:x=70:y=$y:$en,"
            y=$((y + 80))
        done
        i=$((i + 1))
    done < "$TMP/slides.txt"
    printf '%s\n' "drawtext=fontfile=$FONTM:text='%{pts\\:hms}  frame %{n}':fontsize=26:fontcolor=white:box=1:boxcolor=0x000000@0.6:boxborderw=8:x=1280-tw-24:y=130[bg];"
    printf '%s\n' "testsrc2=s=240x180:r=30:d=$DUR,format=yuv420p,drawbox=x=0:y=0:w=240:h=180:color=white:t=3[pip];"
    if [ -n "$CLIP" ]; then
        printf '%s\n' "mandelbrot=s=1120x540:r=30,trim=duration=$DUR,format=yuv420p,noise=alls=4:allf=t+u[clip];"
        printf '%s\n' "[bg][clip]overlay=x=80:y=140:enable='between(t,12,16)'[bg0];"
    else
        printf '%s\n' "[bg]null[bg0];"
    fi
    printf '%s\n' "[bg0][pip]overlay=x='1280-240-24-300*(0.5+0.5*sin(2*PI*t/$DUR))':y='720-180-50-20*(0.5+0.5*cos(2*PI*t/12))':eval=frame:shortest=1[v];"
    printf '%s\n' "[0:a]aresample=48000,pan=stereo|c0=c0|c1=c0,apad,atrim=0:$DUR,asetpts=N/SR/TB[a]"
} > "$TMP/graph.txt"

# --- encode ---------------------------------------------------------------
ffmpeg -nostdin -hide_banner -loglevel error -y \
    -i "$TMP/speech.wav" \
    -filter_complex_script "$TMP/graph.txt" \
    -map '[v]' -map '[a]' \
    -c:v libx264 -profile:v high -pix_fmt yuv420p -preset medium \
    $RATE \
    -g 60 -keyint_min 60 -sc_threshold 0 -bf 2 \
    -x264-params threads=1:lookahead-threads=1 -threads 1 \
    -fps_mode cfr -r 30 \
    -c:a aac -profile:a aac_low -b:a 96k -ar 48000 -ac 2 \
    -t "$DUR" \
    -map_metadata -1 -map_chapters -1 \
    -fflags +bitexact -flags:v +bitexact -flags:a +bitexact \
    -movflags +faststart \
    -f mp4 "$TMP/out.mp4"

mv -f "$TMP/out.mp4" "$OUT.tmp"
mv -f "$OUT.tmp" "$OUT"

DURATION=$(ffprobe -v error -show_entries format=duration -of default=nw=1:nk=1 "$OUT")
SIZE=$(wc -c < "$OUT" | tr -d ' ')
echo "$OUT: duration ${DURATION}s, size $SIZE bytes"
