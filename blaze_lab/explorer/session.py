"""The explorer's logic without widgets: current settings, runs, results frame, compare, figure, save as experiment.

:class:`ExplorerSession` is what the JupyterLab panel (:mod:`blaze_lab.widgets`) drives: every button callback is one
method here, so the whole explorer is testable without a browser. A session holds the settings of each engine kind
(``llm``, ``diffusion``, ``router``), turns them into a validated config (``ConfigError`` for bad values,
``UnsupportedError`` when this device cannot run a value, from :mod:`blaze_lab.explorer.capabilities`), runs configs
through the engines' ``benchmark`` (one summary row each, failures are status rows) and keeps every row in
``results``. Runs are numbered ``run-1``, ``run-2`` … so the same config can be measured twice.

After every run the session's rows are saved to ``results/explorer/<start time>/`` (:mod:`blaze_lab.explorer.history`),
so a kernel restart loses nothing: :func:`~blaze_lab.explorer.history.history` lists saved sessions and
:meth:`ExplorerSession.load` continues one.

Example:
    >>> s = ExplorerSession(kind="router")
    >>> s.select(strategy="round_robin", n_requests=500)
    >>> s.config().strategy
    'round_robin'
    >>> rows = s.run()                                            # doctest: +SKIP
    >>> s.compare(["run-1", "run-2"])                             # doctest: +SKIP
    >>> ExplorerSession.load(s.saved_to)                          # doctest: +SKIP
    >>> s.to_experiment("experiments/explored.yaml")             # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from blaze_lab.config import BaseConfig
from blaze_lab.errors import ConfigError
from blaze_lab.explorer import capabilities
from blaze_lab.explorer.history import SessionStore
from blaze_lab.explorer.panels import Panel, panels
from blaze_lab.metrics.timing import MeasureSettings

# Small enough that a tiny model answers in seconds on a loaded 2-core machine, enough samples for a CI.
DEFAULT_MEASURE = MeasureSettings(warmup=1, min_iters=3, max_iters=10, max_duration_s=5.0)
SWEEP_NAME = "explore"
NO_VERDICT = "no verdict"
ProgressFn = Callable[[int, int, str], None]  # (done, total, message)


class ExplorerSession:
    """Settings per engine kind, the runs measured so far, and what the panel shows about them.

    Args:
        kind: engine kind selected first (``llm``, ``diffusion`` or ``router``).
        model: model spec for the LLM (and, when it names a diffusion model, the diffusion) settings.
        device: capability target (default: this machine, probed on first use).
        measure: measurement settings of every run (tiny defaults).
        runners: kind -> runner override (tests inject fakes); default: the kind's engine.
        results_root: where sessions are saved (``<results_root>/explorer/<start time>/``); default
            ``$BLAZE_LAB_RESULTS`` or the repository's ``results/``.
        persist: save the rows after every run (False: keep them in memory only).
    """

    def __init__(
        self,
        kind: str = "llm",
        model: str | None = None,
        device: capabilities.Device | None = None,
        measure: MeasureSettings | None = None,
        runners: Mapping[str, Callable[..., pd.DataFrame]] | None = None,
        results_root: str | Path | None = None,
        persist: bool = True,
    ) -> None:
        self._check_kind(kind)
        self.kind = kind
        self.settings: dict[str, dict[str, Any]] = {k: dict(info.defaults) for k, info in panels().items()}
        if model:
            self.settings["llm"]["model"] = model
        self._device = device
        self.measure = measure or DEFAULT_MEASURE
        self._runners = dict(runners or {})
        self._lock = threading.Lock()  # one run at a time (a second click while running waits its turn)
        self.results = pd.DataFrame()
        self.configs: dict[str, BaseConfig] = {}  # run id -> the config it measured (what "save" writes)
        self._count = 0
        self.store: SessionStore | None = SessionStore.create(results_root) if persist else None
        self.persist_error = ""  # why the last save failed ("" when it worked): the panel shows it

    @classmethod
    def load(cls, folder: str | Path, **kwargs: Any) -> ExplorerSession:
        """A session continuing a saved one (``history()["path"]``): its runs, configs and measurement settings;
        new runs are numbered after them and saved into the same folder."""
        store = SessionStore(folder)
        results, configs, measure = store.load()
        if "measure" not in kwargs and measure:
            kwargs["measure"] = MeasureSettings.from_dict(measure)
        session = cls(**kwargs)
        session.store = store
        session.results, session.configs = results, configs
        session._count = max((int(r.rsplit("-", 1)[1]) for r in configs if r.rsplit("-", 1)[-1].isdigit()), default=0)
        return session

    @property
    def saved_to(self) -> Path | None:
        """The folder this session's runs are saved in (None when not persisting)."""
        return self.store.folder if self.store is not None else None

    # -- settings -------------------------------------------------------------------------------------------------

    @property
    def device(self) -> capabilities.Device:
        if self._device is None:
            self._device = capabilities.Device.probe()
        return self._device

    @property
    def info(self) -> Panel:
        return panels()[self.kind]

    def select(self, kind: str | None = None, **fields: Any) -> None:
        """Switch engine kind and/or set fields of the current kind (validated later, by :meth:`config`)."""
        if kind is not None:
            self._check_kind(kind)
            self.kind = kind
        unknown = sorted(set(fields) - set(self.info.config.field_names()))
        if unknown:
            raise ConfigError(f"{self.kind}.{unknown[0]}", reason="unknown setting", allowed=self.info.fields)
        self.settings[self.kind].update(fields)

    def config(self, **overrides: Any) -> BaseConfig:
        """The current settings as a validated config; ConfigError / UnsupportedError say what is wrong."""
        data = {**self.settings[self.kind], **overrides}
        cfg = self.info.config.from_dict(data)
        capabilities.check(self.kind, cfg.to_dict(), self.device)
        return cfg

    def notes(self) -> list[str]:
        """Caveats of the current settings on this device (allowed but noteworthy, e.g. fp16 on CPU)."""
        return capabilities.check(self.kind, self.settings[self.kind], self.device) if not self.problem() else []

    def problem(self) -> str:
        """Why the current settings cannot run ("" when they can): the text the panel shows instead of a traceback."""
        try:
            self.config()
        except (ConfigError, capabilities.UnsupportedError) as exc:
            return f"{type(exc).__name__}: {exc}"
        return ""

    def verdict(self, field: str, value: Any) -> capabilities.Verdict:
        """Whether ``field = value`` of the current kind can run on this device (with the reason)."""
        requested = self.settings[self.kind].get("device", "auto")
        return capabilities.verdict(self.kind, field, value, self.device, requested)

    def choices(self, field: str) -> list[tuple[Any, capabilities.Verdict]]:
        """Every value of a choice field of the current kind with its verdict on this device."""
        values = self.info.choices[field]
        requested = self.settings[self.kind].get("device", "auto")
        return capabilities.options(self.kind, field, values, self.device, requested)

    # -- runs -----------------------------------------------------------------------------------------------------

    def configs_for(self, vary: Mapping[str, Sequence[Any]] | None = None) -> list[BaseConfig]:
        """The current config, or one per value of each ``vary`` axis (cartesian), all validated first."""
        combos: list[dict[str, Any]] = [{}]
        for field, values in (vary or {}).items():
            if not values:
                raise ConfigError(f"vary.{field}", list(values), reason="needs at least one value")
            combos = [{**c, field: v} for c in combos for v in values]
        return [self.config(**c) for c in combos]

    def run(self, vary: Mapping[str, Sequence[Any]] | None = None, progress: ProgressFn | None = None) -> pd.DataFrame:
        """Measure the current settings (each ``vary`` combination); returns the new rows, appended to ``results``.

        Invalid settings raise before anything runs; a config failing while it runs is a status row.
        """
        configs = self.configs_for(vary)
        runner = self._runners.get(self.kind) or self.info.runner
        new: list[pd.DataFrame] = []
        with self._lock:
            for i, cfg in enumerate(configs):
                self._count += 1
                run_id = f"run-{self._count}"
                if progress:
                    progress(i, len(configs), f"{run_id}: measuring {self.kind} {cfg.config_hash()}")
                # copy(): the engines build wide frames column by column; assigning to one unconsolidated warns.
                row = runner([cfg], [run_id], self.measure).copy().assign(sweep=SWEEP_NAME, run=run_id)
                self.configs[run_id] = cfg
                new.append(row)
                self.results = pd.concat([self.results, row], ignore_index=True) if len(self.results) else row
                self._save()
            if progress:
                progress(len(configs), len(configs), f"done: {len(configs)} run(s)")
        return pd.concat(new, ignore_index=True)

    def _save(self) -> None:
        if self.store is None:
            return
        measure = {f.name: getattr(self.measure, f.name) for f in dataclasses.fields(self.measure)}
        try:
            self.store.save(self.results, self.configs, measure)
            self.persist_error = ""
        except Exception as exc:  # a full disk or a read-only folder must not lose the measurement in memory
            self.persist_error = f"results not saved to {self.store.folder}: {type(exc).__name__}: {exc}"

    def row(self, run_id: str) -> pd.Series:
        rows = self.results[self.results["run"] == run_id] if len(self.results) else self.results
        if not len(rows):
            known = self.results["run"].tolist() if len(self.results) else []
            raise ConfigError("run", run_id, allowed=known or ["(no runs yet)"])
        return rows.iloc[0]

    def kind_of(self, run_id: str) -> str:
        return str(self.row(run_id)["engine"])

    # -- views ----------------------------------------------------------------------------------------------------

    def table(self) -> pd.DataFrame:
        """One line per run: id, engine, the settings that differ, status, headline metrics (what the panel shows)."""
        from blaze_lab.report.reasons import human_reason

        if not len(self.results):
            return pd.DataFrame(columns=["run", "engine", "config", "status"])
        parts = []
        for kind, rows in self.results.groupby("engine", sort=False):
            info = panels()[str(kind)]
            view = pd.DataFrame({"run": rows["run"], "engine": kind, "config": _labels(rows, info)})
            view["status"] = rows["status"]
            view["valid"] = rows.get("valid", math.nan)  # False: too few samples or too noisy (see the report)
            for column, label, _ in info.metrics:
                view[label] = rows.get(column, math.nan)
            # The report's plain-words reason for a run without measurements; the library's text stays in "error".
            view["reason"] = ["" if r.get("status") == "ok" else human_reason(r) for r in rows.to_dict("records")]
            view["error"] = rows.get("error", "")
            parts.append(view)
        return pd.concat(parts).loc[self.results.index].reset_index(drop=True)

    def compare(self, run_ids: Sequence[str]) -> pd.DataFrame:
        """Two or more runs of one engine side by side: each metric's value with its 95% CI, and each later run
        against the first as a ratio with its 95% CI and a verdict (:func:`blaze_lab.metrics.compare.compare`).

        Rows are metrics. Columns: per run, its value and ``<run> CI low`` / ``<run> CI high``; per later run,
        ``<run> / <first>`` with ``… CI low`` / ``… CI high`` and ``<run> verdict`` — ``faster`` / ``slower`` (or
        ``higher`` / ``lower``) only when the ratio's CI excludes 1, else ``no difference at this precision``. A
        metric without a CI (peak memory, perplexity, a percentile) gets its plain ratio and ``no verdict``.
        """
        ids = list(dict.fromkeys(run_ids))
        if len(ids) < 2:
            raise ConfigError("compare", ids, reason="select two or more runs")
        kinds = {self.kind_of(r) for r in ids}
        if len(kinds) > 1:
            raise ConfigError("compare", ids, reason=f"runs of different engines ({', '.join(sorted(kinds))})")
        info = panels()[kinds.pop()]
        rows = pd.DataFrame([self.row(r) for r in ids]).assign(run_id=ids).reset_index(drop=True)
        out = pd.DataFrame(index=[label for _, label, _ in info.metrics])
        out.index.name = "metric"
        for run_id, (_, row) in zip(ids, rows.iterrows(), strict=True):
            out[run_id] = [_number(row.get(col)) for col, _, _ in info.metrics]
            for side in ("low", "high"):
                out[f"{run_id} CI {side}"] = [_number(row.get(ci_column(col, side))) for col, _, _ in info.metrics]
        first = ids[0]
        for run_id in ids[1:]:
            ratios = [_ratio(rows, first, run_id, col, higher) for col, _, higher in info.metrics]
            out[f"{run_id} / {first}"] = [r[0] for r in ratios]
            out[f"{run_id} / {first} CI low"] = [r[1] for r in ratios]
            out[f"{run_id} / {first} CI high"] = [r[2] for r in ratios]
            out[f"{run_id} verdict"] = [r[3] for r in ratios]
        out["better"] = ["higher" if higher else "lower" for _, _, higher in info.metrics]
        return out

    def figure(self, kind: str | None = None) -> Any:
        """Bar chart (95% CI) of the kind's headline metric over its ok runs; an empty titled figure before any."""
        import plotly.graph_objects as go

        from blaze_lab.report.figures import ci_bars

        info = panels()[kind or self.kind]
        rows = self.results[self.results["engine"] == info.name] if len(self.results) else self.results
        metric, stat, title = info.plot
        ok = rows[rows["status"] == "ok"] if len(rows) else rows
        if not len(ok) or f"{metric}_{stat}" not in ok:
            fig = go.Figure()
            fig.update_layout(title=f"{title}: no successful runs yet", height=320)
            return fig
        data = ok.assign(config=[f"{r} · {lab}" for r, lab in zip(ok["run"], _labels(ok, info), strict=True)])
        fig = ci_bars(data, metric, stat, title=title)
        fig.update_layout(height=360)
        return fig

    def images(self) -> list[tuple[str, bytes]]:
        """(caption, PNG bytes) of each diffusion run's first image (thumbnail kept in its summary row)."""
        if not len(self.results) or "thumbnail_png" not in self.results:
            return []
        out = []
        for _, row in self.results[self.results["engine"] == "diffusion"].iterrows():
            png = row.get("thumbnail_png")
            if isinstance(png, bytes | bytearray) and png:
                out.append((f"{row['run']}", bytes(png)))
        return out

    # -- save as experiment ---------------------------------------------------------------------------------------

    def experiment(self, name: str = "explored", run_ids: Sequence[str] | None = None) -> dict[str, Any]:
        """A sweep spec (as data) that reproduces the given runs (default: every run so far).

        One part per engine kind: ``base`` holds the fields shared by its runs, ``zip`` the fields that differ
        (one zipped column per distinct config), ``reference: null`` (each config's own default reference, as in
        the explorer) and the explorer's measurement settings.
        """
        ids = list(run_ids) if run_ids is not None else (self.results["run"].tolist() if len(self.results) else [])
        if not ids:
            raise ConfigError("save", [], reason="nothing explored yet: run at least one setting first")
        by_kind: dict[str, list[dict[str, Any]]] = {}
        for run_id in ids:
            kind = self.kind_of(run_id)
            cfg = {k: list(v) if isinstance(v, tuple) else v for k, v in self.configs[run_id].to_dict().items()}
            configs = by_kind.setdefault(kind, [])
            if cfg not in configs:
                configs.append(cfg)
        parts = []
        measure = {f.name: getattr(self.measure, f.name) for f in dataclasses.fields(self.measure)}
        for kind, configs in by_kind.items():
            fields = list(configs[0])
            same = {f: configs[0][f] for f in fields if all(c[f] == configs[0][f] for c in configs)}
            differ = [f for f in fields if f not in same]
            # Only what differs from the config class's defaults: the spec reads like the choices that were made.
            defaults = panels()[kind].config().to_dict()
            base = {f: v for f, v in same.items() if f not in defaults or v != defaults[f]}
            part: dict[str, Any] = {"name": kind, "kind": kind, "base": base}
            if differ:
                part["zip"] = {f: [c[f] for c in configs] for f in differ}
            part["reference"] = None
            part["measure"] = {**measure, **panels()[kind].measure_extra}
            parts.append(part)
        return {
            "name": name,
            "description": f"settings explored in notebooks/explore.ipynb ({len(ids)} runs)",
            "parts": parts,
        }

    def to_experiment(
        self,
        path: str | Path,
        name: str | None = None,
        run_ids: Sequence[str] | None = None,
        overwrite: bool = False,
    ) -> Path:
        """Write :meth:`experiment` as a sweep spec; returns the path. ``name`` defaults to the file name.

        The spec is validated first with the sweep's own parser (what ``blaze-lab sweep`` reads), an existing file
        is refused unless ``overwrite=True`` (it may be the user's own spec), and the file is written atomically:
        a refused or interrupted save never leaves a destroyed or half-written spec behind.
        """
        from blaze_lab.sweep.spec import parse_spec
        from blaze_lab.sweep.store import atomic_write
        from blaze_lab.sweep.yaml_input import loads_yaml

        path = Path(path)
        spec_name = name or path.stem
        data = self.experiment(spec_name, run_ids)
        header = "# Written by the blaze_lab explorer (Save as experiment); run: blaze-lab sweep " + str(path) + "\n"
        text = header + yaml.safe_dump(data, sort_keys=False)
        # Parsed back from the text about to be written: what the sweep will read, not the dict it came from.
        parse_spec(loads_yaml(text, str(path)), str(path), default_name=path.stem)
        if path.exists() and not overwrite:
            raise ConfigError(str(path), reason="file exists (choose another name, or pass overwrite=True)")
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, text.encode())
        return path

    @staticmethod
    def _check_kind(kind: str) -> None:
        if kind not in panels():
            raise ConfigError("engine", kind, allowed=sorted(panels()))


