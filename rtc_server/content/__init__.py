"""AI lesson-content pipeline: providers, chunking, caching and streaming.

The server core constructs one :class:`ContentService` per app and passes a
:class:`~rtc_server.content.audience.Publish` callable; everything else in
this package is plain objects and pure functions.
"""

from .audience import Audience, Publish, profile_group_name
from .cache import CacheEntry, ContentCache, DiskLayer, MemoryLayer, RedisLayer, cache_key
from .chunker import Chunker
from .exceptions import (
    ContentError,
    GenerationFailed,
    GenerationNotFound,
    GenerationTimeout,
    InvalidContentRequest,
)
from .local_provider import LOCAL_PROVIDER_NAME, LocalImageProvider, LocalTextProvider
from .openai_provider import OpenAIImageProvider, OpenAISettings, OpenAITextProvider
from .planner import plan_sections, understanding_from_responses
from .provider import (
    ImageProvider,
    ImageRequest,
    ImageResult,
    LessonBrief,
    SectionSpec,
    TextDelta,
    TextProvider,
    TextRequest,
    Usage,
)
from .requests import (
    AdaptRequest,
    ContentRequest,
    LessonContext,
    LessonRequest,
    PersonalizedRequest,
    PlanRequest,
    ProfileGroup,
    StudentProfile,
    SupplementRequest,
    VisualRequest,
    group_profiles,
    parse_content_request,
)
from .scheduler import FairScheduler
from .service import ContentRecord, ContentService, HistoryCallback, PersonalizedResult
from .stats import ContentStats, GenerationResult
from .supplement import SupplementPolicy
from .visuals import VisualResult

__all__ = [
    "LOCAL_PROVIDER_NAME",
    "AdaptRequest",
    "Audience",
    "CacheEntry",
    "Chunker",
    "ContentCache",
    "ContentError",
    "ContentRecord",
    "ContentRequest",
    "ContentService",
    "ContentStats",
    "DiskLayer",
    "FairScheduler",
    "GenerationFailed",
    "GenerationNotFound",
    "GenerationResult",
    "GenerationTimeout",
    "HistoryCallback",
    "ImageProvider",
    "ImageRequest",
    "ImageResult",
    "InvalidContentRequest",
    "LessonBrief",
    "LessonContext",
    "LessonRequest",
    "LocalImageProvider",
    "LocalTextProvider",
    "MemoryLayer",
    "OpenAIImageProvider",
    "OpenAISettings",
    "OpenAITextProvider",
    "PersonalizedRequest",
    "PersonalizedResult",
    "PlanRequest",
    "ProfileGroup",
    "Publish",
    "RedisLayer",
    "SectionSpec",
    "StudentProfile",
    "SupplementPolicy",
    "SupplementRequest",
    "TextDelta",
    "TextProvider",
    "TextRequest",
    "Usage",
    "VisualRequest",
    "VisualResult",
    "cache_key",
    "group_profiles",
    "parse_content_request",
    "plan_sections",
    "profile_group_name",
    "understanding_from_responses",
]
