"""Content request validation and profile grouping."""

from __future__ import annotations

import pytest

from rtc_server.content import (
    InvalidContentRequest,
    PersonalizedRequest,
    group_profiles,
    parse_content_request,
)
from rtc_server.content.requests import parse_context


def test_prompt_is_stripped_and_limit_is_configurable() -> None:
    req = parse_content_request({"kind": "lesson", "prompt": "  Fractions  "}, max_prompt_chars=9)
    assert req.prompt == "Fractions"
    with pytest.raises(InvalidContentRequest) as info:
        parse_content_request({"kind": "lesson", "prompt": "x" * 10}, max_prompt_chars=9)
    assert info.value.field == "prompt" and "limit of 9" in info.value.message


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"kind": "lesson", "prompt": ""}, "prompt"),
        ({"kind": "lesson", "prompt": "ok", "colour": "red"}, "colour"),
        (
            {"kind": "plan", "topic": "x", "minutes_remaining": 10, "understanding": 1.5},
            "understanding",
        ),
        (
            {
                "kind": "plan",
                "topic": "x",
                "minutes_remaining": 10,
                "responses": [{"correct": True, "confidence": 2}],
            },
            "responses.0.confidence",
        ),
        (
            {"kind": "supplement", "trigger": "boredom", "details": "x", "affected_users": ["a"]},
            "trigger",
        ),
        (
            {"kind": "supplement", "trigger": "confusion", "details": "x", "affected_users": []},
            "affected_users",
        ),
        ({"kind": "personalized", "prompt": "x", "students": []}, "students"),
        ({"kind": "visual", "description": " "}, "description"),
    ],
)
def test_invalid_requests_name_the_field(data, field) -> None:
    with pytest.raises(InvalidContentRequest) as info:
        parse_content_request(data)
    assert info.value.field == field


@pytest.mark.parametrize(
    ("target", "level"),
    [
        (1, "beginner"),
        (2, "beginner"),
        (3, "intermediate"),
        (5, "advanced"),
        ("advanced", "advanced"),
    ],
)
def test_adapt_target_maps_to_three_levels(target, level) -> None:
    req = parse_content_request({"kind": "adapt", "text": "t", "target_difficulty": target})
    assert req.difficulty == level


def test_group_profiles_groups_by_level_and_style() -> None:
    req = PersonalizedRequest(
        prompt="p",
        students=(
            {"user_id": "b", "level": "beginner", "learning_style": "visual"},
            {"user_id": "a", "level": "beginner", "learning_style": "visual"},
            {"user_id": "c", "level": "beginner", "learning_style": "auditory"},
        ),
    )
    groups = group_profiles(req)
    assert [(g.name, g.members) for g in groups] == [
        ("profile:beginner:auditory", ("c",)),
        ("profile:beginner:visual", ("a", "b")),
    ]


def test_group_profiles_rejects_duplicate_student() -> None:
    req = PersonalizedRequest(prompt="p", students=({"user_id": "a"}, {"user_id": "a"}))
    with pytest.raises(InvalidContentRequest) as info:
        group_profiles(req)
    assert info.value.field == "students"


def test_context_accepts_numeric_grade_and_ignores_unknown_keys() -> None:
    ctx = parse_context({"grade": 7, "subject": "Math", "teacher": "x"})
    assert ctx.grade == "7" and ctx.subject == "Math"
    with pytest.raises(InvalidContentRequest) as info:
        parse_context({"covered_topics": 5})
    assert info.value.field.startswith("context.covered_topics")
