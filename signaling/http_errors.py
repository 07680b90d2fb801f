"""Every HTTP error in the documented shape ``{"error": {"code", "message"}}``, from one place.

Three kinds of errors reach a client, and each is turned into the JSON shape here:

1. **Domain and credential errors** raised by the handlers (``ClassroomError``,
   ``TokenError``): :func:`errors_middleware` gives them their status and ``code``.
2. **aiohttp's own HTTP errors inside the application**: ``404`` for an unknown path,
   ``405`` for a method a route does not have, ``413`` for a body over the API's
   limit, and ``HTTPException``\\ s a handler raises with a plain-text body. The
   middleware rewrites them (keeping ``Allow``, ``WWW-Authenticate`` and the status).
   A fault of the server (any other exception) is logged with its traceback and
   answered ``500 internal_error``.
3. **Requests aiohttp refuses before any application code runs**: a malformed request
   line, a header line or request line over 8190 bytes, too many headers, a bad
   ``Content-Length`` or chunk encoding. aiohttp 3.x answers these in
   ``RequestHandler.handle_error`` (``400``, plain text, with an ERROR log line and a
   traceback), with no middleware or signal a server can hook. :func:`setup` wraps
   that method once per process so that, for this application's connections only, the
   answer is the JSON shape and the log line is one INFO line without a traceback (a
   client's garbage is not a server fault); other aiohttp servers in the process are
   untouched. Checked against aiohttp 3.14 (``handle_error(request, status, exc,
   message)``, ``RequestHandler._manager.request_factory`` bound to the application);
   on a version without them nothing is wrapped and these errors stay plain text
   (documented in docs/protocol.md, section 7). The connection is closed after such an
   answer, as aiohttp always does.

Also here: the JSON encoder of every response (:func:`json_response`: no NaN, only valid
text), and the check that query values and path segments are valid text.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from aiohttp import hdrs, web
from aiohttp.web_protocol import RequestHandler

from rtc_server.base.exceptions import ClassroomError, MalformedMessage
from rtc_server.base.json_input import is_text
from rtc_server.base.protocol import dumps

from .exceptions import SignalingError, TokenError

__all__ = ["errors_middleware", "json_error", "json_response", "setup"]

logger = logging.getLogger(__name__)

#: ``code`` of aiohttp's own errors, by status.
HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "message_too_large",
    414: "bad_request",
    415: "unsupported_media_type",
    431: "headers_too_large",
    500: "internal_error",
}
#: Headers of an aiohttp error that a client needs, kept when the body is rewritten.
KEPT_HEADERS = (hdrs.ALLOW, hdrs.WWW_AUTHENTICATE, hdrs.RETRY_AFTER)
_JSON_ERRORS = web.AppKey("json_errors", bool)


def json_response(data: Any, *, status: int = 200,
                  headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response, encoded like every event (no NaN/Infinity, only valid text)."""
    return web.json_response(data, status=status, headers=headers, dumps=dumps)


def _error_body(code: str, message: str, details: dict[str, Any]) -> str:
    # Never fails: a message quoting text that is not valid Unicode is escaped (ASCII).
    return json.dumps({"error": {"code": code, "message": message, **details}})


def json_error(status: int, code: str, message: str, headers: dict[str, str] | None = None,
               **details: Any) -> web.Response:
    """The error shape; ``details`` add fields (``retry_after_ms`` also sets Retry-After)."""
    response = web.Response(text=_error_body(code, message, details), status=status,
                            headers=headers, content_type="application/json")
    retry_ms = details.get("retry_after_ms")
    if isinstance(retry_ms, int):
        response.headers["Retry-After"] = str(max(1, -(-retry_ms // 1000)))
    return response


def http_code(status: int) -> str:
    return HTTP_CODES.get(status, f"http_{status}")


def _from_http_exception(exc: web.HTTPException) -> web.Response:
    message = exc.text if exc.text and exc.content_type == "text/plain" else exc.reason
    headers = {str(name): exc.headers[name] for name in KEPT_HEADERS if name in exc.headers}
    return json_error(exc.status, http_code(exc.status), message.strip(), headers)


def _check_request_text(request: web.Request) -> None:
    """Query values and path segments are valid text (yarl already replaces most invalid
    percent-encodings; this is the guarantee for what it lets through)."""
    for name, value in request.query.items():
        if not is_text(name) or not is_text(value):
            raise MalformedMessage(f"query parameter {ascii(name)} is not valid Unicode text")
    for name, value in request.match_info.items():
        if not is_text(value):
            raise MalformedMessage(f"path segment {name!r} is not valid Unicode text")


@web.middleware
async def errors_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Domain, credential and aiohttp errors become JSON errors with a stable code."""
    try:
        _check_request_text(request)
        return await handler(request)
    except TokenError as exc:
        return json_error(401, exc.code, exc.message)
    except SignalingError as exc:
        return json_error(400, exc.code, exc.message)
    except MalformedMessage as exc:
        return json_error(422, exc.code, exc.message, **exc.details)
    except ClassroomError as exc:
        return json_error(exc.http_status, exc.code, exc.message, **exc.details)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise  # redirects, and errors a handler already wrote in the JSON shape
        return _from_http_exception(exc)
    except Exception:
        if request.headers.get(hdrs.UPGRADE, "").lower() == "websocket":
            raise  # the upgrade was answered already: aiohttp logs and closes it
        logger.exception("%s %s failed", request.method, request.path)
        return json_error(500, "internal_error", "the server failed on this request")


# -- errors aiohttp answers before the application (see the module docstring) ----------------

_original_handle_error = RequestHandler.handle_error


def _is_ours(handler: RequestHandler) -> bool:
    factory = getattr(getattr(handler, "_manager", None), "request_factory", None)
    app = getattr(factory, "__self__", None)
    return isinstance(app, web.Application) and app.get(_JSON_ERRORS, False)


def _handle_error(self: RequestHandler, request: Any, status: int = 500,
                  exc: BaseException | None = None,
                  message: str | None = None) -> web.StreamResponse:
    if not _is_ours(self):
        return _original_handle_error(self, request, status, exc, message)
    if status >= 500:
        # A fault of the server: aiohttp logs it with its traceback; only the body changes.
        _original_handle_error(self, request, status, exc, message)
        text = "the server failed on this request"
    else:
        # A client's malformed request: one line, no traceback.
        logger.info("refused a malformed HTTP request from %s: %s %s", request.remote,
                    status, message or exc)
        if request.writer.output_size > 0:
            raise ConnectionError("response already started; cannot send the error")
        text = message or (str(exc) if exc else "") or HTTPStatus(status).phrase
    response = json_error(status, http_code(status), text)
    response.force_close()
    return response


def _wrap_handle_error() -> bool:
    if getattr(RequestHandler.handle_error, "__wrapped_by__", None) == __name__:
        return True
    handle_error = getattr(RequestHandler, "handle_error", None)
    if handle_error is None or "request_factory" not in inspect.signature(
            web.Server.__init__).parameters:
        logger.warning("aiohttp without RequestHandler.handle_error/Server.request_factory: "
                       "malformed HTTP requests are answered in plain text")
        return False
    _handle_error.__wrapped_by__ = __name__  # type: ignore[attr-defined]
    RequestHandler.handle_error = _handle_error  # type: ignore[method-assign]
    return True


def setup(app: web.Application) -> None:
    """Answer every error of ``app`` in the JSON shape (add the middleware first)."""
    app[_JSON_ERRORS] = _wrap_handle_error()
