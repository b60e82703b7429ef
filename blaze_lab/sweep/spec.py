"""Experiment specs: a YAML file -> a validated, frozen :class:`ExperimentSpec`.

A spec names an engine kind, a base config, the sweep axes, a quality reference, the measurement settings and the
notebook papermill runs. The simple case is one kind::

    name: llm_quant                # results/<name>/ (default: the file name without .yaml)
    kind: llm                      # llm | diffusion | router | serving
    base: {model: smollm2-135m, new_tokens: 32}
    grid: {batch_size: [1, 8]}     # cartesian product of every grid axis ...
    zip:                           # ... times the zipped axes (all lists the same length, taken together)
      dtype:        [fp32, bf16, fp32]
      quantization: [none, none, bnb-8bit]
    reference: {}                  # overrides of base for the quality reference config (null: no reference)
    measure: {warmup: 1, min_iters: 3, max_duration_s: 10}
    notebook: notebooks/llm_benchmark.ipynb   # default per kind

One YAML can hold several kinds as ``parts`` (each part takes the keys above except ``name``; a top-level
``measure`` is the default every part's ``measure`` overrides)::

    name: quickstart
    measure: {max_duration_s: 5}
    parts:
      - {kind: llm, base: {...}, grid: {...}}
      - {name: sd, kind: diffusion, base: {...}}

Validation is strict and complete before anything runs or is written: unknown keys, wrong types, empty axes,
zipped lists of unequal length, values the config class refuses (every expanded config is built), notebooks whose
``parameters`` cell does not declare exactly the sweep contract's parameters. Every error is one
:class:`~blaze_lab.errors.ConfigError` line ``<file>:<path.to.field>: ...; allowed: ...``.

Expansion into runs and load-time groups (and run identity) is :mod:`blaze_lab.sweep.plan`.

Example:
    >>> spec = parse_spec({"kind": "router", "grid": {"strategy": ["round_robin", "random"]}}, "demo.yaml",
    ...                   check_notebooks=False)
    >>> [(part.kind, dict(part.grid)) for part in spec.parts]
    [('router', {'strategy': ('round_robin', 'random')})]
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from blaze_lab import kinds
from blaze_lab.config import BaseConfig
from blaze_lab.errors import ConfigError
from blaze_lab.sweep.notebook import check_notebook, resolve_notebook
from blaze_lab.sweep.yaml_input import read_yaml

if TYPE_CHECKING:
    from blaze_lab.sweep.plan import Run

# Runs one spec may expand to unless it says otherwise (`max_runs:` or --max-runs): a Run costs ~4 KB and its
# config is built and validated, so 10^4 runs validate in seconds; MAX_RUNS_LIMIT bounds what a spec may ask for.
DEFAULT_MAX_RUNS = 10_000
MAX_RUNS_LIMIT = 1_000_000

_PART_FIELDS = ("kind", "base", "grid", "zip", "reference", "measure", "notebook")
_TOP_KEYS = ("name", "description", *_PART_FIELDS, "parts", "max_runs", "replications")
# Replications of every load-time group at most (each is a kernel start and a model load).
MAX_REPLICATIONS = 20
_PART_KEYS = ("name", "kind", "base", "grid", "zip", "reference", "measure", "notebook", "replications")
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_NAME_MAX = 100


@dataclasses.dataclass(frozen=True)
class PartSpec:
    """One engine kind's share of a spec (a single-kind spec has exactly one part, named after its kind)."""

    name: str
    kind: str
    base: Mapping[str, Any]
    grid: Mapping[str, tuple[Any, ...]]
    zip: Mapping[str, tuple[Any, ...]]
    reference: Mapping[str, Any] | None
    measure: Mapping[str, Any]
    notebook: Path
    where: str  # "file" or "file:parts[1]": prefix of error messages
    replications: int | None = None  # this part's replications (None: the spec's)

    def config_class(self) -> type[BaseConfig]:
        return config_class(self.kind)

    def run_count(self) -> int:
        """Grid size times zip length (what expansion would build), by arithmetic."""
        zip_len = len(next(iter(self.zip.values()))) if self.zip else 1
        return zip_len * math.prod(len(values) for values in self.grid.values())

    def field_path(self, field: str) -> str:
        """``file:field`` (single-kind spec) or ``file:parts[i].field``: the location used in error messages."""
        return join_path(self.where, field)


