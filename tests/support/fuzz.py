"""Generated client input for the fuzz test: valid messages of every type, and broken ones.

:class:`MessageFuzzer` makes WebSocket/data-channel messages for one client (its role
decides which types are valid for it; it also sends types its role may not use).
:class:`HttpFuzzer` makes HTTP API requests. Both draw from a seeded ``random.Random``,
so a failing run can be replayed with its seed.

Every generated message says what a correct server must do with it: ``mid`` is the id an
error reply must carry in ``re`` (None when the message has no readable id: no id, an id
that is not a string of 1-64 characters of valid text, not a JSON object, broken JSON),
and ``must_fail`` says an error reply is certain (a lone surrogate, NaN, a huge number,
deep nesting, an unknown type, an oversized message).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any

# Literals json.dumps cannot write, put in as placeholder strings and swapped in afterwards.
_LITERALS = {"NaN": "NaN", "Infinity": "Infinity", "-Infinity": "-Infinity",
             "1e400": "1e400", "-1e400": "-1e400"}
STAFF = ("teacher", "admin")
GHOSTS = ("ghost-1", "ghost-2", "nobody")


@dataclass
class Known:
    """Ids seen in the session's events, shared by all fuzzers (valid targets)."""

    questions: list[str] = field(default_factory=list)
    polls: list[str] = field(default_factory=list)
    helps: list[str] = field(default_factory=list)
    generations: list[str] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    last_seq: int = 0

    def observe(self, event: dict[str, Any]) -> None:
        self.last_seq = max(self.last_seq, event["seq"])
        payload, kind = event["payload"], event["type"]
        if kind == "question.opened":
            self.questions.append(payload["question"]["id"])
        elif kind == "poll.opened":
            self.polls.append(payload["poll"]["id"])
        elif kind == "help.queue" and "added" in payload.get("change", {}):
            self.helps.append(payload["change"]["added"]["id"])
        elif kind == "content.started":
            self.generations.append(payload["generation_id"])
        elif kind == "board.op" and payload["op"].get("item"):
            self.items.append(payload["op"]["item"]["id"])
        for bucket in (self.questions, self.polls, self.helps, self.generations, self.items):
            del bucket[:-20]


@dataclass
class Generated:
    data: str | bytes
    mid: str | None  # the id an error reply must carry (None: not readable)
    must_fail: bool
    kind: str
    type: str
    sent_id: str = ""  # the id the message had before it was broken (a reply may name it)
    sent_at: float = 0.0  # time.monotonic() when it was sent
    via: str = ""  # the transport it went over


