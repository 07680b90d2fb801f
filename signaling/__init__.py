"""The edge and the composition root: aiohttp HTTP/WebSocket/WHIP endpoints, join tokens,
the installed feature list (:mod:`.app`), and the Python client (:mod:`.client`)."""

from .exceptions import SignalingError, TokenError, TokenExpired, TokenInvalid, TokenMissing
from .tokens import ROLES, mint_token, verify_token

__all__ = [
    "ROLES",
    "SignalingError",
    "TokenError",
    "TokenExpired",
    "TokenInvalid",
    "TokenMissing",
    "mint_token",
    "verify_token",
]
