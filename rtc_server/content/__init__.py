"""The content feature: AI lesson content streamed to the class as the model writes it.

:class:`~.feature.ContentFeature` plugs into the core (``build`` is in the
app's feature list); :class:`ContentService` streams generations to a
:class:`~.destination.Destination` through a
:class:`~.destination.Publish` callable; everything else in this package is
plain objects and pure functions. Model access (the provider contract, the
OpenAI-compatible provider) is :mod:`rtc_server.ai`; the embedded local
composer is here.
"""

from .cache import CacheEntry, ContentCache, DiskLayer, MemoryLayer, RedisLayer, cache_key
from .chunker import Chunker
from .destination import Destination, Publish, profile_group_name
from .exceptions import (
    ContentError,
    GenerationFailed,
    GenerationNotFound,
    GenerationTimeout,
    InvalidContentRequest,
)
from .feature import ContentFeature, build
from .local_provider import LOCAL_PROVIDER_NAME, LocalImageProvider, LocalTextProvider
from .planner import plan_sections, understanding_from_responses
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
    "CacheEntry",
    "Chunker",
    "ContentCache",
    "ContentError",
    "ContentFeature",
    "ContentRecord",
    "ContentRequest",
    "ContentService",
    "ContentStats",
    "Destination",
    "DiskLayer",
    "FairScheduler",
    "GenerationFailed",
    "GenerationNotFound",
    "GenerationResult",
    "GenerationTimeout",
    "HistoryCallback",
    "InvalidContentRequest",
    "LessonContext",
    "LessonRequest",
    "LocalImageProvider",
    "LocalTextProvider",
    "MemoryLayer",
    "PersonalizedRequest",
    "PersonalizedResult",
    "PlanRequest",
    "ProfileGroup",
    "Publish",
    "RedisLayer",
    "StudentProfile",
    "SupplementPolicy",
    "SupplementRequest",
    "VisualRequest",
    "VisualResult",
    "build",
    "cache_key",
    "group_profiles",
    "parse_content_request",
    "plan_sections",
    "profile_group_name",
    "understanding_from_responses",
]
