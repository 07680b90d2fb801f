"""Domain errors of the classroom server.

    ClassroomError
    ├── SessionNotFound        (404)
    ├── SessionEnded           (410)
    ├── PermissionDenied       (403: the role may not do this)
    ├── InvalidRequest         (422: well-formed but not acceptable now)
    ├── RateLimited            (429: the client sends faster than allowed)
    └── ProtocolError          (400: a client message the server cannot read)
        ├── MessageTooLarge
        ├── MalformedMessage   (not JSON, not an object, fields wrong)
        │   └── NotJson        (not JSON at all, or nested beyond reading)
        └── UnknownMessageType

Features subclass these (``interactions.exceptions``, ``content.exceptions``).
Only the edge (``signaling/``) turns them into HTTP statuses or ``error``
replies; ``code`` is the stable string that goes on the wire.
"""

from __future__ import annotations


class ClassroomError(Exception):
    code = "error"
    http_status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


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


class ProtocolError(ClassroomError):
    code = "bad_message"
    http_status = 400


class MessageTooLarge(ProtocolError):
    code = "message_too_large"


class MalformedMessage(ProtocolError):
    code = "malformed_message"


class NotJson(MalformedMessage):
    """Not JSON at all (HTTP bodies answer ``malformed_json`` for it)."""


class UnknownMessageType(ProtocolError):
    code = "unknown_type"