@dataclasses.dataclass(frozen=True)
class ExperimentSpec:
    """A validated experiment: the sweep name, its parts, and the data it was read from (for the manifest)."""

    name: str
    parts: tuple[PartSpec, ...]
    source: str
    data: Mapping[str, Any]
    description: str = ""
    max_runs: int = 0  # the cap the spec was validated under (0: not validated by parse_spec)
    replications: int = 1  # each load-time group runs this many times, each in its own kernel, interleaved in time
    # The expanded runs, kept from validation so a command expands the spec once (see plan.expand).
    runs: tuple[Run, ...] = dataclasses.field(default=(), compare=False, repr=False)

    def part_replications(self, override: int | None = None) -> dict[str, int]:
        """part name -> how many times each of its groups runs (``override``, e.g. ``--replications``, wins)."""
        return {p.name: override or p.replications or self.replications for p in self.parts}

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(part.kind for part in self.parts)

    def run_count(self) -> int:
        """How many runs the spec expands to, computed from the axis lengths (nothing is built)."""
        return sum(part.run_count() for part in self.parts)


# -- registry -----------------------------------------------------------------------------------------------------


def config_class(kind: str) -> type[BaseConfig]:
    """The config class registered for ``kind`` in :mod:`blaze_lab.kinds` (imported on first use)."""
    return kinds.get(kind).config_class()


# -- loading ------------------------------------------------------------------------------------------------------


def load_spec(path: str | Path, check_notebooks: bool = True, max_runs: int | None = None) -> ExperimentSpec:
    """Read and fully validate a spec file.

    Example:
        >>> spec = load_spec("experiments/quickstart.yaml")  # doctest: +SKIP
        >>> spec.kinds  # doctest: +SKIP
        ('llm', 'diffusion')
    """
    path = Path(path)
    where = str(path)
    data = read_yaml(path)
    return parse_spec(data, where, default_name=path.stem, check_notebooks=check_notebooks, max_runs=max_runs)


def parse_spec(
    data: Any,
    where: str = "<spec>",
    default_name: str | None = None,
    check_notebooks: bool = True,
    max_runs: int | None = None,
) -> ExperimentSpec:
    """Validate already-loaded spec data (a mapping as ``yaml.safe_load`` returns it).

    ``max_runs`` caps the number of runs (default: the spec's ``max_runs`` key, else :data:`DEFAULT_MAX_RUNS`);
    a larger spec is refused with its run count, computed from the axis lengths before anything is built.
    """
    top = _mapping(data, where, "")
    _known_keys(top, _TOP_KEYS, where, "")
    name = top.get("name", default_name or "adhoc")
    _check_name(name, where, "name")
    description = top.get("description", "")
    if not isinstance(description, str):
        raise _err(where, "description", description, reason="must be a string")
    default_measure = _mapping(top.get("measure", {}), where, "measure")

    if "parts" in top:
        clash = [k for k in ("kind", "base", "grid", "zip", "reference", "notebook") if k in top]
        if clash:
            raise _err(where, clash[0], top[clash[0]], reason="not allowed beside 'parts' (put it inside each part)")
        raw_parts = top["parts"]
        if not isinstance(raw_parts, list) or not raw_parts:
            raise _err(where, "parts", raw_parts, reason="must be a non-empty list of parts")
        located = [(_mapping(raw, where, f"parts[{i}]"), f"{where}:parts[{i}]") for i, raw in enumerate(raw_parts)]
    else:
        located = [({k: v for k, v in top.items() if k in _PART_KEYS and k != "name"}, where)]
    cap = _max_runs(top, where) if max_runs is None else max_runs
    # The cap is checked on the raw axis lengths, before any config class is imported or any value is built.
    counts = [_raw_run_count(raw) for raw, _ in located]
    if sum(counts) > cap:
        raw, part_where = located[counts.index(max(counts))]
        raise _err(
            part_where,
            "grid" if raw.get("grid") else "zip",
            reason=f"the spec expands to {sum(counts)} runs, more than max_runs={cap} (shrink the grid, or raise "
            "max_runs in the spec or with --max-runs)",
        )
    default = default_measure if "parts" in top else {}
    parts = [_parse_part(raw, part_where, default) for raw, part_where in located]
    seen: dict[str, str] = {}
    for part in parts:
        if part.name in seen:
            raise ConfigError(f"{part.where}.name", part.name, reason=f"duplicate part name (also {seen[part.name]})")
        seen[part.name] = part.where
    replications = _replications(top.get("replications", 1), where)
    spec = ExperimentSpec(
        name=name, parts=tuple(parts), source=where, data=data, description=description, max_runs=cap,
        replications=replications,
    )
    # Builds every config, so all value errors surface now, before anything runs; the runs are kept on the spec so
    # no later step of the command expands it again. Imported here: the plan module builds on this one's types.
    from blaze_lab.sweep.plan import check_models, expand

    runs = expand(spec)
    check_models(spec, runs)
    spec = dataclasses.replace(spec, runs=tuple(runs))
    if check_notebooks:
        for part in spec.parts:
            check_notebook(part.notebook, part.field_path("notebook"))
    return spec


