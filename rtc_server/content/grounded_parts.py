"""Markdown pieces made from the material: summary, terms, outline, questions (pure).

Each function returns lines whose facts are sentences of the material,
quoted word for word and followed by the citation of their passage; the
framing around them comes from :mod:`.framing`.  ``scope`` is always a list
of passage indices in document order.
"""

from __future__ import annotations

from collections.abc import Sequence

from rtc_server.material.grounding import cite
from rtc_server.material.index import MaterialIndex
from rtc_server.material.keyterms import KeyTerm, find_term
from rtc_server.material.outline import find_sequence, outline
from rtc_server.material.questions import Question, QuestionKind, make_questions
from rtc_server.material.summary import summarise

from .framing import phrase

__all__ = [
    "answer_lines",
    "definition",
    "link_question",
    "outline_lines",
    "question_lines",
    "questions",
    "sequence_lines",
    "summary_lines",
    "term_labels",
    "term_lines",
    "worked_example",
]

_LETTERS = "ABCDEFGH"
_DEFINING = frozenset({"is", "are", "refers", "means", "describes"})


def _label_of(index: MaterialIndex, sentence: int) -> str:
    return index.passages[index.sentences[sentence].passage].label


def summary_lines(index: MaterialIndex, scope: Sequence[int], count: int) -> list[str]:
    ids = [s for p in scope for s in index.passages[p].sentences]
    picked = summarise(
        [index.sentences[s].text for s in ids],
        [index.sentences[s].terms for s in ids],
        [index.sentences[s].position for s in ids],
        count=count,
    )
    return [f"- {index.sentences[ids[i]].text} {cite(_label_of(index, ids[i]))}" for i in picked]


def _opens_with(index: MaterialIndex, term: KeyTerm, s: int) -> bool:
    tokens = index.sentences[s].tokens
    start = 1 if tokens and tokens[0].term in ("the", "a", "an") else 0
    if find_term(tokens[start : start + len(term.words)], term.words) != [0]:
        return False
    end = start + len(term.words)
    return tokens[end - 1].josa in ("은", "는", "이란", "란") or (
        end < len(tokens) and tokens[end].term in _DEFINING
    )


def definition(index: MaterialIndex, term: KeyTerm, scope: Sequence[int]) -> int | None:
    """The sentence that says what ``term`` is: one that opens with it ("X is ..."),
    in the chosen passages or anywhere in the material, else its first use in scope."""
    in_scope = index.occurrences(term, scope)
    for s in (*in_scope, *index.occurrences(term)):
        if _opens_with(index, term, s):
            return s
    everywhere = in_scope or index.occurrences(term)
    return everywhere[0] if everywhere else None


def term_labels(index: MaterialIndex, scope: Sequence[int], count: int) -> list[str]:
    return [t.label for t in index.terms_in(scope, count)]


def term_lines(index: MaterialIndex, scope: Sequence[int], count: int) -> list[str]:
    lines = []
    for term in index.terms_in(scope, count):
        s = definition(index, term, scope)
        if s is None:
            continue
        sentence = index.sentences[s].text
        lines.append(f"- **{term.label}** — “{sentence}” {cite(_label_of(index, s))}")
    return lines


def outline_lines(index: MaterialIndex, scope: Sequence[int]) -> list[str]:
    lines = []
    for i, section in enumerate(outline(index, scope), 1):
        if section.lead is None:
            lines.append(f"{i}. **{section.title}**")
            continue
        sentence = index.sentences[section.lead].text
        label = cite(_label_of(index, section.lead))
        lines.append(f"{i}. **{section.title}** — {sentence} {label}")
    return lines


def sequence_lines(index: MaterialIndex, scope: Sequence[int], language: str) -> list[str]:
    """The material's own steps, when a passage in scope is a sequence."""
    for p in scope:
        found = find_sequence(index, p)
        if found is None:
            continue
        _, steps = found
        label = cite(index.passages[p].label)
        return [
            phrase(language, "follow_steps", cite=label),
            *(f"{i}. {step.text}" for i, step in enumerate(steps, 1)),
        ]
    return []


def questions(
    index: MaterialIndex, scope: Sequence[int], difficulty: str, count: int
) -> list[Question]:
    kinds: tuple[QuestionKind, ...] = (
        ("choice", "blank") if difficulty == "beginner" else ("blank", "choice")
    )
    made = make_questions(index, scope, count=count, kinds=kinds)
    if len(made) < count:
        # Too few sentences in the chosen passages: widen to the whole material.
        everything = range(len(index.passages))
        extra = make_questions(index, everything, count=count, kinds=kinds)
        seen = {q.sentence for q in made}
        made += [q for q in extra if q.sentence not in seen][: count - len(made)]
    return made


def worked_example(question: Question, language: str) -> list[str]:
    return [
        phrase(language, "example_question", prompt=question.prompt),
        phrase(language, "example_look", cite=cite(question.source), sentence=question.sentence),
        phrase(language, "example_answer", answer=question.answer),
    ]


def question_lines(
    items: Sequence[Question], language: str, *, start: int = 1, word_bank: bool = False
) -> list[str]:
    lines: list[str] = []
    for n, q in enumerate(items, start):
        key = "choice" if q.kind == "choice" else "blank"
        lines.append(f"{n}. {phrase(language, key, prompt=q.prompt)} {cite(q.source)}")
        if q.kind == "choice":
            lines.append("   " + "  ".join(f"{_LETTERS[i]}) {c}" for i, c in enumerate(q.choices)))
    if word_bank:
        words = sorted({q.answer for q in items if q.kind == "blank"} | {
            c for q in items if q.kind == "choice" for c in q.choices
        }, key=str.lower)
        if words:
            lines.append(phrase(language, "word_bank", words=", ".join(words)))
    return lines


def answer_lines(items: Sequence[Question], *, start: int = 1) -> list[str]:
    out = []
    for n, q in enumerate(items, start):
        if q.kind == "choice" and q.correct is not None:
            out.append(f"{n}. {_LETTERS[q.correct]}) {q.choices[q.correct]}")
        else:
            out.append(f"{n}. {q.answer}")
    return out


def link_question(index: MaterialIndex, scope: Sequence[int], language: str) -> str | None:
    """Two key terms that share a passage: ask how they connect (a question, not a claim)."""
    for p in scope:
        terms = index.terms_in([p], 6)
        for i, a in enumerate(terms):
            # Two different ideas: "water" and "water vapor" would be one inside the other.
            b = next((t for t in terms[i + 1 :] if not set(t.words) & set(a.words)), None)
            if b is not None:
                return phrase(
                    language, "link", a=a.label, b=b.label, cite=cite(index.passages[p].label)
                )
    return None
