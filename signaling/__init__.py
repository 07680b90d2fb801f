"""Signaling: aiohttp HTTP/WebSocket endpoints, join tokens, message schemas, the client."""

from .exceptions import (
    MalformedMessage,
    MessageTooLarge,
    ProtocolError,
    SignalingError,
    TokenError,
    TokenExpired,
    TokenInvalid,
    TokenMissing,
    UnknownMessageType,
)
from .tokens import ROLES, Identity, mint_token, verify_token

__all__ = [
    "ROLES",
    "Identity",
    "MalformedMessage",
    "MessageTooLarge",
    "ProtocolError",
    "SignalingError",
    "TokenError",
    "TokenExpired",
    "TokenInvalid",
    "TokenMissing",
    "UnknownMessageType",
    "mint_token",
    "verify_token",
]
