"""The teacher's material: extraction, passages, retrieval and what is made from it.

Pure modules (no I/O but pypdf reading bytes it is given) except
:class:`EmbeddingsRetriever`, which calls an OpenAI-compatible endpoint::

    extract_material / material_from_text   bytes or text → Material
    MaterialIndex (build_index)             passages, sentences, BM25, key terms
    Bm25Retriever / EmbeddingsRetriever     → Grounding (the passages a request needs)
    make_questions / hint_plan / outline / find_sequence / summarise
    cited_labels / sources / section_citations   citations in generated text
"""

from .embeddings import EmbeddingsRetriever
from .extract import (
    DEFAULT_MAX_MATERIAL_BYTES,
    DEFAULT_MAX_PDF_PAGES,
    extract_material,
    material_from_text,
    material_kind,
)
from .grounding import (
    DEFAULT_TOP_K,
    Bm25Retriever,
    Grounding,
    Retriever,
    cite,
    cited_labels,
    ground,
    section_citations,
    sources,
)
from .index import Hit, IndexedPassage, MaterialIndex, Sentence, build_index
from .index_cache import MaterialIndexCache
from .keyterms import KeyTerm, extract_key_terms
from .material import Material, MaterialKind, Passage, detect_language
from .outline import OutlineSection, SequenceStep, find_sequence, outline
from .passages import split_passages, split_sentences
from .questions import BLANK, HintPlan, Question, hint_plan, make_questions
from .summary import summarise
from .tokens import Token, strip_josa, tokenize

__all__ = [
    "BLANK",
    "DEFAULT_MAX_MATERIAL_BYTES",
    "DEFAULT_MAX_PDF_PAGES",
    "DEFAULT_TOP_K",
    "Bm25Retriever",
    "EmbeddingsRetriever",
    "Grounding",
    "HintPlan",
    "Hit",
    "IndexedPassage",
    "KeyTerm",
    "Material",
    "MaterialIndex",
    "MaterialIndexCache",
    "MaterialKind",
    "OutlineSection",
    "Passage",
    "Question",
    "Retriever",
    "Sentence",
    "SequenceStep",
    "Token",
    "build_index",
    "cite",
    "cited_labels",
    "detect_language",
    "extract_key_terms",
    "extract_material",
    "find_sequence",
    "ground",
    "hint_plan",
    "make_questions",
    "material_from_text",
    "material_kind",
    "outline",
    "section_citations",
    "sources",
    "split_passages",
    "split_sentences",
    "strip_josa",
    "summarise",
    "tokenize",
]
