"""Composes lesson material from templates and the words of the topic (pure).

This is the embedded default when no model is configured.  It is not a
language model and says so in every text it writes: it fills structured
Markdown templates (key ideas, a worked example, check questions, an
activity) with the topic's own key terms, adapted to difficulty and
learning style.  The same brief always gives the same text.
"""

from __future__ import annotations

import hashlib
import re

from rtc_server.ai.provider import LessonBrief, SectionSpec

__all__ = ["DISCLOSURE", "compose", "key_terms", "subject_family"]

DISCLOSURE = "_Composed by the local composer from templates (no AI model was used)._"

_STOP = frozenset(
    "a an and are as at be by can do does for from how in into is it its of on or our "
    "that the their them then this to was we what when where which who why will with "
    "about explain teach lesson students class today introduce show make give some "
    "please let us you your me my need learn learning understand topic turn turns mix "
    "mixes use uses get gets got help helps look looks think know find want say tell "
    "student students confused confuse up out very more most also just like".split()
)
_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*[A-Za-z]|[A-Za-z]")

_FAMILIES = {
    "math": "math algebra arithmetic fraction fractions equation equations geometry area "
    "perimeter number numbers multiplication division percent percentages angle angles "
    "triangle ratio decimal decimals graph slope calculus probability".split(),
    "science": "science biology chemistry physics photosynthesis cell cells energy force "
    "forces gravity atom atoms molecule plant plants ecosystem climate electricity "
    "magnet circuit water cycle evolution".split(),
    "language": "english grammar poem poetry writing reading verb verbs noun nouns "
    "sentence sentences essay story vocabulary metaphor language".split(),
    "history": "history war revolution empire civilization ancient government democracy "
    "treaty century kingdom colonial".split(),
}


def key_terms(*texts: str, limit: int = 6) -> list[str]:
    """Distinct content words in order of appearance (stop words removed)."""
    seen: set[str] = set()
    terms: list[str] = []
    for text in texts:
        for word in _WORD.findall(text):
            low = word.lower()
            if len(low) < 3 or low in _STOP or low in seen:
                continue
            seen.add(low)
            terms.append(word if word.isupper() else low)
            if len(terms) == limit:
                return terms
    return terms


def subject_family(brief: LessonBrief) -> str:
    words = set(key_terms(brief.subject, brief.topic, brief.prompt, limit=50))
    words |= {w.lower() for w in _WORD.findall(brief.subject)}
    for family, vocab in _FAMILIES.items():
        if words & set(vocab):
            return family
    return "general"


def _pick(seed: str, options: list[str]) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return options[digest[0] % len(options)]


_FILLERS = {
    "math": ("rule", "worked example", "common mistake"),
    "science": ("evidence", "observation", "cause and effect"),
    "history": ("cause", "consequence", "source"),
    "language": ("meaning", "structure", "example"),
    "general": ("definition", "example", "evidence"),
}


def _terms(brief: LessonBrief) -> list[str]:
    """Key terms, topic word first, padded with the subject's generic terms."""
    terms = key_terms(brief.topic, brief.prompt, brief.details, brief.source_text)
    for filler in _FILLERS[subject_family(brief)]:
        if len(terms) >= 3:
            break
        if filler not in terms:
            terms.append(filler)
    return terms


def _key_ideas(brief: LessonBrief, terms: list[str]) -> list[str]:
    topic = brief.topic
    lines = [f"- The key words for **{topic}** are: {', '.join(terms[1:5])}."]
    lines.append(
        f"- Start from what each key word means, then ask how **{terms[0]}** and "
        f"**{terms[1]}** are connected."
    )
    if brief.covered_topics:
        lines.append(
            f"- This builds on what we already covered: {', '.join(brief.covered_topics)}."
        )
    if brief.difficulty == "beginner":
        lines.append(f"- One idea at a time: first **{terms[0]}**, then the rest.")
    elif brief.difficulty == "advanced":
        lines.append(
            f"- Look for the limits: when does the idea of **{terms[0]}** stop working, and why?"
        )
    return lines


