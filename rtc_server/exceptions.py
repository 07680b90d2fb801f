"""Domain errors of the classroom server.

    ClassroomError
    ├── SessionNotFound        (404)
    ├── SessionEnded           (410)
    ├── PermissionDenied       (403: the role may not do this)
    ├── InvalidRequest         (400/422: well-formed but not acceptable now)
    └── RateLimited            (429: the client sends faster than allowed)

Only the aiohttp handlers turn these into HTTP statuses or error replies; the
``code`` attribute is the stable string that goes on the wire.
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
