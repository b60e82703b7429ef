"""An executor for the resume/rerun tests that measures the fake kind in this process (no kernel start, so a test of
the driver's bookkeeping takes milliseconds). It writes what the fake notebook writes, plus a validity flag:
``flavor: b`` rows are ok but flagged ``valid=False`` with n=1 (an n=1 measurement), ``mode: oom`` fails as out of
memory and ``mode: raise`` as an error. Each execution is logged in ``executions`` (group, run ids), and every row's
``value_s_mean`` is the execution's number (1, 2, ...) so a test sees which execution produced a row.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Sequence

import pandas as pd

from blaze_lab.sweep.executor import GroupOutput, GroupTask


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


class InProcessExecutor:
    name = "inprocess"

    def __init__(self, address: str | None = None, interrupt_at: int | None = None, first: int = 1) -> None:
        self.executions: list[tuple[str, list[str]]] = []
        self.interrupt_at = interrupt_at  # raise KeyboardInterrupt when starting this execution (1-based)
        self.first = first  # the number of this executor's first execution

    def check(self, tasks: Sequence[GroupTask]) -> None:
        pass

    def run(
        self, tasks: Sequence[GroupTask], on_start: Callable[[GroupTask], None] | None = None
    ) -> Iterator[GroupOutput]:
        for task in tasks:
            if on_start is not None:
                on_start(task)
            if self.interrupt_at is not None and len(self.executions) + 1 == self.interrupt_at:
                raise KeyboardInterrupt  # Ctrl-C while this group is being measured
            yield self._execute(task)

    def _execute(self, task: GroupTask) -> GroupOutput:
        runs = list(task.parameters["runs"])
        self.executions.append((task.group, [r["run_id"] for r in runs]))
        mode = runs[0]["config"]["mode"]
        if mode in ("raise", "oom"):
            error = "RuntimeError: CUDA out of memory" if mode == "oom" else "RuntimeError: boom"
            return GroupOutput(task.group, None, None, None, error)
        number = float(self.first - 1 + len(self.executions))
        rows = []
        for r in runs:
            flagged = r["config"]["flavor"] == "b"
            rows.append(
                {"run_id": r["run_id"], "sweep": task.sweep, "group": task.group, "engine": "fake",
                 **{f"fake.{k}": v for k, v in r["config"].items()}, "status": "ok", "error": "",
                 "value_s_mean": number, "n": 1 if flagged else 10, "valid": not flagged,
                 "validity_reason": "n=1: too few samples for a CI" if flagged else ""}
            )  # fmt: skip
        raw = [{"run_id": r["run_id"], "iteration": i, "value_s": number} for r in runs for i in range(2)]
        return GroupOutput(task.group, _parquet(pd.DataFrame(rows)), _parquet(pd.DataFrame(raw)), None)
