"""Bundled evaluation text and prompts."""

from __future__ import annotations

from blaze_lab.models import eval_text, prompts


def test_eval_text_is_long_plain_english() -> None:
    text = eval_text()
    words = text.split()
    assert len(words) >= 900
    assert text.isascii()
    assert len([p for p in text.split("\n\n") if p.strip()]) >= 6


def test_prompts_are_short_distinct_lines() -> None:
    items = prompts()
    assert 30 <= len(items) <= 40
    assert len(set(items)) == len(items)
    assert all(0 < len(p) < 120 and "\n" not in p for p in items)
