"""Result-cache keys: model + load-time config + prompt + sampling params -> sha256 of canonical JSON.

Only deterministic requests are cacheable: a cached answer must be the answer the model would give again. Greedy
decoding (``do_sample=False``, or ``temperature == 0``) and beam search are deterministic; sampling is
deterministic only with a fixed integer ``seed``. Anything else gets key ``None`` (= do not cache).

Canonical form: sorted keys, no whitespace, tuples as lists, ``None``-valued sampling params dropped (``{"seed":
None}`` means "no seed"), and the seed dropped for greedy requests (it cannot change a greedy answer). Values that
are not plain JSON data raise :class:`~blaze_lab.errors.ConfigError` naming where they are — ``str(obj)`` of an
arbitrary object can embed a memory address and would make keys silently unstable.

Example:
    >>> k = cache_key("smollm2-135m", {"dtype": "bf16"}, "Hello", {"do_sample": False, "max_new_tokens": 8})
    >>> len(k), k == cache_key("smollm2-135m", {"dtype": "bf16"}, "Hello", {"max_new_tokens": 8, "seed": 3})
    (64, True)
    >>> cache_key("smollm2-135m", {}, "Hello", {"do_sample": True, "temperature": 0.7}) is None
    True
    >>> cache_key("smollm2-135m", {}, "Hello", {"do_sample": True, "seed": 7}) is None
    False
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from blaze_lab.config import BaseConfig
from blaze_lab.errors import ConfigError

KEY_VERSION = 1

LoadConfig = Mapping[str, Any] | BaseConfig | Sequence[tuple[str, Any]] | None


def _canonical(value: Any, path: str) -> Any:
    """Plain-JSON copy of ``value`` (tuples -> lists); ConfigError naming ``path`` for anything else."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(path, value, reason="non-finite numbers cannot be part of a cache key")
        return value
    if isinstance(value, list | tuple):
        return [_canonical(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ConfigError(path, k, reason="cache-key mappings need string keys")
            out[k] = _canonical(v, f"{path}.{k}")
        return out
    raise ConfigError(path, value, reason=f"{type(value).__name__} is not JSON data; pass str/int/float/bool/list/dict")


def _load_part(load_config: LoadConfig) -> dict[str, Any]:
    if load_config is None:
        return {}
    if isinstance(load_config, BaseConfig):
        # The prefix keeps an llm and a diffusion config with equal field values apart.
        return {"kind": load_config.PREFIX, **_canonical(dict(load_config.load_key()), "load_config")}
    if isinstance(load_config, Mapping):
        return _canonical(load_config, "load_config")
    try:
        pairs = dict(load_config)  # load_key() output: ((name, value), ...)
    except (TypeError, ValueError):
        reason = "expected a dict, BaseConfig or load_key() pairs"
        raise ConfigError("load_config", load_config, reason=reason) from None
    return _canonical(pairs, "load_config")


def _samples(params: Mapping[str, Any]) -> bool:
    """Whether the request samples (see :func:`is_deterministic` for the rule)."""
    do_sample = params.get("do_sample")
    if do_sample is not None:
        if not isinstance(do_sample, bool):
            raise ConfigError("sampling.do_sample", do_sample, allowed=[True, False])
        return do_sample
    temperature = params.get("temperature")
    if temperature is None:
        return False
    if isinstance(temperature, bool) or not isinstance(temperature, int | float):
        raise ConfigError("sampling.temperature", temperature, reason="must be a number >= 0")
    return temperature > 0


def is_deterministic(sampling: Mapping[str, Any] | None) -> bool:
    """True when the request always yields the same output: greedy, beam search, or sampling with an int seed.

    ``do_sample`` missing means: sample iff ``temperature`` is given and > 0 (OpenAI/vLLM-style requests carry
    only a temperature).
    """
    params = dict(sampling or {})
    if not _samples(params):
        return True
    seed = params.get("seed")
    return isinstance(seed, int) and not isinstance(seed, bool)


def _sampling_part(sampling: Mapping[str, Any] | None) -> dict[str, Any]:
    params = {k: v for k, v in (sampling or {}).items() if v is not None}
    do_sample = _samples(params)
    params["do_sample"] = do_sample
    if not do_sample:
        # Greedy: temperature/top_p/top_k/seed cannot change the answer, so they must not split the key.
        for name in ("seed", "temperature", "top_p", "top_k", "min_p"):
            params.pop(name, None)
    return _canonical(params, "sampling")


def canonical_json(obj: Any) -> str:
    """The one serialization keys are hashed from (sorted keys, compact, UTF-8 kept)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def cache_key(
    model: str,
    load_config: LoadConfig,
    prompt: str | Sequence[int] | Sequence[Mapping[str, Any]],
    sampling: Mapping[str, Any] | None = None,
) -> str | None:
    """sha256 hex of the canonical request, or ``None`` when the request is not deterministic (not cacheable).

    Args:
        model: the model spec as the user gave it (``"smollm2-135m"``, a local dir, ``"random:llama"``).
        load_config: load-time fields: a dict, a :class:`~blaze_lab.config.BaseConfig` (its ``load_key()`` is
            used, so run-time fields such as batch size never split the cache) or ``load_key()`` pairs.
        prompt: text, token ids, or chat messages (list of dicts).
        sampling: generation params (``do_sample``, ``temperature``, ``top_p``, ``seed``, ``max_new_tokens`` ...).

    Example:
        >>> cache_key("m", None, [1, 2, 3], {"temperature": 0.0})[:12]
        '1dcf8303322c'
    """
    if not isinstance(model, str) or not model:
        raise ConfigError("model", model, reason="cache key needs a non-empty model spec")
    if not is_deterministic(sampling):
        return None
    request = {
        "v": KEY_VERSION,
        "model": model,
        "load": _load_part(load_config),
        "prompt": _canonical(prompt, "prompt"),
        "sampling": _sampling_part(sampling),
    }
    return hashlib.sha256(canonical_json(request).encode("utf-8")).hexdigest()


__all__ = ["KEY_VERSION", "cache_key", "canonical_json", "is_deterministic"]