def _worked_example(brief: LessonBrief, terms: list[str]) -> list[str]:
    family = subject_family(brief)
    low = f"{brief.topic} {brief.prompt}".lower()
    if family == "math":
        if "fraction" in low:
            steps = [
                "Add 1/2 and 1/4.",
                "Make the denominators equal: 1/2 = 2/4.",
                "Add the numerators: 2/4 + 1/4 = 3/4.",
            ]
        elif "equation" in low or "algebra" in low:
            steps = [
                "Solve 2x + 3 = 11.",
                "Subtract 3 from both sides: 2x = 8.",
                "Divide both sides by 2: x = 4. Check: 2·4 + 3 = 11.",
            ]
        elif "area" in low or "perimeter" in low:
            steps = [
                "A rectangle is 4 cm wide and 6 cm long.",
                "Area = 4 × 6 = 24 cm².",
                "Perimeter = 2 × (4 + 6) = 20 cm.",
            ]
        elif "percent" in low:
            steps = ["Find 15% of 80.", "15% = 15/100 = 0.15.", "0.15 × 80 = 12."]
        else:
            steps = [
                f"Write down what is given and what is asked about {terms[0]}.",
                "Choose the rule that links them and apply it one step at a time.",
                "Check the answer by working backwards.",
            ]
    elif family == "science":
        steps = [
            f"Question: what happens to {terms[0]} when one condition changes?",
            f"Predict, then observe: write down what you notice about {terms[1]}.",
            f"Explain the result with {terms[2]} as part of your reasoning "
            "(claim → evidence → reasoning).",
        ]
    elif family == "history":
        steps = [
            f"Cause: what situation led to {terms[0]}?",
            f"Event: what happened, and who was involved with {terms[1]}?",
            f"Consequence: what changed afterwards, and how do we know ({terms[2]})?",
        ]
    elif family == "language":
        steps = [
            f"Read a short sentence that uses {terms[0]}.",
            f"Underline where {terms[1]} appears and say what job it does.",
            "Rewrite the sentence in your own words and compare the meaning.",
        ]
    else:
        steps = [
            f"Take one everyday situation that involves {terms[0]}.",
            f"Name the part that shows {terms[1]}.",
            f"Say what would change without {terms[2]}.",
        ]
    return [f"{i}. {s}" for i, s in enumerate(steps, 1)]


def _questions(brief: LessonBrief, terms: list[str]) -> list[str]:
    t0, t1, t2 = terms[0], terms[1], terms[2]
    topic = brief.topic
    if brief.difficulty == "beginner":
        qs = [
            f"In your own words, what is {t0}?",
            f"Give one example of {t1}.",
            f"Fill in the blank: {topic} is mostly about ____.",
        ]
    elif brief.difficulty == "advanced":
        qs = [
            f"What would change in {topic} if {t0} were removed or doubled? Justify.",
            f"Compare {t1} and {t2}: where does each apply best?",
            f"Design a question about {topic} that tests {t2}, then answer it.",
        ]
    else:
        qs = [
            f"Explain how {t0} is connected to {t1}.",
            f"Give your own example of {t2} and say why it fits.",
            f"What mistake might someone make with {topic}, and how would you fix it?",
        ]
    return [f"{i}. {q}" for i, q in enumerate(qs, 1)]


def _activity(brief: LessonBrief, terms: list[str]) -> str:
    joined = ", ".join(terms[:4])
    return {
        "visual": f"Draw a concept map with **{brief.topic}** in the middle and {joined} "
        "around it; label every arrow with how the two ideas connect.",
        "auditory": f"Explain {brief.topic} aloud to a partner in under a minute; the "
        "partner repeats the key idea back and asks one question.",
        "reading_writing": f"Write a three-sentence summary of {brief.topic} that uses the "
        f"words {joined}.",
        "kinesthetic": f"Model {brief.topic} with objects or cards: one per key word "
        f"({joined}); arrange them to show how they connect, then explain the layout.",
    }.get(
        brief.learning_style,
        f"Pick one: sketch a diagram of {brief.topic}, explain it aloud to a partner, "
        f"or write two sentences using {joined}.",
    )


def _lesson(brief: LessonBrief) -> list[str]:
    terms = _terms(brief)
    opener = _pick(
        brief.topic,
        [
            f"Today we look at **{brief.topic}**.",
            f"Let's build up **{brief.topic}** step by step.",
            f"Here is a short guide to **{brief.topic}**.",
        ],
    )
    level = f"Level: {brief.difficulty}"
    if brief.grade:
        level += f", grade {brief.grade}"
    return [
        f"# {brief.topic}",
        "",
        DISCLOSURE,
        "",
        f"{opener} {level}.",
        "",
        "## Key ideas",
        *_key_ideas(brief, terms),
        "",
        "## Worked example",
        *_worked_example(brief, terms),
        "",
        "## Try it",
        _activity(brief, terms),
        "",
        "## Check for understanding",
        *_questions(brief, terms),
    ]


