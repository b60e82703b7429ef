"""``blaze-lab``: run sweeps, build reports, prepare models, show the environment.

Exit codes: 0 when everything asked for was done (a sweep whose runs all ended ``ok`` or ``unsupported``); 1 when
a sweep ran but some run ended ``error`` or ``oom`` (``--allow-failures``: 0); 2 for bad input — every blaze_lab
error ends the command with one red ``error: ...`` line on stderr (no traceback). Anything else is a bug and keeps
its traceback.

Example (shell)::

    blaze-lab sweep experiments/quickstart.yaml --dry-run   # runs per part, load-time groups, time estimate
    blaze-lab sweep experiments/quickstart.yaml             # ... runs them; the last line is the report.html path
    blaze-lab sweep experiments/quickstart.yaml --only bf16 --force   # re-measure the bf16 groups
    blaze-lab report results/quickstart --out /tmp/q.html
    blaze-lab report results/a results/b                    # one page over two sweeps
    blaze-lab models                                        # known model specs and whether they are prepared
    blaze-lab models prepare smollm2-135m
    blaze-lab env
    blaze-lab ls                                            # sweeps under results/ with status and counts
    blaze-lab export results/quickstart --csv
    blaze-lab --version
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from blaze_lab.errors import BlazeLabError, ConfigError

app = typer.Typer(
    name="blaze-lab",
    help="Benchmark ML inference settings with papermill sweeps and compare them in one report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Run statuses that make `sweep` exit 1: the run did not produce its measurement ("unsupported" is an answer).
FAILED_STATUSES = ("error", "oom")

models_app = typer.Typer(help="Known model specs (no subcommand: list them).", invoke_without_command=True)
app.add_typer(models_app, name="models")


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    """Turn a blaze_lab error into one red line and exit code 2."""
    try:
        yield
    except BlazeLabError as exc:
        message = " ".join(str(exc).split())
        typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None


@app.command()
def sweep(
    spec: Annotated[Path, typer.Argument(help="experiment spec (YAML)")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="print runs per part, load-time groups, a time estimate; write nothing")
    ] = False,
    results: Annotated[Path, typer.Option("--results", help="results root (the sweep goes to RESULTS/<name>)")] = Path(
        "results"
    ),
    executor: Annotated[str, typer.Option("--executor", help="where groups run: local | ray")] = "local",
    address: Annotated[str | None, typer.Option("--address", help="cluster address (ray executor)")] = None,
    ray_options: Annotated[
        str | None,
        typer.Option("--ray-options", help='ray executor settings as JSON, e.g. \'{"num_cpus": 2, "num_gpus": 1}\''),
    ] = None,
    kernel: Annotated[str, typer.Option("--kernel", help="Jupyter kernel name for the notebooks")] = "python3",
    retry_errors: Annotated[
        bool, typer.Option("--retry-errors/--no-retry-errors", help="rerun runs whose rows have status error")
    ] = True,
    force: Annotated[
        bool, typer.Option("--force", help="re-measure every run (stored rows are replaced group by group, atomically)")
    ] = False,
    rerun_invalid: Annotated[
        bool,
        typer.Option("--rerun-invalid", help="re-measure rows flagged valid=False (or n < 2) and error/oom rows"),
    ] = False,
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help="run only these load-time groups: a group id (prefix) or part of its label"),
    ] = None,
    report: Annotated[bool, typer.Option("--report/--no-report", help="write report.html at the end")] = True,
    max_runs: Annotated[
        int | None,
        typer.Option("--max-runs", min=1, help="refuse a spec expanding to more runs (default: its max_runs, 10000)"),
    ] = None,
    allow_failures: Annotated[
        bool, typer.Option("--allow-failures", help="exit 0 even when some runs ended error or oom (default: 1)")
    ] = False,
    replications: Annotated[
        int | None,
        typer.Option(
            "--replications",
            min=1,
            max=20,
            help="run every load-time group K times in separate kernels, interleaved (default: the spec's)",
        ),
    ] = None,
) -> None:
    """Run (or resume) a sweep, print the best config per objective, and last the path of its report.html.

    A resume skips runs already measured by the current measurement code; rows measured by other code are measured
    again (a line says how many). Exit code 0: every run ok or unsupported; 1: some run ended error/oom (0 with
    --allow-failures); 2: bad input.
    """
    with _errors():
        from blaze_lab.sweep.rerun import Rerun
        from blaze_lab.sweep.spec import load_spec

        loaded = load_spec(spec, max_runs=max_runs)
        policy = Rerun(force=force, rerun_invalid=rerun_invalid, retry_errors=retry_errors)
        if dry_run:
            from blaze_lab.sweep.dry_run import plan_text

            typer.echo(plan_text(loaded, results, policy, replications, only or ()))
            return
        from blaze_lab.sweep.executor import Executor
        from blaze_lab.sweep.runner import run_sweep

        chosen: str | Executor = executor
        if ray_options is not None:  # resources per group etc.: docs/scale-out.md
            if executor != "ray":
                raise ConfigError("--ray-options", ray_options, reason="only with --executor ray")
            from blaze_lab.sweep.ray_executor import RayExecutor

            chosen, address = RayExecutor.from_options(address, ray_options), None
        result = run_sweep(
            loaded, results_root=results, executor=chosen, address=address, kernel_name=kernel,
            retry_errors=retry_errors, replications=replications, force=force, rerun_invalid=rerun_invalid,
            only=only or (), echo=lambda line: typer.echo(line, err=True),
        )  # fmt: skip
        counts = ", ".join(f"{n} {status}" for status, n in result.counts.items()) or "no rows"
        typer.echo(
            f"{result.name}: {counts} ({len(result.executed)} groups run, {len(result.skipped)} already complete"
            + (", others left out by --only" if only else "")
            + ")"
        )
        _print_digest(result.results_dir)
        if not report:
            typer.echo(str(result.results_dir))
        else:
            from blaze_lab.report.html import write_report

            typer.echo(str(write_report(result.results_dir, echo=typer.echo)))
    failed = {status: n for status, n in result.counts.items() if status in FAILED_STATUSES}
    if failed and not allow_failures:
        detail = ", ".join(f"{n} {status}" for status, n in failed.items())
        typer.secho(
            f"failed runs: {detail} (their error column says why; --allow-failures exits 0)",
            fg=typer.colors.YELLOW,
            err=True,
        )
        raise typer.Exit(1)


def _print_digest(results_dir: Path) -> None:
    """The end-of-sweep tables (best config per objective per kind, invalid and failed rows); a table that cannot be
    made is a warning line, never a failed sweep."""
    from blaze_lab.report.digest import sweep_digest

    try:
        text = sweep_digest(results_dir)
    except BlazeLabError as exc:
        typer.echo(f"warning: no end-of-sweep table ({exc})")
        return
    if text:
        typer.echo("")
        typer.echo(text)
        typer.echo("")


@app.command("report")
def report_command(
    results_dirs: Annotated[
        list[Path], typer.Argument(help="one or more sweep results folders, e.g. results/quickstart")
    ],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="HTML file (default: DIR/report.html; several: report-A+B.html beside them)"),
    ] = None,
    static: Annotated[
        bool, typer.Option("--static", help="embed figures as PNGs (small page for committing; needs Chromium)")
    ] = False,
) -> None:
    """Write the self-contained HTML report of a sweep (or one page over several sweeps) and print its path."""
    with _errors():
        if len(results_dirs) > 1:
            from blaze_lab.report.combined import write_combined_report

            typer.echo(str(write_combined_report(results_dirs, out=out, echo=typer.echo, static=static)))
            return
        from blaze_lab.report.html import write_report

        typer.echo(str(write_report(results_dirs[0], out=out, echo=typer.echo, static=static)))


@models_app.callback()
def models(ctx: typer.Context) -> None:
    """List the known model specs and whether each is prepared in the cache."""
    if ctx.invoked_subcommand is not None:
        return
    with _errors():
        import pandas as pd

        from blaze_lab.models import known_models

        rows = known_models()
        columns = ["spec", "kind", "source", "prepared", "size_bytes", "description"]
        frame = pd.DataFrame(rows)
        typer.echo(frame.reindex(columns=[c for c in columns if c in frame.columns]).to_string(index=False))


@models_app.command("prepare")
def models_prepare(spec: Annotated[str, typer.Argument(help="model spec, e.g. smollm2-135m")]) -> None:
    """Fetch / build a model into the cache now (so the first sweep does not pay for it)."""
    with _errors():
        from blaze_lab.models import prepare
        from blaze_lab.models.quiet import quiet_foreign_output

        with quiet_foreign_output():  # prepare's own lines say what happens; its last one names the path
            prepare(spec, progress=typer.echo)


@app.command()
def env() -> None:
    """Print the environment fingerprint recorded with every result row."""
    with _errors():
        from blaze_lab.env import fingerprint

        for key, value in fingerprint().items():
            typer.echo(f"{key}: {value}")


from blaze_lab.cli_results import register  # noqa: E402  (needs app and _errors: ls, export, --version, examples)

register(app, models_app, _errors)

__all__ = ["app"]
