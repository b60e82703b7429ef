"""Memory: peak allocated / reserved (torch.cuda), peak process RSS, NVML process VRAM, NVML energy.

Peak RSS uses the kernel's own high-water mark: writing ``5`` to ``/proc/self/clear_refs`` resets ``VmHWM`` (Linux
≥ 4.0), so the peak of a region costs nothing while it runs — no sampling thread competing with the workload for the
GIL. Where that reset is not allowed, a light sampling thread takes over. NVML figures are NaN when NVML is absent.

**Memory that belongs to the config.** Process RSS includes whatever the process held before the config (the
interpreter, libraries, other models) and the *file-backed* pages of memory-mapped checkpoints (a safetensors file
read through mmap counts in RSS while the kernel may drop those pages at any time). So a tracker given the
``baseline`` taken before the config's model was loaded (:func:`process_memory`) also reports
``peak_rss_increase_bytes`` (peak RSS − baseline RSS) and the anonymous / file-backed split at the end of the region
(``rss_anon_bytes``, ``rss_file_bytes``, ``rss_anon_increase_bytes``): the anonymous increase is what the config
really allocated. :func:`clean_device` frees what earlier configs left (garbage, the CUDA caching allocator's
blocks) and resets the CUDA peaks before a config is loaded.

Example:
    >>> with MemoryTracker("cpu") as mem:
    ...     block = bytearray(50_000_000)
    >>> mem.result()["peak_rss_bytes"] > 50_000_000
    True
"""

from __future__ import annotations

import math
import os
import re
import threading
from pathlib import Path
from typing import Any

import psutil

# What MemoryTracker.result() reports per call; a config's summary keeps the maximum of each over its calls.
MEMORY_COLUMNS = (
    "peak_allocated_bytes",
    "peak_reserved_bytes",
    "peak_rss_bytes",
    "peak_rss_increase_bytes",
    "rss_anon_bytes",
    "rss_anon_increase_bytes",
    "rss_file_bytes",
    "rss_library_increase_bytes",
    "nvml_vram_bytes",
)

_CLEAR_REFS = Path("/proc/self/clear_refs")
_STATUS = Path("/proc/self/status")


def _read_hwm() -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _reset_hwm() -> bool:
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


class _RssSampler(threading.Thread):
    def __init__(self, interval_s: float = 0.01) -> None:
        super().__init__(daemon=True)
        self._proc = psutil.Process()
        self._stop_event = threading.Event()
        self.interval_s = interval_s
        self.peak = self._proc.memory_info().rss

    def run(self) -> None:
        while not self._stop_event.wait(self.interval_s):
            self.peak = max(self.peak, self._proc.memory_info().rss)

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        return max(self.peak, self._proc.memory_info().rss)


class Nvml:
    """Thin NVML access for one device; every method returns NaN when NVML is unusable."""

    def __init__(self, index: int = 0) -> None:
        self._handle: Any = None
        try:
            import pynvml

            pynvml.nvmlInit()
            self._nvml = pynvml
            self._handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        except Exception:  # no NVML library / no GPU / sandbox without NVML: figures stay NaN
            self._handle = None

    @property
    def available(self) -> bool:
        return self._handle is not None

    def process_vram_bytes(self, pid: int | None = None) -> float:
        if self._handle is None:
            return math.nan
        pid = pid or os.getpid()
        try:
            procs = self._nvml.nvmlDeviceGetComputeRunningProcesses(self._handle)
        except Exception:
            return math.nan
        used = [p.usedGpuMemory for p in procs if p.pid == pid and p.usedGpuMemory is not None]
        return float(sum(used)) if used else math.nan

    def energy_mj(self) -> float:
        """Total energy since driver load, millijoules (Volta+)."""
        if self._handle is None:
            return math.nan
        try:
            return float(self._nvml.nvmlDeviceGetTotalEnergyConsumption(self._handle))
        except Exception:
            return math.nan


def process_memory(libraries: bool = False) -> dict[str, float]:
    """This process's resident memory now: ``rss_bytes``, ``rss_anon_bytes``, ``rss_file_bytes`` (NaN if unknown).

    ``libraries=True`` adds ``rss_library_bytes`` (see :func:`library_rss_bytes`; it reads ``/proc/self/smaps``, a few
    milliseconds, so only baselines and the memory probe ask for it).

    >>> mem = process_memory()
    >>> mem["rss_bytes"] >= mem["rss_anon_bytes"] > 0
    True
    """
    fields = {"VmRSS:": "rss_bytes", "RssAnon:": "rss_anon_bytes", "RssFile:": "rss_file_bytes"}
    out = dict.fromkeys(fields.values(), math.nan)
    try:
        for line in _STATUS.read_text().splitlines():
            key = line.split(maxsplit=1)[0] if line else ""
            if key in fields:
                out[fields[key]] = float(int(line.split()[1]) * 1024)
    except OSError:
        pass
    if libraries:
        out["rss_library_bytes"] = library_rss_bytes()
    return out