def _ratio(rows: pd.DataFrame, first: str, run_id: str, column: str, higher: bool) -> tuple[float, float, float, str]:
    """(ratio, CI low, CI high, verdict) of ``run_id`` against ``first`` on one summary column."""
    from blaze_lab.metrics.compare import compare

    plain = _number(rows.loc[rows["run_id"] == run_id, column].iloc[0]) if column in rows else math.nan
    base = _number(rows.loc[rows["run_id"] == first, column].iloc[0]) if column in rows else math.nan
    ratio = plain / base if base else math.nan
    metric = column.removesuffix("_mean")
    if not column.endswith("_mean") or f"{metric}_ci_low" not in rows:
        return ratio, math.nan, math.nan, NO_VERDICT
    try:
        result = compare(rows[rows["run_id"].isin([first, run_id])], first, metric, higher_is_better=higher)
    except (ConfigError, KeyError):  # the first run has no ok row for this metric: nothing to compare against
        return ratio, math.nan, math.nan, NO_VERDICT
    found = result[result["run_id"] == run_id]
    if not len(found):  # this run is not ok
        return ratio, math.nan, math.nan, NO_VERDICT
    line = found.iloc[0]
    return float(line["ratio"]), float(line["ratio_ci_low"]), float(line["ratio_ci_high"]), str(line["verdict"])


