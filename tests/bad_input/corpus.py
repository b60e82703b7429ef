"""The bad-input corpus: spec files a new (or careless) user might write, each with where the error must point.

Each case is ``Case(id, content, where)``: ``content`` is the file's bytes (some are generated: an alias bomb, a
10^9-run grid, a file over the size limit), ``where`` what must follow ``<file>:`` in the one-line error: a field
path (``grid.x[1]``), a line number (``3``), or None when the problem is the whole file (empty, not a mapping, too
large). Every case must be refused by validation alone: exit code 2, one line, no traceback, nothing written.
"""

from __future__ import annotations

import dataclasses

import yaml


@dataclasses.dataclass(frozen=True)
class Case:
    id: str
    content: bytes
    where: str | None
    detail: str = ""  # a fragment the message must contain (the reason / allowed values)


def _y(data: object) -> bytes:
    return yaml.safe_dump(data, sort_keys=False).encode()


def _alias_bomb() -> bytes:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{','.join([f'*{prev}'] * 9)}]")
    return ("\n".join(lines) + "\n").encode()


def _huge_grid() -> bytes:
    fields = ["seed", "replicas", "n_requests", "sessions", "max_attempts", "queue_size", "replica_slots"]
    fields += ["base_latency_s", "per_request_s"]
    return _y({"name": "huge", "kind": "router", "grid": {f: list(range(1, 11)) for f in fields}})


def _deep() -> bytes:
    return ("kind: router\nbase: " + "[" * 100 + "]" * 100 + "\n").encode()


