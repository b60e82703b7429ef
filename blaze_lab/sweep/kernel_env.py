"""The environment a sweep's kernels start with: thread settings that do not collapse on a shared machine.

torch's CPU kernels run on OpenMP threads, one per core by default, which *spin* at every barrier waiting for their
siblings (``OMP_WAIT_POLICY=ACTIVE`` behaviour). When another process competes for the cores, a sibling is
descheduled and every barrier waits a whole scheduler slice: on the 2-core machine a batch-4 SmolLM2 ``generate`` took
> 30 s beside other work against ≈ 5 s with ``OMP_WAIT_POLICY=PASSIVE`` or 1 thread (benchmarks/thread_contention.py,
numbers in docs/benchmarks.md). So a sweep's kernels start with ``OMP_WAIT_POLICY=PASSIVE`` (threads sleep instead
of spinning; all cores still used) unless the user set it; every row records the policy and thread counts
(``env.omp_wait_policy``, ``env.torch_threads``), so a user who wants spinning threads sets
``OMP_WAIT_POLICY=ACTIVE`` and the rows say so.

Example:
    >>> import os
    >>> with kernel_environment({"BLAZE_LAB_DOCTEST_VAR": "1"}):
    ...     os.environ["BLAZE_LAB_DOCTEST_VAR"]
    '1'
    >>> "BLAZE_LAB_DOCTEST_VAR" in os.environ
    False
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping

THREAD_DEFAULTS: Mapping[str, str] = {"OMP_WAIT_POLICY": "PASSIVE"}


@contextlib.contextmanager
def kernel_environment(defaults: Mapping[str, str] = THREAD_DEFAULTS) -> Iterator[None]:
    """Set each of ``defaults`` the user has not set, for the kernels started inside; restore on exit."""
    added = [key for key in defaults if key not in os.environ]
    for key in added:
        os.environ[key] = defaults[key]
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)


__all__ = ["THREAD_DEFAULTS", "kernel_environment"]
