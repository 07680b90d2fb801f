"""The layout holds: no import cycle, every declared type documented, features plug in by one line.

The layers contract itself (nothing imports a layer above it) is checked by
import-linter in ``scripts/test.sh`` (``[tool.importlinter]`` in pyproject.toml).
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any, ClassVar, Literal

import grimp

from rtc_server.base.identity import Identity
from rtc_server.base.messages import CORE_MESSAGES, ClientMessageBase, message_type
from rtc_server.base.protocol import CORE_EVENTS, Audience, EventCatalogue, EventType
from rtc_server.core.connection import Connection
from rtc_server.core.feature import Feature, Route
from rtc_server.core.services import Services
from signaling.app import FEATURES, create_app
from signaling.keys import SERVICES
from tests.support.server import Harness, server_config

DOC = (Path(__file__).resolve().parent.parent / "docs" / "protocol.md").read_text()


def _cycles(graph: Any) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.find_modules_directly_imported_by(v):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_no_import_cycle_type_checking_imports_included() -> None:
    graph = grimp.build_graph("rtc_server", "signaling", "adaptive")
    assert len(graph.modules) > 100  # the whole code base was read
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    class Graph:
        modules = {"a", "b", "c"}

        @staticmethod
        def find_modules_directly_imported_by(name: str) -> set[str]:
            return {"a": {"b"}, "b": {"a"}, "c": {"a"}}[name]

    assert _cycles(Graph()) == [["a", "b"]]


def _installed_features() -> list[type[Feature]]:
    from rtc_server.chat import ChatFeature
    from rtc_server.content import ContentFeature
    from rtc_server.interactions import InteractionsFeature
    from rtc_server.media import MediaFeature

    return [ChatFeature, InteractionsFeature, ContentFeature, MediaFeature]


def test_every_event_type_is_documented() -> None:
    catalogues = [CORE_EVENTS, *(f.events for f in _installed_features())]
    names = [t.name for c in catalogues for t in c]
    assert len(names) == len(set(names)), "an event type is declared twice"
    missing = [n for n in names if f"`{n}`" not in DOC]
    assert missing == []


async def test_every_client_message_type_is_documented(make_server) -> None:
    server = await make_server()
    registry = server.app[SERVICES].dispatcher.registry
    types = registry.known_types()
    assert {message_type(m) for m in CORE_MESSAGES} <= types
    assert {"message", "chat.mute", "question.ask", "content.request", "media.set_rung"} <= types
    missing = sorted(t for t in types if f"`{t}`" not in DOC)
    assert missing == []


def test_the_doc_names_no_undeclared_event_in_its_event_tables() -> None:
    declared = {t.name for c in [CORE_EVENTS, *(f.events for f in _installed_features())]
                for t in c}
    # Rows of the stream-event tables of section 5.2: "| `type` | audience | payload |".
    section = DOC.split("### 5.2", 1)[1].split("### 5.3", 1)[0]
    rows = re.findall(r"^\| `([a-z][a-z_.]*)` \|", section, re.M)
    assert rows and set(rows) <= declared


# -- a feature is one folder and one line ------------------------------------------------------

PING_BACK = EventType("echo.pinged", "user", "the echo feature answers")


class EchoPing(ClientMessageBase):
    type: Literal["echo.ping"]
    text: str = ""


class EchoFeature(Feature):
    """A feature written only against the contract: a message, an event, a snapshot part,
    reactions to joins and leaves, and a metric-free default for everything else."""

    name = "echo"
    events: ClassVar[EventCatalogue] = EventCatalogue("echo", (PING_BACK,))

    def __init__(self, services: Services) -> None:
        self.classroom = services.classroom
        self.joined: list[str] = []
        self.left: list[str] = []

    def routes(self) -> list[Route[Any]]:
        async def ping(conn: Connection, msg: EchoPing, via: str) -> dict[str, Any]:
            event = await self.classroom.publish(conn.session_id, Audience.user(conn.user_id),
                                                 PING_BACK, {"text": msg.text.upper()})
            return {"type": "ack", "id": msg.id, "seq": event.seq}

        return [Route(EchoPing, ping)]

    async def snapshot(self, who: Identity) -> dict[str, Any]:
        return {"joined": list(self.joined)}

    async def on_join(self, conn: Connection) -> None:
        self.joined.append(conn.user_id)

    async def on_leave(self, conn: Connection) -> None:
        self.left.append(conn.user_id)


async def test_a_feature_plugs_in_with_one_line(aiohttp_server) -> None:
    app = create_app(server_config(), features=(*FEATURES, EchoFeature))
    harness = Harness(await aiohttp_server(app))
    try:
        await harness.classroom.create_session(session_id="s1", teacher_id="teacher")
        student = await harness.client("ada", webrtc=False)
        echo = next(f for f in app[SERVICES].features if isinstance(f, EchoFeature))
        reply = await student.request({"type": "echo.ping", "text": "hi"})
        assert reply["type"] == "ack"
        event = await student.next_event("echo.pinged")
        assert event["payload"] == {"text": "HI"} and event["seq"] == reply["seq"]
        snapshot = await harness.classroom.snapshot(
            Identity(session_id="s1", user_id="ada", name="Ada", role="student"), 0)
        assert snapshot["echo"] == {"joined": ["ada"]}
        await student.close()
        async with asyncio.timeout(5):
            while echo.left != ["ada"]:
                await asyncio.sleep(0.02)
    finally:
        await harness.close()


def test_a_feature_cannot_be_installed_twice() -> None:
    from rtc_server.core.feature import Features

    features = Features()
    first = Feature.__new__(EchoFeature)
    features.add(first)
    try:
        features.add(Feature.__new__(EchoFeature))
    except ValueError as exc:
        assert "installed twice" in str(exc)
    else:
        raise AssertionError("a second 'echo' feature was accepted")
