"""Hub ids (``org/name``): use the local Hugging Face cache; never hang when the hub cannot be reached.

Order: (1) the local HF cache (``local_files_only=True``: no network at all); (2) if the user has not declared
offline mode, a TCP probe of the hub endpoint with a short timeout; only when that succeeds, a real download.
On the project's machines the hub is unreachable, so an uncached id fails within a few seconds with a message
that says what to do instead.

Example:
    >>> from blaze_lab.models.hub import snapshot_path
    >>> snapshot_path("no-such-org/no-such-model")              # doctest: +SKIP
    Traceback (most recent call last):
    ModelLoadError: hub id 'no-such-org/no-such-model' is not in the local HF cache and the hub is unreachable ...
"""

from __future__ import annotations

import os
import re
import socket
import threading
from pathlib import Path
from urllib.parse import urlparse

from blaze_lab.errors import ModelLoadError

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
PROBE_TIMEOUT_S = 3.0

_TRUE = {"1", "true", "yes", "on"}


def looks_like_hub_id(spec: str) -> bool:
    """True for ``org/name`` (one slash, hub-legal characters).

    Example:
        >>> looks_like_hub_id("HuggingFaceTB/SmolLM2-135M"), looks_like_hub_id("/abs/path"), looks_like_hub_id("a/b/c")
        (True, False, False)
    """
    return bool(HUB_ID.match(spec))


def hub_offline() -> bool:
    """True when the user declared offline mode (``HF_HUB_OFFLINE`` / ``TRANSFORMERS_OFFLINE``), read now."""
    from huggingface_hub import constants

    env = (os.environ.get("HF_HUB_OFFLINE", ""), os.environ.get("TRANSFORMERS_OFFLINE", ""))
    return bool(constants.HF_HUB_OFFLINE) or any(value.strip().lower() in _TRUE for value in env)


def hub_reachable(timeout_s: float = PROBE_TIMEOUT_S) -> bool:
    """Whether a TCP connection to the hub endpoint opens within ``timeout_s`` (no HTTP request is sent).

    The probe runs in a daemon thread joined with the timeout, so a hanging DNS lookup (which the socket timeout
    does not cover) cannot stall the caller either.
    """
    from huggingface_hub import constants

    url = urlparse(constants.ENDPOINT)
    address = (url.hostname or "", url.port or (443 if url.scheme == "https" else 80))
    result: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection(address, timeout=timeout_s):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, name="blaze-hub-probe", daemon=True)
    thread.start()
    thread.join(timeout_s)
    return bool(result) and result[0]


def _offline_error(repo_id: str, why: str) -> ModelLoadError:
    return ModelLoadError(
        f"hub id {repo_id!r} is not in the local HF cache and {why}; download it elsewhere and pass a local "
        f"directory, e.g. resolve_model('/path/to/dir')"
    )


def cached_snapshot_path(repo_id: str) -> Path:
    """Local directory of ``repo_id`` in the HF cache, never downloading; ModelLoadError when it is not there."""
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(repo_id, local_files_only=True, cache_dir=constants.HF_HUB_CACHE))
    except LocalEntryNotFoundError:
        raise ModelLoadError(
            f"hub id {repo_id!r} is not in the local HF cache; run `blaze-lab models prepare {repo_id}` where the "
            "hub is reachable, or pass a local directory"
        ) from None
    except Exception as exc:  # a corrupt cache entry, bad id ...
        raise ModelLoadError(f"hub id {repo_id!r}: cannot read the local HF cache: {exc}") from exc


def snapshot_path(repo_id: str) -> Path:
    """Local directory of the hub model ``repo_id``: from the HF cache, or downloaded when the hub answers.

    Example:
        >>> snapshot_path("HuggingFaceTB/SmolLM2-135M")            # doctest: +SKIP
        PosixPath('/root/.cache/huggingface/hub/models--HuggingFaceTB--SmolLM2-135M/snapshots/...')
    """
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    # Pass the cache dir explicitly: it is read now, so a redirected HF cache (tests, HF_HOME) is honoured.
    cache = constants.HF_HUB_CACHE
    try:
        return Path(snapshot_download(repo_id, local_files_only=True, cache_dir=cache))
    except LocalEntryNotFoundError:
        pass
    except Exception as exc:  # a corrupt cache entry, bad id ...
        raise ModelLoadError(f"hub id {repo_id!r}: cannot read the local HF cache: {exc}") from exc
    if hub_offline():
        raise _offline_error(repo_id, "offline mode is set (HF_HUB_OFFLINE)")
    if not hub_reachable():
        raise _offline_error(repo_id, "the hub is unreachable (offline)")
    try:
        return Path(snapshot_download(repo_id, cache_dir=cache, etag_timeout=PROBE_TIMEOUT_S))
    except Exception as exc:
        raise ModelLoadError(f"hub id {repo_id!r}: download failed: {type(exc).__name__}: {exc}") from exc


__all__ = [
    "HUB_ID",
    "PROBE_TIMEOUT_S",
    "cached_snapshot_path",
    "hub_offline",
    "hub_reachable",
    "looks_like_hub_id",
    "snapshot_path",
]