_SECTION_TEXT = {
    "review": "Revisit the basics of {topic}: restate what {t0} means and work one short "
    "example together on the board before moving on.",
    "guided_practice": "Work through two problems on {topic} together, one step at a time; "
    "students say the next step before it is written. Pause after each step for questions.",
    "check": "Ask two quick questions on {t0} and {t1}; students answer on mini-whiteboards "
    "so misunderstandings show at once.",
    "recap": "Recall the last lesson in one minute: what is {t0}, and where did we use it?",
    "explanation": "Introduce the next idea of {topic}, linking {t0} to {t1} with one "
    "concrete example.",
    "practice": "Students practise on their own with three tasks on {topic}, from easy to "
    "harder; circulate and note common mistakes.",
    "challenge": "Pose an open problem on {topic} that combines {t0} and {t1}; pairs "
    "justify their approach before solving.",
    "wrap_up": "Summarise {topic} in one sentence together and answer one exit question "
    "about {t0}.",
}


def _plan(brief: LessonBrief) -> list[str]:
    terms = _terms(brief)
    lines = [f"# Plan: {brief.topic} ({brief.minutes or 0} min left)", "", DISCLOSURE, ""]
    if brief.understanding is not None:
        pace = (
            "The class is struggling, so this plan slows down: review first, then guided practice."
            if brief.difficulty == "beginner"
            else "The class is ready for more, so this plan adds challenge work."
            if brief.difficulty == "advanced"
            else "The class is on track."
        )
        lines += [f"Measured understanding: {brief.understanding:.0%}. {pace}", ""]
    for i, spec in enumerate(brief.sections, 1):
        lines += _plan_section(i, spec, brief.topic, terms)
    return lines


def _plan_section(i: int, spec: SectionSpec, topic: str, terms: list[str]) -> list[str]:
    template = _SECTION_TEXT.get(spec.type, "Continue with {topic}.")
    out = [
        f"## {i}. {spec.title} ({spec.estimated_minutes} min)",
        template.format(topic=topic, t0=terms[0], t1=terms[1]),
    ]
    if spec.materials:
        out.append(f"Materials: {', '.join(spec.materials)}.")
    return [*out, ""]


def _adapt(brief: LessonBrief) -> list[str]:
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", brief.source_text) if s.strip()]
    terms = _terms(brief)
    lines = [f"# {brief.topic} ({brief.difficulty} version)", "", DISCLOSURE, ""]
    if brief.difficulty == "beginner":
        lines.append("## In simple steps")
        for s in sentences:
            for part in re.split(r"[,;:]\s+", s):
                lines.append(f"- {part.rstrip('.!?')}.")
        long_words = [t for t in key_terms(brief.source_text, limit=20) if len(t) >= 9][:5]
        if long_words:
            lines += ["", "## Words to look up together", ", ".join(long_words)]
    else:
        lines += ["## Text", " ".join(sentences), "", "## Key points"]
        lines += [f"- {s}" for s in sentences[:3]]
        if brief.difficulty == "advanced":
            lines += ["", "## Going further", *_questions(brief, terms)]
    return lines


def _renumber(steps: list[str]) -> list[str]:
    return [f"{i}. {s}" for i, s in enumerate(steps, 1)]


def _supplement(brief: LessonBrief) -> list[str]:
    terms = _terms(brief)
    why = (
        "many of you looked unsure"
        if brief.trigger == "confusion"
        else "several answers went wrong"
    )
    return [
        f"## Let's look at {brief.topic} another way",
        "",
        DISCLOSURE,
        "",
        f"This extra help is here because {why}: {brief.details}",
        "",
        "## Step by step",
        *_renumber(
            [
                f"Start from what you already know about {terms[0]}.",
                f"Add one new piece: how {terms[1]} fits with it.",
                *(line.split(". ", 1)[1] for line in _worked_example(brief, terms)),
            ]
        ),
        "",
        "## Quick check",
        f"1. In your own words, what is {terms[0]}?",
    ]


def compose(brief: LessonBrief) -> str:
    """The full Markdown text for ``brief``."""
    if brief.kind == "plan":
        lines = _plan(brief)
    elif brief.kind == "adapt":
        lines = _adapt(brief)
    elif brief.kind == "supplement":
        lines = _supplement(brief)
    else:
        lines = _lesson(brief)
    return "\n".join(lines).strip() + "\n"
