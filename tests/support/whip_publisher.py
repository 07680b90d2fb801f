"""A WHIP publisher in its own process, so a test can kill it (SIGKILL: no DELETE, no DTLS
close_notify, no RTCP BYE: what a crashed encoder looks like to the server).

    python -m tests.support.whip_publisher URL TOKEN [--size 640x480@10]

Prints ``location <path>`` after the POST and ``connected`` once ICE/DTLS are up, then
publishes the synthetic pattern until killed (printing ``closed`` or ``failed`` if the
server ends the connection). Host candidates only on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio

import aiohttp
from aiortc import RTCPeerConnection, RTCSessionDescription

from rtc_server.media import SyntheticVideoTrack
from rtc_server.patches.ice import restrict_host_addresses


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("token")
    parser.add_argument("--size", default="640x480@10")
    args = parser.parse_args()
    size, _, fps = args.size.partition("@")
    width, height = (int(v) for v in size.split("x"))
    restrict_host_addresses(["127.0.0.1"])
    pc = RTCPeerConnection()
    pc.addTransceiver(SyntheticVideoTrack(width, height, float(fps or 10)), direction="sendonly")
    connected = asyncio.Event()

    @pc.on("connectionstatechange")
    def on_state() -> None:
        if pc.connectionState == "connected":
            connected.set()
        elif pc.connectionState in ("closed", "failed"):
            print(pc.connectionState, flush=True)  # the server ended it
    await pc.setLocalDescription(await pc.createOffer())
    async with aiohttp.ClientSession() as http, http.post(
        args.url, data=pc.localDescription.sdp,
        headers={"Content-Type": "application/sdp", "Authorization": f"Bearer {args.token}"},
    ) as resp:
        answer = await resp.text()
        if resp.status != 201:
            raise SystemExit(f"POST {args.url}: {resp.status} {answer}")
        print("location", resp.headers["Location"], flush=True)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    await asyncio.wait_for(connected.wait(), 30)
    print("connected", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
