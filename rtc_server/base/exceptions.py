"""Domain errors of the classroom server.

    ClassroomError
    ├── SessionNotFound        (404)
    ├── SessionEnded           (410)
    ├── PermissionDenied       (403: the role may not do this)
    ├── InvalidRequest         (422: well-formed but not acceptable now)
    ├── RateLimited            (429: the client sends faster than allowed)
    ├── ServiceUnavailable     (503: shutting down, or shared state unreachable: retry)
    ├── SessionExists          (409: the id is taken, by an active or an ended class)
    ├── CredentialRevoked      (401: a token issued before the class was reopened)
    └── ProtocolError          (400: a client message the server cannot read)
        ├── MessageTooLarge
        ├── MalformedMessage   (not JSON, not an object, fields wrong)
        └── UnknownMessageType

Features subclass these (``interactions.exceptions``, ``content.exceptions``).
Only the edge (``signaling/``) turns them into HTTP statuses or ``error``
replies; ``code`` is the stable string that goes on the wire.
"""

from __future__ import annotations

from typing import Any


class ClassroomError(Exception):
    code = "error"
    http_status = 400

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        #: Machine-readable fields that go into the error reply (``retry_after_ms``, ...).
        self.details = details


class SessionNotFound(ClassroomError):
    code = "session_not_found"
    http_status = 404


class SessionEnded(ClassroomError):
    code = "session_ended"
    http_status = 410


class PermissionDenied(ClassroomError):
    code = "forbidden"
    http_status = 403


class InvalidRequest(ClassroomError):
    code = "invalid_request"
    http_status = 422


class RateLimited(ClassroomError):
    code = "rate_limited"
    http_status = 429


class SessionExists(ClassroomError):
    code = "session_exists"
    http_status = 409


class CredentialRevoked(ClassroomError):
    code = "token_revoked"
    http_status = 401


class ServiceUnavailable(ClassroomError):
    code = "unavailable"
    http_status = 503


class ProtocolError(ClassroomError):
    code = "bad_message"
    http_status = 400


class MessageTooLarge(ProtocolError):
    code = "message_too_large"


class MalformedMessage(ProtocolError):
    code = "malformed_message"


class UnknownMessageType(ProtocolError):
    code = "unknown_type"