class MessageFuzzer:
    """Messages one client sends; ``role`` and ``user`` are the sender's."""

    def __init__(self, rng: random.Random, role: str, user: str, known: Known, *,
                 limit: int, webrtc: bool) -> None:
        self.rng = rng
        self.role = role
        self.user = user
        self.known = known
        self.limit = limit
        self.webrtc = webrtc
        self.count = 0
        self.offered = False

    # -- valid messages --------------------------------------------------------------------

    def _text(self, most: int = 40) -> str:
        alphabet = "abcdefghij klmnop ÄÖü 한국어 ✓ 🙂 <b>&amp;</b> \"'\\/\n\t"
        return "".join(self.rng.choice(alphabet) for _ in range(self.rng.randint(1, most)))

    def _pick(self, items: list[str], *fallback: str) -> str:
        pool = items + list(fallback or ("nope",))
        return self.rng.choice(pool)

    def _user(self) -> str:
        return self._pick(self.known.users, *GHOSTS)

    def _target(self) -> dict[str, Any]:
        r = self.rng.random()
        if r < 0.4:
            return {"group": "teacher"}
        if r < 0.6:
            return {"session": True}
        if r < 0.8:
            return {"user": self._user()}
        return {"group": self.rng.choice(["students", "observers", "table-1", "nope"])}

    def _board_op(self) -> dict[str, Any]:
        kind = self.rng.choice(["add", "add", "stroke", "move", "delete", "clear"])
        item_id = f"i-{self.user}-{self.rng.randint(0, 50)}"
        color = self.rng.choice([None, "#1e3a8a", "#FFF59D", "red", "#12345"])
        if kind == "add":
            item = {"id": item_id, "x": self.rng.uniform(-5, 10_005), "y": self.rng.randint(0, 10_000),
                    "text": self._text(), "color": color}
            return {"kind": "add", "item": {k: v for k, v in item.items() if v is not None}}
        if kind == "stroke":
            points = [[self.rng.uniform(0, 10_000), self.rng.uniform(0, 10_000)]
                      for _ in range(self.rng.randint(0, 5))]
            return {"kind": "stroke", "item": {"id": item_id, "points": points,
                                               "width": self.rng.choice([3, 0.1, 60])}}
        if kind in ("move", "delete"):
            op = {"kind": kind, "item_id": self._pick(self.known.items, item_id)}
            if kind == "move":
                op |= {"x": self.rng.uniform(0, 10_000), "y": self.rng.uniform(0, 10_000)}
            return op
        return {"kind": "clear"}

    def _content_request(self) -> dict[str, Any]:
        kind = self.rng.choice(["lesson", "visual", "plan", "adapt", "lesson"])
        if kind == "lesson":
            return {"kind": "lesson", "prompt": self._text(), "max_tokens": 64}
        if kind == "visual":
            return {"kind": "visual", "description": self.rng.choice([self._text(), 7, None])}
        if kind == "plan":
            return {"kind": "plan", "topic": self._text(20),
                    "minutes_remaining": self.rng.choice([5, 0, 300])}
        return {"kind": "adapt", "text": self._text(), "target_difficulty": self.rng.choice(
            ["beginner", 3, 9, "hard"])}

    def valid(self) -> dict[str, Any]:
        """A well-formed message of a random type (its role may still be refused)."""
        rng, known = self.rng, self.known
        staff = self.role in STAFF
        choices = ["ping", "message", "board.sync", "interactions.sync", "replay", "transport",
                   "candidate", "answer", "offer", "help.request", "answer.submit",
                   "poll.vote", "board.op", "content.confused", "media.max_rung",
                   "question.ask", "poll.start", "hint.send", "chat.mute", "group.set",
                   "session.update", "question.close", "poll.close", "help.resolve",
                   "board.permit", "media.set_rung", "content.stop", "participant.remove"]
        if staff:
            choices += ["question.ask", "poll.start", "board.permit", "message", "hint.send",
                        "content.request"]
        kind = rng.choice(choices)
        if kind == "content.request" and rng.random() < 0.8:
            kind = "message"  # generation is expensive: keep it rare
        msg: dict[str, Any] = {"type": kind}
        if kind == "ping":
            msg |= {"t": rng.uniform(0, 1e12), "rtt_ms": rng.choice([None, 12.5, 0])}
        elif kind == "message":
            msg |= {"to": self._target(), "text": self._text(),
                    "data": rng.choice([None, {"k": [1, 2.5, True, None, "v"]}])}
        elif kind == "replay":
            msg |= {"after_seq": max(0, known.last_seq - rng.randint(0, 20))}
        elif kind == "transport":
            msg |= {"events": rng.choice(["websocket", "datachannel"])}
        elif kind == "candidate":
            msg |= {"candidate": rng.choice(["", None, "candidate:1 1 udp 2130706431 192.0.2.9 "
                                             "9 typ host", "garbage"]),
                    "sdpMid": rng.choice(["0", "9", None]), "sdpMLineIndex": rng.choice(
                        [0, 3, None])}
        elif kind == "answer":
            msg |= {"sdp": rng.choice(["v=0\r\n", "not sdp"])}
        elif kind == "offer":
            msg |= {"sdp": rng.choice(["v=0\r\nthis is not sdp\r\n", "x", "v=0\r\n"
                                       + "m=application 9 UDP/DTLS/SCTP x\r\n" * 20])}
        elif kind == "help.request":
            msg |= {"kind": rng.choice(["hand", "help"]), "text": self._text()}
        elif kind == "answer.submit":
            msg |= {"question_id": self._pick(known.questions),
                    **rng.choice([{"choice": rng.randint(-1, 4)}, {"text": self._text()}])}
        elif kind == "poll.vote":
            msg |= {"poll_id": self._pick(known.polls), "option": rng.randint(-1, 3)}
        elif kind == "board.op":
            msg |= {"op": self._board_op()}
        elif kind == "content.confused":
            msg |= {"detail": self._text()}
        elif kind in ("media.max_rung", "media.set_rung"):
            msg |= {"rung": rng.choice(["low", "medium", "high", None, "auto"])}
            if kind == "media.set_rung":
                msg["user"] = self._user()
        elif kind == "question.ask":
            choices_ = [self._text(10) for _ in range(rng.randint(0, 4))]
            msg |= {"text": self._text(), "kind": rng.choice(["choice", "free"]),
                    "choices": choices_, "correct": rng.choice([0, 1, "ref", None]),
                    "time_limit_s": rng.choice([None, 30, 5]), "auto_hint": rng.random() < .3}
        elif kind == "poll.start":
            msg |= {"question": self._text(), "options": [self._text(8) for _ in range(3)],
                    "show_results": rng.random() < 0.5}
        elif kind == "hint.send":
            msg |= {"user": self._user(), "question_id": self._pick(known.questions),
                    "text": rng.choice([None, self._text()])}
        elif kind == "chat.mute":
            msg |= {"user": self._user(), "muted": rng.random() < 0.5}
        elif kind == "group.set":
            msg |= {"group": rng.choice(["table-1", "table-2", "students", "teacher"]),
                    "add": [self._user()], "remove": []}
        elif kind == "session.update":
            msg |= {"current_topic": self._text(30), "planned_minutes": rng.randint(1, 90)}
        elif kind in ("question.close",):
            msg |= {"question_id": self._pick(known.questions)}
        elif kind == "poll.close":
            msg |= {"poll_id": self._pick(known.polls)}
        elif kind == "help.resolve":
            msg |= {"help_id": self._pick(known.helps)}
        elif kind == "board.permit":
            msg |= {"students": rng.random() < 0.7}
        elif kind == "content.stop":
            msg |= {"generation_id": self._pick(known.generations)}
        elif kind == "participant.remove":
            msg |= {"user": rng.choice(GHOSTS)}  # never a connected client: they would leave
        elif kind == "content.request":
            msg |= {"request": self._content_request(),
                    "to": rng.choice([{"session": True}, {"group": "teacher"}])}
        if rng.random() < 0.1:
            msg["x_unknown_field"] = {"ignored": True}  # forward compatibility
        return msg

    # -- broken messages ---------------------------------------------------------------------

    def next(self) -> Generated:
        generated = self._next()
        generated.sent_id = f"{self.user}-{self.count}"
        return generated

    def _next(self) -> Generated:
        self.count += 1
        mid = f"{self.user}-{self.count}"
        msg = self.valid()
        msg["id"] = mid
        rng = self.rng
        kind = rng.choices(
            ["valid", "surrogate", "surrogate_id", "nan", "deep", "very_deep", "huge_int",
             "huge_float", "wrong_type", "unknown_type", "no_type", "not_object", "truncated",
             "oversized", "binary_json", "binary_garbage", "no_id", "bad_id", "not_utf8_text"],
            weights=[50, 4, 2, 4, 3, 1, 3, 2, 6, 3, 2, 2, 3, 1, 5, 2, 3, 2,
                     1 if self.webrtc else 0])[0]
        mtype = str(msg["type"])
        if kind in ("valid", "binary_json"):
            text = _encode(msg)
            return Generated(text.encode() if kind == "binary_json" else text, mid, False, kind,
                             mtype)
        if kind == "surrogate":
            _put(rng, msg, rng.choice(["\ud800", "a\udfffb", "\udc80"]))
            return Generated(_encode(msg), mid, True, kind, mtype)
        if kind == "surrogate_id":
            msg["id"] = rng.choice(["\ud800", f"{mid}\udc00"])
            return Generated(_encode(msg), None, True, kind, mtype)
        if kind == "nan":
            _put(rng, msg, "\x00" + rng.choice(list(_LITERALS)) + "\x00")
            return Generated(_encode(msg), mid, True, kind, mtype)
        if kind in ("deep", "very_deep"):
            depth = rng.randint(33, 60) if kind == "deep" else rng.randint(1000, 5000)
            _put(rng, msg, "\x00DEEP\x00")
            return Generated(_encode(msg).replace('"\\u0000DEEP\\u0000"',
                                                  "[" * depth + "]" * depth), mid, True, kind,
                             mtype)
        if kind == "huge_int":
            _put(rng, msg, rng.choice([2**53 + 1, -(2**60), 10**30, 10**400]))
            return Generated(_encode(msg), mid, True, kind, mtype)
        if kind == "huge_float":
            _put(rng, msg, rng.choice([1e300, -1e200, 9.1e15]))
            return Generated(_encode(msg), mid, True, kind, mtype)
        if kind == "wrong_type":
            keys = [k for k in msg if k not in ("type", "id")]
            if keys:
                msg[rng.choice(keys)] = rng.choice([[], {}, 7, -1, "s", True, None, [[1]]])
            return Generated(_encode(msg), mid, False, kind, mtype)
        if kind == "unknown_type":
            msg["type"] = rng.choice(["teleport", "Message", "", "message ", "board.op.x"])
            return Generated(_encode(msg), mid, True, kind, mtype)
        if kind == "no_type":
            del msg["type"]
            return Generated(_encode(msg), mid, True, kind, mtype)
        if kind == "not_object":
            text = rng.choice(['["id", "x"]', '"message"', "42", "null", "[]", "true"])
            return Generated(text, None, True, kind, mtype)
        if kind == "truncated":
            text = _encode(msg)
            return Generated(text[:rng.randint(0, max(0, len(text) - 1))], None, True, kind,
                             mtype)
        if kind == "oversized":
            msg["padding"] = "p" * rng.randint(self.limit + 1, 3 * self.limit)
            if rng.random() < 0.5:  # the id last, after the bulk
                msg["id"] = msg.pop("id")
            return Generated(_encode(msg), mid, True, kind, mtype)
        if kind == "not_utf8_text":  # sent as a text message (PPID 51) by the test
            return Generated(_encode(msg).encode()[:-2] + b"\xff\xfe}", None, True, kind, mtype)
        if kind == "binary_garbage":
            data = bytes(rng.randrange(256) for _ in range(rng.randint(1, 200)))
            return Generated(data, None, True, kind, mtype)
        if kind == "no_id":
            del msg["id"]
            return Generated(_encode(msg), None, False, kind, mtype)
        msg["id"] = rng.choice([7, "", "x" * 65, ["a"], {"id": "a"}, None])
        return Generated(_encode(msg), None, msg["id"] is not None, kind, mtype)


