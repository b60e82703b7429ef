"""blaze_lab.sweep — experiment specs, the papermill runner, and reading results back.

- :mod:`blaze_lab.sweep.spec`: YAML -> validated :class:`~blaze_lab.sweep.spec.ExperimentSpec` -> runs -> groups.
- :mod:`blaze_lab.sweep.runner`: ``run_sweep`` (one notebook execution per load-time group; executors; resume).
- :mod:`blaze_lab.sweep.group`: ``run_group``, what each benchmark notebook calls (kind -> engine dispatch).
- :mod:`blaze_lab.sweep.collect`: ``collect(results_dir) -> (summary, raw)`` and ``load_manifest``.

Submodules are imported explicitly (``from blaze_lab.sweep.runner import run_sweep``) so that importing one does
not pull in papermill or pandas. See docs/sweeps.md.
"""
