"""Several UDP datagrams to one peer in one system call: Linux UDP GSO (``UDP_SEGMENT``).

``sendmsg`` with a ``UDP_SEGMENT`` control message hands the kernel one buffer
that it cuts into datagrams of ``segment`` bytes (the last may be shorter):
one system call, one route lookup and one pass through the socket layer for a
whole video frame instead of one per packet (Linux >= 4.18). Where the kernel,
the socket or the device refuses (other systems, old kernels, a device without
checksum offload: ``EIO``), :func:`send_segments` raises :class:`GsoUnavailable`
and the caller sends datagram by datagram.
"""

from __future__ import annotations

import errno
import functools
import socket
import struct

__all__ = ["MAX_GSO_BYTES", "MAX_SEGMENTS", "GsoUnavailable", "gso_available", "send_segments"]

SOL_UDP = getattr(socket, "SOL_UDP", 17)
UDP_SEGMENT = getattr(socket, "UDP_SEGMENT", 103)  # linux/udp.h; Python 3.11 lacks the name
#: Linux accepts up to 64 segments (UDP_MAX_SEGMENTS is 64 before 6.x and 128 after)
#: and one IP datagram's worth of payload per call.
MAX_SEGMENTS = 64
MAX_GSO_BYTES = 65_000
_REFUSED = {errno.EINVAL, errno.ENOPROTOOPT, errno.EOPNOTSUPP, errno.EIO, errno.EMSGSIZE}


class GsoUnavailable(OSError):
    """The kernel or the device refused a GSO send; nothing was sent."""


@functools.cache
def gso_available() -> bool:
    """Whether this kernel accepts ``UDP_SEGMENT`` on a UDP socket."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.setsockopt(SOL_UDP, UDP_SEGMENT, 1200)
    except OSError:
        return False
    return True


def send_segments(sock: socket.socket, data: memoryview, segment: int,
                  addr: tuple[str, int]) -> None:
    """Send ``data`` to ``addr`` as datagrams of ``segment`` bytes (the last may be shorter).

    ``BlockingIOError`` (the socket buffer is full) passes through: nothing was sent.
    """
    try:
        sock.sendmsg([data], [(SOL_UDP, UDP_SEGMENT, struct.pack("=H", segment))], 0, addr)
    except BlockingIOError:
        raise
    except OSError as exc:
        if exc.errno in _REFUSED:
            raise GsoUnavailable(exc.errno, f"UDP GSO refused: {exc.strerror}") from exc
        raise
