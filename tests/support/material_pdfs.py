"""PDFs for the material tests and benchmark, made with fpdf2 (a test extra).

fpdf2's built-in fonts cover Latin-1 only, so these PDFs are English.
"""

from __future__ import annotations

import datetime
import io
import random
from pathlib import Path

from fpdf import FPDF
from pypdf import PdfReader, PdfWriter

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "material"


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def _pdf() -> FPDF:
    pdf = FPDF()
    pdf.set_auto_page_break(auto=True, margin=15)
    # A fixed date: byte-identical output for the same text.
    pdf.set_creation_date(datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC))
    return pdf


def _write_markdown(pdf: FPDF, markdown: str) -> None:
    """Headings in bold, paragraphs with a gap after them (as a word processor would)."""
    for block in markdown.strip().split("\n\n"):
        block = block.strip()
        if block.startswith("#"):
            pdf.set_font("Helvetica", "B", 15 if block.startswith("# ") else 13)
            pdf.multi_cell(0, 8, block.lstrip("# ").strip(), new_x="LMARGIN", new_y="NEXT")
            pdf.set_font("Helvetica", size=11)
            continue
        pdf.set_font("Helvetica", size=11)
        for line in block.split("\n"):
            pdf.multi_cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(4)


def markdown_pdf(markdown: str, *, title: str = "") -> bytes:
    """A PDF of a Markdown text (one page per ``\\f`` in the text)."""
    pdf = _pdf()
    if title:
        pdf.set_title(title)
    for page in markdown.split("\f"):
        pdf.add_page()
        _write_markdown(pdf, page)
    return bytes(pdf.output())


def encrypted_pdf(data: bytes, password: str = "secret") -> bytes:
    """``data`` locked with a user password (pypdf's writer)."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=password, owner_password=password, algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def blank_pdf(pages: int = 1) -> bytes:
    """A PDF with no text at all (what a scan without OCR looks like to pypdf)."""
    pdf = _pdf()
    for _ in range(pages):
        pdf.add_page()
        pdf.rect(20, 20, 100, 60)
    return bytes(pdf.output())


_NOTE_WORDS = (
    "temperature pressure humidity wind season climate glacier aquifer reservoir estuary "
    "watershed delta wetland drought flood erosion sediment vapor droplet crystal current "
    "tide salinity plankton forest soil root leaf stomata canopy rainfall snowpack"
).split()


_NOTE_TEMPLATES = (
    "The {0} and the {1} shape the {2} of the {3}, while {4} follows {5} near the {6}.",
    "Field notes record {0} after {1}; the {2} rose where the {3} met the {4}.",
    "A {0} can hold {1} for months, so {2} and {3} matter for the {4} downstream.",
    "Students measured {0}, {1} and {2} at the {3} and compared them with the {4}.",
)


def long_pdf(pages: int = 20, seed: int = 7) -> bytes:
    """A ``pages``-page reading: the water-cycle sections in turn plus generated notes.

    Each page holds one section of the fixture under a numbered heading and a
    paragraph of notes made of a seeded shuffle of science words, so pages
    differ and the ranker has real work to do.
    """
    sections = fixture_text("water_cycle.md").split("\n## ")
    rng = random.Random(seed)
    texts = []
    for number in range(1, pages + 1):
        section = sections[(number - 1) % len(sections)].lstrip("# ")
        heading, _, body = section.partition("\n")
        notes = []
        for _ in range(6):
            w = rng.sample(_NOTE_WORDS, 8)
            template = rng.choice(_NOTE_TEMPLATES)
            notes.append(template.format(*w))
        texts.append(f"## Part {number}: {heading}\n\n{body.strip()}\n\n## Notes {number}\n\n"
                     + " ".join(notes))
    return markdown_pdf("\f".join(texts), title="The Water Cycle (long reading)")
