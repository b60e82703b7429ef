"""The ``blaze-lab`` commands about results — ``ls``, ``export``, ``compare`` — plus ``--version`` and the examples that
every command's ``--help`` ends with. :func:`register` adds them to the app in :mod:`blaze_lab.cli`.

Example (shell)::

    blaze-lab ls                                   # sweeps under results/: status, start, groups, row counts
    blaze-lab export results/quickstart --csv      # results/quickstart/summary.csv
    blaze-lab --version
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Annotated

import typer

# command name -> the example lines its --help ends with (shell, run from the repository root)
EXAMPLES: dict[str, str] = {
    "blaze-lab": (
        "blaze-lab sweep experiments/quickstart.yaml --dry-run   # what would run, how long\n"
        "blaze-lab sweep experiments/quickstart.yaml             # run it; prints the best configs\n"
        "blaze-lab compare r-77f7 r-c968 --results results/quickstart\n"
        "blaze-lab ls                                            # past sweeps"
    ),
    "sweep": (
        "blaze-lab sweep experiments/quickstart.yaml --dry-run   # plan + time estimate\n"
        "blaze-lab sweep experiments/quickstart.yaml             # run / resume\n"
        "blaze-lab sweep SPEC --only llm-6a22 --only bf16        # some groups only\n"
        "blaze-lab sweep SPEC --rerun-invalid                    # re-measure flagged rows\n"
        "blaze-lab sweep SPEC --force --only router              # re-measure a part\n"
        "blaze-lab sweep SPEC --executor ray --address HEAD:6379"
    ),
    "report": (
        "blaze-lab report results/quickstart      # results/quickstart/report.html\n"
        "blaze-lab report results/quickstart --static --out /tmp/q.html\n"
        "blaze-lab report results/a results/b     # one page: results/report-a+b.html"
    ),
    "models": "blaze-lab models                        # known specs, prepared or not",
    "prepare": "blaze-lab models prepare smollm2-135m   # ~1.5 min once, then cached",
    "env": "blaze-lab env                           # the env.* columns of every row",
    "ls": "blaze-lab ls                            # sweeps under results/\nblaze-lab ls results/published",
    "compare": (
        "blaze-lab compare results/old results/new    # same configs, B vs A\n"
        "blaze-lab compare r-77f7 r-c968 --results results/quickstart\n"
        "blaze-lab compare results/a results/b --metric ttft_s --metric tokens_per_s"
    ),
    "export": (
        "blaze-lab export results/quickstart --csv   # .../summary.csv\n"
        "blaze-lab export results/quickstart --csv --raw\n"
        "blaze-lab export results/quickstart --json --kind llm --columns headline"
    ),
}


def _epilog(name: str) -> str:
    # One line per example, each short enough that the help formatter does not wrap it.
    return "Examples:\n\n" + EXAMPLES[name]


def show_version(value: bool) -> None:
    """``--version``: print ``blaze-lab <version>`` and stop (eager: before any command is looked up)."""
    if value:
        from blaze_lab import __version__

        typer.echo(f"blaze-lab {__version__}")
        raise typer.Exit()


def register(app: typer.Typer, models_app: typer.Typer, errors: Callable[[], AbstractContextManager[None]]) -> None:
    """Add ``ls``, ``export`` and ``--version`` to ``app`` and an examples epilog to every command.

    ``errors`` is the CLI's error context (a blaze_lab error -> one red line, exit code 2).
    """

    @app.callback()
    def main(
        version: Annotated[
            bool,
            typer.Option("--version", callback=show_version, is_eager=True, help="print the version and exit"),
        ] = False,
    ) -> None:
        """Benchmark ML inference settings with papermill sweeps and compare them in one report."""

    @app.command("ls", epilog=_epilog("ls"))
    def ls_command(
        root: Annotated[Path, typer.Argument(help="results root to list")] = Path("results"),
    ) -> None:
        """List the sweeps under ROOT: status, start time (UTC), groups done, row counts by status, kinds."""
        with errors():
            from blaze_lab.catalog import LS_COLUMNS, list_sweeps

            table = list_sweeps(root)
            if table.empty:
                typer.echo(f"no sweeps under {root} (run one: blaze-lab sweep experiments/quickstart.yaml)")
                return
            typer.echo(table[list(LS_COLUMNS)].to_string(index=False))

    @app.command("export", epilog=_epilog("export"))
    def export_command(
        results_dir: Annotated[Path, typer.Argument(help="a sweep's results folder, e.g. results/quickstart")],
        csv: Annotated[bool, typer.Option("--csv", help="write CSV (the default)")] = False,
        json: Annotated[bool, typer.Option("--json", help="write JSON records")] = False,
        out: Annotated[Path | None, typer.Option("--out", help="file (default RESULTS_DIR/summary.<fmt>)")] = None,
        kind: Annotated[str | None, typer.Option("--kind", help="only this engine kind's rows and columns")] = None,
        columns: Annotated[str, typer.Option("--columns", help="all | headline")] = "all",
        raw: Annotated[bool, typer.Option("--raw", help="the raw rows (one per call) instead of the summary")] = (
            False
        ),
    ) -> None:
        """Write a sweep's rows as CSV or JSON (typed as load_results returns them) and print the file's path."""
        with errors():
            from blaze_lab.catalog import export
            from blaze_lab.errors import ConfigError

            if csv and json:
                raise ConfigError("format", "--csv --json", reason="choose one")
            written = export(
                results_dir, "json" if json else "csv", out, kind=kind, table="raw" if raw else "summary",
                columns=columns,
            )  # fmt: skip
            typer.echo(str(written))

    @app.command("compare", epilog=_epilog("compare"))
    def compare_command(
        a: Annotated[str, typer.Argument(help="sweep folder, or run id / config hash (prefix) with --results")],
        b: Annotated[str, typer.Argument(help="the same kind as A; compared against A")],
        metric: Annotated[
            list[str] | None, typer.Option("--metric", help="per-call metric (repeatable); default per kind")
        ] = None,
        results_dir: Annotated[Path | None, typer.Option("--results", help="the sweep holding configs A and B")] = None,
    ) -> None:
        """B against A as ratios of means with 95% CIs and verdicts: two sweeps config by config, or two configs
        of one sweep (paired by round when measured in the same load-time group)."""
        with errors():
            from blaze_lab.comparison import compare_configs, compare_sweeps

            if results_dir is not None:
                table = compare_configs(results_dir, a, b, metric)
            elif Path(a).is_dir() and Path(b).is_dir():
                table = compare_sweeps(a, b, metric)
            else:
                from blaze_lab.errors import ConfigError

                raise ConfigError("compare", f"{a} {b}", reason="give two sweep folders, or two runs with --results")
            shown = table.assign(
                ci=[f"{lo:.3g}–{hi:.3g}" for lo, hi in zip(table["ratio_ci_low"], table["ratio_ci_high"], strict=True)]
            )
            columns = ["config", "metric", "mean_a", "mean_b", "ratio", "ci", "method", "verdict"]
            typer.echo(
                shown[columns].rename(columns={"ci": "95% CI"}).to_string(index=False, float_format="{:.4g}".format)
            )

    if not isinstance(app.info.epilog, str):  # the top-level --help (unset is typer's Default placeholder)
        app.info.epilog = _epilog("blaze-lab")
    for info in [*app.registered_commands, *models_app.registered_commands]:
        name = info.name or (info.callback.__name__ if info.callback else "")
        name = {"report_command": "report", "models_prepare": "prepare"}.get(name, name)
        if name in EXAMPLES and info.epilog is None:
            info.epilog = _epilog(name)
    for group in app.registered_groups:
        if group.name in EXAMPLES and not isinstance(group.epilog, str):  # unset is typer's Default placeholder
            group.epilog = _epilog(group.name)


__all__ = ["EXAMPLES", "register", "show_version"]
