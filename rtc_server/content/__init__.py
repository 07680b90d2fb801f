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
    MaterialError,
)
from .grounded_composer import material_hints
from .local_provider import LOCAL_PROVIDER_NAME, LocalImageProvider, LocalTextProvider
from .material import (
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
from .openai_provider import OpenAIImageProvider, OpenAISettings, OpenAITextProvider
from .planner import plan_sections, understanding_from_responses
from .prompts import build_evaluation_request, build_hints_request
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
    "Bm25Retriever",
    "CacheEntry",
    "Chunker",
    "ContentCache",
    "ContentError",
    "ContentRecord",
    "ContentRequest",
    "ContentService",
    "ContentStats",
    "DiskLayer",
    "EmbeddingsRetriever",
    "FairScheduler",
    "GenerationFailed",
    "GenerationNotFound",
    "GenerationResult",
    "GenerationTimeout",
    "Grounding",
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
    "Material",
    "MaterialError",
    "MaterialIndex",
    "MaterialIndexCache",
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
    "Retriever",
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
