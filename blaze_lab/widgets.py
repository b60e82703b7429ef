"""The JupyterLab explorer: an ipywidgets panel to try inference settings before sweeping them.

Pick an engine (LLM, diffusion, router simulation), a model and settings — values this device cannot run are
labelled unavailable with the reason (rules in :mod:`blaze_lab.explorer.capabilities`) and an impossible choice is
explained in the panel, never a traceback — then **Run**: a progress bar follows the runs (in a background thread,
so the notebook stays responsive), each finished run is appended to the results table and the live figure, and
diffusion runs show their images. Memory is shown in MB/GB and times in ms/s. **Compare** puts two or more selected
runs side by side: each metric's value with its 95% CI, and the ratio to the first run with its CI and verdict;
**Save as experiment**
writes an ``experiments/*.yaml`` the sweep reproduces (``blaze-lab sweep FILE --dry-run``). Every run is also saved
to ``results/explorer/<start time>/`` (``Explorer.load(path)`` continues a saved session; ``history()`` lists them).

Every button calls one method of :class:`Explorer` (``select``, ``run``, ``compare``, ``to_experiment``), whose
logic lives in :class:`~blaze_lab.explorer.session.ExplorerSession`, so it is all testable without a browser.

Example (``notebooks/explore.ipynb``):
    >>> from blaze_lab.widgets import Explorer
    >>> ex = Explorer(model="random:tiny-llama")
    >>> ex.select(batch_size=4)
    >>> ex.show()  # the panel  # doctest: +SKIP
    >>> ex.run(vary={"dtype": ["fp32", "bf16"]})                   # doctest: +SKIP
    >>> ex.compare(["run-1", "run-2"])                              # doctest: +SKIP
    >>> ex.to_experiment("experiments/explored.yaml")               # doctest: +SKIP
    >>> from blaze_lab.explorer.history import history
    >>> ex = Explorer.load(history()["path"][0])                    # doctest: +SKIP
"""

from __future__ import annotations

import html
import json
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import ipywidgets as w
import pandas as pd

from blaze_lab.errors import BlazeLabError, ConfigError
from blaze_lab.explorer.capabilities import Device
from blaze_lab.explorer.panels import Panel, panels
from blaze_lab.explorer.session import ExplorerSession
from blaze_lab.explorer.units import readable, readable_compare
from blaze_lab.metrics.timing import MeasureSettings

DEFAULT_EXPERIMENT = "experiments/explored.yaml"  # relative to the project root
_UNAVAILABLE = "unavailable"


def parse_vary(text: str) -> dict[str, list[Any]]:
    """The panel's "vary" box: ``"batch_size=1,4; dtype=fp32,bf16"`` → ``{"batch_size": [1, 4], ...}``.

    >>> parse_vary("batch_size=1,4; dtype=fp32,bf16")
    {'batch_size': [1, 4], 'dtype': ['fp32', 'bf16']}
    >>> parse_vary("")
    {}
    """
    out: dict[str, list[Any]] = {}
    for item in filter(None, (part.strip() for part in text.split(";"))):
        field, sep, values = item.partition("=")
        if not sep or not field.strip() or not values.strip():
            raise ConfigError("vary", item, reason="write field=value1,value2 (several separated by ';')")
        out[field.strip()] = [_scalar(v.strip()) for v in values.split(",") if v.strip()]
    return out


def _scalar(text: str) -> Any:
    """int, float, true/false, else the text itself (not YAML: YAML 1.1 reads ``off`` — an amp mode — as False)."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def plotly_bundle(fig: Any) -> dict[str, Any]:
    """The mime bundle JupyterLab's plotly renderer draws (no JavaScript from the network, no FigureWidget)."""
    import plotly.io as pio

    return {
        "application/vnd.plotly.v1+json": json.loads(pio.to_json(fig, validate=False)),
        "text/plain": f"<plotly figure: {fig.layout.title.text or ''}>",
    }


def _table_html(df: pd.DataFrame, css: str) -> str:
    """``df`` (already formatted for reading) as HTML, scrolling sideways rather than cutting anything."""
    if df.empty:
        return f'<div class="{css}"><i>no runs yet</i></div>'
    body = df.to_html(index=isinstance(df.index, pd.Index) and df.index.name is not None, na_rep="", border=0)
    return f'<div class="{css}" style="overflow-x:auto">{body}</div>'


