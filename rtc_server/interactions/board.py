"""The shared board: operation validation and state (no I/O).

Operations (``op`` of a ``board.op`` message)::

    {"kind": "add",    "item": {"id", "x", "y", "text", "color"?}}     sticky note
    {"kind": "stroke", "item": {"id", "points": [[x, y], ...], "color"?, "width"?}}
    {"kind": "move",   "item_id", "x", "y"}                            note position / stroke offset
    {"kind": "delete", "item_id"}
    {"kind": "clear"}                                                  staff only

Coordinates are board units, ``0 <= x, y <= BOARD_UNITS``. Every accepted op
gets a board ``seq`` (1, 2, 3, ... per session) from the store; the board
state is the ops applied in ``seq`` order. :func:`apply` is total: an op on
an item that another process deleted a moment earlier changes nothing, so
every client that applies the same ops in the same order gets the same board.

Sync rule for clients: ask ``board.sync`` and get ``{seq, items}``; apply
only live ``board.op`` events with ``board_seq > seq`` (drop the others, they
are already in the snapshot), in ``board_seq`` order.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from .exceptions import InvalidBoardOp

__all__ = [
    "BOARD_UNITS",
    "OP_KINDS",
    "BoardState",
    "apply",
    "check_applicable",
    "parse_op",
]

BOARD_UNITS = 10_000
MAX_TEXT = 500
MAX_POINTS = 2000
MIN_WIDTH, MAX_WIDTH = 0.5, 50.0
OP_KINDS = ("add", "stroke", "move", "delete", "clear")
DEFAULT_NOTE_COLOR = "#fff59d"
DEFAULT_STROKE_COLOR = "#1e3a8a"
_ITEM_ID = re.compile(r"^[A-Za-z0-9_.:@-]{1,64}$")
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


@dataclass
class BoardState:
    """Items by id in the order they were added; ``seq`` is the last applied board seq."""

    seq: int = 0
    items: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "items": [dict(i) for i in self.items.values()]}


def _obj(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidBoardOp(name, f"must be an object, not {type(value).__name__}")
    return value


def _coord(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidBoardOp(name, "must be a number")
    if not 0 <= value <= BOARD_UNITS:
        raise InvalidBoardOp(name, f"must be within 0..{BOARD_UNITS}, got {value}")
    return float(value)


def _item_id(value: Any, name: str) -> str:
    if not isinstance(value, str) or not _ITEM_ID.match(value):
        raise InvalidBoardOp(name, "must be 1-64 characters of letters, digits and _.:@-")
    return value


def _color(value: Any, name: str, default: str) -> str:
    if value is None:
        return default
    if not isinstance(value, str) or not _COLOR.match(value):
        raise InvalidBoardOp(name, "must be a colour like '#1e3a8a'")
    return value.lower()


def parse_op(data: Any) -> dict[str, Any]:
    """Validate a raw op and return it normalised; :class:`InvalidBoardOp` names the field."""
    op = _obj(data, "op")
    kind = op.get("kind")
    if kind not in OP_KINDS:
        raise InvalidBoardOp("op.kind", f"must be one of {', '.join(OP_KINDS)}, got {kind!r}")
    if kind == "add":
        item = _obj(op.get("item"), "op.item")
        text = item.get("text", "")
        if not isinstance(text, str) or len(text) > MAX_TEXT:
            raise InvalidBoardOp("op.item.text", f"must be text of at most {MAX_TEXT} characters")
        return {"kind": "add", "item": {
            "id": _item_id(item.get("id"), "op.item.id"), "type": "note",
            "x": _coord(item.get("x"), "op.item.x"), "y": _coord(item.get("y"), "op.item.y"),
            "text": text, "color": _color(item.get("color"), "op.item.color", DEFAULT_NOTE_COLOR),
        }}
    if kind == "stroke":
        item = _obj(op.get("item"), "op.item")
        points = item.get("points")
        if not isinstance(points, list) or not 1 <= len(points) <= MAX_POINTS:
            raise InvalidBoardOp("op.item.points", f"must be a list of 1..{MAX_POINTS} [x, y]")
        clean: list[list[float]] = []
        for i, point in enumerate(points):
            if not isinstance(point, list | tuple) or len(point) != 2:
                raise InvalidBoardOp(f"op.item.points.{i}", "must be [x, y]")
            clean.append([_coord(point[0], f"op.item.points.{i}.0"),
                          _coord(point[1], f"op.item.points.{i}.1")])
        width = item.get("width", 3)
        if isinstance(width, bool) or not isinstance(width, int | float) or not (
                MIN_WIDTH <= width <= MAX_WIDTH):
            raise InvalidBoardOp("op.item.width", f"must be a number in {MIN_WIDTH}..{MAX_WIDTH}")
        return {"kind": "stroke", "item": {
            "id": _item_id(item.get("id"), "op.item.id"), "type": "stroke", "x": 0.0, "y": 0.0,
            "points": clean, "width": float(width),
            "color": _color(item.get("color"), "op.item.color", DEFAULT_STROKE_COLOR),
        }}
    if kind == "move":
        return {"kind": "move", "item_id": _item_id(op.get("item_id"), "op.item_id"),
                "x": _coord(op.get("x"), "op.x"), "y": _coord(op.get("y"), "op.y")}
    if kind == "delete":
        return {"kind": "delete", "item_id": _item_id(op.get("item_id"), "op.item_id")}
    return {"kind": "clear"}


def check_applicable(state: BoardState, op: dict[str, Any]) -> None:
    """Refuse an op that makes no sense on the current board (a duplicate id, a missing item)."""
    kind = op["kind"]
    if kind in ("add", "stroke") and op["item"]["id"] in state.items:
        raise InvalidBoardOp("op.item.id", f"item {op['item']['id']!r} already exists")
    if kind in ("move", "delete") and op["item_id"] not in state.items:
        raise InvalidBoardOp("op.item_id", f"no item {op['item_id']!r} on the board")


def apply(state: BoardState, seq: int, op: dict[str, Any]) -> None:
    """Apply a validated op with board seq ``seq`` (ops already applied are skipped)."""
    if seq <= state.seq:
        return
    state.seq = seq
    kind = op["kind"]
    if kind in ("add", "stroke"):
        state.items.setdefault(op["item"]["id"], dict(op["item"]))
    elif kind == "move":
        item = state.items.get(op["item_id"])
        if item is not None:
            item["x"], item["y"] = op["x"], op["y"]
    elif kind == "delete":
        state.items.pop(op["item_id"], None)
    elif kind == "clear":
        state.items.clear()
