"""The content feature: AI lesson content streamed to the class as the model writes it.

:class:`~.feature.ContentFeature` plugs into the core (``build`` is in the
app's feature list); :class:`ContentService` streams generations to a
:class:`~.destination.Destination` through a
:class:`~.destination.Publish` callable; everything else in this package is
plain objects and pure functions. Model access (the provider contract, the
OpenAI-compatible provider) is :mod:`rtc_server.ai`; the embedded local
composer is here.
"""

from rtc_server.material import (
    Bm25Retriever,
    EmbeddingsRetriever,
    Grounding,
    Material,
    MaterialIndex,
    MaterialIndexCache,
    Retriever,
    extract_material,
    material_from_text,
)

from .cache import CacheEntry, ContentCache, DiskLayer, MemoryLayer, RedisLayer, cache_key
from .chunker import Chunker
from .destination import Destination, Publish, profile_group_name
from .exceptions import (
    ContentError,
    GenerationFailed,
    GenerationNotFound,
    GenerationTimeout,
    InvalidContentRequest,
    MaterialError,
)
from .feature import ContentFeature, build
from .grounded_composer import material_hints
from .local_provider import LOCAL_PROVIDER_NAME, LocalImageProvider, LocalTextProvider
from .planner import plan_sections, understanding_from_responses
from .prompts import build_evaluation_request, build_hints_request
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
    "Bm25Retriever",
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
    "EmbeddingsRetriever",
    "FairScheduler",
    "GenerationFailed",
    "GenerationNotFound",
    "GenerationResult",
    "GenerationTimeout",
    "Grounding",
    "HistoryCallback",
    "InvalidContentRequest",
    "LessonContext",
    "LessonRequest",
    "LocalImageProvider",
    "LocalTextProvider",
    "Material",
    "MaterialError",
    "MaterialIndex",
    "MaterialIndexCache",
    "MemoryLayer",
    "PersonalizedRequest",
    "PersonalizedResult",
    "PlanRequest",
    "ProfileGroup",
    "Publish",
    "RedisLayer",
    "Retriever",
    "StudentProfile",
    "SupplementPolicy",
    "SupplementRequest",
    "VisualRequest",
    "VisualResult",
    "build",
    "build_evaluation_request",
    "build_hints_request",
    "cache_key",
    "extract_material",
    "group_profiles",
    "material_from_text",
    "material_hints",
    "parse_content_request",
    "plan_sections",
    "profile_group_name",
    "understanding_from_responses",
]
