"""The layout holds: no import cycle, every declared type documented, features plug in by one line.

The layers contract itself (nothing imports a layer above it) is checked by
import-linter in ``scripts/test.sh`` (``[tool.importlinter]`` in pyproject.toml).
"""

from __future__ import annotations

import ast
import asyncio
import functools
import re
from pathlib import Path
from typing import Any, ClassVar, Literal

import aiohttp
import grimp

from rtc_server import chat
from rtc_server.base.identity import Identity
from rtc_server.base.messages import CORE_MESSAGES, ClientMessageBase, message_type
from rtc_server.base.protocol import CORE_EVENTS, Audience, EventCatalogue, EventType
from rtc_server.core.connection import Connection
from rtc_server.core.feature import Feature, Post, Route
from rtc_server.core.services import Services
from signaling import app as app_module
from signaling.app import FEATURES, create_app
from signaling.keys import SERVICES
from tests.support.server import SECRET, Harness, server_config

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


@functools.cache
def _graph() -> Any:
    return grimp.build_graph("rtc_server", "signaling", "adaptive")


def test_no_import_cycle_type_checking_imports_included() -> None:
    graph = _graph()
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


# -- chat, the feature added only through the contract ----------------------------------------


def test_the_edge_names_chat_only_in_the_feature_list() -> None:
    """``chat/`` is one folder plus one line: no other module of signaling/ imports it, and
    ``signaling/app.py`` names it only in ``FEATURES`` (no app key, no endpoint of its own)."""
    graph = _graph()
    chat_modules = {m for m in graph.modules if m == "rtc_server.chat"
                    or m.startswith("rtc_server.chat.")}
    importers = {m for c in chat_modules for m in graph.find_modules_that_directly_import(c)
                 if m.split(".")[0] == "signaling"}
    assert importers == {"signaling.app"}
    tree = ast.parse(Path(app_module.__file__).read_text())
    features = next(node for node in ast.walk(tree) if isinstance(node, ast.AnnAssign)
                    and isinstance(node.target, ast.Name) and node.target.id == "FEATURES")
    in_features = {id(node) for node in ast.walk(features)}
    named = [node.lineno for node in ast.walk(tree)
             if isinstance(node, ast.Name) and node.id == "chat" and id(node) not in in_features]
    assert named == []
    imports = [(node.module, [a.name for a in node.names]) for node in ast.walk(tree)
               if isinstance(node, ast.ImportFrom) and node.module is not None
               and (node.module.startswith("rtc_server.chat") or (
                   node.module == "rtc_server" and "chat" in [a.name for a in node.names]))]
    assert [module for module, _ in imports] == ["rtc_server"]  # `from rtc_server import chat`


NOTICE = EventType("message", "as sent", "a notice posted by a backend")


class NoticeFeature(Feature):
    """Stands in for chat: the one feature that posts ``message`` events over HTTP."""

    name = "notice"
    events: ClassVar[EventCatalogue] = EventCatalogue("notice", (NOTICE,))

    def __init__(self, services: Services) -> None:
        self.classroom = services.classroom
        self.posted: list[tuple[str, str]] = []

    def posts(self) -> list[Post]:
        async def notice(who: Identity, to: Audience, text: str,
                         data: dict[str, Any] | None) -> Any:
            self.posted.append((who.role, text))
            return await self.classroom.publish(who.session_id, to, NOTICE,
                                                {"notice": text.upper(), "data": data})

        return [Post(NOTICE, notice)]


async def _post_event(url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.post(
            f"{url}/api/sessions/s1/events", json=body,
            headers={"Authorization": f"Bearer {SECRET}"}) as resp:
        return resp.status, await resp.json()


async def test_the_http_events_endpoint_reaches_the_feature_that_posts_messages(
        aiohttp_server) -> None:
    without_chat = tuple(f for f in FEATURES if f is not chat.build)
    app = create_app(server_config(), features=(*without_chat, NoticeFeature))
    harness = Harness(await aiohttp_server(app))
    try:
        await harness.classroom.create_session(session_id="s1", teacher_id="teacher")
        student = await harness.client("ada", webrtc=False)
        status, reply = await _post_event(harness.url, {"text": "fire drill", "data": {"n": 1}})
        assert status == 202
        event = await student.next_event("message")
        assert event["seq"] == reply["seq"]
        assert event["payload"] == {"notice": "FIRE DRILL", "data": {"n": 1}}
        notice = next(f for f in app[SERVICES].features if isinstance(f, NoticeFeature))
        assert notice.posted == [("system", "fire drill")]
        await student.close()
    finally:
        await harness.close()


async def test_the_http_events_endpoint_is_not_found_when_no_feature_posts_messages(
        aiohttp_server) -> None:
    without_chat = tuple(f for f in FEATURES if f is not chat.build)
    harness = Harness(await aiohttp_server(create_app(server_config(), features=without_chat)))
    try:
        await harness.classroom.create_session(session_id="s1", teacher_id="teacher")
        status, reply = await _post_event(harness.url, {"text": "anyone?"})
        assert status == 404
        assert "message" in reply["error"]["message"]
    finally:
        await harness.close()


def test_two_features_cannot_post_the_same_event_type() -> None:
    from rtc_server.core.feature import Features

    features = Features()
    features.add(Feature.__new__(NoticeFeature))
    second = Feature.__new__(NoticeFeature)
    second.name = "notice2"  # type: ignore[misc]
    try:
        features.add(second)
    except ValueError as exc:
        assert "'message'" in str(exc)
    else:
        raise AssertionError("a second feature posting 'message' events was accepted")


def test_only_the_state_layer_opens_redis_connections() -> None:
    """``state/storage.py`` builds every Redis pool (the shared one and the relay's bytes
    one); the rest of the server is handed a client."""
    root = Path(__file__).resolve().parent.parent
    opening = re.compile(r"ConnectionPool|from_url\(|Redis\(\s*(host|url|unix)")
    found = sorted(str(path.relative_to(root)) for package in ("rtc_server", "signaling")
                   for path in (root / package).rglob("*.py")
                   if opening.search(path.read_text()))
    assert found == ["rtc_server/state/storage.py"]


def test_test_modules_share_helpers_only_through_tests_support() -> None:
    """A test module imports no other test module (importing one runs its fixtures' module
    and ties two suites together); shared helpers live in ``tests/support/``."""
    here = Path(__file__).resolve().parent
    crossing = []
    for path in sorted(here.glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                     else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            crossing += [f"{path.name}: {name}" for name in names
                         if re.match(r"(tests\.)?test_", name)]
    assert crossing == []
