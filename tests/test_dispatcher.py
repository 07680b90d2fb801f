"""The dispatcher: feature routes, one handling per message id, errors that name the message."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Literal

import aiohttp
import pytest

from rtc_server.base.messages import ClientMessageBase, MessageRegistry
from rtc_server.base.protocol import EventCatalogue
from rtc_server.core.connection import Connection
from rtc_server.core.feature import Feature, Route
from signaling.app import FEATURES, create_app
from tests.support.server import SECRET, Harness, server_config


class Count(ClientMessageBase):
    type: Literal["count.add"]
    n: int = 1


class CountFeature(Feature):
    """Counts how often its handler really ran (a resend must not run it again)."""

    name = "count"
    events = EventCatalogue("count", ())

    def __init__(self, services: Any) -> None:
        self.handled = 0

    def routes(self) -> list[Route[Any]]:
        async def add(conn: Connection, msg: Count, via: str) -> None:
            self.handled += msg.n

        return [Route(Count, add)]


@pytest.fixture
async def count_server(aiohttp_server) -> Harness:
    harness = Harness(await aiohttp_server(create_app(server_config(),
                                                      features=(*FEATURES, CountFeature))))
    await harness.classroom.create_session(session_id="s1", teacher_id="teacher")
    yield harness
    await harness.close()


def _feature(server: Harness) -> CountFeature:
    from signaling.keys import SERVICES

    return next(f for f in server.app[SERVICES].features if isinstance(f, CountFeature))


async def test_a_resent_message_is_handled_once_and_acked_as_duplicate(count_server) -> None:
    student = await count_server.client("ada", webrtc=False)
    first = await student.request({"type": "count.add", "id": "c1", "n": 3})
    again = await student.request({"type": "count.add", "id": "c1", "n": 3})
    assert first == {"type": "ack", "id": "c1"}
    assert again == {"type": "ack", "id": "c1", "duplicate": True}
    assert _feature(count_server).handled == 3
    # Another user's message with the same id is theirs: handled.
    bob = await count_server.client("bob", webrtc=False)
    await bob.request({"type": "count.add", "id": "c1", "n": 1})
    assert _feature(count_server).handled == 4


async def test_messages_are_counted_by_type_in_the_metrics(count_server) -> None:
    student = await count_server.client("ada", webrtc=False)
    for i in range(3):
        await student.request({"type": "count.add", "id": f"k{i}"})
    async with aiohttp.ClientSession() as http, http.get(f"{count_server.url}/metrics") as resp:
        text = await resp.text()
    assert 'classroom_client_messages_total{type="count.add"} 3.0' in text


async def test_signaling_over_the_ephemeral_channel_is_refused(server: Harness) -> None:
    student = await server.client("ada")
    await student.send_raw(json.dumps({"type": "candidate", "id": "e1", "candidate": ""}),
                           via="ephemeral")
    for _ in range(50):
        errors = [r for r in student.replies if r["type"] == "error" and r.get("re") == "e1"]
        if errors:
            break
        await asyncio.sleep(0.05)
    assert errors and "must not go over the ephemeral channel" in errors[0]["payload"]["message"]


def test_a_type_registered_twice_is_refused() -> None:
    class Other(ClientMessageBase):
        type: Literal["count.add"]

    registry = MessageRegistry((Count,))
    registry.register(Count)  # the same model again is fine
    with pytest.raises(ValueError, match="registered twice"):
        registry.register(Other)


async def test_the_api_secret_acts_as_the_system(count_server) -> None:
    async with aiohttp.ClientSession() as http, http.patch(
            f"{count_server.url}/api/sessions/s1", headers={"Authorization": f"Bearer {SECRET}"},
            json={"current_topic": "Tides"}) as resp:
        assert resp.status == 200
    teacher = await count_server.client("teacher", "teacher", webrtc=False)
    assert teacher.welcome["session"]["current_topic"] == "Tides"
