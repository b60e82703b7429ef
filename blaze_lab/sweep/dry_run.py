"""``blaze-lab sweep SPEC --dry-run``: what a sweep would run, one compact table per part, and how long it would take.

Each part's table shows only the config fields whose values differ between that part's runs (a field another kind
has, or one every run shares, is not a column), the load-time group of each run (its label: what ``--only``
accepts) and how many of its executions are already done; the part's line gives its runs, load-time groups,
kernel executions and a time estimate (:mod:`blaze_lab.sweep.estimate`: from earlier runs of the same groups under
the results root, else a stated rough model). Nothing is executed or written.

Example:
    >>> from blaze_lab.sweep.spec import parse_spec
    >>> spec = parse_spec({"name": "demo", "kind": "router", "base": {"mode": "sim"},
    ...                    "grid": {"strategy": ["random", "round_robin"], "seed": [0, 1]}}, "d.yaml",
    ...                   check_notebooks=False)
    >>> print(plan_text(spec, "/nonexistent"))  # doctest: +ELLIPSIS, +NORMALIZE_WHITESPACE
    sweep demo: 4 runs in 1 load-time group, 1 kernel execution
    spec: d.yaml
    <BLANKLINE>
    part router (router): 4 runs, 1 load-time group, 1 kernel, ~7 s (rough model)
      run_id       strategy    seed group  done
      ... random      0    router 0/1
    ...
    total: ~7 s for 4 run executions in 1 kernel (rough model)
    estimate: rough model (2-core CPU) per kernel: router 5 s + 0.5 s/run
    dry run: ...
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from blaze_lab.report.digest import WIDTH, text_table
from blaze_lab.sweep import estimate
from blaze_lab.sweep.plan import Group, Run, expand, groups
from blaze_lab.sweep.rerun import Rerun
from blaze_lab.sweep.select import group_labels, select_groups
from blaze_lab.sweep.spec import ExperimentSpec


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def varying_fields(runs: Sequence[Run]) -> list[str]:
    """Config fields (in config order) whose values differ between ``runs``; the first field when none does."""
    dicts = [r.config.to_dict() for r in runs]
    if not dicts:
        return []
    fields = [k for k in dicts[0] if len({repr(d.get(k)) for d in dicts}) > 1]
    return fields or list(dicts[0])[:1]


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return "none" if value is None else str(value)


def plan_text(
    spec: ExperimentSpec,
    results: str | os.PathLike[str],
    policy: Rerun | None = None,
    replications: int | None = None,
    only: Sequence[str] = (),
) -> str:
    """The dry run's text (see the module doc): header, one table per part, the total and where results would go."""
    from blaze_lab.sweep.runner import completed_runs

    policy = policy or Rerun()
    runs = expand(spec)
    plan = groups(runs, spec.part_replications(replications))
    chosen = {g.group_id for g in select_groups(plan, only)}
    labels = group_labels(plan, replications=False)
    # "done": stored and trusted (whatever --force will do); a group --only leaves out runs nothing
    trusted = dataclasses.replace(policy, force=False)
    done_by_group = {g.group_id: completed_runs(spec, [g], results, trusted) for g in plan}
    todo = {}
    for g in plan:
        n_left = len(g.runs) if policy.force else len(g.runs) - len(done_by_group[g.group_id])
        todo[g.group_id] = n_left if g.group_id in chosen else 0
    seconds = estimate.estimates(plan, todo, estimate.stored_timings(Path(results)))
    distinct = sum(1 for g in plan if g.replication == 0)
    lines = [
        f"sweep {spec.name}: {_plural(len(runs), 'run')} in {_plural(distinct, 'load-time group')}, "
        f"{_plural(len(plan), 'kernel execution')}" + (" (replications included)" if len(plan) > distinct else ""),
        f"spec: {spec.source}",
        "",
    ]
    sources: list[str] = []
    for part in spec.parts:
        part_groups = [g for g in plan if g.part == part.name]
        part_runs = [r for r in runs if r.part == part.name]
        per_group: dict[str, list[Group]] = {}
        for g in part_groups:
            per_group.setdefault(estimate.base_id(g.group_id), []).append(g)
        fields = varying_fields(part_runs)
        rows = []
        for run in part_runs:
            execs = per_group[run.group]
            done = sum(1 for g in execs if run.run_id in done_by_group[g.group_id])
            config = run.config.to_dict()
            rows.append(
                {"run_id": run.run_id, **{f: _cell(config.get(f)) for f in fields},
                 "group": labels[run.group], "done": f"{done}/{len(execs)}"}
            )  # fmt: skip
        part_seconds = [seconds[g.group_id] for g in part_groups if todo[g.group_id] > 0]
        sources += [s for _, s in part_seconds]
        total = sum(s for s, _ in part_seconds)
        left = [g for g in part_groups if todo[g.group_id] > 0]
        when = f"~{estimate.duration_text(total)} ({estimate.source_text([s for _, s in part_seconds])})"
        lines.append(
            f"part {part.name} ({part.kind}): {_plural(len(part_runs), 'run')}, "
            f"{_plural(len(per_group), 'load-time group')}, {_plural(len(part_groups), 'kernel')}"
            + (f" ({len(left)} to run)" if 0 < len(left) < len(part_groups) else "")
            + f", {when if left else 'nothing to run'}"
        )
        lines.append(text_table([[str(v) for v in r.values()] for r in rows], list(rows[0]), WIDTH))
        lines.append("")
    total = sum(s for gid, (s, _) in seconds.items() if todo[gid] > 0)
    executions = sum(todo.values())
    kernels = sum(1 for n in todo.values() if n > 0)
    lines.append(
        f"total: ~{estimate.duration_text(total)} for {_plural(executions, 'run execution')} in "
        f"{_plural(kernels, 'kernel')} ({estimate.source_text(sources)})"
        if executions
        else "total: nothing to run (every run is complete; --force re-measures)"
    )
    if estimate.MEASURED in sources:
        lines.append(f"estimate: earlier runs = the groups' last stored wall time per run under {results}")
    if estimate.MODEL in sources:
        lines.append("estimate: " + estimate.model_text([p.kind for p in spec.parts]))
    lines.append(f"dry run: nothing executed or written (results would go to {Path(results) / spec.name})")
    return "\n".join(lines)


__all__ = ["plan_text", "varying_fields"]
