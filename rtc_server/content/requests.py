"""Validated content requests (the boundary models) and session context.

Every request has a literal ``kind``.  :func:`parse_content_request` turns
raw data into one of the models and converts pydantic errors into
:class:`InvalidContentRequest` naming the field.  The maximum length of free
text (prompt, text, description, details) comes from the server config and
is passed as validation context.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from rtc_server.ai.provider import Difficulty

from .destination import profile_group_name
from .exceptions import InvalidContentRequest

__all__ = [
    "DEFAULT_MAX_PROMPT_CHARS",
    "AdaptRequest",
    "ContentRequest",
    "LearningStyle",
    "LessonContext",
    "LessonRequest",
    "PersonalizedRequest",
    "PlanRequest",
    "ProfileGroup",
    "ResponseSample",
    "StudentProfile",
    "SupplementRequest",
    "VisualRequest",
    "group_profiles",
    "parse_content_request",
    "parse_context",
]

DEFAULT_MAX_PROMPT_CHARS = 4000
LearningStyle = Literal["visual", "auditory", "reading_writing", "kinesthetic", "mixed"]


def _checked_text(value: str, info: ValidationInfo) -> str:
    text = value.strip()
    if not text:
        raise ValueError("must not be empty")
    limit = DEFAULT_MAX_PROMPT_CHARS
    if isinstance(info.context, Mapping):
        limit = int(info.context.get("max_prompt_chars", limit))
    if len(text) > limit:
        raise ValueError(f"is {len(text)} characters, longer than the limit of {limit}")
    return text


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class LessonRequest(_Model):
    kind: Literal["lesson"] = "lesson"
    prompt: str
    topic: str | None = Field(default=None, max_length=200)
    difficulty: Difficulty | None = None
    learning_style: LearningStyle | None = None
    max_tokens: int | None = Field(default=None, ge=16, le=8000)

    _prompt = field_validator("prompt")(_checked_text)


class ResponseSample(_Model):
    correct: bool
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)


class PlanRequest(_Model):
    kind: Literal["plan"] = "plan"
    topic: str = Field(min_length=1, max_length=200)
    minutes_remaining: int = Field(ge=1, le=240)
    responses: tuple[ResponseSample, ...] = ()
    understanding: float | None = Field(default=None, ge=0.0, le=1.0)


class AdaptRequest(_Model):
    kind: Literal["adapt"] = "adapt"
    text: str
    target_difficulty: Difficulty | Annotated[int, Field(ge=1, le=5)]
    learning_style: LearningStyle | None = None

    _text = field_validator("text")(_checked_text)

    @property
    def difficulty(self) -> Difficulty:
        """The target on the three-level scale (1-2 beginner, 3, 4-5 advanced)."""
        target = self.target_difficulty
        if isinstance(target, str):
            return target
        return "beginner" if target <= 2 else "intermediate" if target == 3 else "advanced"


class SupplementRequest(_Model):
    kind: Literal["supplement"] = "supplement"
    trigger: Literal["confusion", "wrong_answers"]
    details: str
    affected_users: tuple[str, ...] = Field(min_length=1)
    topic: str | None = Field(default=None, max_length=200)

    _details = field_validator("details")(_checked_text)


class StudentProfile(_Model):
    user_id: str = Field(min_length=1, max_length=128)
    level: Difficulty = "intermediate"
    learning_style: LearningStyle = "mixed"


class PersonalizedRequest(_Model):
    kind: Literal["personalized"] = "personalized"
    prompt: str
    topic: str | None = Field(default=None, max_length=200)
    students: tuple[StudentProfile, ...] = Field(min_length=1)

    _prompt = field_validator("prompt")(_checked_text)


class VisualRequest(_Model):
    kind: Literal["visual"] = "visual"
    description: str
    style: str = Field(default="diagram", max_length=60)

    _description = field_validator("description")(_checked_text)


ContentRequest = Annotated[
    LessonRequest
    | PlanRequest
    | AdaptRequest
    | SupplementRequest
    | PersonalizedRequest
    | VisualRequest,
    Field(discriminator="kind"),
]
_ADAPTER: TypeAdapter[ContentRequest] = TypeAdapter(ContentRequest)


def _invalid(exc: ValidationError) -> InvalidContentRequest:
    error = exc.errors(include_url=False)[0]
    loc = [str(p) for p in error["loc"]]
    # Drop the union tag pydantic inserts ("lesson.prompt" -> "prompt").
    if loc and loc[0] in {"lesson", "plan", "adapt", "supplement", "personalized", "visual"}:
        loc = loc[1:]
    field = ".".join(loc) or "kind"
    message = str(error["msg"]).removeprefix("Value error, ")
    return InvalidContentRequest(field, message)


def parse_content_request(
    data: Mapping[str, Any] | BaseModel, *, max_prompt_chars: int = DEFAULT_MAX_PROMPT_CHARS
) -> ContentRequest:
    """Validates raw data (or re-validates a model against this server's limits)."""
    raw = data.model_dump() if isinstance(data, BaseModel) else dict(data)
    try:
        return _ADAPTER.validate_python(raw, context={"max_prompt_chars": max_prompt_chars})
    except ValidationError as exc:
        raise _invalid(exc) from None


class LessonContext(BaseModel):
    """What the session knows about the class; unknown keys are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    subject: str = ""
    grade: str = ""
    current_topic: str = ""
    covered_topics: tuple[str, ...] = ()
    #: The session's language ("en", "ko", ...); "" when the session sets none.
    language: str = Field(default="", max_length=35)

    @field_validator("grade", mode="before")
    @classmethod
    def _grade_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value


def parse_context(context: Mapping[str, Any]) -> LessonContext:
    try:
        return LessonContext.model_validate(dict(context))
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        field = "context." + ".".join(str(p) for p in error["loc"])
        raise InvalidContentRequest(field, str(error["msg"])) from None


@dataclass(frozen=True, slots=True)
class ProfileGroup:
    """Students who share a level and learning style: one generation each."""

    name: str
    level: Difficulty
    learning_style: str
    members: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "level": self.level,
            "learning_style": self.learning_style,
            "members": list(self.members),
        }


def group_profiles(request: PersonalizedRequest) -> list[ProfileGroup]:
    """Groups students by (level, learning style); a student appears once."""
    groups: dict[tuple[str, str], list[str]] = {}
    levels: dict[tuple[str, str], Difficulty] = {}
    seen: set[str] = set()
    for student in request.students:
        if student.user_id in seen:
            raise InvalidContentRequest("students", f"user {student.user_id!r} listed twice")
        seen.add(student.user_id)
        key = (student.level, student.learning_style)
        groups.setdefault(key, []).append(student.user_id)
        levels[key] = student.level
    return [
        ProfileGroup(
            name=profile_group_name(level, style),
            level=levels[(level, style)],
            learning_style=style,
            members=tuple(sorted(members)),
        )
        for (level, style), members in sorted(groups.items())
    ]