_SHARED_OBJECT = re.compile(r"\.so(\.[0-9.]+)?$")
_SMAPS = Path("/proc/self/smaps")


def library_rss_bytes() -> float:
    """Resident pages of this process's mapped shared libraries (``*.so`` files), bytes; NaN where unknown.

    Why this is kept out of a config's memory: the code pages of torch & co. that a config's first calls fault in
    count in RSS, but how many come in per fault depends on the file system and the page cache, not on the config
    (fault-around maps neighbouring pages that are already cached). The same tiny Stable Diffusion config read a
    peak RSS increase of 260 MB from one virtualenv and 279 MB from a fresh copy of it (anonymous increase
    205.4–205.9 MB in both); ``libtorch_cpu.so`` alone was 71 vs 118 MB resident. Checkpoint files mapped by
    safetensors are not shared libraries and stay counted.
    """
    total = 0
    library = False
    try:
        with _SMAPS.open() as smaps:
            for line in smaps:
                if line[0] in "0123456789abcdef" and "-" in line.split(maxsplit=1)[0]:
                    parts = line.split()
                    library = len(parts) > 5 and bool(_SHARED_OBJECT.search(parts[5]))
                elif library and line.startswith("Rss:"):
                    total += int(line.split()[1]) * 1024
    except OSError:
        return math.nan
    return float(total)


def trim_heap() -> bool:
    """Return freed heap memory to the OS (glibc ``malloc_trim``); False where unavailable.

    Why: glibc keeps freed memory mapped (and raises its mmap threshold after large frees), so without a trim the
    RSS of a process that freed a model or a large batch's activations stays high, and the next config's peak and
    baseline would inherit it — a batch-1 call measured after a batch-8 call would read batch 8's footprint.
    """
    import ctypes

    try:
        return bool(ctypes.CDLL("libc.so.6").malloc_trim(0))
    except (OSError, AttributeError):
        return False


# glibc mallopt parameter and the two thresholds we switch between (see ExactHeap).
_M_MMAP_THRESHOLD = -3
_MMAP_FLOOR = 128 * 1024
_MMAP_CEILING = 32 * 1024 * 1024


def _mallopt(param: int, value: int) -> bool:
    import ctypes

    try:
        return bool(ctypes.CDLL("libc.so.6").mallopt(param, value))
    except (OSError, AttributeError):
        return False


class ExactHeap:
    """A region whose CPU peak RSS does not depend on what the process allocated before it.

    Why: glibc serves a large allocation with its own mmap (returned to the OS on free) only above a *dynamic*
    threshold that rises to the size of every large block freed so far (up to 32 MiB). A process that has already
    run other configs serves the same temporaries from its heap, where fragmentation decides the peak: measured on
    SmolLM2 with bitsandbytes 8-bit at batch 8, the same config read 288 or 349 MB alone and 271–369 MB after
    others. Inside this region the threshold is pinned at its 128 KiB floor, so every large temporary is its own
    mapping and the peak is the live set. It costs speed (+3–10% at batch 1, +15–26% at batch 8: each temporary is
    faulted in anew), so only untimed or discarded work runs inside it: the memory-probe call, and on CPU also the
    model load and the first warm-up call, where the heap's layout is made (bitsandbytes quantizes at load and
    repacks its weights on the first forward). With the probe alone inside, bitsandbytes 8-bit at batch 8 still read
    276–389 MB across isolated processes (the freed load and repack temporaries left the heap fragmented around the
    live weights); with load and first call inside too, 272.9–274.8 MB (``benchmarks/memory_isolation.py``). On
    exit the threshold is pinned at the 32 MiB ceiling (the speed of a warmed-up process) so later timed calls do not
    depend on history either. ``active=False`` makes it a no-op (CUDA devices, whose peaks the CUDA allocator gives);
    so is a process without glibc.

    >>> with ExactHeap():
    ...     block = bytearray(1_000_000)
    """

    def __init__(self, active: bool = True) -> None:
        self.active = active

    def __enter__(self) -> ExactHeap:
        if self.active:
            _mallopt(_M_MMAP_THRESHOLD, _MMAP_FLOOR)
            trim_heap()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.active:
            _mallopt(_M_MMAP_THRESHOLD, _MMAP_CEILING)


def clean_device(device: str) -> None:
    """Free what earlier work left behind before a config is loaded: garbage, cached CUDA blocks, CUDA peaks."""
    import gc

    gc.collect()
    trim_heap()
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


