from __future__ import annotations

import json

import pytest

from blaze_lab.cache.codec import CachedResult, decode, encode
from blaze_lab.errors import CacheError


@pytest.mark.parametrize(
    ("value", "type_name"),
    [
        (CachedResult(text="hé", token_ids=[1, 2], timings={"latency_s": 0.25}, meta={"model": "m"}), "result"),
        ("plain text", "text"),
        ([5, 6, 7], "tokens"),
        (b"\x00\xffpng", "bytes"),
        ({"text": "x", "tokens": [1], "latency_s": 1.5}, "json"),
    ],
)
def test_round_trip_through_a_typed_json_envelope(value: object, type_name: str) -> None:
    raw = encode(value)
    envelope = json.loads(raw)  # stored bytes are plain JSON: no pickle anywhere
    assert envelope["v"] == 1 and envelope["type"] == type_name
    assert b"\x80" not in raw[:1]  # a pickle stream starts with the PROTO opcode 0x80
    assert decode(raw) == value


def test_values_that_are_not_json_data_are_refused() -> None:
    with pytest.raises(CacheError, match="no pickle"):
        encode({"obj": object()})
    with pytest.raises(CacheError, match="non-finite"):
        encode({"x": float("nan")})


@pytest.mark.parametrize(
    "raw",
    [
        b"garbage",
        b'{"v":1,"type":"text"',  # truncated
        b'{"v":2,"type":"text","data":"x"}',
        b'{"v":1,"type":"pickle","data":"x"}',
        b'{"v":1,"type":"tokens","data":["a"]}',
        b"\xff\xfe",
    ],
)
def test_malformed_entries_raise_cache_error(raw: bytes) -> None:
    with pytest.raises(CacheError):
        decode(raw)
