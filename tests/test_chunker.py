"""Chunker: latency-budgeted coalescing, driven with synthetic timestamps."""

from __future__ import annotations

import pytest

from rtc_server.content import Chunker


def test_push_flushes_at_sentence_boundary() -> None:
    c = Chunker(max_delay_ms=40)
    assert c.push("The", 0) == []
    assert c.push(" sun", 5) == []
    assert c.push(" rises.", 10) == ["The sun rises."]
    assert c.pending == ""
    assert c.deadline_ms() is None


def test_push_keeps_text_after_boundary_buffered() -> None:
    c = Chunker(max_delay_ms=40)
    assert c.push("Done.", 0) == ["Done."]
    assert c.push("\n\n## Key", 1) == ["\n\n"]
    assert c.pending == "## Key"
    assert c.push(" ideas\n", 2) == ["## Key ideas\n"]


def test_push_decimal_point_is_not_a_boundary_mid_token() -> None:
    c = Chunker(max_delay_ms=40)
    assert c.push("pi is 3.14 roughly", 0) == []


def test_due_flushes_after_max_delay_of_oldest_token() -> None:
    c = Chunker(max_delay_ms=40)
    c.push("slow", 100)
    c.push(" words", 130)
    assert c.deadline_ms() == 140
    assert c.due(139) == []
    assert c.due(140) == ["slow words"]
    assert c.deadline_ms() is None


def test_push_flushes_when_oldest_token_overdue() -> None:
    c = Chunker(max_delay_ms=40)
    c.push("a", 0)
    assert c.push(" b", 50) == ["a b"]


def test_remainder_after_boundary_gets_a_fresh_deadline() -> None:
    c = Chunker(max_delay_ms=40)
    c.push("x", 0)
    assert c.push(". y", 30) == ["x."]
    assert c.pending == " y"
    assert c.deadline_ms() == 70


def test_push_flushes_when_buffer_exceeds_max_chars() -> None:
    c = Chunker(max_delay_ms=1000, max_chars=10)
    assert c.push("abcdef", 0) == []
    assert c.push("ghijk", 1) == ["abcdefghijk"]


def test_coalescing_off_gives_one_chunk_per_token() -> None:
    c = Chunker(max_delay_ms=0)
    tokens = ["The", " sun", " rises", "."]
    assert [c.push(t, i) for i, t in enumerate(tokens)] == [[t] for t in tokens]
    assert c.flush() == []


def test_flush_returns_rest_and_chunks_reassemble() -> None:
    c = Chunker(max_delay_ms=40)
    tokens = ["# Title\n", "Some", " text", ". More", " words", " without end"]
    chunks: list[str] = []
    for i, t in enumerate(tokens):
        chunks += c.push(t, i)
    chunks += c.flush()
    assert "".join(chunks) == "".join(tokens)
    assert chunks[0] == "# Title\n"
    assert c.flush() == []


def test_invalid_settings_rejected() -> None:
    with pytest.raises(ValueError):
        Chunker(max_delay_ms=-1)
    with pytest.raises(ValueError):
        Chunker(max_chars=0)


def test_split_at_boundaries_matches_every_boundary() -> None:
    from rtc_server.content.chunker import split_at_boundaries

    text = "# Title\nOne. Two! Three? pi is 3.14 ok\n\nEnd"
    chunks = split_at_boundaries(text)
    assert chunks == ["# Title\n", "One.", " Two!", " Three?", " pi is 3.14 ok\n", "\n", "End"]
    assert split_at_boundaries("abcdefgh", max_chars=3) == ["abc", "def", "gh"]


def test_min_interval_merges_boundaries_that_come_too_close():
    # A large class: no chunk sooner than 100 ms after the previous one.
    chunker = Chunker(max_delay_ms=100, min_interval_ms=100)
    assert chunker.push("One.", 0) == ["One."]
    assert chunker.push(" Two.", 30) == []  # a boundary, but only 30 ms after "One."
    assert chunker.push(" Three.", 60) == []
    assert chunker.push(" Four", 110) == [" Two. Three."]  # 110 ms: both go out together
    assert chunker.due(200) == []
    assert chunker.due(210) == [" Four"]  # the waiting tail goes at its deadline


def test_without_min_interval_every_boundary_flushes():
    chunker = Chunker(max_delay_ms=100)
    assert chunker.push("One.", 0) == ["One."]
    assert chunker.push(" Two.", 30) == [" Two."]