def ci_column(column: str, side: str) -> str:
    """The CI bound column of a summary metric: ``x_mean`` -> ``x_ci_low``, ``x_p50`` -> ``x_median_ci_low``.

    >>> ci_column("tokens_per_s_mean", "low"), ci_column("latency_s_p99", "high")
    ('tokens_per_s_ci_low', 'latency_s_p99_ci_high')
    """
    if column.endswith("_mean"):
        return f"{column.removesuffix('_mean')}_ci_{side}"
    if column.endswith("_p50"):
        return f"{column.removesuffix('_p50')}_median_ci_{side}"
    return f"{column}_ci_{side}"


def _labels(rows: pd.DataFrame, info: Panel) -> list[str]:
    """Short labels from the settings that differ between these rows (the report's labelling rule); with nothing
    differing (one run), the kind's headline settings."""
    from blaze_lab.report.labels import config_label, varying_columns

    columns = [f"{info.name}.{f}" for f in info.fields if f"{info.name}.{f}" in rows]
    shown = varying_columns(rows, columns) or [f"{info.name}.{f}" for f in info.label_fields]
    return [config_label(row, shown) for _, row in rows.iterrows()]


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


__all__ = ["DEFAULT_MEASURE", "NO_VERDICT", "ExplorerSession", "ci_column"]
