"""The wire vocabulary: audiences, the one envelope both buses build, replies, JSON rules."""

from __future__ import annotations

import json
import math

import pytest

from rtc_server.base.exceptions import InvalidRequest
from rtc_server.base.protocol import (
    CORE_EVENTS,
    PROTOCOL_VERSION,
    Audience,
    EventCatalogue,
    EventType,
    dumps,
    envelope_parts,
    error_reply,
)


def test_envelope_parts_make_one_json_object_around_the_seq() -> None:
    head, tail = envelope_parts(session_id="s1", ts_ms=5, type="message",
                                audience=Audience.group("table 1"), payload_json='{"a":1}')
    wire = f"{head}42{tail}"
    assert json.loads(wire) == {"v": PROTOCOL_VERSION, "type": "message", "seq": 42, "ts": 5,
                                "session": "s1", "to": {"group": "table 1"},
                                "payload": {"a": 1}}
    assert list(json.loads(wire)) == ["v", "type", "seq", "ts", "session", "to", "payload"]


@pytest.mark.parametrize("audience", [Audience.session(), Audience.group("g"),
                                      Audience.user("u"), Audience.teachers()])
def test_audience_round_trips(audience: Audience) -> None:
    assert Audience.from_json(audience.to_json()) == audience
    assert Audience.from_parts(audience.kind, audience.name or "") == audience


def test_dumps_refuses_what_is_not_json() -> None:
    # A domain error (the sender's error reply), not a ValueError (an internal_error).
    with pytest.raises(InvalidRequest, match="not JSON compliant"):
        dumps({"v": math.nan})
    with pytest.raises(InvalidRequest, match="not valid Unicode"):
        dumps({"data": {"v": "\ud800"}})
    assert dumps({"k": "ü"}) == '{"k":"ü"}'


def test_error_reply_never_fails_to_encode() -> None:
    reply = json.loads(error_reply("s1", "malformed_message", "bad \udc80 text", re="\ud800"))
    assert reply["re"] is None and reply["payload"]["message"] == "bad ? text"


def test_error_reply_carries_the_request_id_and_details() -> None:
    reply = json.loads(error_reply("s1", "rate_limited", "slow down", re="m7",
                                   retry_after_ms=250))
    assert reply["re"] == "m7" and reply["seq"] is None
    assert reply["payload"] == {"code": "rate_limited", "message": "slow down",
                                "retry_after_ms": 250}


def test_catalogues_name_their_types() -> None:
    catalogue = EventCatalogue("x", (EventType("x.done", "session", "done"),))
    assert "x.done" in catalogue and "x.other" not in catalogue
    assert catalogue.names() == {"x.done"}
    assert {"session.ended", "group.updated", "presence"} <= CORE_EVENTS.names()
