"""The environment a sweep's kernels start with: thread settings that do not collapse on a shared machine.

torch's CPU kernels run on OpenMP threads, one per core by default, which *spin* at every barrier waiting for their
siblings. When another process competes for the cores, a sibling is descheduled and every barrier waits a whole
scheduler slice. Measured on a 2-core machine (benchmarks/thread_contention.py, docs/benchmarks.md), one batch-4
SmolLM2 ``generate``:

============================  =============  ================================
setting                       quiet machine  beside other work (load 8-9)
============================  =============  ================================
2 threads (torch default)     1.3-1.5 s      > 30 s (5 calls did not end in 150 s)
2 threads, PASSIVE waiting    2.1-2.2 s      4.8-6.4 s
1 thread                      1.5-1.6 s      4.2-4.6 s
============================  =============  ================================

So a sweep's kernels start with ``OMP_NUM_THREADS`` = the usable cores minus one (at least 1) unless the user set
it: one core stays free for whatever else runs, which is what keeps a spinning barrier from stalling, at a small
cost on a quiet machine (+10-18% here, where "minus one" is half the cores; less on larger machines). Every row
records ``env.omp_num_threads`` and ``env.torch_threads``; set ``OMP_NUM_THREADS`` yourself to measure another
setting.

Example:
    >>> import os
    >>> with kernel_environment({"BLAZE_LAB_DOCTEST_VAR": "1"}):
    ...     os.environ["BLAZE_LAB_DOCTEST_VAR"]
    '1'
    >>> "BLAZE_LAB_DOCTEST_VAR" in os.environ
    False
    >>> int(thread_defaults()["OMP_NUM_THREADS"]) >= 1
    True
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity, which containers narrow), else ``os.cpu_count()``."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def thread_defaults() -> dict[str, str]:
    """``OMP_NUM_THREADS`` = usable cores − 1, at least 1 (see the module docstring for the measurements)."""
    return {"OMP_NUM_THREADS": str(max(1, usable_cores() - 1))}


@contextlib.contextmanager
def kernel_environment(defaults: Mapping[str, str] | None = None) -> Iterator[None]:
    """Set each of ``defaults`` (:func:`thread_defaults`) the user has not set, for the kernels started inside."""
    defaults = thread_defaults() if defaults is None else defaults
    added = [key for key in defaults if key not in os.environ]
    for key in added:
        os.environ[key] = defaults[key]
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)


__all__ = ["kernel_environment", "thread_defaults", "usable_cores"]