class MemoryTracker:
    """Context manager measuring the peak memory of a region.

    ``result()`` gives ``peak_allocated_bytes``, ``peak_reserved_bytes`` (CUDA; NaN on CPU), ``peak_rss_bytes``,
    ``rss_anon_bytes`` / ``rss_file_bytes`` at the end of the region, ``nvml_vram_bytes`` and ``energy_j`` (NVML;
    NaN when absent); with a ``baseline`` (:func:`process_memory` before the model load) also
    ``peak_rss_increase_bytes`` and ``rss_anon_increase_bytes``. On CPU, when the baseline holds
    ``rss_library_bytes`` (``process_memory(libraries=True)``) and the region trims, shared-library pages faulted in
    since the baseline are reported as ``rss_library_increase_bytes`` and left out of ``peak_rss_increase_bytes``
    (see :func:`library_rss_bytes`). ``trim`` (default) returns freed heap memory to the
    OS first, so the RSS peak starts from live memory; pass False for a timed call whose RSS peak is not reported
    (CPU calls after the memory probe): a trimmed heap makes the call fault its temporaries in again, which
    measured +1–2% on a 0.1 s SmolLM2 call (``benchmarks/heap_trim_cost.py``).
    """

    def __init__(
        self,
        device: str = "cpu",
        nvml: Nvml | None = None,
        baseline: dict[str, float] | None = None,
        *,
        trim: bool = True,
    ) -> None:
        self.device = device
        self.baseline = baseline
        self.trim = trim
        self._cuda = device.startswith("cuda")
        self._nvml = nvml if nvml is not None else (Nvml() if self._cuda else None)
        self._sampler: _RssSampler | None = None
        self._energy0 = math.nan
        self._result: dict[str, float] = {}

    def __enter__(self) -> MemoryTracker:
        if self._cuda:
            import torch

            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        if self.trim:
            trim_heap()  # the RSS peak must start from live memory, not from what earlier calls freed
        if not _reset_hwm():
            self._sampler = _RssSampler()
            self._sampler.start()
        if self._nvml is not None:
            self._energy0 = self._nvml.energy_mj()
        return self

    def __exit__(self, *exc: object) -> None:
        nan = math.nan
        res: dict[str, float] = {"peak_allocated_bytes": nan, "peak_reserved_bytes": nan}
        if self._cuda:
            import torch

            torch.cuda.synchronize()
            res["peak_allocated_bytes"] = float(torch.cuda.max_memory_allocated())
            res["peak_reserved_bytes"] = float(torch.cuda.max_memory_reserved())
        if self._sampler is not None:
            res["peak_rss_bytes"] = float(self._sampler.stop())
        else:
            hwm = _read_hwm()
            res["peak_rss_bytes"] = float(hwm) if hwm is not None else nan
        now = process_memory()
        res["rss_anon_bytes"] = now["rss_anon_bytes"]
        res["rss_file_bytes"] = now["rss_file_bytes"]
        res["rss_library_increase_bytes"] = nan
        if self.baseline is not None:
            res["peak_rss_increase_bytes"] = res["peak_rss_bytes"] - self.baseline["rss_bytes"]
            res["rss_anon_increase_bytes"] = now["rss_anon_bytes"] - self.baseline["rss_anon_bytes"]
            if self.trim and not self._cuda and "rss_library_bytes" in self.baseline:
                # Shared-library pages faulted in since the baseline are not the config's (library_rss_bytes); they
                # stay mapped once in, so the count at the end bounds what the peak held of them.
                grown = library_rss_bytes() - self.baseline["rss_library_bytes"]
                if grown == grown:
                    res["rss_library_increase_bytes"] = grown
                    res["peak_rss_increase_bytes"] -= max(grown, 0.0)
        if self._nvml is not None:
            res["nvml_vram_bytes"] = self._nvml.process_vram_bytes()
            res["energy_j"] = (self._nvml.energy_mj() - self._energy0) / 1000.0
        else:
            res["nvml_vram_bytes"] = nan
            res["energy_j"] = nan
        self._result = res

    def result(self) -> dict[str, float]:
        return dict(self._result)


def model_bytes(model: Any) -> int:
    """Bytes of a torch module's parameters and buffers as stored (quantized weights count at their real size)."""
    total = 0
    for tensor in list(model.parameters()) + list(model.buffers()):
        total += tensor.numel() * tensor.element_size()
    return total


__all__ = [
    "MEMORY_COLUMNS",
    "ExactHeap",
    "MemoryTracker",
    "Nvml",
    "clean_device",
    "library_rss_bytes",
    "model_bytes",
    "process_memory",
    "trim_heap",
]
