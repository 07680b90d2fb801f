"""ICE settings shared by the server and the Python client.

Workaround (aioice 0.13, ``aioice.ice.get_host_addresses``): aioice gathers
host candidates on every interface *except* 127.0.0.1 and ::1 and offers no
option to choose the interfaces. A server that must stay on loopback (tests,
benchmarks) or on one given interface cannot be built without choosing them,
so :func:`restrict_host_addresses` replaces that function with one that
returns the configured addresses. It is process-wide because aioice reads a
module function; the server and the client in one process must agree, which
they do in every use here. It can go when aioice accepts a list of host
addresses in ``Connection(...)``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import aioice.ice
from aiortc import RTCConfiguration, RTCIceServer

from rtc_server.config import IceServer

from .versions import supported

_original_get_host_addresses = aioice.ice.get_host_addresses


def restrict_host_addresses(addresses: Sequence[str]) -> None:
    """Gather host candidates only on ``addresses`` (empty: aioice's own choice)."""
    chosen = list(addresses)
    if chosen and not supported("ice.host_addresses"):
        return
    if not chosen:
        aioice.ice.get_host_addresses = _original_get_host_addresses
        return

    def get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [a for a in chosen if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]

    aioice.ice.get_host_addresses = get_host_addresses


def rtc_configuration(servers: Sequence[IceServer]) -> RTCConfiguration:
    return RTCConfiguration(
        iceServers=[
            RTCIceServer(urls=s.urls, username=s.username, credential=s.credential)
            for s in servers
        ]
    )


_CANDIDATE_RE = re.compile(r"^(a=candidate:\S+ \d+ \S+ \d+ )(\S+)( \d+ typ host)", re.M)


def advertise_address(sdp: str, address: str | None) -> str:
    """Rewrite host candidates in ``sdp`` to ``address`` (1:1 NAT), leaving others alone."""
    if not address:
        return sdp
    return _CANDIDATE_RE.sub(lambda m: f"{m.group(1)}{address}{m.group(3)}", sdp)
