"""Errors of the HTTP/WebSocket edge: credentials.

    SignalingError
    └── TokenError               (401, before the WebSocket upgrade)
        ├── TokenMissing
        ├── TokenInvalid         (forged, malformed, wrong signature)
        └── TokenExpired

Errors about client *messages* are domain errors
(:class:`rtc_server.base.exceptions.ProtocolError`); each carries a stable
``code`` that goes on the wire (see docs/protocol.md).
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
