"""The plan of a sweep: a validated spec expanded into runs (with their identity) and load-time groups.

Run order: parts, then zip index, then grid in row-major order (axes in file order). A run is identified by
``stable_hash(kind, config_hash, measure, reference config, code version)`` (see docs/sweeps.md, "Run identity");
runs sharing a part and ``config.load_hash()`` form one load-time group: one model load, one notebook execution.

Example:
    >>> from blaze_lab.sweep.spec import parse_spec
    >>> spec = parse_spec({"kind": "router", "grid": {"strategy": ["round_robin", "random"]}}, "demo.yaml",
    ...                   check_notebooks=False)
    >>> runs = expand(spec)
    >>> [run.config.strategy for run in runs], len(groups(runs))
    (['round_robin', 'random'], 1)
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from blaze_lab import kinds
from blaze_lab.config import BaseConfig, stable_hash
from blaze_lab.errors import ConfigError, ModelLoadError
from blaze_lab.sweep.notebook import code_version
from blaze_lab.sweep.spec import ExperimentSpec, PartSpec, join_path


@dataclasses.dataclass(frozen=True)
class Run:
    """One config to measure: identified by ``run_id``, measured in load-time group ``group``."""

    run_id: str
    kind: str
    part: str
    config: BaseConfig
    group: str
    reference: BaseConfig | None
    measure: Mapping[str, Any]
    notebook: Path
    origin: str  # "grid.batch_size[1], zip[2]": where in the spec this run came from

    def params(self) -> dict[str, Any]:
        """The ``runs`` entry the notebook receives."""
        return {"run_id": self.run_id, "config": plain_config(self.config)}


@dataclasses.dataclass(frozen=True)
class Group:
    """Runs sharing one model load (same part and ``config.load_hash()``): one papermill execution."""

    group_id: str
    kind: str
    part: str
    notebook: Path
    runs: tuple[Run, ...]
    reference: BaseConfig | None
    measure: Mapping[str, Any]
    replication: int = 0  # 0 for the first execution; k for the (k+1)-th, stored in "<group_id>-rep<k>"

    @property
    def run_ids(self) -> list[str]:
        return [run.run_id for run in self.runs]


def expand(spec: ExperimentSpec) -> list[Run]:
    """Every run of the spec, in spec order (parts, then zip index, then grid in row-major order).

    Builds each config through the config class, so a refused value raises ConfigError naming the spec entry that
    supplied it (``q.yaml:grid.quantization[2]``); two entries expanding to the same run are refused too.
    A spec from :func:`~blaze_lab.sweep.spec.parse_spec` already holds its runs (expanded once, at validation).
    """
    if spec.runs:
        return list(spec.runs)
    runs: list[Run] = []
    seen: dict[str, str] = {}
    for part in spec.parts:
        for run in _expand_part(part):
            if run.run_id in seen:
                raise ConfigError(
                    join_path(part.where, run.origin),
                    reason=f"expands to the same run as {seen[run.run_id]} (remove the duplicate)",
                )
            seen[run.run_id] = f"{part.name}: {run.origin}" if len(spec.parts) > 1 else run.origin
            runs.append(run)
    return runs


def _expand_part(part: PartSpec) -> list[Run]:
    cls = part.config_class()
    code = code_version(part.notebook)
    reference = None
    if part.reference is not None:
        sources = {k: f"reference.{k}" for k in part.reference}
        reference = _build(cls, {**part.base, **part.reference}, part.where, sources, "reference")
    zip_len = len(next(iter(part.zip.values()))) if part.zip else 1
    grid_items = list(part.grid.items())
    runs = []
    for zi in range(zip_len):
        for combo in itertools.product(*(range(len(values)) for _, values in grid_items)):
            values = dict(part.base)
            sources = {k: f"base.{k}" for k in part.base}
            for field, zvalues in part.zip.items():
                values[field] = zvalues[zi]
                sources[field] = f"zip.{field}[{zi}]"
            for (field, gvalues), gi in zip(grid_items, combo, strict=True):
                values[field] = gvalues[gi]
                sources[field] = f"grid.{field}[{gi}]"
            origin = ", ".join(s for s in sources.values() if not s.startswith("base.")) or "base"
            config = _build(cls, values, part.where, sources, origin)
            run_id = stable_hash(
                {
                    "kind": part.kind,
                    "config": config.config_hash(),
                    "measure": dict(part.measure),
                    "reference": reference.config_hash() if reference is not None else None,
                    "code": code,
                }
            )
            runs.append(
                Run(
                    run_id=run_id,
                    kind=part.kind,
                    part=part.name,
                    config=config,
                    group=f"{part.name}-{config.load_hash()}",
                    reference=reference,
                    measure=part.measure,
                    notebook=part.notebook,
                    origin=origin,
                )
            )
    return runs


def _build(
    cls: type[BaseConfig], values: Mapping[str, Any], where: str, sources: Mapping[str, str], origin: str
) -> BaseConfig:
    try:
        return cls.from_dict(values)
    except ConfigError as exc:
        field = exc.field.removeprefix(f"{cls.PREFIX}.")
        # Point at the spec entry that supplied the refused value; a default (or cross-field rule) -> the run.
        source = sources.get(field) or (f"{origin} ({cls.PREFIX}.{field})" if origin else field)
        raise ConfigError(join_path(where, source), exc.value, allowed=exc.allowed, reason=exc.reason) from None


def check_models(spec: ExperimentSpec, runs: Sequence[Run]) -> None:
    """Check every model a run names, offline and without loading (``blaze_lab.models.check_model``).

    A missing model is refused at validation (and by ``--dry-run``), naming the spec entry that supplied it, instead
    of failing after a kernel start as an error row.
    """
    from blaze_lab.models import check_model

    checked: set[tuple[str, str]] = set()
    for part in spec.parts:
        for field, model_kind in kinds.get(part.kind).models.items():
            for run in runs:
                value = getattr(run.config, field, None)
                if run.part != part.name or not isinstance(value, str) or (model_kind, value) in checked:
                    continue
                checked.add((model_kind, value))
                try:
                    check_model(value, model_kind)
                except (ModelLoadError, ConfigError) as exc:
                    reason = exc.reason if isinstance(exc, ConfigError) and exc.reason else str(exc)
                    where = join_path(part.where, _source_of(part, field, value))
                    raise ConfigError(where, value, reason=f"model not available ({reason})") from None


def _source_of(part: PartSpec, field: str, value: Any) -> str:
    """The spec entry that gave ``field`` the value ``value`` (``grid.model[1]``, ``base.model``, ...)."""
    for key, axes in (("grid", part.grid), ("zip", part.zip)):
        if field in axes and value in axes[field]:
            return f"{key}.{field}[{axes[field].index(value)}]"
    if part.reference is not None and part.reference.get(field) == value:
        return f"reference.{field}"
    if field in part.base:
        return f"base.{field}"
    return f"{field} (the default)"


def groups(runs: Sequence[Run], replications: int | Mapping[str, int] = 1) -> list[Group]:
    """Load-time groups in first-appearance order: runs of one part sharing ``config.load_hash()``.

    With ``replications`` = k > 1 every group appears k times, interleaved in time (A B A B …, not A A B B, so slow
    drift of the machine spreads over all groups): replication r of group g is ``g-rep<r>`` (r ≥ 1), a separate
    kernel with its own folder. Run ids are the same in every replication; the rows carry ``replication``.
    ``replications`` may be a mapping part name -> k (a deterministic simulation part needs only one).
    """
    base = _groups(runs)
    k_of = (lambda g: replications) if isinstance(replications, int) else (lambda g: replications.get(g.part, 1))
    most = max((k_of(g) for g in base), default=1)
    return [
        g if r == 0 else dataclasses.replace(g, group_id=f"{g.group_id}-rep{r}", replication=r)
        for r in range(most)
        for g in base
        if r < k_of(g)
    ]


def _groups(runs: Sequence[Run]) -> list[Group]:
    by_id: dict[str, list[Run]] = {}
    for run in runs:
        by_id.setdefault(run.group, []).append(run)
    out = []
    for group_id, members in by_id.items():
        first = members[0]
        out.append(
            Group(
                group_id=group_id,
                kind=first.kind,
                part=first.part,
                notebook=first.notebook,
                runs=tuple(members),
                reference=first.reference,
                measure=first.measure,
            )
        )
    return out


def plain_config(config: BaseConfig | None) -> dict[str, Any] | None:
    """A config as plain JSON-able values (tuples -> lists): what notebooks receive."""
    if config is None:
        return None
    return {k: list(v) if isinstance(v, tuple) else v for k, v in config.to_dict().items()}


__all__ = ["Group", "Run", "check_models", "expand", "groups", "plain_config"]
