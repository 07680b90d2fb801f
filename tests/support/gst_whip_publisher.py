"""A WHIP publisher built on GStreamer's webrtcbin, run by Debian's /usr/bin/python3.

Debian bookworm's GStreamer (1.22: webrtcbin in gstreamer1.0-plugins-bad, libnice in
gstreamer1.0-nice) is reached through python3-gi, which exists only for the system
Python, not the project's venv: tests run this file as a subprocess (inside a
test-made network namespace, so libnice gathers only on the veth end the test made).
GStreamer 1.22 has no WHIP element of its own (``whipsink``/``whipclientsink`` are in
gst-plugins-rs, which Debian does not package), so the WHIP exchange (RFC 9725: POST
the offer with every candidate, apply the 201's answer, DELETE the Location) is done
here with urllib, as Meetecho's simple-whip-client does with libsoup.

    /usr/bin/python3 tests/support/gst_whip_publisher.py URL TOKEN [--codec vp8|h264]
        [--size 640x480@15]

Prints ``location <path>``, ``connected``, and on SIGTERM/SIGINT sends the DELETE
and prints ``deleted <status>``. Errors go to stderr with a non-zero exit.
"""

from __future__ import annotations

import argparse
import signal
import sys
import urllib.error
import urllib.parse
import urllib.request

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstSdp", "1.0")
gi.require_version("GstWebRTC", "1.0")
from gi.repository import GLib, Gst, GstSdp, GstWebRTC  # noqa: E402

VIDEO = {
    "vp8": ("vp8enc deadline=1 cpu-used=8 target-bitrate=600000 keyframe-max-dist=30 "
            "! rtpvp8pay pt=96", "VP8"),
    "h264": ("openh264enc bitrate=600000 gop-size=30 "
             "! video/x-h264,profile=constrained-baseline,stream-format=byte-stream "
             "! h264parse ! rtph264pay pt=96 config-interval=-1 aggregate-mode=zero-latency",
             "H264"),
}


def pipeline(codec: str, width: int, height: int, fps: int) -> Gst.Pipeline:
    encode, caps = VIDEO[codec]
    return Gst.parse_launch(
        "webrtcbin name=w bundle-policy=max-bundle "
        f"videotestsrc is-live=true pattern=ball ! video/x-raw,width={width},height={height},"
        f"framerate={fps}/1 ! videoconvert ! queue ! {encode} ! queue "
        f"! application/x-rtp,media=video,encoding-name={caps},payload=96,clock-rate=90000 ! w. "
        "audiotestsrc is-live=true wave=sine freq=440 ! audioconvert ! audioresample ! queue "
        "! opusenc ! rtpopuspay pt=97 ! queue "
        "! application/x-rtp,media=audio,encoding-name=OPUS,payload=97,clock-rate=48000 ! w. "
    )


class Publisher:
    def __init__(self, args: argparse.Namespace) -> None:
        size, _, fps = args.size.partition("@")
        width, height = (int(v) for v in size.split("x"))
        self.url = args.url
        self.token = args.token
        self.location: str | None = None
        self.loop = GLib.MainLoop()
        self.pipe = pipeline(args.codec, width, height, int(fps or 15))
        self.webrtc = self.pipe.get_by_name("w")
        self.webrtc.connect("on-negotiation-needed", self.on_negotiation_needed)
        self.webrtc.connect("notify::ice-gathering-state", self.on_gathering)
        self.webrtc.connect("notify::connection-state", self.on_connection_state)
        self.offered = False
        self.exit_code = 0
        bus = self.pipe.get_bus()
        bus.add_signal_watch()
        bus.connect("message::error", self.on_error)

    def start(self) -> None:
        self.pipe.set_state(Gst.State.PLAYING)
        index = 0
        while (transceiver := self.webrtc.emit("get-transceiver", index)) is not None:
            transceiver.set_property("direction",
                                     GstWebRTC.WebRTCRTPTransceiverDirection.SENDONLY)
            index += 1

    def on_negotiation_needed(self, element: Gst.Element) -> None:
        promise = Gst.Promise.new_with_change_func(self.on_offer, None)
        element.emit("create-offer", None, promise)

    def on_offer(self, promise: Gst.Promise, _data: object) -> None:
        promise.wait()
        # Keep the reply alive while the offer is used: the offer is owned by it.
        reply = promise.get_reply()
        offer = reply.get_value("offer")
        done = Gst.Promise.new()
        self.webrtc.emit("set-local-description", offer, done)
        done.interrupt()

    def on_gathering(self, element: Gst.Element, _spec: object) -> None:
        # No trickle: POST once every candidate is in the offer (the server refuses PATCH).
        state = element.get_property("ice-gathering-state")
        if state == GstWebRTC.WebRTCICEGatheringState.COMPLETE and not self.offered:
            self.offered = True
            GLib.idle_add(self.post_offer)

    def post_offer(self) -> bool:
        sdp = self.webrtc.get_property("local-description").sdp.as_text()
        request = urllib.request.Request(self.url, data=sdp.encode(), method="POST", headers={
            "Content-Type": "application/sdp", "Authorization": f"Bearer {self.token}"})
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:
                answer = resp.read().decode()
                self.location = resp.headers["Location"]
        except urllib.error.HTTPError as exc:
            self.fail(f"POST {self.url}: {exc.code} {exc.read().decode()}")
            return False
        print("location", self.location, flush=True)
        _, message = GstSdp.SDPMessage.new_from_text(answer)
        description = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER,
                                                              message)
        self.webrtc.emit("set-remote-description", description, None)
        return False

    def on_connection_state(self, element: Gst.Element, _spec: object) -> None:
        state = element.get_property("connection-state")
        if state == GstWebRTC.WebRTCPeerConnectionState.CONNECTED:
            print("connected", flush=True)
        elif state == GstWebRTC.WebRTCPeerConnectionState.FAILED:
            self.fail("the peer connection failed (ICE or DTLS)")

    def on_error(self, _bus: Gst.Bus, message: Gst.Message) -> None:
        error, debug = message.parse_error()
        self.fail(f"GStreamer error: {error.message} ({debug})")

    def stop(self) -> bool:
        if self.location:
            url = urllib.parse.urljoin(self.url, self.location)
            request = urllib.request.Request(url, method="DELETE", headers={
                "Authorization": f"Bearer {self.token}"})
            try:
                with urllib.request.urlopen(request, timeout=10) as resp:
                    status = resp.status
            except urllib.error.HTTPError as exc:
                status = exc.code
            print("deleted", status, flush=True)
        self.pipe.set_state(Gst.State.NULL)
        self.loop.quit()
        return False

    def fail(self, why: str) -> None:
        print(why, file=sys.stderr, flush=True)
        self.exit_code = 1
        self.pipe.set_state(Gst.State.NULL)
        self.loop.quit()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("token")
    parser.add_argument("--codec", choices=sorted(VIDEO), default="vp8")
    parser.add_argument("--size", default="640x480@15")
    args = parser.parse_args()
    Gst.init(None)
    publisher = Publisher(args)
    for signum in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, publisher.stop)
    publisher.start()
    publisher.loop.run()
    sys.exit(publisher.exit_code)


if __name__ == "__main__":
    main()