class Explorer:
    """The explorer panel over an :class:`ExplorerSession` (see the module docstring).

    Args:
        model: LLM model spec (default ``random:tiny-llama``).
        kind: engine shown first: ``llm``, ``diffusion`` or ``router``.
        device: capability target (default: probed).
        measure: measurement settings of every run (default: tiny, a few seconds per run).
        runners: kind -> runner override (tests).
        experiment_path: default file of "Save as experiment".
        results_root: where runs are saved (``<results_root>/explorer/<start time>/``; default the repository's
            ``results/`` or ``$BLAZE_LAB_RESULTS``).
        persist: save runs to disk (False: memory only).
        session: an existing session to show (what :meth:`load` passes).
    """

    def __init__(
        self,
        model: str | None = None,
        kind: str = "llm",
        *,
        device: Device | None = None,
        measure: MeasureSettings | None = None,
        runners: Mapping[str, Any] | None = None,
        experiment_path: str | Path | None = None,
        results_root: str | Path | None = None,
        persist: bool = True,
        session: ExplorerSession | None = None,
    ) -> None:
        from blaze_lab.sweep.notebook import PROJECT_ROOT

        self.session = session or ExplorerSession(
            kind=kind, model=model, device=device, measure=measure, runners=runners, results_root=results_root,
            persist=persist,
        )  # fmt: skip
        kind = self.session.kind
        self._thread: threading.Thread | None = None
        self._syncing = False
        self.fields: dict[str, dict[str, w.ValueWidget]] = {}
        self.engine = w.ToggleButtons(
            options=[(info.title, name) for name, info in panels().items()], value=kind, description="engine"
        )
        self.engine.observe(self._on_engine, names="value")
        self.settings_box = w.VBox()
        self.capability = w.HTML().add_class("blaze-capability")
        self.vary = w.Text(
            description="vary", placeholder="e.g. batch_size=1,4; dtype=fp32,bf16", layout=w.Layout(width="60%")
        )
        self.run_button = w.Button(description="Run", button_style="primary", icon="play").add_class("blaze-run")
        self.run_button.on_click(lambda _: self._click_run())
        self.progress = w.IntProgress(value=0, min=0, max=1, description="progress").add_class("blaze-progress")
        self.progress_label = w.Label()
        self.status = w.HTML().add_class("blaze-status")
        self.saved_html = w.HTML().add_class("blaze-saved")
        self.results_html = w.HTML(_table_html(pd.DataFrame(), "blaze-results")).add_class("blaze-results-box")
        self.plot = w.Output().add_class("blaze-plot")
        self.images_html = w.HTML().add_class("blaze-images")
        self.compare_select = w.SelectMultiple(options=[], rows=4, description="runs").add_class("blaze-compare-select")
        self.compare_button = w.Button(description="Compare", icon="columns").add_class("blaze-compare-button")
        self.compare_button.on_click(lambda _: self._click_compare())
        self.compare_html = w.HTML().add_class("blaze-compare")
        self.save_path = w.Text(
            value=str(Path(experiment_path or PROJECT_ROOT / DEFAULT_EXPERIMENT)),
            description="file",
            layout=w.Layout(width="60%"),
        ).add_class("blaze-save-path")
        self.save_button = w.Button(description="Save as experiment", icon="save").add_class("blaze-save")
        self.save_button.on_click(lambda _: self._click_save())
        self.save_status = w.HTML().add_class("blaze-save-status")
        for name, info in panels().items():
            self.fields[name] = {field: self._field_widget(info, field) for field in info.fields}
        self.panel = w.VBox(
            [
                w.HTML("<b>blaze_lab explorer</b> — try settings on this machine, then save them as a sweep"),
                self.engine,
                self.settings_box,
                self.capability,
                self.vary,
                w.HBox([self.run_button, self.progress, self.progress_label]),
                self.status,
                w.HTML("<b>Results</b>"),
                self.results_html,
                self.saved_html,
                self.plot,
                self.images_html,
                w.HTML(
                    "<b>Compare</b> (each metric with its 95% CI; the ratio to the first selected run with its 95% "
                    "CI and a verdict the CI supports; metrics without a CI: plain ratio, no verdict)"
                ),
                w.HBox([self.compare_select, self.compare_button]),
                self.compare_html,
                w.HBox([self.save_path, self.save_button]),
                self.save_status,
            ]
        ).add_class("blaze-explorer")
        self._show_kind()
        self._render_plot()
        if len(self.session.results):
            self._refresh_results()

    @classmethod
    def load(cls, folder: str | Path, **kwargs: Any) -> Explorer:
        """The panel over a saved session (a folder from ``history()["path"]``): its runs, table and figure,
        with new runs numbered after them and saved into the same folder."""
        session_keys = ("device", "runners", "results_root", "persist")
        session = ExplorerSession.load(folder, **{k: kwargs.pop(k) for k in session_keys if k in kwargs})
        return cls(session=session, **kwargs)

    # -- what the buttons call (testable without a browser) -------------------------------------------------------

    def select(self, kind: str | None = None, **fields: Any) -> None:
        """Switch engine and/or set settings, as if chosen in the panel (widgets follow)."""
        self.session.select(kind, **fields)
        self._syncing = True
        try:
            if kind is not None:
                self.engine.value = kind
            for field, value in fields.items():
                widget = self.fields[self.session.kind].get(field)
                if widget is not None:
                    widget.value = value
        finally:
            self._syncing = False
        self._show_kind()

    def run(self, vary: Mapping[str, Sequence[Any]] | None = None, wait: bool = True) -> pd.DataFrame | None:
        """Measure the current settings (each ``vary`` combination). ``wait=False`` runs in a background thread
        (the Run button) and returns None; otherwise returns the new rows. Problems are shown in the panel and,
        when waiting, raised."""
        if self._thread is not None and self._thread.is_alive():
            self._say("a run is already in progress", "orange")
            return None
        if not wait:
            self._thread = threading.Thread(target=self._run_job, args=(vary,), name="blaze-explorer", daemon=True)
            self._thread.start()
            return None
        return self._run_job(vary, raise_errors=True)

    def join(self, timeout: float | None = None) -> None:
        """Wait for a background run to finish (tests, scripts)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def compare(self, run_ids: Sequence[str] | None = None) -> pd.DataFrame | None:
        """Side-by-side view of the selected runs (default: those selected in the panel); None when refused
        (the reason is in the panel)."""
        ids = list(run_ids) if run_ids is not None else list(self.compare_select.value)
        try:
            table = self.session.compare(ids)
        except BlazeLabError as exc:
            self.compare_html.value = _problem_html(exc)
            return None
        self.compare_html.value = _table_html(readable_compare(table), "blaze-compare-table")
        return table

    def to_experiment(self, path: str | Path | None = None) -> Path | None:
        """Write the explored settings as a sweep spec (default: the panel's file); None when refused."""
        target = Path(path or self.save_path.value)
        try:
            written = self.session.to_experiment(target)
        except BlazeLabError as exc:
            self.save_status.value = _problem_html(exc)
            return None
        self.save_status.value = (
            f"wrote <code>{html.escape(str(written))}</code> — reproduce with "
            f"<code>blaze-lab sweep {html.escape(str(written))}</code>"
        )
        return written

    def show(self) -> w.VBox:
        """Display the panel (in a notebook) and return it."""
        from IPython.display import display

        display(self.panel)
        return self.panel

    def _ipython_display_(self) -> None:
        self.show()

    # -- panel plumbing -------------------------------------------------------------------------------------------

    def _field_widget(self, info: Panel, field: str) -> w.ValueWidget:
        value = self.session.settings[info.name].get(field, getattr(info.config(), field))
        style = {"description_width": "140px"}
        widget: w.ValueWidget
        if field in info.choices:
            widget = w.Dropdown(options=list(info.choices[field]), value=value, description=field, style=style)
        elif isinstance(value, bool):
            widget = w.Checkbox(value=value, description=field, style=style, indent=True)
        elif isinstance(value, int):
            widget = w.IntText(value=value, description=field, style=style)
        elif isinstance(value, float):
            widget = w.FloatText(value=value, description=field, style=style)
        else:
            widget = w.Text(value=str(value), description=field, style=style)
        widget.add_class(f"blaze-field-{field}")
        widget.observe(lambda change, f=field, k=info.name: self._on_field(k, f, change["new"]), names="value")
        return widget

    def _on_engine(self, change: Mapping[str, Any]) -> None:
        if not self._syncing:
            self.session.select(change["new"])
            self._show_kind()
            self._render_plot()

    def _on_field(self, kind: str, field: str, value: Any) -> None:
        if self._syncing:
            return
        self.session.settings[kind][field] = value
        self._refresh_settings()

    def _show_kind(self) -> None:
        self.settings_box.children = list(self.fields[self.session.kind].values())
        self._refresh_settings()

    def _refresh_settings(self, status: bool = True) -> None:
        """Label unavailable values with their reason; show the current problem or caveats (unless ``status`` is
        False: a run's outcome stays visible); gate the Run button."""
        info = self.session.info
        lines = []
        self._syncing = True
        try:
            for field in info.choices:
                widget = self.fields[info.name].get(field)
                if not isinstance(widget, w.Dropdown):
                    continue
                labelled = []
                for value, verdict in self.session.choices(field):
                    labelled.append((value if verdict.allowed else f"{value} ({_UNAVAILABLE})", value))
                    if not verdict.allowed:
                        lines.append(f"<li><code>{field}={value}</code> disabled: {html.escape(verdict.reason)}</li>")
                if tuple(labelled) != tuple(tuple(o) for o in widget.options if isinstance(o, tuple)):
                    current = widget.value
                    widget.options = labelled
                    widget.value = current
            for field, widget in self.fields[info.name].items():
                if isinstance(widget, w.Checkbox):  # a switch this device cannot turn on is greyed out
                    on = self.session.verdict(field, True)
                    widget.disabled = not on.allowed and not widget.value
                    widget.tooltip = on.reason or None
                    if not on.allowed:
                        lines.append(f"<li><code>{field}</code> disabled: {html.escape(on.reason)}</li>")
        finally:
            self._syncing = False
        device = html.escape(self.session.device.label)
        self.capability.value = (
            f"<details><summary>device: {device} — {len(lines)} value(s) unavailable here</summary>"
            f"<ul>{''.join(lines)}</ul></details>"
            if lines
            else f"device: {device} — every value available"
        )
        problem = self.session.problem()
        self.run_button.disabled = bool(problem)
        if not status:
            return
        if problem:
            self.status.value = _problem_html(problem)
        else:
            notes = self.session.notes()
            self.status.value = "".join(f'<div style="color:#a60">note: {html.escape(n)}</div>' for n in notes)

    def _click_run(self) -> None:
        try:
            vary = parse_vary(self.vary.value)
        except ConfigError as exc:
            self.status.value = _problem_html(exc)
            return
        self.run(vary, wait=False)

    def _click_compare(self) -> None:
        self.compare()

    def _click_save(self) -> None:
        self.to_experiment()

    def _run_job(self, vary: Mapping[str, Sequence[Any]] | None, raise_errors: bool = False) -> pd.DataFrame | None:
        self.run_button.disabled = True
        self.run_button.description = "Running…"
        try:
            rows = self.session.run(vary, progress=self._on_progress)
        except BlazeLabError as exc:
            self.status.value = _problem_html(exc)
            if raise_errors:
                raise
            return None
        except Exception as exc:  # the panel must explain, not die: a thread's traceback would be lost anyway
            self.status.value = _problem_html(f"{type(exc).__name__}: {exc}")
            if raise_errors:
                raise
            return None
        finally:
            self.run_button.description = "Run"
            self._refresh_settings(status=False)
            self._refresh_results()
        failed = rows[rows["status"] != "ok"]
        if len(failed):
            self.status.value = "".join(
                _problem_html(f"{r['run']}: {r['status']}: {r.get('error', '')}") for _, r in failed.iterrows()
            )
        return rows

    def _on_progress(self, done: int, total: int, message: str) -> None:
        self.progress.max = max(total, 1)
        self.progress.value = done
        self.progress_label.value = message
        if done:  # a run just finished: table and figure follow run by run
            self._refresh_results()

    def _refresh_results(self) -> None:
        table = self.session.table()
        self.results_html.value = _table_html(readable(table), "blaze-results")
        # (label, run id): the list shows what each run measured, the selection stays the run ids
        options = [(f"{r} · {c}", r) for r, c in zip(table.get("run", []), table.get("config", []), strict=True)]
        if list(self.compare_select.options) != options:
            runs = [r for _, r in options]
            chosen = tuple(v for v in self.compare_select.value if v in runs)
            self.compare_select.options = options
            self.compare_select.value = chosen
        self.compare_select.layout.width = "auto"  # the full labels, not a fixed-width cut
        saved = self.session.saved_to
        if self.session.persist_error:
            self.saved_html.value = _problem_html(self.session.persist_error)
        elif saved is not None and len(self.session.results):
            self.saved_html.value = (
                f"runs saved in <code>{html.escape(str(saved))}</code> — reload after a restart with "
                f"<code>Explorer.load({html.escape(repr(str(saved)))})</code>"
            )
        self._render_plot()
        images = self.session.images()
        if images:
            from blaze_lab.report.html import image_grid_html

            self.images_html.value = "<b>Images</b> (first image of each diffusion run)" + image_grid_html(images)

    def _render_plot(self) -> None:
        # Output.outputs set directly (not `with self.plot:`) so it also works from the run thread.
        bundle = plotly_bundle(self.session.figure())
        self.plot.outputs = ({"output_type": "display_data", "data": bundle, "metadata": {}},)

    def _say(self, text: str, color: str) -> None:
        self.status.value = f'<div style="color:{color}">{html.escape(text)}</div>'


def _problem_html(problem: object) -> str:
    return f'<div class="blaze-problem" style="color:#b00">{html.escape(str(problem))}</div>'


__all__ = ["DEFAULT_EXPERIMENT", "Explorer", "parse_vary", "plotly_bundle"]
