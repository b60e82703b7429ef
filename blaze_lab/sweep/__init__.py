"""blaze_lab.sweep — experiment specs, the papermill runner, and reading results back.

One concept per module, in the order a sweep uses them:

- :mod:`~blaze_lab.sweep.yaml_input`: reading a spec file safely (size, encoding, aliases, duplicate keys).
- :mod:`~blaze_lab.sweep.spec`: YAML data -> validated :class:`~blaze_lab.sweep.spec.ExperimentSpec`.
- :mod:`~blaze_lab.sweep.plan`: runs (and their identity) and load-time groups.
- :mod:`~blaze_lab.sweep.notebook`: the notebook contract (``NOTEBOOK_PARAMETERS``, code version).
- :mod:`~blaze_lab.sweep.executor`: where groups run (``LocalExecutor``; ``ray_executor.RayExecutor``).
- :mod:`~blaze_lab.sweep.store`: the results folder (atomic writes, lock, manifest, merging rows).
- :mod:`~blaze_lab.sweep.rerun`: which stored rows a resume trusts (measurement-code fingerprint, ``Rerun`` flags).
- :mod:`~blaze_lab.sweep.select`: group labels for people, ``--only`` group selection.
- :mod:`~blaze_lab.sweep.estimate`: time estimates (stored group timings, else a rough model per kind).
- :mod:`~blaze_lab.sweep.dry_run`: the ``--dry-run`` text (one compact table per part).
- :mod:`~blaze_lab.sweep.runner`: ``run_sweep``, the driver: load spec -> plan -> for each group execute, store.
- :mod:`~blaze_lab.sweep.group`: ``run_group``, what each benchmark notebook calls (kind -> engine dispatch).
- :mod:`~blaze_lab.sweep.collect`: ``collect(results_dir) -> (summary, raw)`` and ``load_manifest``.

The public names are re-exported here and imported on first access (PEP 562), so that ``import blaze_lab.sweep``
does not pull in papermill or pandas. See docs/sweeps.md.

Example:
    >>> from blaze_lab.sweep import parse_spec, expand
    >>> spec = parse_spec({"kind": "router", "grid": {"seed": [1, 2]}}, "s.yaml", check_notebooks=False)
    >>> len(expand(spec))
    2
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "load_spec": "spec",
    "parse_spec": "spec",
    "ExperimentSpec": "spec",
    "PartSpec": "spec",
    "config_class": "spec",
    "expand": "plan",
    "groups": "plan",
    "Run": "plan",
    "Group": "plan",
    "NOTEBOOK_PARAMETERS": "notebook",
    "PROJECT_ROOT": "notebook",
    "check_notebook": "notebook",
    "code_version": "notebook",
    "resolve_notebook": "notebook",
    "DEFAULT_KERNEL": "executor",
    "EXECUTORS": "executor",
    "Executor": "executor",
    "GroupOutput": "executor",
    "GroupTask": "executor",
    "LocalExecutor": "executor",
    "execute_group": "executor",
    "make_executor": "executor",
    "COMPLETE_STATUSES": "store",
    "Rerun": "rerun",
    "code_fingerprint": "rerun",
    "group_labels": "select",
    "select_groups": "select",
    "plan_text": "dry_run",
    "atomic_write": "store",
    "SweepResult": "runner",
    "completed_runs": "runner",
    "run_sweep": "runner",
    "run_group": "group",
    "collect": "collect",
    "load_manifest": "collect",
}


def __getattr__(name: str) -> object:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted(_EXPORTS)