CASES: list[Case] = [
    # 1. values beyond what the libraries and parquet hold
    Case("seed-overflow", _y({"kind": "llm", "base": {"seed": 10**29}}), "base.seed", "allowed range 0..922"),
    Case(
        "prompt-tokens-overflow",
        _y({"kind": "llm", "grid": {"prompt_tokens": [8, 10**20]}}),
        "grid.prompt_tokens[1]",
        "must be <=",
    ),
    Case("router-seed-overflow", _y({"kind": "router", "base": {"seed": 2**63}}), "base.seed", "allowed range"),
    Case("diffusion-seed-negative", _y({"kind": "diffusion", "base": {"seed": -1}}), "base.seed", "must be >= 0"),
    Case("new-tokens-zero", _y({"kind": "llm", "base": {"new_tokens": 0}}), "base.new_tokens", "must be >= 1"),
    Case(
        "float-field-huge-int",
        b"kind: llm\nbase: {temperature: 1" + b"0" * 400 + b"}\n",
        "base.temperature",
        "too large for a float",
    ),
    # 6. NaN / inf
    Case("nan-temperature", b"kind: llm\nbase: {temperature: .nan}\n", "base.temperature", "finite"),
    Case("inf-top-p", b"kind: llm\nbase: {top_p: .inf}\n", "base.top_p", "finite"),
    Case("nan-measure", b"kind: router\nmeasure: {max_duration_s: .nan}\n", "measure", "finite"),
    Case("neg-inf-guidance", b"kind: diffusion\nbase: {guidance_scale: -.inf}\n", "base.guidance_scale", "finite"),
    # 2. size of the grid (refused from the axis lengths, before expansion)
    Case("grid-1e9-runs", _huge_grid(), "grid", "1000000000 runs"),
    Case("max-runs-zero", _y({"kind": "router", "max_runs": 0}), "max_runs", "1..1000000"),
    Case(
        "max-runs-below-grid",
        _y({"kind": "router", "max_runs": 2, "grid": {"seed": [1, 2, 3]}}),
        "grid",
        "3 runs, more than max_runs=2",
    ),
    # 4. and 5. bytes and YAML
    Case("not-utf8", b"name: x\nkind: router\n\xff\xfe: 1\n", "3", "not UTF-8"),
    Case("nul-byte", b"kind: router\n\x00\n", "2", "not allowed"),
    Case("utf16-bom", "kind: router\n".encode("utf-16"), "1", "not UTF-8"),
    Case("alias-bomb", _alias_bomb(), "6", "more than 100000 values"),
    Case("recursive-alias", b"kind: router\nbase: &a {x: *a}\n", "2", "YAML"),
    Case("too-deep", _deep(), "2", "deeper than"),
    Case("too-large", b"kind: router\ndescription: " + b"x" * 1_100_000 + b"\n", None, "larger than"),
    Case("yaml-syntax", b"kind: router\ngrid: {seed: [1, 2}\n", "2", "invalid YAML"),
    Case("yaml-tab-indent", b"kind: router\ngrid:\n\tseed: [1]\n", "3", "invalid YAML"),
    Case("python-tag", b"kind: !!python/object/apply:os.system ['echo pwned']\n", "1", "invalid YAML"),
    Case("empty-file", b"", None, "must be a mapping"),
    Case("top-level-list", b"- kind: router\n", None, "must be a mapping"),
    Case("long-value", _y({"kind": "llm", "base": {"model": "x" * 100_000}}), "base.model", "..."),
    # 6. duplicates and late errors
    Case("duplicate-top-key", b"kind: router\nname: a\nkind: llm\n", "3", "first at line 1"),
    Case("duplicate-nested-key", b"kind: router\nbase:\n  seed: 1\n  seed: 2\n", "4", "first at line 3"),
    Case(
        "model-not-found",
        _y({"kind": "llm", "base": {"model": "org/does-not-exist"}}),
        "base.model",
        "not in the local HF cache",
    ),
    Case(
        "model-unknown-random",
        _y({"kind": "llm", "grid": {"model": ["random:tiny-llama", "random:nope"]}}),
        "grid.model[1]",
        "unknown random architecture",
    ),
    Case("model-wrong-kind", _y({"kind": "llm", "base": {"model": "tiny-sd"}}), "base.model", "diffusion"),
    Case(
        "model-missing-dir",
        _y({"kind": "diffusion", "base": {"model": "/nonexistent/model"}}),
        "base.model",
        "model not available",
    ),
    Case(
        "image-dir-template",
        _y({"kind": "diffusion", "measure": {"quality": {"image_dir": "out/{run}"}}}),
        "measure.quality",
        "unknown placeholder {run}",
    ),
    # 7. names
    Case("name-trailing-newline", _y({"name": "okname\n", "kind": "router"}), "name", "folder name"),
    Case("name-path", _y({"name": "../escape", "kind": "router"}), "name", "folder name"),
    Case("name-too-long", _y({"name": "n" * 300, "kind": "router"}), "name", "at most 100"),
    Case("name-not-string", _y({"name": 12, "kind": "router"}), "name", "folder name"),
    # structure and types
    Case("unknown-top-key", _y({"kind": "router", "grdi": {}}), "grdi", "unknown key"),
    Case("unknown-field", _y({"kind": "llm", "base": {"batchsize": 2}}), "base.batchsize", "unknown key"),
    Case("wrong-type", _y({"kind": "llm", "base": {"batch_size": "8"}}), "base.batch_size", "wrong type"),
    Case("bool-for-int", _y({"kind": "llm", "base": {"batch_size": True}}), "base.batch_size", "bool"),
    Case("empty-axis", _y({"kind": "llm", "grid": {"batch_size": []}}), "grid.batch_size", "empty list"),
    Case(
        "zip-unequal",
        _y({"kind": "llm", "zip": {"dtype": ["fp32", "bf16"], "batch_size": [1]}}),
        "zip.batch_size",
        "equal length",
    ),
    Case("unknown-kind", _y({"kind": "asr"}), "kind", "allowed: diffusion, llm"),
    Case("missing-kind", _y({"name": "x"}), "kind", "required"),
    Case(
        "invalid-choice",
        _y({"kind": "llm", "grid": {"quantization": ["none", "int3"]}}),
        "grid.quantization[1]",
        "allowed: none",
    ),
    Case("duplicate-run", _y({"kind": "llm", "grid": {"batch_size": [1, 1]}}), "grid.batch_size[1]", "same run"),
    Case("measure-unknown", _y({"kind": "router", "measure": {"warmupp": 1}}), "measure.warmupp", "unknown key"),
    Case("measure-negative", _y({"kind": "router", "measure": {"warmup": -1}}), "measure", "must be >= 0"),
    Case("notebook-missing", _y({"kind": "router", "notebook": "nope.ipynb"}), "notebook", "notebook not found"),
    Case(
        "duplicate-part",
        _y({"parts": [{"kind": "router"}, {"kind": "router", "grid": {"seed": [3]}}]}),
        "parts[1].name",
        "duplicate part name",
    ),
    Case("reference-unknown", _y({"kind": "llm", "reference": {"dtyp": "fp32"}}), "reference.dtyp", "unknown key"),
]
