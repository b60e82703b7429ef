"""Run a sweep: load the spec, plan it, and for each load-time group execute its notebook and store the rows.

The driver reads like papermill's ``execute_notebook``: a linear sequence of steps, each in its own module::

    spec = load_spec(path)                        # blaze_lab.sweep.spec: YAML -> validated ExperimentSpec
    runs = expand(spec); plan = groups(runs)      # blaze_lab.sweep.plan: runs, run identity, load-time groups
    tasks = [task(group) for incomplete groups]   # resume: blaze_lab.sweep.store.complete_ids
    for output in executor.run(tasks):            # blaze_lab.sweep.executor: papermill, one group at a time
        store_output(...); write_manifest(...)    # blaze_lab.sweep.store: atomic writes, manifest

Example:
    >>> result = run_sweep("experiments/quickstart.yaml")  # doctest: +SKIP
    >>> result.counts  # doctest: +SKIP
    {'ok': 8, 'unsupported': 2}
    >>> summary, raw = result.frames()  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from blaze_lab.clock import Clock, RealClock
from blaze_lab.sweep import estimate, rerun, store
from blaze_lab.sweep.collect import collect
from blaze_lab.sweep.executor import DEFAULT_KERNEL, Executor, GroupTask, make_executor
from blaze_lab.sweep.notebook import check_notebook
from blaze_lab.sweep.plan import Group, Run, expand, groups, plain_config
from blaze_lab.sweep.rerun import Rerun
from blaze_lab.sweep.select import group_labels, select_groups
from blaze_lab.sweep.spec import ExperimentSpec, load_spec


@dataclasses.dataclass(frozen=True)
class SweepResult:
    """Where a sweep's results are and what happened (``executed``/``skipped``: group ids)."""

    name: str
    results_dir: Path
    counts: Mapping[str, int]
    executed: tuple[str, ...]
    skipped: tuple[str, ...]
    manifest: Mapping[str, Any]

    def frames(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(summary, raw) of the whole sweep."""
        return collect(self.results_dir)


def run_sweep(
    spec: str | os.PathLike[str] | ExperimentSpec,
    results_root: str | os.PathLike[str] = "results",
    executor: str | Executor = "local",
    address: str | None = None,
    kernel_name: str = DEFAULT_KERNEL,
    retry_errors: bool = True,
    progress: bool = True,
    cell_timeout_s: float | None = None,
    clock: Clock | None = None,
    replications: int | None = None,
    *,
    force: bool = False,
    rerun_invalid: bool = False,
    only: Sequence[str] = (),
    echo: Callable[[str], None] | None = None,
) -> SweepResult:
    """Run (or resume) every group of a spec; returns counts by status and the results folder.

    ``replications`` (default: the spec's ``replications``) runs every load-time group that many times, each in its
    own kernel, interleaved in time (see :func:`blaze_lab.sweep.plan.groups`).

    Resume skips runs whose stored rows were measured by the current measurement code and have a trusted outcome
    (:mod:`blaze_lab.sweep.rerun`); ``force`` re-measures every run, ``rerun_invalid`` the rows flagged invalid and
    the error/oom rows, ``only`` limits the sweep to the groups those names pick
    (:func:`~blaze_lab.sweep.select.select_groups`). ``echo`` gets one line saying what a resume re-measures.

    Everything is validated before the first write: the spec (when given as a path), each notebook's parameters,
    the executor and its kernel, the ``only`` names.

    Example:
        >>> result = run_sweep("experiments/quickstart.yaml", results_root="results")  # doctest: +SKIP
        >>> result.results_dir  # doctest: +SKIP
        PosixPath('results/quickstart')
    """
    clock = clock or RealClock()
    if not isinstance(spec, ExperimentSpec):
        spec = load_spec(Path(spec))
    else:
        for part in spec.parts:
            check_notebook(part.notebook, part.field_path("notebook"))
    runs = expand(spec)
    plan = groups(runs, spec.part_replications(replications))
    chosen = {g.group_id for g in select_groups(plan, only)}
    policy = Rerun(force=force, rerun_invalid=rerun_invalid, retry_errors=retry_errors)
    exe = make_executor(executor, address) if isinstance(executor, str) else executor
    root = Path(results_root) / spec.name
    done = _done(root, plan, chosen, policy)
    exe.check(group_tasks(spec.name, plan, done, kernel_name, cell_timeout_s))

    from blaze_lab.env import fingerprint

    env = fingerprint()
    root.mkdir(parents=True, exist_ok=True)
    with store.exclusive(root):
        # Recomputed under the lock: a sweep that held it until now may have completed runs meanwhile.
        verdicts = {g.group_id: store.run_verdicts(root / g.group_id, g, policy) for g in plan if g.group_id in chosen}
        note = rerun.resume_note(_count(verdicts))
        if echo is not None and note:
            echo(note)
        done = _done(root, plan, chosen, policy, verdicts)
        tasks = group_tasks(spec.name, plan, done, kernel_name, cell_timeout_s)
        todo = {t.group: len(t.run_ids) for t in tasks}
        seconds = estimate.estimates(plan, todo, estimate.stored_timings(Path(results_root)))
        return _run_locked(
            spec, root, runs, plan, done, tasks, exe, env, kernel_name, progress, clock,
            {gid: s for gid, (s, _) in seconds.items()},
        )  # fmt: skip


def _done(
    root: Path,
    plan: Sequence[Group],
    chosen: set[str],
    policy: Rerun,
    verdicts: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, set[str]]:
    """Group id -> run ids not to measure: the complete ones, and every run of a group ``--only`` left out."""
    out = {}
    for g in plan:
        if g.group_id not in chosen:
            out[g.group_id] = set(g.run_ids)
            continue
        v = verdicts[g.group_id] if verdicts is not None else store.run_verdicts(root / g.group_id, g, policy)
        out[g.group_id] = {r for r, state in v.items() if state == rerun.COMPLETE}
    return out


def _count(verdicts: Mapping[str, Mapping[str, str]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for per_group in verdicts.values():
        for state in per_group.values():
            counts[state] = counts.get(state, 0) + 1
    return counts


BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}{postfix}]"  # postfix: ", 3/26 runs · <group>"


def _run_locked(
    spec: ExperimentSpec,
    root: Path,
    runs: Sequence[Run],
    plan: Sequence[Group],
    done: Mapping[str, set[str]],
    tasks: Sequence[GroupTask],
    exe: Executor,
    env: Mapping[str, Any],
    kernel_name: str,
    progress: bool,
    clock: Clock,
    seconds: Mapping[str, float],
) -> SweepResult:
    from tqdm.auto import tqdm

    store.remove_stale_temporaries(root, plan)
    manifest = store.new_manifest(spec, root, plan, env, exe.name, kernel_name, clock.wall())
    store.write_manifest(root, manifest)

    by_id = {g.group_id: g for g in plan}
    labels = group_labels(plan)
    executed: list[str] = []
    # The bar counts estimated seconds (per kind: a router run ~1 s, an LLM run tens of seconds), not runs, so its
    # ETA (time left at the rate actually achieved against the estimates) does not swing between kinds.
    total_runs = sum(len(t.run_ids) for t in tasks)
    runs_done = 0
    bar = tqdm(
        total=max(sum(seconds.get(t.group, 0.0) for t in tasks), 1e-9),
        desc=spec.name,
        bar_format=BAR_FORMAT,
        disable=not progress,
    )
    started: dict[str, float] = {}

    def on_start(task: GroupTask) -> None:
        started[task.group] = clock.now()
        bar.set_postfix_str(f"{runs_done}/{total_runs} runs · {labels.get(task.group, task.group)}", refresh=True)

    try:
        for output in exe.run(tasks, on_start=on_start):
            group = by_id[output.group]
            todo = [r for r in group.runs if r.run_id not in done[group.group_id]]
            error = store.store_output(root / group.group_id, spec.name, group, todo, output, env)
            executed.append(group.group_id)
            entry = manifest["groups"][group.group_id]
            entry.update(store.group_state(root / group.group_id, group, error))
            if group.group_id in started:
                entry.update(estimate.timing_entry(clock.now() - started[group.group_id], len(todo)))
            manifest["counts"] = store.counts_by_status(root, plan)
            manifest["executed"] = list(executed)
            store.write_manifest(root, manifest)
            runs_done += len(todo)
            bar.set_postfix_str(f"{runs_done}/{total_runs} runs", refresh=False)
            bar.update(seconds.get(group.group_id, 0.0))
    finally:
        bar.close()
    manifest["counts"] = store.counts_by_status(root, plan)
    manifest["ended"] = store.iso(clock.wall())
    store.write_manifest(root, manifest)
    skipped = tuple(g.group_id for g in plan if g.group_id not in executed)
    return SweepResult(spec.name, root, dict(manifest["counts"]), tuple(executed), skipped, manifest)


def completed_runs(
    spec: ExperimentSpec,
    plan: Sequence[Group],
    results_root: str | os.PathLike[str],
    retry_errors: bool | Rerun = True,
) -> set[str]:
    """Run ids whose results already exist and are trusted (what a rerun skips); reads only, writes nothing."""
    root = Path(results_root) / spec.name
    return set().union(*(store.complete_ids(root / g.group_id, g, retry_errors) for g in plan))


def group_tasks(
    sweep: str,
    plan: Sequence[Group],
    done: Mapping[str, set[str]],
    kernel_name: str,
    cell_timeout_s: float | None,
) -> list[GroupTask]:
    """One task per group with runs left to do (its complete runs are not measured again)."""
    tasks = []
    for group in plan:
        todo = [r for r in group.runs if r.run_id not in done[group.group_id]]
        if not todo:
            continue
        tasks.append(
            GroupTask(
                sweep=sweep,
                group=group.group_id,
                kind=group.kind,
                notebook=str(group.notebook),
                parameters={
                    "sweep": sweep,
                    "group": group.group_id,
                    "runs": [r.params() for r in todo],
                    "reference": plain_config(group.reference),
                    # each replication starts the interleaving rotation elsewhere (recorded as order_seed)
                    "measure": {**group.measure, **({"order_seed": group.replication} if group.replication else {})},
                },
                run_ids=tuple(r.run_id for r in todo),
                kernel_name=kernel_name,
                cwd=os.getcwd(),
                cell_timeout_s=cell_timeout_s,
            )
        )
    return tasks


__all__ = ["SweepResult", "completed_runs", "group_tasks", "run_sweep"]
