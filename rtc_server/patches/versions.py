"""The one version gate for every aiortc/aioice/pylibsrtp workaround in this package.

Each patch reaches into private code of the versions below. On any other
version :func:`supported` logs which patch was skipped and returns False, so
nothing is changed blindly; re-read the patched code in the new release and
widen :data:`TESTED` only then.
"""

from __future__ import annotations

import logging
from functools import cache
from importlib.metadata import version

logger = logging.getLogger(__name__)

#: Versions every patch here was checked against.
#: pylibsrtp: the media forwarder (:mod:`.rtp_forwarding`) calls ``pylibsrtp._binding`` and
#: reads ``Session._srtp``, neither of them public.
TESTED: dict[str, tuple[str, ...]] = {"aiortc": ("1.16.",), "aioice": ("0.13.",),
                                      "pylibsrtp": ("1.0.",)}


@cache
def installed(dist: str) -> str:
    return version(dist)


def untested() -> list[str]:
    """``["aiortc 1.17.0", ...]``: installed versions no patch was checked against."""
    return [f"{dist} {installed(dist)}" for dist, prefixes in TESTED.items()
            if not installed(dist).startswith(prefixes)]


def supported(patch: str) -> bool:
    """True when ``patch`` may be applied to the installed versions (else logs why not)."""
    found = untested()
    if found:
        logger.warning("patch %s not applied: %s not tested (tested: %s)", patch,
                       ", ".join(found),
                       "; ".join(f"{d} {', '.join(p)}x" for d, p in TESTED.items()))
        return False
    return True
