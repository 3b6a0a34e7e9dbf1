#!/usr/bin/python3
"""Plays an HLS URL with libVLC (Debian's python3-vlc) for a few seconds,
without a display or a sound card, and prints one JSON line: how far it
played (ms), the picture size, how many video and audio blocks VLC decoded,
and the share of the time (after the first 2 s, while playing) an audio track
was selected. The tests' VLC player; libVLC runs as root, where cvlc refuses to.
usage: vlc_play.py URL SECONDS"""

import json
import sys
import time

import vlc


def main():
    url, seconds = sys.argv[1], float(sys.argv[2])
    inst = vlc.Instance("--no-video-title-show", "--vout=dummy", "--aout=dummy", "--quiet",
                        "--no-xlib")
    player = inst.media_player_new()
    media = inst.media_new(url)
    player.set_media(media)
    player.play()
    start = time.monotonic()
    deadline = start + seconds
    samples = []
    while time.monotonic() < deadline:  # watching for a fixed time is the test
        time.sleep(0.25)
        # after joining, while playing (a recording may end before `seconds`)
        if time.monotonic() - start >= 2 and player.get_state() == vlc.State.Playing:
            samples.append(player.audio_get_track() != -1)
    stats = vlc.MediaStats()
    media.get_stats(stats)
    out = {"time_ms": player.get_time(), "size": list(player.video_get_size(0) or (0, 0)),
           "decoded_video": stats.decoded_video, "decoded_audio": stats.decoded_audio,
           "audio_track": player.audio_get_track(),
           "audio_selected": sum(samples) / len(samples) if samples else 0,
           "state": str(player.get_state())}
    player.stop()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
