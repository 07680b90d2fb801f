"""Errors raised by the signaling layer.

    SignalingError
    ├── TokenError               (code 401 before the WebSocket upgrade)
    │   ├── TokenMissing
    │   ├── TokenInvalid         (forged, malformed, wrong signature)
    │   └── TokenExpired
    └── ProtocolError            (a client message the server cannot accept)
        ├── MessageTooLarge
        ├── MalformedMessage     (not JSON, not an object, fields wrong)
        └── UnknownMessageType

Each carries a stable ``code`` that goes on the wire (see docs/protocol.md).
"""

from __future__ import annotations


class SignalingError(Exception):
    code = "signaling_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TokenError(SignalingError):
    code = "token_invalid"


class TokenMissing(TokenError):
    code = "token_missing"


class TokenInvalid(TokenError):
    code = "token_invalid"


class TokenExpired(TokenError):
    code = "token_expired"


class ProtocolError(SignalingError):
    code = "bad_message"


class MessageTooLarge(ProtocolError):
    code = "message_too_large"


class MalformedMessage(ProtocolError):
    code = "malformed_message"


class UnknownMessageType(ProtocolError):
    code = "unknown_type"
