"""JSON a client sends, read with bounds: the checks every client string and number passes.

Python's :func:`json.loads` accepts more than the server may pass on: ``NaN`` and
``Infinity`` (not JSON; browsers' ``JSON.parse`` throws on them), ``1e400`` (read
as ``inf``), integers of any size, nesting until the interpreter's recursion
limit (a ``RecursionError``), and escaped lone surrogates (``"\\ud800"``: legal
JSON text, but no UTF-8 encoder accepts the string it decodes to, so an event
carrying it cannot be sent to anyone). :func:`loads` refuses all of these with
a :class:`MalformedMessage` that names the field, so nothing past the boundary
ever holds them:

- nesting: at most :data:`MAX_DEPTH` levels of objects/arrays (the message itself is one);
- numbers: finite, within ±2^53 (:data:`MAX_SAFE_INTEGER`, the integers a
  JavaScript client represents exactly);
- text: every string and object key is valid Unicode text (encodable as UTF-8).

Refusing, rather than replacing a lone surrogate with U+FFFD, is deliberate:
a replacement would silently change an id (a resend would no longer match, and
two ids could collide) and hide a client bug (a string cut in the middle of a
surrogate pair), where a refusal names the field and the client can fix it.

:func:`peek_top_level_id` finds a message's top-level ``"id"`` without parsing
it, wherever the id is and however deep or large the rest, so that an error
reply to a message the server cannot accept still names it.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from .exceptions import MalformedMessage, NotJson

__all__ = [
    "MAX_DEPTH",
    "MAX_SAFE_INTEGER",
    "check_text",
    "check_value",
    "is_text",
    "loads",
    "peek_top_level_id",
]

MAX_DEPTH = 32
MAX_SAFE_INTEGER = 2**53  # JavaScript's Number.MAX_SAFE_INTEGER + 1


def is_text(value: str) -> bool:
    """Whether ``value`` can be encoded as UTF-8 (no lone surrogates)."""
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _not_text(what: str, note: str = "") -> MalformedMessage:
    return MalformedMessage(f"{what} is not valid Unicode text (it holds a lone surrogate "
                            f"such as \\ud800, which cannot be encoded as UTF-8){note}")


def check_text(value: str, path: str) -> str:
    """``value`` itself, or :class:`MalformedMessage` naming field ``path`` if it is not text."""
    if not is_text(value):
        if path == "id":
            raise _not_text("field 'id'", "; this reply's 're' is null because that id "
                            "cannot be sent back")
        raise _not_text(f"field {path!r}")
    return value


def check_value(value: Any, *, what: str = "the message") -> None:
    """Check a decoded JSON value: depth, numbers and text (see the module docstring).

    Errors name the field (``data.points.3``), or ``what`` for the value itself.
    """
    _check(value, "", 1, what)


def _check(value: Any, path: str, depth: int, what: str) -> None:
    where = f"field {path!r}" if path else what
    if isinstance(value, str):
        if path:
            check_text(value, path)
        elif not is_text(value):
            raise _not_text(where)
    elif isinstance(value, bool) or value is None:
        return
    elif value is _HUGE:
        raise MalformedMessage(f"{where} is an integer outside ±2^53")
    elif isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise MalformedMessage(f"{where} is an integer outside ±2^53")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise MalformedMessage(
                f"{where} is not a finite number (NaN, Infinity and numbers like 1e400 "
                f"are refused)")
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise MalformedMessage(f"{where} is a number outside ±2^53")
    elif isinstance(value, dict | list):
        if depth > MAX_DEPTH:
            raise MalformedMessage(f"{where} is nested more than {MAX_DEPTH} levels deep")
        prefix = f"{path}." if path else ""
        if isinstance(value, dict):
            for key, item in value.items():
                if not is_text(key):
                    raise _not_text(f"a key in {where}")
                _check(item, prefix + key, depth + 1, what)
        else:
            for index, item in enumerate(value):
                _check(item, f"{prefix}{index}", depth + 1, what)


class _HugeInteger:
    """An integer literal of more digits than any allowed one (never converted: slow)."""


_HUGE = _HugeInteger()


def _constant(name: str) -> float:
    # NaN / Infinity / -Infinity: read them, so that check_value refuses them by field name.
    return float(name)


def _integer(digits: str) -> int | _HugeInteger:
    return int(digits) if len(digits) <= 20 else _HUGE


def loads(raw: str | bytes, *, what: str = "the message") -> Any:
    """Decode and check client JSON; :class:`MalformedMessage` says what is wrong and where
    (:class:`NotJson` when it is not JSON at all). ``what`` names the whole in errors."""
    try:
        data = json.loads(raw, parse_constant=_constant, parse_int=_integer)
    except RecursionError:
        raise NotJson(f"{what} is nested far more than {MAX_DEPTH} levels deep") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise NotJson(f"{what} is not valid JSON: {exc}") from exc
    check_value(data, what=what)
    return data


# A JSON string (unrolled, possessive: linear on long strings) or a bracket.
_TOKEN = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+"|[\[\]{}]', re.S)
_COLON = re.compile(r"\s*:\s*")


def peek_top_level_id(raw: str | bytes) -> str | None:
    """The top-level ``"id"`` of a message, read without parsing the rest of it.

    It works wherever ``id`` stands (first, last, after a huge field), whatever the
    nesting below, and in JSON that is otherwise invalid. Only a usable id is returned:
    a string of 1-64 characters that is valid text; the last one wins, as in
    :func:`json.loads`. Linear in the size of ``raw`` (the caller bounds it).
    """
    text = raw if isinstance(raw, str) else raw.decode("utf-8", "surrogateescape")
    depth = 0
    found: str | None = None
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token in ("{", "["):
            depth += 1
        elif token in ("}", "]"):
            depth -= 1
            if depth <= 0:
                break
        elif depth == 1 and token == '"id"':
            colon = _COLON.match(text, match.end())
            if colon is None:
                continue  # a value that happens to be "id", not a key
            value = _TOKEN.match(text, colon.end())
            found = None
            if value is not None and value.group().startswith('"'):
                try:
                    candidate = json.loads(value.group())
                except ValueError:
                    continue
                if 0 < len(candidate) <= 64 and is_text(candidate):
                    found = candidate
    return found
