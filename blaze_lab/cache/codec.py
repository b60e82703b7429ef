"""Cache values as JSON bytes in a small typed envelope — never pickle.

A cached value crosses process boundaries (SQLite file, Redis), so it must be data, not code: unpickling an entry
someone else wrote runs their code. Every value is stored as ``{"v": 1, "type": <name>, "data": <json>}``; the
``type`` names an entry of :data:`CODECS` that turns the value into plain JSON and back.

Example:
    >>> raw = encode(CachedResult(text="hi", token_ids=[1, 2], timings={"latency_s": 0.5}))
    >>> raw[:26]
    b'{"v":1,"type":"result","da'
    >>> decode(raw)
    CachedResult(text='hi', token_ids=[1, 2], timings={'latency_s': 0.5}, meta={})
"""

from __future__ import annotations

import base64
import dataclasses
import json
import math
from collections.abc import Callable
from typing import Any

from blaze_lab.errors import CacheError

ENVELOPE_VERSION = 1


@dataclasses.dataclass(frozen=True)
class CachedResult:
    """One generation result worth caching: text, token ids, timings of the run that produced it, free metadata."""

    text: str = ""
    token_ids: list[int] = dataclasses.field(default_factory=list)
    timings: dict[str, float] = dataclasses.field(default_factory=dict)
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)


def _result_to_data(value: CachedResult) -> dict[str, Any]:
    return dataclasses.asdict(value)


def _result_from_data(data: Any) -> CachedResult:
    if not isinstance(data, dict):
        raise CacheError("result envelope: data is not an object")
    try:
        return CachedResult(
            text=str(data["text"]),
            token_ids=[int(t) for t in data["token_ids"]],
            timings={str(k): float(v) for k, v in data["timings"].items()},
            meta=dict(data["meta"]),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CacheError(f"result envelope: {exc!r}") from None


def _tokens_from_data(data: Any) -> list[int]:
    if not isinstance(data, list) or not all(isinstance(t, int) and not isinstance(t, bool) for t in data):
        raise CacheError("tokens envelope: data is not a list of ints")
    return list(data)


def _text_from_data(data: Any) -> str:
    if not isinstance(data, str):
        raise CacheError("text envelope: data is not a string")
    return data


def _bytes_from_data(data: Any) -> bytes:
    if not isinstance(data, str):
        raise CacheError("bytes envelope: data is not base64 text")
    try:
        return base64.b64decode(data.encode("ascii"), validate=True)
    except ValueError as exc:
        raise CacheError(f"bytes envelope: {exc}") from None


# name -> (python type, to JSON data, from JSON data). Looked up by the envelope's "type" on decode and by the
# value's type on encode (first match wins; "json" is the fallback for plain JSON values).
CODECS: dict[str, tuple[type | None, Callable[[Any], Any], Callable[[Any], Any]]] = {
    "result": (CachedResult, _result_to_data, _result_from_data),
    "text": (str, lambda v: v, _text_from_data),
    "bytes": (bytes, lambda v: base64.b64encode(v).decode("ascii"), _bytes_from_data),
    "tokens": (None, lambda v: list(v), _tokens_from_data),
    "json": (None, lambda v: v, lambda d: d),
}


def _type_of(value: Any) -> str:
    for name, (typ, _, _) in CODECS.items():
        if typ is not None and isinstance(value, typ):
            return name
    if isinstance(value, list) and value and all(isinstance(t, int) and not isinstance(t, bool) for t in value):
        return "tokens"
    return "json"


def _check_json(value: Any, path: str) -> None:
    """Reject what JSON would silently change (NaN, tuples kept as lists are fine, non-str keys)."""
    if value is None or isinstance(value, bool | int | str):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CacheError(f"cannot cache {path}: non-finite float {value!r}")
        return
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check_json(item, f"{path}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CacheError(f"cannot cache {path}: dict key {key!r} is not a string")
            _check_json(item, f"{path}.{key}")
        return
    raise CacheError(f"cannot cache {path}: {type(value).__name__} is not JSON data (no pickle by design)")


def encode(value: Any) -> bytes:
    """Value -> envelope bytes (UTF-8 JSON). Raises CacheError for values that are not JSON data."""
    name = _type_of(value)
    data = CODECS[name][1](value)
    _check_json(data, "value")
    envelope = {"v": ENVELOPE_VERSION, "type": name, "data": data}
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def decode(raw: bytes) -> Any:
    """Envelope bytes -> value. Raises CacheError on anything malformed (callers treat that as a miss)."""
    try:
        envelope = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CacheError(f"corrupt cache entry: {exc}") from None
    if not isinstance(envelope, dict) or set(envelope) != {"v", "type", "data"}:
        raise CacheError("corrupt cache entry: not a {v, type, data} envelope")
    if envelope["v"] != ENVELOPE_VERSION:
        raise CacheError(f"cache entry version {envelope['v']!r} != {ENVELOPE_VERSION}")
    codec = CODECS.get(envelope["type"]) if isinstance(envelope["type"], str) else None
    if codec is None:
        raise CacheError(f"cache entry type {envelope['type']!r} unknown; known: {', '.join(CODECS)}")
    return codec[2](envelope["data"])


__all__ = ["CODECS", "ENVELOPE_VERSION", "CachedResult", "decode", "encode"]
