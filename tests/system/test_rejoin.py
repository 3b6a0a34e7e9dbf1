"""A transcoder that restarts mid-lecture picks the lecture up again from
the ingest's reconnecting link, with a GStreamer publisher pushing all along.
Three processes: ingest, transcode, egress."""

import signal

from lrdemo import (Config, Demo, assert_publishing, free_udp_port, gst_push, lecture_urls, scaled,
                    seq, wait_for)


def test_transcoder_restart_decodes_again(tmp_path):
    push_port = free_udp_port()
    conf = Config(tmp_path, {
        "lecture": "math2",
        "ingest": {"listen": f"srt://127.0.0.1:{push_port}", "lectures": [{"name": "math2"}]},
    })
    args = lambda role: [role, "--config", str(conf.path)]
    egress = Demo(conf, args=args("egress"), log_dir=tmp_path)
    transcode = Demo(conf, args=args("transcode"), log_dir=tmp_path)
    ingest = Demo(conf, args=args("ingest"), log_dir=tmp_path)
    second = None
    pub = None
    try:
        egress.start()
        transcode.start_background()
        ingest.start_background()
        # the publisher only once the ingest listens: srtsink tries for 3 s
        wait_for(lambda: f"listening for links on srt://127.0.0.1:{push_port}"
                 in ingest.stderr_text(), scaled(20), what="the ingest's listener")
        pub = gst_push(push_port, "#!::r=math2,m=publish")
        url = next(iter(lecture_urls(egress, "math2", publishers=[pub]).values()))
        wait_for(lambda: seq(url) >= 2, scaled(30), what="segments before the restart")

        transcode.assert_stops(signal.SIGTERM)
        transcode.close()
        second = Demo(conf, args=args("transcode"), log_dir=tmp_path)
        second.start_background()
        before = seq(url)
        wait_for(lambda: assert_publishing(pub) or seq(url) >= before + 3, scaled(40),
                 what="segments from the restarted transcoder")
        assert "non-existing PPS" not in second.stderr_text()
        assert pub.poll() is None
        for p in (ingest, second, egress):
            p.assert_stops(signal.SIGTERM)
    finally:
        if pub and pub.poll() is None:
            pub.kill()
            pub.wait()
        for p in (ingest, transcode, second, egress):
            if p:
                p.close()
