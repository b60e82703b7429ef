"""Decode roofline: how close decoding gets to the device's memory bandwidth.

Decoding one token per sequence reads every weight once (plus the KV cache), so its ceiling is
``peak_bandwidth / bytes_per_step``. We measure the peak once per process with a large device-to-device copy
(bytes read + bytes written over the median copy time) rather than trusting a datasheet.

Example:
    >>> achieved = decode_bytes_per_s(weight_bytes=1e9, kv_bytes=0.0, steps_per_s=100.0)
    >>> achieved
    100000000000.0
    >>> round(roofline_fraction(achieved, peak_bytes_per_s=4e11), 2)
    0.25
"""

from __future__ import annotations

import functools
import math
import statistics

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


@functools.cache
def peak_bandwidth(device: str = "cpu", size_bytes: int | None = None, repeats: int = 5) -> float:
    """Measured copy bandwidth of ``device`` in bytes/s (read + write), cached per process."""
    return _measure_copy(device, size_bytes, repeats, RealClock())


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
    return moved / statistics.median(times)


__all__ = ["decode_bytes_per_s", "kv_cache_bytes", "peak_bandwidth", "roofline_fraction"]
