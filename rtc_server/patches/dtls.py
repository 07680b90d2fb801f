"""Workaround: complete DTLS handshakes with peers whose certificate is RSA.

Checked against aiortc 1.16 (``RTCCertificate._create_ssl_context``): every DTLS
context gets the cipher list ``ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:
ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA`` — ECDSA authentication only. When
aiortc is the DTLS *client* (it answers an offer with ``a=setup:actpass`` and
takes ``active``, which is what the server does for every WHIP publisher), the
DTLS server — the publisher — picks a suite from that list and must hold a
certificate of the matching type. GStreamer's webrtcbin (1.22, also the base of
Meetecho's simple-whip-client) makes an RSA-2048 certificate, finds no ECDHE-ECDSA
suite it can serve, and the handshake fails with "no shared cipher".

:func:`apply` wraps ``_create_ssl_context`` so the list also holds the ECDHE-RSA
counterparts of the same suites (forward-secret, AEAD first, as browsers offer
them). Nothing else changes: aiortc's own certificate stays ECDSA, so as DTLS
server it still picks an ECDHE-ECDSA suite, and a client certificate's type was
never tied to the suite (RSA-certificate peers as DTLS *clients* already worked).
*Can go when* aiortc offers ECDHE-RSA suites itself.

``apply()`` is idempotent and goes through the package's version gate
(:mod:`.versions`).
"""

from __future__ import annotations

import logging
from typing import Any

from aiortc.rtcdtlstransport import RTCCertificate

from .versions import supported

__all__ = ["CIPHERS", "applied", "apply"]

logger = logging.getLogger(__name__)

#: aiortc's ECDSA suites (its order), then the same suites authenticated by RSA.
CIPHERS = b":".join([
    b"ECDHE-ECDSA-AES128-GCM-SHA256",
    b"ECDHE-ECDSA-CHACHA20-POLY1305",
    b"ECDHE-ECDSA-AES128-SHA",
    b"ECDHE-ECDSA-AES256-SHA",
    b"ECDHE-RSA-AES128-GCM-SHA256",
    b"ECDHE-RSA-CHACHA20-POLY1305",
    b"ECDHE-RSA-AES128-SHA",
    b"ECDHE-RSA-AES256-SHA",
])

_original = RTCCertificate._create_ssl_context


def _create_ssl_context(self: RTCCertificate, srtp_profiles: Any) -> Any:
    ctx = _original(self, srtp_profiles)
    ctx.set_cipher_list(CIPHERS)
    return ctx


def applied() -> bool:
    return RTCCertificate._create_ssl_context is _create_ssl_context


def apply() -> None:
    """Offer ECDHE-RSA suites too (idempotent; a no-op on untested aiortc versions)."""
    if applied() or not supported("dtls.rsa_peers"):
        return
    RTCCertificate._create_ssl_context = _create_ssl_context  # type: ignore[method-assign]
    logger.debug("DTLS: ECDHE-RSA suites offered (RSA-certificate peers accepted)")


def restore() -> None:
    """Back to aiortc's own list (tests show the limitation with it)."""
    RTCCertificate._create_ssl_context = _original  # type: ignore[method-assign]
