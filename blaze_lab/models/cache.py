"""Where materialized models live, and how they get there without ever looking complete when they are not.

Every model source that produces files (random architectures, dequantized GGUF, the bundled SmolLM2) builds into
a temporary directory next to its target and renames it into place only after the build finished and a marker
file was written. A process killed mid-build therefore leaves at most a ``.<name>.tmp-*`` sibling, never a
half-written target; the next build removes such leftovers.

Example (into a temporary directory; the sources build below ``cache_dir() / "models"``):
    >>> import tempfile
    >>> from pathlib import Path
    >>> from blaze_lab.models.cache import is_complete, materialize
    >>> root = tempfile.TemporaryDirectory()
    >>> target = Path(root.name) / "random" / "demo"
    >>> materialize(target, lambda tmp: (tmp / "config.json").write_text("{}"), {"spec": "demo"}) == target
    True
    >>> is_complete(target), sorted(p.name for p in target.iterdir())
    (True, ['.blaze_model.json', 'config.json'])
    >>> root.cleanup()
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from blaze_lab.errors import CacheError

MARKER = ".blaze_model.json"
"""Written last inside a materialized model directory; its presence means "complete"."""

ENV_VAR = "BLAZE_LAB_CACHE"


def cache_dir() -> Path:
    """Root of blaze_lab's on-disk cache: ``$BLAZE_LAB_CACHE`` or ``~/.cache/blaze_lab``.

    Read on every call (not at import) so tests and notebooks can redirect it with an environment variable.

    Example:
        >>> import os
        >>> os.environ["BLAZE_LAB_CACHE"] = "/tmp/bl"
        >>> str(cache_dir())
        '/tmp/bl'
        >>> del os.environ["BLAZE_LAB_CACHE"]
    """
    value = os.environ.get(ENV_VAR)
    if value:
        return Path(value).expanduser()
    return Path.home() / ".cache" / "blaze_lab"


def models_dir() -> Path:
    """``<cache_dir()>/models``: every materialized model lives below it."""
    return cache_dir() / "models"


def is_complete(path: Path) -> bool:
    """True when ``path`` is a directory that a finished :func:`materialize` produced."""
    return (path / MARKER).is_file()


def read_marker(path: Path) -> dict[str, Any]:
    """The metadata written by :func:`materialize` (empty dict when absent or unreadable)."""
    try:
        data = json.loads((path / MARKER).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def dir_size(path: Path) -> int:
    """Total bytes of the regular files below ``path`` (0 when it does not exist)."""
    if not path.exists():
        return 0
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


@contextlib.contextmanager
def _locked(target: Path) -> Iterator[None]:
    """Serialize builders of one target across processes (e.g. parallel sweep workers) with an flock."""
    lock_path = target.parent / f".{target.name}.lock"
    try:
        import fcntl
    except ImportError:  # pragma: no cover - non-POSIX: fall back to "last rename wins"
        yield
        return
    with open(lock_path, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _remove_leftovers(target: Path) -> None:
    # Only called under the lock, so any temp sibling belongs to a builder that died.
    for leftover in target.parent.glob(f".{target.name}.tmp-*"):
        shutil.rmtree(leftover, ignore_errors=True)


def materialize(target: Path, build: Callable[[Path], object], meta: dict[str, Any]) -> Path:
    """Build a model directory atomically and return ``target``.

    ``build(tmp)`` writes the model into an empty temporary directory beside ``target``; then ``meta`` is written
    as the completion marker and the directory is renamed onto ``target`` in one ``os.replace``. If ``target``
    is already complete, nothing is built. If ``build`` raises (or the process dies), ``target`` is left
    untouched and the temporary directory is removed (now, or by the next builder).

    Example (a second call finds the target complete and builds nothing):
        >>> import tempfile
        >>> root = tempfile.TemporaryDirectory()
        >>> builds = []
        >>> for _ in range(2):
        ...     _ = materialize(Path(root.name) / "x", builds.append, {"spec": "x"})
        >>> len(builds)
        1
        >>> root.cleanup()
    """
    if is_complete(target):
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CacheError(f"cannot create model cache directory {target.parent}: {exc}") from exc
    with _locked(target):
        if is_complete(target):  # another process finished while we waited for the lock
            return target
        _remove_leftovers(target)
        if target.exists():
            # A directory without our marker was not produced by a finished build (e.g. a copy interrupted
            # by hand); it cannot be trusted, so it is replaced.
            shutil.rmtree(target)
        tmp = target.parent / f".{target.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        try:
            build(tmp)
            (tmp / MARKER).write_text(json.dumps(meta, indent=2, sort_keys=True, default=str))
            os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return target


__all__ = [
    "ENV_VAR",
    "MARKER",
    "cache_dir",
    "dir_size",
    "is_complete",
    "materialize",
    "models_dir",
    "read_marker",
]
