"""Decode roofline: how close decoding gets to the device's memory bandwidth.

Decoding one token per sequence reads every weight once (plus the KV cache), so its ceiling is
``peak_bandwidth / bytes_per_step``. The peak is measured, not taken from a datasheet: a large device-to-device copy
(bytes read + bytes written over the median copy time).

**One figure per machine.** A single copy probe in a fresh process ranged 4–23 GB/s across the kernels of one CPU
sweep (other work, frequency scaling, page placement), which made roofline fractions of different groups
incomparable. :func:`machine_bandwidth` therefore takes the median of ``probes`` probes (each the median of
``repeats`` copies), stores it with its date and method in ``<cache>/roofline/<machine>.json`` and returns the stored
figure to every later process on the same machine (same device name, CPU model and core count) until it is older
than ``max_age_days``. Rows record the figure, its date and the method. The probe's buffers are freed (and the CUDA
cache emptied) before returning, so they never inflate a config's memory peaks.

Example:
    >>> achieved = decode_bytes_per_s(weight_bytes=1e9, kv_bytes=0.0, steps_per_s=100.0)
    >>> achieved
    100000000000.0
    >>> round(roofline_fraction(achieved, peak_bytes_per_s=4e11), 2)
    0.25
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import json
import math
import statistics
from pathlib import Path
from typing import Any

from blaze_lab.clock import Clock, RealClock


def decode_bytes_per_s(weight_bytes: float, kv_bytes: float, steps_per_s: float) -> float:
    """Achieved bytes/s of decode = (weight bytes + mean KV bytes read per step) × decode steps per second."""
    return (weight_bytes + kv_bytes) * steps_per_s


def roofline_fraction(achieved_bytes_per_s: float, peak_bytes_per_s: float) -> float:
    """Achieved / measured peak bandwidth (NaN when the peak is unknown)."""
    if not peak_bytes_per_s or math.isnan(peak_bytes_per_s):
        return math.nan
    return achieved_bytes_per_s / peak_bytes_per_s


def kv_cache_bytes(
    num_layers: int, num_kv_heads: int, head_dim: int, seq_len: float, batch: int, element_size: int
) -> float:
    """Bytes of keys + values for ``seq_len`` positions of ``batch`` sequences."""
    return 2.0 * num_layers * num_kv_heads * head_dim * seq_len * batch * element_size


@dataclasses.dataclass(frozen=True)
class Bandwidth:
    """A machine's measured copy bandwidth and how it was obtained."""

    bytes_per_s: float
    measured_at: str  # ISO date-time (UTC)
    method: str
    machine: str

    def columns(self) -> dict[str, Any]:
        return {
            "peak_bandwidth_bytes_per_s": self.bytes_per_s,
            "peak_bandwidth_measured_at": self.measured_at,
            "peak_bandwidth_method": self.method,
        }


def peak_bandwidth(device: str = "cpu", size_bytes: int | None = None, repeats: int = 5) -> float:
    """Copy bandwidth of ``device`` in bytes/s: the machine's stored figure (see :func:`machine_bandwidth`).

    An explicit ``size_bytes`` measures afresh (median of 3 probes) without touching the stored figure.
    """
    if size_bytes is not None:
        return statistics.median(_measure_copy(device, size_bytes, repeats, RealClock()) for _ in range(3))
    return machine_bandwidth(device).bytes_per_s


@functools.cache
def machine_bandwidth(
    device: str = "cpu", *, probes: int = 7, repeats: int = 5, max_age_days: float = 30.0, refresh: bool = False
) -> Bandwidth:
    """The stored bandwidth figure of this machine's ``device`` (measured and stored when absent or stale)."""
    machine = machine_key(device)
    path = _store_path(machine)
    if not refresh:
        stored = _read(path, max_age_days)
        if stored is not None:
            return stored
    size = 1 << 30 if device.startswith("cuda") else 1 << 28
    figures = [_measure_copy(device, size, repeats, RealClock()) for _ in range(probes)]
    figure = Bandwidth(
        bytes_per_s=statistics.median(figures),
        measured_at=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        method=f"float32 copy of {size >> 20} MiB, median of {probes} probes x median of {repeats} copies",
        machine=machine,
    )
    _write(path, figure)
    return figure


def machine_key(device: str) -> str:
    """``cpu-<model>-<cores>c`` or ``cuda-<name>``: what makes two processes' bandwidth figures comparable."""
    import os
    import platform
    import re

    if device.startswith("cuda"):
        import torch

        name = torch.cuda.get_device_name(torch.device(device))
    else:
        name = platform.processor() or platform.machine()
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
        except OSError:
            pass
        name = f"{name}-{os.cpu_count()}c"
    kind = "cuda" if device.startswith("cuda") else "cpu"
    return f"{kind}-" + re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()


def _store_path(machine: str) -> Path:
    from blaze_lab.models.cache import cache_dir

    return cache_dir() / "roofline" / f"{machine}.json"


def _read(path: Path, max_age_days: float) -> Bandwidth | None:
    try:
        data = json.loads(path.read_text())
        figure = Bandwidth(**data)
        age = datetime.datetime.now(datetime.UTC) - datetime.datetime.fromisoformat(figure.measured_at)
    except (OSError, ValueError, TypeError):  # absent or unreadable: measure again
        return None
    return figure if age.total_seconds() <= max_age_days * 86400 and figure.bytes_per_s > 0 else None


def _write(path: Path, figure: Bandwidth) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{id(figure)}")
    tmp.write_text(json.dumps(dataclasses.asdict(figure), indent=1))
    tmp.replace(path)  # atomic: a concurrent reader sees the old file or the new one


def _measure_copy(device: str, size_bytes: int | None, repeats: int, clock: Clock) -> float:
    import torch

    cuda = device.startswith("cuda")
    n = size_bytes or (1 << 30 if cuda else 1 << 28)
    src = torch.empty(n // 4, dtype=torch.float32, device=device).uniform_()  # random data, never zeros
    dst = torch.empty_like(src)
    dst.copy_(src)  # warm-up: first-touch page faults / lazy allocation
    times: list[float] = []
    for _ in range(repeats):
        if cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            dst.copy_(src)
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end) / 1000.0)
        else:
            t0 = clock.now()
            dst.copy_(src)
            times.append(clock.now() - t0)
    moved = 2.0 * src.numel() * src.element_size()
    del src, dst
    if cuda:
        torch.cuda.empty_cache()  # the probe's 2 GiB must not stay reserved under the next config's peak
    return moved / statistics.median(times)


__all__ = [
    "Bandwidth",
    "decode_bytes_per_s",
    "kv_cache_bytes",
    "machine_bandwidth",
    "machine_key",
    "peak_bandwidth",
    "roofline_fraction",
]
