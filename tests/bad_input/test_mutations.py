"""Property: random mutations of valid specs never give a traceback — a spec loads, or is refused with one
bounded ``ConfigError`` line naming the file.

Two mutation kinds: structural (a value replaced by a hostile one, a key dropped, a stray key added, at any depth)
and textual (bytes of the YAML file inserted, deleted or replaced). Derandomized, so a failure reproduces.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blaze_lab.errors import ConfigError
from blaze_lab.sweep.spec import load_spec

VALID: list[dict[str, Any]] = [
    {"name": "r", "kind": "router", "base": {"n_requests": 50}, "grid": {"strategy": ["round_robin", "random"]}},
    {
        "name": "l",
        "kind": "llm",
        "base": {"model": "random:tiny-llama", "new_tokens": 4},
        "zip": {"dtype": ["fp32", "bf16"], "batch_size": [1, 2]},
        "measure": {"warmup": 0, "max_duration_s": 1.0, "quality": {"kl_tokens": 8}},
    },
    {
        "name": "p",
        "measure": {"min_iters": 2},
        "parts": [
            {"kind": "router", "grid": {"seed": [1, 2]}},
            {"kind": "diffusion", "base": {"model": "tiny-sd", "steps": 2}, "reference": {}},
        ],
    },
]

HOSTILE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([2**63, -(2**63) - 1, 10**400]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(["", "x" * 5000, "okname\n", "../up", "org/does-not-exist", "random:nope", "{sweep"]),
    st.lists(st.integers(min_value=-5, max_value=5), max_size=4),
    st.dictionaries(st.text(max_size=6), st.integers(min_value=-3, max_value=3), max_size=3),
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, (*prefix, i))
    return out


@st.composite
def mutated_specs(draw: st.DrawFn) -> dict[str, Any]:
    spec = copy.deepcopy(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = _paths(spec)
        path = draw(st.sampled_from(paths))
        parent: Any = spec
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "drop", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(HOSTILE)
        elif action == "drop":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=8))] = draw(HOSTILE)
        else:
            parent.append(draw(HOSTILE))
    return spec


def _check(path: Path) -> None:
    try:
        load_spec(path)
    except ConfigError as exc:
        message = str(exc)
        assert message.startswith(str(path)), message
        assert "\n" not in " ".join(message.split()) and len(message) < 2000, message


FAST = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip


@FAST
@given(spec=mutated_specs())
def test_structural_mutations_never_give_a_traceback(tmp_path: Path, spec: dict[str, Any]) -> None:
    path = tmp_path / "mutated.yaml"
    try:
        text = yaml.safe_dump(spec, sort_keys=False, allow_unicode=True)
    except (yaml.YAMLError, ValueError):
        return  # not representable as YAML: nothing a user could write
    path.write_text(text, encoding="utf-8")
    _check(path)


@FAST
@given(
    base=st.sampled_from(VALID),
    edits=st.lists(
        st.tuples(st.floats(min_value=0, max_value=1), st.sampled_from(["insert", "delete", "replace"]),
                  st.binary(min_size=1, max_size=3)),
        min_size=1,
        max_size=4,
    ),
)  # fmt: skip
def test_byte_mutations_never_give_a_traceback(
    tmp_path: Path, base: dict[str, Any], edits: list[tuple[float, str, bytes]]
) -> None:
    data = bytearray(yaml.safe_dump(base, sort_keys=False).encode())
    for where, action, chunk in edits:
        i = min(math.floor(where * len(data)), max(len(data) - 1, 0))
        if action == "insert":
            data[i:i] = chunk
        elif action == "delete":
            del data[i : i + len(chunk)]
        else:
            data[i : i + len(chunk)] = chunk
    path = tmp_path / "mutated.yaml"
    path.write_bytes(bytes(data))
    _check(path)
