"""Faults as data: a small grammar (which replicas, what, when), named presets written in it, and the schedule.

One fault is a mapping::

    {replicas: [2, 5], kind: slowdown, factor: 3, window: [0.3, 0.7]}

* **which** — ``replicas: [ids]`` (or one id), ``count: n`` or ``fraction: f`` (the first ``n`` /
  ``ceil(f·replicas)`` ids, or a seeded random choice with ``pick: random``), or ``replicas: all``;
* **what** — ``kind`` with its value: ``crash`` (dies at the window start, restarts at its end; ``warmup_s`` /
  ``warmup_factor`` after the restart), ``errors`` (``rate``), ``slowdown`` (``factor``), ``latency`` (``delay``),
  ``hang``, ``flapping`` (``period``); ``value`` is accepted for any of them; ``delay``, ``period`` and
  ``warmup_s`` are durations (seconds or ``"4x"`` service times, see :mod:`blaze_lab.router.timing`);
* **when** — ``window: [start, end]`` as fractions of the run's expected duration (numbers in [0, 1]) or seconds
  (``"12s"``); default the whole run;
* or ``file: path`` — a YAML/JSON list of such mappings, or a CSV of absolute events with columns
  ``time_s, replica, kind, on, value``.

The same events drive the simulator's replicas and live fake replicas (both apply them through one
:class:`~blaze_lab.replicas.faults.FaultState`). :data:`SCENARIOS` are the named presets, written in the grammar.

Example:
    >>> events = schedule("crash", duration_s=10.0, replicas=4, reference_s=0.05)
    >>> [(e.time_s, e.replica, e.kind, e.on) for e in events]
    [(5.0, 0, 'crash', True), (6.0, 0, 'crash', False)]
    >>> gray = [{"replicas": [2, 5], "kind": "slowdown", "factor": 3, "window": [0.3, 0.7]}]
    >>> [(e.time_s, e.replica, e.on, e.value) for e in fault_events(gray, 100.0, 8)]
    [(30.0, 2, True, 3.0), (30.0, 5, True, 3.0), (70.0, 2, False, 3.0), (70.0, 5, False, 3.0)]
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from blaze_lab.clock import Clock
from blaze_lab.errors import ConfigError
from blaze_lab.replicas.faults import KINDS, FaultEvent, FaultState
from blaze_lab.router.timing import parse_time, resolve_time

# The natural name of each kind's value (``value`` works for all).
VALUE_KEYS = {"errors": "rate", "slowdown": "factor", "latency": "delay", "flapping": "period"}
_TIME_VALUES = ("latency", "flapping")
_KEYS = {"replicas", "count", "fraction", "pick", "kind", "value", "window", "warmup_s", "warmup_factor", "file",
         *VALUE_KEYS.values()}

SCENARIOS: dict[str, tuple[dict[str, Any], ...]] = {
    "none": (),
    "crash": ({"replicas": [0], "kind": "crash", "window": [0.5, 0.6], "warmup_s": "10x", "warmup_factor": 2.0},),
    "errors": ({"replicas": [0], "kind": "errors", "rate": 0.5, "window": [0.25, 0.75]},),
    "slow": ({"replicas": [0], "kind": "slowdown", "factor": 5.0, "window": [0.25, 0.75]},),
    "latency": ({"replicas": [0], "kind": "latency", "delay": "4x", "window": [0.25, 0.75]},),
    "hang": ({"replicas": [0], "kind": "hang", "window": [0.4, 0.6]},),
    "flapping": ({"replicas": [0], "kind": "flapping", "period": "10x", "window": [0.2, 0.8]},),
    "mixed": (
        {"replicas": [0], "kind": "crash", "window": [0.3, 0.4], "warmup_s": "10x", "warmup_factor": 2.0},
        {"replicas": [1], "kind": "slowdown", "factor": 4.0, "window": [0.2, 0.8]},
        {"replicas": [2], "kind": "errors", "rate": 0.3, "window": [0.5, 0.7]},
    ),
}


@dataclasses.dataclass(frozen=True)
class Fault:
    """One parsed fault: replica ids, kind, value, and a window (fractions of the run, or seconds)."""

    replicas: tuple[int, ...]
    kind: str
    start: float
    end: float
    seconds: bool = False  # window in seconds instead of fractions
    value: Any = 0.0
    warmup_s: Any = 0.0
    warmup_factor: float = 1.0


def _bad(field: str, value: Any, reason: str) -> ConfigError:
    return ConfigError(field, value, reason=reason)


def _number(field: str, value: Any, low: float, high: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise _bad(field, value, f"must be a number in [{low}, {high}]")
    return float(value)


def _targets(spec: Mapping[str, Any], replicas: int, field: str, seed: int) -> tuple[int, ...]:
    chosen = [k for k in ("replicas", "count", "fraction") if k in spec]
    if len(chosen) > 1:
        raise _bad(field, chosen, "give one of replicas / count / fraction")
    pick = spec.get("pick", "first")
    if pick not in ("first", "random"):
        raise ConfigError(f"{field}.pick", pick, allowed=["first", "random"])
    if "count" in spec:
        n = spec["count"]
        if isinstance(n, bool) or not isinstance(n, int) or not 0 < n <= replicas:
            raise _bad(f"{field}.count", n, f"must be an integer in [1, {replicas}]")
    elif "fraction" in spec:
        n = max(1, math.ceil(_number(f"{field}.fraction", spec["fraction"], 0.0, 1.0) * replicas - 1e-9))
    else:
        ids = spec.get("replicas", [0])
        if ids == "all":
            return tuple(range(replicas))
        ids = [ids] if isinstance(ids, int) and not isinstance(ids, bool) else ids
        if not isinstance(ids, list | tuple) or not ids or any(
                isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < replicas for i in ids):
            raise _bad(f"{field}.replicas", ids, f"replica ids in [0, {replicas - 1}], a list, or 'all'")
        return tuple(sorted(set(ids)))
    if pick == "random":
        return tuple(sorted(random.Random(seed).sample(range(replicas), n)))
    return tuple(range(n))


def _window(spec: Mapping[str, Any], field: str) -> tuple[float, float, bool]:
    window = spec.get("window", [0.0, 1.0])
    if not isinstance(window, list | tuple) or len(window) != 2:
        raise _bad(f"{field}.window", window, "need [start, end]: fractions of the run (0.3) or seconds ('12s')")
    in_seconds = [isinstance(w, str) for w in window]
    if in_seconds[0] != in_seconds[1]:
        raise _bad(f"{field}.window", window, "start and end must both be fractions or both seconds")
    if in_seconds[0]:
        start, end = (parse_time(f"{field}.window", w)[0] for w in window)
    else:
        start, end = (_number(f"{field}.window", w, 0.0, 1.0) for w in window)
    if start > end:
        raise _bad(f"{field}.window", window, "need start <= end")
    return start, end, in_seconds[0]


def parse_fault(spec: Any, replicas: int, field: str = "router.faults[0]", seed: int = 0) -> Fault:
    """Validate one fault mapping of the grammar (ConfigError naming ``field`` and the bad key)."""
    if not isinstance(spec, Mapping):
        raise _bad(field, spec, "a fault is a mapping: {replicas, kind, value, window}")
    unknown = sorted(set(spec) - _KEYS)
    if unknown:
        raise ConfigError(f"{field}.{unknown[0]}", reason="unknown key", allowed=sorted(_KEYS))
    kind = spec.get("kind")
    if kind not in KINDS:
        raise ConfigError(f"{field}.kind", kind, allowed=KINDS)
    key = VALUE_KEYS.get(kind, "value")
    raw = spec.get(key, spec.get("value", 0.0 if kind not in ("slowdown",) else None))
    if kind == "slowdown":
        value: Any = _number(f"{field}.{key}", raw, 1e-9)
    elif kind == "errors":
        value = _number(f"{field}.{key}", raw, 0.0, 1.0)
    elif kind in _TIME_VALUES:
        parse_time(f"{field}.{key}", raw)
        value = raw
        if kind == "flapping" and parse_time(f"{field}.{key}", raw)[0] <= 0:
            raise _bad(f"{field}.{key}", raw, "the flap period must be > 0")
    else:
        value = 0.0
    warmup = spec.get("warmup_s", 0.0)
    parse_time(f"{field}.warmup_s", warmup)
    factor = _number(f"{field}.warmup_factor", spec.get("warmup_factor", 1.0), 1e-9)
    start, end, seconds = _window(spec, field)
    return Fault(_targets(spec, replicas, field, seed), kind, start, end, seconds, value, warmup, factor)


def _expand_files(specs: Sequence[Any], field: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for i, spec in enumerate(specs):
        where = f"{field}[{i}]"
        if isinstance(spec, Mapping) and "file" in spec:
            path = Path(str(spec["file"]))
            if not path.is_file():
                raise _bad(f"{where}.file", str(path), "file not found")
            if path.suffix == ".csv":
                out.append((where, {"events": _csv_events(path, where)}))
                continue
            import yaml

            loaded = yaml.safe_load(path.read_text()) if path.suffix in (".yaml", ".yml") else json.loads(
                path.read_text())
            if not isinstance(loaded, list):
                raise _bad(f"{where}.file", str(path), "must hold a list of faults")
            out.extend((f"{where}.file[{j}]", item) for j, item in enumerate(loaded))
        else:
            out.append((where, spec))
    return out


def _csv_events(path: Path, where: str) -> list[FaultEvent]:
    import pandas as pd

    df = pd.read_csv(path)
    need = {"time_s", "replica", "kind", "on"}
    if not need <= set(df.columns):
        raise _bad(f"{where}.file", str(path), f"a CSV schedule needs columns {sorted(need)}")
    events = []
    for row in df.itertuples(index=False):
        if row.kind not in KINDS:
            raise ConfigError(f"{where}.file.kind", row.kind, allowed=KINDS)
        events.append(FaultEvent(float(row.time_s), int(row.replica), str(row.kind), bool(row.on),
                                 float(getattr(row, "value", 0.0) or 0.0)))
    return events


def parse_faults(specs: Sequence[Any], replicas: int, field: str = "router.faults", seed: int = 0) -> list[Any]:
    """Validate a list of faults (mappings, ``{file: ...}`` entries); returns Faults and absolute-event lists."""
    if not isinstance(specs, list | tuple):
        raise _bad(field, specs, "a list of faults")
    out: list[Any] = []
    for where, spec in _expand_files(specs, field):
        if isinstance(spec, Mapping) and "events" in spec:
            bad = [e.replica for e in spec["events"] if not 0 <= e.replica < replicas]
            if bad:
                raise _bad(f"{where}.replica", bad[0], f"replica ids in [0, {replicas - 1}]")
            out.append(list(spec["events"]))
        else:
            out.append(parse_fault(spec, replicas, where, seed))
    return out


def fault_events(specs: Sequence[Any], duration_s: float, replicas: int, reference_s: float = 1.0,
                 seed: int = 0) -> list[FaultEvent]:
    """Absolute, time-ordered events of faults in the grammar (relative durations resolved with ``reference_s``)."""
    events: list[FaultEvent] = []
    for f in parse_faults(specs, replicas, seed=seed):
        if isinstance(f, list):
            events.extend(f)
            continue
        scale = 1.0 if f.seconds else duration_s
        value = resolve_time(f.value, reference_s) if f.kind in _TIME_VALUES else float(f.value)
        warmup = resolve_time(f.warmup_s, reference_s)
        for r in f.replicas:
            for on, t in ((True, f.start), (False, f.end)):
                events.append(FaultEvent(t * scale, r, f.kind, on, value, warmup, f.warmup_factor))
    events.sort(key=lambda e: (e.time_s, e.replica, not e.on))
    return events


def schedule(scenario: str, duration_s: float, replicas: int, reference_s: float = 1.0) -> list[FaultEvent]:
    """Absolute fault events of a named preset (faults on replicas that do not exist are dropped)."""
    if scenario not in SCENARIOS:
        raise ConfigError("router.fault", scenario, allowed=sorted(SCENARIOS))
    specs = [s for s in SCENARIOS[scenario] if all(i < replicas for i in s["replicas"])]
    return fault_events(specs, duration_s, replicas, reference_s)


def crash_schedule(
    mtbf_s: float, restart_s: float, duration_s: float, replicas: int, seed: int = 0
) -> list[FaultEvent]:
    """Crash/restart events of every replica over ``[0, duration_s)``: an alternating renewal process per replica,
    up for an exponential time of mean ``mtbf_s`` (failures arrive as a Poisson process while up), then down for
    ``restart_s``. Each replica has its own seeded stream, so adding replicas does not move the others' crashes.
    A replica's long-run uptime is mtbf / (mtbf + restart). ``mtbf_s = 0`` is no schedule.

    >>> [(round(e.time_s, 2), e.replica, e.on) for e in crash_schedule(5.0, 1.0, 12.0, 1, seed=0)]
    [(10.27, 0, True), (11.27, 0, False), (11.32, 0, True), (12.32, 0, False)]
    """
    if mtbf_s <= 0:
        return []
    events: list[FaultEvent] = []
    for r in range(replicas):
        rng = random.Random(f"crash-schedule:{seed}:{r}")  # a string seed: its own stream, stable across Pythons
        t = rng.expovariate(1.0 / mtbf_s)
        while t < duration_s:
            events.append(FaultEvent(t, r, "crash", True))
            events.append(FaultEvent(t + restart_s, r, "crash", False))
            t += restart_s + rng.expovariate(1.0 / mtbf_s)
    events.sort(key=lambda e: (e.time_s, e.replica, not e.on))
    return events


def apply_to_engine(engine: Any, e: FaultEvent) -> None:
    """Apply a fault event to a live replica: every live replica (:class:`~blaze_lab.replicas.fake.FakeEngine`,
    :class:`~blaze_lab.router.ray_replicas.RayReplica`) takes events through ``apply_fault``, which feeds the same
    :class:`~blaze_lab.replicas.faults.FaultState` the simulator's replicas use."""
    engine.apply_fault(e)


async def inject(engines: Sequence[Any], events: Sequence[FaultEvent], clock: Clock, time_scale: float = 1.0) -> None:
    """Apply ``events`` to live engines at their times (model seconds × ``time_scale`` from now)."""
    start = clock.now()
    for e in sorted(events, key=lambda e: e.time_s):
        delay = start + e.time_s * time_scale - clock.now()
        if delay > 0:
            await clock.sleep(delay)
        apply_to_engine(engines[e.replica], e)
    await asyncio.sleep(0)


__all__ = ["KINDS", "SCENARIOS", "VALUE_KEYS", "Fault", "FaultEvent", "FaultState", "apply_to_engine",
           "crash_schedule", "fault_events", "inject", "parse_fault", "parse_faults", "schedule"]
