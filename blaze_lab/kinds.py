"""The one registry of engine kinds: what ``llm``, ``diffusion``, ``serving`` and ``router`` are.

A :class:`Kind` says, for one kind, everything the rest of the library needs to know about it — the config class a
spec's runs are validated against, the notebook papermill runs per load-time group, the group function that notebook
calls, the report section that draws its rows, the extra ``measure`` sub-mappings its group function reads, and
(optionally) its panel in the JupyterLab explorer. Every entry is a lazy ``"module:attribute"`` string, so
``import blaze_lab`` and validating a spec never import torch, diffusers or plotly.

Nothing else in the library lists kinds: the sweep, the report and the explorer all ask :func:`get`.

Adding a kind is one edit — one :class:`Kind` entry here (or :func:`register` from a plug-in or a test)::

    register(Kind(
        name="asr",
        config="my_pkg.asr:ASRConfig",
        notebook="notebooks/asr_benchmark.ipynb",
        group="my_pkg.asr:benchmark_group",
        section="my_pkg.asr_report:asr_sections",
    ))

Example:
    >>> sorted(KINDS)
    ['diffusion', 'llm', 'router', 'serving']
    >>> get("router").config_class().__name__
    'RouterExperimentConfig'
    >>> get("nope")
    Traceback (most recent call last):
    ...
    blaze_lab.errors.ConfigError: kind: invalid value 'nope'; allowed: diffusion, llm, router, serving
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from blaze_lab.errors import ConfigError

if TYPE_CHECKING:
    from blaze_lab.config import BaseConfig


def resolve(target: str | Any, what: str) -> Any:
    """Import ``"package.module:attribute"`` (or return ``target`` itself when it is already an object).

    ``what`` names the registry entry in the error (``kind 'llm' config``).

    >>> resolve("blaze_lab.errors:ConfigError", "demo").__name__
    'ConfigError'
    """
    if not isinstance(target, str):
        return target
    module_name, sep, attr = target.partition(":")
    if not sep:
        raise ConfigError(what, target, reason="must be 'module:attribute'")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(what, target, reason=f"not available ({type(exc).__name__}: {exc})") from None


@dataclasses.dataclass(frozen=True)
class Kind:
    """One engine kind. String fields are ``"module:attribute"`` imported on first use (objects work too).

    Attributes:
        name: the kind's name: the ``kind`` of a spec, the ``engine`` column of its rows, its config's column prefix.
        config: the frozen config class (a :class:`~blaze_lab.config.BaseConfig`) a run of this kind is built from.
        notebook: the parameterized notebook (path relative to the repository root) run once per load-time group.
        group: ``(runs, *, reference, measure, sweep, group) -> (summary, raw)``: measures one load-time group.
        section: ``(summary, raw) -> [(title, item)]``: the kind's report section (None: the report lists the
            kind's rows with a note instead of figures).
        measure_extras: sub-mappings of a spec's ``measure`` this kind reads, name -> ``"module:Class"`` whose
            dataclass fields are the allowed keys (e.g. llm's ``measure.quality``).
        explorer: the explorer panel (``"module:attribute"`` of a ``blaze_lab.explorer.panels.Panel``), or None
            when the kind is not offered in the explorer.
        models: config fields naming a model -> the model kind (``blaze_lab.models.MODEL_KINDS``) it must be; a
            sweep checks each such value offline at validation (``blaze_lab.models.check_model``).
    """

    name: str
    config: str | type[BaseConfig]
    notebook: str
    group: str | Callable[..., Any]
    section: str | Callable[..., Any] | None
    measure_extras: Mapping[str, str | type] = dataclasses.field(default_factory=dict)
    explorer: str | Any | None = None
    models: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def config_class(self) -> type[BaseConfig]:
        return resolve(self.config, f"kind {self.name!r} config")

    def group_function(self) -> Callable[..., Any]:
        return resolve(self.group, f"kind {self.name!r} group function")

    def section_function(self) -> Callable[..., Any] | None:
        if self.section is None:
            return None
        return resolve(self.section, f"kind {self.name!r} report section")

    def measure_extra_classes(self) -> dict[str, type]:
        return {key: resolve(cls, f"kind {self.name!r} measure.{key}") for key, cls in self.measure_extras.items()}

    def explorer_panel(self) -> Any | None:
        return None if self.explorer is None else resolve(self.explorer, f"kind {self.name!r} explorer panel")


KINDS: dict[str, Kind] = {
    "llm": Kind(
        name="llm",
        config="blaze_lab.engines.llm.config:LLMConfig",
        notebook="notebooks/llm_benchmark.ipynb",
        group="blaze_lab.engines.llm.group:benchmark_group",
        section="blaze_lab.report.llm_figures:llm_sections",
        measure_extras={"quality": "blaze_lab.engines.llm.quality:QualitySettings"},
        explorer="blaze_lab.explorer.panels:LLM_PANEL",
        models={"model": "llm"},
    ),
    "diffusion": Kind(
        name="diffusion",
        config="blaze_lab.engines.diffusion.config:DiffusionConfig",
        notebook="notebooks/diffusion_benchmark.ipynb",
        group="blaze_lab.engines.diffusion.group:benchmark_group",
        section="blaze_lab.report.diffusion_figures:diffusion_sections",
        measure_extras={"quality": "blaze_lab.engines.diffusion.quality:DiffusionQualitySettings"},
        explorer="blaze_lab.explorer.panels:DIFFUSION_PANEL",
        models={"model": "diffusion"},
    ),
    "serving": Kind(
        name="serving",
        config="blaze_lab.serving.config:ServingConfig",
        notebook="notebooks/serving_benchmark.ipynb",
        group="blaze_lab.serving.bench:benchmark_group",
        section="blaze_lab.report.serving_figures:serving_sections",
        models={"model": "llm"},
    ),
    "router": Kind(
        name="router",
        config="blaze_lab.router.config:RouterExperimentConfig",
        notebook="notebooks/router_benchmark.ipynb",
        group="blaze_lab.router.bench:benchmark_group",
        section="blaze_lab.report.router_figures:router_sections",
        explorer="blaze_lab.explorer.panels:ROUTER_PANEL",
    ),
}


def get(name: str) -> Kind:
    """The registered kind ``name``; ConfigError listing the registered kinds otherwise."""
    kind = KINDS.get(name) if isinstance(name, str) else None
    if kind is None:
        raise ConfigError("kind", name, allowed=sorted(KINDS))
    return kind


def register(kind: Kind) -> None:
    """Add (or replace) a kind — for plug-ins and tests; the built-in kinds are the entries above."""
    KINDS[kind.name] = kind


def names() -> list[str]:
    """Registered kind names, sorted (what error messages list as allowed)."""
    return sorted(KINDS)


__all__ = ["KINDS", "Kind", "get", "names", "register", "resolve"]