def _raw_run_count(raw: Mapping[str, Any]) -> int:
    """Runs a raw part would expand to: product of the grid list lengths times the zip length (malformed axes count
    as one value here; parsing refuses them with their own message)."""

    def lengths(key: str) -> list[int]:
        axes = raw.get(key)
        if not isinstance(axes, dict):
            return []
        return [len(values) for values in axes.values() if isinstance(values, list) and values]

    zipped = lengths("zip")
    return (max(zipped) if zipped else 1) * math.prod(lengths("grid"))


def _replications(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_REPLICATIONS:
        raise _err(where, "replications", value, reason=f"must be an integer in 1..{MAX_REPLICATIONS}")
    return value


def _max_runs(top: Mapping[str, Any], where: str) -> int:
    value = top.get("max_runs", DEFAULT_MAX_RUNS)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_RUNS_LIMIT:
        raise _err(where, "max_runs", value, reason=f"must be an integer in 1..{MAX_RUNS_LIMIT}")
    return value


def _parse_part(raw: Mapping[str, Any], where: str, default_measure: Mapping[str, Any]) -> PartSpec:
    # `where` is "file" (single-kind) or "file:parts[i]"; field paths join with ":" or "." accordingly.
    _known_keys(raw, _PART_KEYS, where, "")
    kind = raw.get("kind")
    if kind is None:
        raise _err(where, "kind", reason="required key missing", allowed=kinds.names())
    if not isinstance(kind, str) or kind not in kinds.KINDS:
        raise _err(where, "kind", kind, allowed=kinds.names())
    name = raw.get("name", kind)
    _check_name(name, where, "name")
    try:
        cls = config_class(kind)
    except ConfigError as exc:
        raise _err(where, "kind", kind, reason=exc.reason) from None
    fields = cls.field_names()

    base = _mapping(raw.get("base", {}), where, "base")
    _known_keys(base, fields, where, "base")
    grid = _axes(raw.get("grid", {}), where, "grid", fields)
    zipped = _axes(raw.get("zip", {}), where, "zip", fields)
    both = sorted(set(grid) & set(zipped))
    if both:
        raise _err(where, f"zip.{both[0]}", reason="axis is also in grid (an axis is either gridded or zipped)")
    lengths = {k: len(v) for k, v in zipped.items()}
    if len(set(lengths.values())) > 1:
        first = next(iter(lengths))
        odd = next(k for k, n in lengths.items() if n != lengths[first])
        raise _err(
            where,
            f"zip.{odd}",
            reason=f"has {lengths[odd]} values but zip.{first} has {lengths[first]} (zipped lists need equal length)",
        )
    reference = raw.get("reference")
    if reference is not None:
        reference = _mapping(reference, where, "reference")
        _known_keys(reference, fields, where, "reference")
    measure_raw = {**default_measure, **_mapping(raw.get("measure", {}), where, "measure")}
    measure = _check_measure(measure_raw, where, kinds.get(kind).measure_extras)
    notebook_value = raw.get("notebook", kinds.get(kind).notebook)
    if not isinstance(notebook_value, str):
        raise _err(where, "notebook", notebook_value, reason="must be a path string")
    return PartSpec(
        name=name,
        kind=kind,
        base=dict(base),
        grid=grid,
        zip=zipped,
        reference=dict(reference) if reference is not None else None,
        measure=measure,
        notebook=resolve_notebook(notebook_value),
        where=where,
        replications=None if "replications" not in raw else _replications(raw["replications"], where),
    )


def _check_measure(measure: Mapping[str, Any], where: str, extras: Mapping[str, Any]) -> dict[str, Any]:
    from blaze_lab.metrics.timing import MeasureSettings

    plain = {k: v for k, v in measure.items() if k not in extras}
    # Checked here, not by MeasureSettings, so the message lists the extras too.
    _known_keys(measure, [*MeasureSettings.field_names(), *extras], where, "measure")
    settings = MeasureSettings.from_dict(plain, where=join_path(where, "measure"))
    # Only the keys the user gave travel to the notebook (defaults stay with MeasureSettings), but validated.
    out: dict[str, Any] = {k: getattr(settings, k) for k in plain}
    for name, target in extras.items():
        if name in measure:
            out[name] = _check_extra(measure[name], join_path(where, f"measure.{name}"), target)
    return out


def _check_extra(value: Any, where: str, target: Any) -> dict[str, Any]:
    """Validate a measure sub-mapping against a dataclass's fields and annotated types (built once to be sure)."""
    cls = kinds.resolve(target, where)
    data = _mapping(value, where, "")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key, item in data.items():
        if key not in fields:
            raise ConfigError(f"{where}.{key}", reason="unknown key", allowed=list(fields))
        default = fields[key].default
        if default is not dataclasses.MISSING and default is not None:
            expected = (float, int) if isinstance(default, float) else type(default)
            if not isinstance(item, expected) or (isinstance(item, bool) and not isinstance(default, bool)):
                raise ConfigError(f"{where}.{key}", item, reason=f"wrong type, expected {type(default).__name__}")
    try:
        cls(**data)
    except (TypeError, ValueError) as exc:
        raise ConfigError(where, data, reason=str(exc)) from None
    return dict(data)


def _axes(value: Any, where: str, key: str, fields: Sequence[str]) -> dict[str, tuple[Any, ...]]:
    axes = _mapping(value, where, key)
    _known_keys(axes, fields, where, key)
    out: dict[str, tuple[Any, ...]] = {}
    for field, values in axes.items():
        if not isinstance(values, list):
            raise _err(where, f"{key}.{field}", values, reason="must be a list of values")
        if not values:
            raise _err(where, f"{key}.{field}", values, reason="empty list (give at least one value)")
        out[field] = tuple(values)
    return out


# -- helpers ------------------------------------------------------------------------------------------------------


def join_path(where: str, field: str) -> str:
    """Join a location and a field: ``file`` + ``grid.x`` -> ``file:grid.x``; ``file:parts[0]`` -> ``...parts[0].x``."""
    if not field:
        return where
    return f"{where}.{field}" if ":" in where else f"{where}:{field}"


def _err(where: str, field: str, value: Any = ..., *, reason: str | None = None, allowed: Any = None) -> ConfigError:
    return ConfigError(join_path(where, field), value, reason=reason, allowed=allowed)


def _mapping(value: Any, where: str, field: str) -> Mapping[str, Any]:
    if value is None and field:
        return {}
    if not isinstance(value, dict):
        kind = type(value).__name__
        raise ConfigError(join_path(where, field) if field else where, reason=f"must be a mapping, got {kind}")
    for key in value:
        if not isinstance(key, str):
            raise _err(where, field, key, reason="keys must be strings")
    return value


def _known_keys(data: Mapping[str, Any], allowed: Sequence[str], where: str, field: str) -> None:
    for key in data:
        if key not in allowed:
            raise _err(where, f"{field}.{key}" if field else key, reason="unknown key", allowed=allowed)


def _check_name(name: Any, where: str, field: str) -> None:
    # fullmatch: with match, "$" also matches before a trailing newline ("okname\n" would pass).
    if not isinstance(name, str) or len(name) > _NAME_MAX or not _NAME_RE.fullmatch(name):
        rule = f"letters, digits, '_', '-', '.' (a folder name, at most {_NAME_MAX} characters)"
        raise _err(where, field, name, reason=f"must be a string of {rule}")


__all__ = [
    "DEFAULT_MAX_RUNS",
    "MAX_RUNS_LIMIT",
    "ExperimentSpec",
    "PartSpec",
    "config_class",
    "join_path",
    "load_spec",
    "parse_spec",
]
