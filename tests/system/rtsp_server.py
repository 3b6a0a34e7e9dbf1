"""A university's hall camera for the pull tests: an RTSP server (GStreamer's
gst-rtsp-server) streaming a live H.264/AAC test picture at rtsp://127.0.0.1:PORT/lecture.
usage: /usr/bin/python3 rtsp_server.py PORT     prints 'ready' once listening."""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

PIPELINE = (
    "( videotestsrc is-live=true pattern=ball ! video/x-raw,width=640,height=360,framerate=25/1"
    " ! videoconvert ! openh264enc gop-size=25 ! h264parse ! rtph264pay name=pay0 pt=96"
    " config-interval=1"
    "  audiotestsrc is-live=true wave=sine ! audioconvert ! audioresample"
    " ! avenc_aac ! aacparse ! rtpmp4gpay name=pay1 pt=97 )")


def main():
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(sys.argv[1])
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(PIPELINE)
    factory.set_shared(True)
    server.get_mount_points().add_factory("/lecture", factory)
    if server.attach(None) == 0:
        sys.exit(f"rtsp_server: cannot listen on port {sys.argv[1]}")
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