def _put(rng: random.Random, msg: dict[str, Any], value: Any) -> None:
    """Put ``value`` somewhere in ``msg``: over a field, nested in a new one, in ``data``."""
    keys = [k for k in msg if k not in ("type", "id")]
    where = rng.random()
    if keys and where < 0.4:
        msg[rng.choice(keys)] = value
    elif where < 0.7:
        msg["data"] = {"v": value, "list": [1, {"deeper": value}]}
    else:
        msg["x_extra"] = value  # even a field the server ignores is checked


def _encode(msg: Any) -> str:
    text = json.dumps(msg)  # ensure_ascii: lone surrogates become \udXXX escapes
    for name, literal in _LITERALS.items():
        text = text.replace(f'"\\u0000{name}\\u0000"', literal)
    return text


# -- HTTP ----------------------------------------------------------------------------------------

@dataclass
class HttpRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: str | bytes | None
    kind: str


class HttpFuzzer:
    """HTTP API requests with one credential (``token``: API secret, a join token or None)."""

    def __init__(self, rng: random.Random, token: str | None, *, session: str, limit: int
                 ) -> None:
        self.rng = rng
        self.token = token
        self.session = session
        self.limit = limit
        self.messages = MessageFuzzer(rng, "teacher", "http", Known(), limit=limit,
                                      webrtc=False)

    def _body(self, valid: dict[str, Any]) -> tuple[str | bytes, str]:
        rng = self.rng
        kind = rng.choices(["valid", "surrogate", "nan", "deep", "very_deep", "huge",
                            "wrong_type", "not_json", "not_object", "binary", "oversized"],
                           weights=[40, 6, 6, 4, 2, 5, 10, 6, 4, 4, 2])[0]
        msg = dict(valid)
        if kind == "valid":
            return _encode(msg), kind
        if kind == "surrogate":
            _put(rng, msg, "\ud800")
        elif kind == "nan":
            _put(rng, msg, "\x00" + rng.choice(list(_LITERALS)) + "\x00")
        elif kind in ("deep", "very_deep"):
            depth = rng.randint(33, 60) if kind == "deep" else rng.randint(1000, 5000)
            _put(rng, msg, "\x00DEEP\x00")
            return _encode(msg).replace('"\\u0000DEEP\\u0000"', "[" * depth + "]" * depth), kind
        elif kind == "huge":
            _put(rng, msg, rng.choice([10**30, 1e300, -(2**60)]))
        elif kind == "wrong_type":
            keys = list(msg) or ["x"]
            msg[rng.choice(keys)] = rng.choice([[], {}, 7, "s", True, None])
        elif kind == "not_json":
            return rng.choice(["{", "nope", '{"a":}', "\xff"]), kind
        elif kind == "not_object":
            return rng.choice(["[]", "42", '"s"', "null"]), kind
        elif kind == "binary":
            return bytes(rng.randrange(256) for _ in range(rng.randint(1, 100))), kind
        else:
            msg["padding"] = "p" * rng.randint(self.limit, 5 * self.limit)
        return _encode(msg), kind

    def next(self) -> HttpRequest:
        rng, sid = self.rng, self.session
        other = rng.choice([sid, sid, "other-session", "\u00e9t\u00e9", "s%2F1"])
        user = rng.choice(["ada", "ghost-1", "teacher"])
        mid = f"m-{rng.randint(0, 99)}"
        choices: list[tuple[str, str, dict[str, Any] | None]] = [
            ("GET", "/healthz", None), ("GET", "/metrics", None),
            ("GET", f"/api/sessions/{other}", None),
            ("PATCH", f"/api/sessions/{other}", {"current_topic": "Cells",
                                                  "planned_minutes": rng.randint(0, 700)}),
            ("POST", "/api/sessions", {"subject": "Math", "session_id": f"fz-{rng.randint(0, 9)}",
                                       "teacher_id": "t", "ai_context": {"a": [1]}}),
            ("POST", f"/api/sessions/fz-{rng.randint(0, 9)}/end", None),
            ("PUT", f"/api/sessions/{other}/groups/{rng.choice(['g1', 'teacher'])}",
             {"add": [user], "remove": []}),
            ("POST", f"/api/sessions/{other}/events", {"to": {"session": True},
                                                       "text": "fuzz", "data": {"k": 1}}),
            ("POST", "/api/tokens", {"session_id": sid, "user_id": user,
                                     "role": rng.choice(["student", "wizard"]), "ttl_s": 60}),
            ("POST", "/api/classes", {"subject": "Bio", "planned_minutes": 45}),
            ("GET", f"/api/classes/{rng.choice(['ABCDEF', 'zz', '%FF'])}", None),
            ("POST", "/api/join", {"code": "ABCDEF", "name": "Ada"}),
            ("GET", f"/api/sessions/{other}/materials", None),
            ("POST", f"/api/sessions/{other}/materials", {"text": "Plants make sugar.",
                                                          "kind": "text"}),
            ("GET", f"/api/sessions/{other}/materials/{mid}", None),
            ("PATCH", f"/api/sessions/{other}/materials/{mid}", {"published": True}),
            ("DELETE", f"/api/sessions/{other}/materials/{mid}", None),
            ("GET", f"/api/sessions/{other}/media", None),
            ("PUT", f"/api/sessions/{other}/media/viewers/{user}", {"rung": "low"}),
            ("GET", "/api/admin/overview", None),
            ("POST", f"/whip/{other}", None),
            ("DELETE", f"/whip/{other}/nope", None),
            ("PATCH", f"/whip/{other}/nope", None),
            ("OPTIONS", f"/whip/{other}", None),
            ("GET", "/api/nope", None), ("DELETE", "/api/tokens", None),
            ("GET", "/dev/join?session=fz&role=student&format=json", None),
        ]
        method, path, valid = rng.choice(choices)
        headers = {}
        if self.token is not None:
            if rng.random() < 0.8:
                headers["Authorization"] = f"Bearer {self.token}"
            else:
                path += ("&" if "?" in path else "?") + f"token={self.token}"
        if rng.random() < 0.05:
            path += rng.choice(["?x=%ED%A0%80", "?token=%FF", "?last_seq=1e400"])
        body: str | bytes | None = None
        kind = "no_body"
        if path.startswith("/whip/") and method == "POST":
            headers["Content-Type"] = rng.choice(["application/sdp", "text/plain"])
            body = rng.choice([b"v=0\r\n\xff", "v=0\r\nnot sdp\r\n", "x" * 300_000,
                               "v=0\r\n" + "m=video 9 RTP/AVP 96\r\n" * 40])
            kind = "sdp"
        elif valid is not None:
            body, kind = self._body(valid)
            headers["Content-Type"] = "application/json"
        return HttpRequest(method, path, headers, body, kind)
