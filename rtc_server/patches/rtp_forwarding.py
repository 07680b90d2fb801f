"""The private aiortc/aioice/pylibsrtp parts the forwarding sender relies on, in one place.

Checked against aiortc 1.16, aioice 0.13 and pylibsrtp 1.0 (see :mod:`.versions`).
:class:`rtc_server.media.forwarder.ForwardingSender` replaces aiortc's per-packet
send path for ladder viewers; it needs four things aiortc does not expose:

* **Taking over a sender** (:func:`install_sender`): ``RTCPeerConnection.addTrack``
  builds the ``RTCRtpSender`` itself, with no factory, so the forwarder (a
  subclass that only overrides methods) is put in place by changing the new
  sender's class before it starts. ``RTCRtpSender.stop()`` waits on the
  name-mangled ``__rtp_started``/``__rtcp_started``/``..._exited`` events; the
  subclass's own loops set them (:func:`loop_events`). *Can go when* aiortc
  takes a sender factory or forwards pre-packetised payloads itself.
* **The UDP path of the selected candidate pair** (:func:`udp_route`): aiortc's
  ``RTCDtlsTransport._send_rtp`` awaits three layers of coroutines per packet
  (SRTP, ``RTCIceTransport._send``, ``aioice.Connection.sendto``) that end in
  ``DatagramTransport.sendto``. The forwarder protects and sends synchronously
  on the nominated pair's transport (its socket when it is a plain UDP one, for
  GSO). *Can go when* aioice/aiortc offer a synchronous or batched send.
* **SRTP protect in place** (:class:`SrtpWriter`): ``pylibsrtp.Session.protect``
  allocates an ``int *`` and copies the packet in and out on every call. The
  writer calls ``srtp_protect`` on the DTLS transport's own session
  (``RTCDtlsTransport._tx_srtp``), in place, in a buffer the caller owns. *Can go
  when* pylibsrtp grows a ``protect_into``.
* **Where a transceiver's sender stands** in the router, SDP and stats: nothing —
  the forwarder keeps the sender object aiortc made, so SSRCs, RTX SSRC, MID and
  the RTCP routing by SSRC stay aiortc's.
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any

from aiortc import RTCRtpSender
from pylibsrtp._binding import ffi, lib

from .versions import supported

__all__ = ["SrtpWriter", "UdpRoute", "forwarding_supported", "install_sender", "loop_events",
           "udp_route"]

#: Room libsrtp may need after a packet it protects (pylibsrtp's SRTP_MAX_TRAILER_LEN).
SRTP_TRAILER_BYTES = 16 + 128


def forwarding_supported() -> bool:
    """Whether the installed aiortc/aioice are the ones this module was checked against."""
    return supported("rtp_forwarding")


def install_sender(sender: RTCRtpSender, cls: type[RTCRtpSender]) -> None:
    """Make the not yet started ``sender`` an instance of ``cls`` (a method-only subclass)."""
    if not issubclass(cls, RTCRtpSender):
        raise TypeError(f"{cls!r} is not an RTCRtpSender")
    if getattr(sender, "_RTCRtpSender__started", True):
        raise ValueError("cannot take over a sender that has started")
    sender.__class__ = cls


def loop_events(sender: RTCRtpSender) -> tuple[asyncio.Event, asyncio.Event,
                                               asyncio.Event, asyncio.Event]:
    """``(rtp_started, rtp_exited, rtcp_started, rtcp_exited)``, which ``stop()`` waits on."""
    return (sender._RTCRtpSender__rtp_started,  # type: ignore[attr-defined]
            sender._RTCRtpSender__rtp_exited,  # type: ignore[attr-defined]
            sender._RTCRtpSender__rtcp_started,  # type: ignore[attr-defined]
            sender._RTCRtpSender__rtcp_exited)  # type: ignore[attr-defined]


class UdpRoute:
    """Where one peer's datagrams go now: the nominated pair's transport and address."""

    __slots__ = ("addr", "pair", "sock", "transport")

    def __init__(self, pair: Any, transport: Any,
                 sock: socket.socket | None, addr: tuple[str, int]) -> None:
        self.pair = pair
        #: asyncio's or uvloop's datagram transport, or aioice's TurnTransport (sendto,
        #: get_write_buffer_size).
        self.transport = transport
        #: A duplicate of the transport's UDP socket (``sendmsg`` for GSO; asyncio and
        #: uvloop hand out wrappers without it), None when relayed through TURN.
        self.sock = sock
        self.addr = addr

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def udp_route(dtls: Any, cached: UdpRoute | None) -> UdpRoute | None:
    """The route of ``dtls`` (an ``RTCDtlsTransport``), reusing ``cached`` if unchanged.

    None while no pair is nominated (not connected yet, or closing).
    """
    connection = dtls.transport._connection  # RTCIceTransport -> aioice.Connection
    pair = connection._nominated.get(1)
    if pair is None:
        return None
    if cached is not None and cached.pair is pair:
        return cached
    if cached is not None:
        cached.close()
    transport = pair.protocol.transport
    sock = None
    wrapper = transport.get_extra_info("socket")  # None for aioice's TurnTransport
    if wrapper is not None and wrapper.type == socket.SOCK_DGRAM:
        sock = socket.socket(wrapper.family, socket.SOCK_DGRAM, 0, os.dup(wrapper.fileno()))
        sock.setblocking(False)
    return UdpRoute(pair, transport, sock, pair.remote_addr)


class SrtpWriter:
    """SRTP/SRTCP protect in place on a DTLS transport's session, without allocation."""

    __slots__ = ("_ctx", "_len", "_session")

    def __init__(self, dtls: Any) -> None:
        session = dtls._tx_srtp
        if session is None:
            raise ConnectionError("SRTP is not set up yet (DTLS not connected)")
        self._session = session  # keeps the context alive
        self._ctx = session._srtp[0]
        self._len = ffi.new("int *")

    def protect(self, pointer: Any, length: int) -> int:
        """Protect the RTP packet of ``length`` bytes at ``pointer`` (a cffi ``char *``
        with :data:`SRTP_TRAILER_BYTES` to spare after it); returns the new length."""
        self._len[0] = length
        rc = lib.srtp_protect(self._ctx, pointer, self._len)
        if rc:
            raise ConnectionError(f"srtp_protect failed ({rc})")
        return int(self._len[0])

    def protect_rtcp(self, packet: bytes) -> bytes:
        return bytes(self._session.protect_rtcp(packet))


def buffer_pointer(buffer: bytearray) -> Any:
    """A cffi ``char *`` into ``buffer`` (which must not be resized while it is used)."""
    return ffi.from_buffer(buffer)
