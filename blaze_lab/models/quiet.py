"""Silence the third-party log lines that preparing a model prints but that are not ours to act on.

Preparing SmolLM2 imports transformers' GGUF path, which imports torchao, which logs one ``Failed to load …so``
warning per optional compiled kernel it cannot load on this machine (harmless: those kernels are for GPUs), and
torch logs a deprecation warning for each Enum torchao registers with ``torch.compile``. Each filter below matches
only those messages, on the logger that emits them, and only inside the ``with`` block; anything else (a real
warning or error) still shows. transformers' own progress bars are turned off for the block: ``prepare`` reports
its steps itself.

Example:
    >>> import logging
    >>> with quiet_foreign_output():
    ...     logging.getLogger("torchao").warning("Failed to load /x/_C_mxfp8.so: Could not load this library")
    >>> len(logging.getLogger("torchao").filters)
    0
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator

# logger name -> messages from it that are dropped (regular expressions, matched at the start of the message)
FOREIGN: dict[str, tuple[str, ...]] = {
    "torchao": (r"Failed to load \S+\.so: ",),
    "torch.utils._pytree": (r"<enum '\w+'> is an Enum subclass and is now natively supported by torch\.compile",),
}


class _Drop(logging.Filter):
    def __init__(self, patterns: tuple[str, ...]) -> None:
        super().__init__()
        self.patterns = [re.compile(p) for p in patterns]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(p.match(message) for p in self.patterns)


@contextlib.contextmanager
def quiet_foreign_output() -> Iterator[None]:
    """Drop the :data:`FOREIGN` log messages and transformers' progress bars inside the block."""
    installed = [(logging.getLogger(name), _Drop(patterns)) for name, patterns in FOREIGN.items()]
    for logger, drop in installed:
        logger.addFilter(drop)
    bars = _transformers_bars(enabled=False)
    try:
        yield
    finally:
        for logger, drop in installed:
            logger.removeFilter(drop)
        if bars is not None:
            _transformers_bars(enabled=bars)


def _transformers_bars(enabled: bool) -> bool | None:
    """Set transformers' progress bars on/off; returns the previous state (None: transformers not installed)."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:
        return None
    before = bool(hf_logging.is_progress_bar_enabled())
    (hf_logging.enable_progress_bar if enabled else hf_logging.disable_progress_bar)()
    return before


__all__ = ["FOREIGN", "quiet_foreign_output"]
