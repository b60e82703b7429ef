"""Bundled English texts: an evaluation passage (perplexity) and short prompts (generation benchmarks).

Both files ship as package data (``blaze_lab/data``), so they are available from an installed wheel.

Example:
    >>> from blaze_lab.models.texts import eval_text, prompts
    >>> len(eval_text().split()) > 900
    True
    >>> len(prompts())
    32
"""

from __future__ import annotations

from functools import cache
from importlib import resources

EVAL_FILE = "eval_en.txt"
PROMPTS_FILE = "prompts_en.txt"


@cache
def _read(name: str) -> str:
    return resources.files("blaze_lab").joinpath("data", name).read_text(encoding="utf-8")


def eval_text() -> str:
    """The bundled original English prose (~1,270 words, >1,000 SmolLM2 tokens) used for perplexity.

    Example:
        >>> eval_text().startswith("The harbor town")
        True
    """
    return _read(EVAL_FILE).strip() + "\n"


def prompts() -> list[str]:
    """The bundled short, diverse English prompts, one per line (blank lines dropped).

    Example:
        >>> prompts()[0].endswith("?") or prompts()[0].endswith(".")
        True
    """
    return [line.strip() for line in _read(PROMPTS_FILE).splitlines() if line.strip()]


__all__ = ["eval_text", "prompts"]
