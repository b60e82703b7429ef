"""Service-level objectives and goodput.

Goodput (docs/metrics.md): requests that succeeded *and* met every SLO, per second of the measured window.
An SLO left as None is not checked; a column the frame lacks fails the SLO only if that SLO is set.

Example:
    >>> import pandas as pd
    >>> df = pd.DataFrame({"latency_s": [0.1, 0.3, 0.2], "outcome": ["ok", "ok", "error"]})
    >>> SLO(e2e_s=0.25).meets(df).tolist()
    [True, False, False]
    >>> goodput(df, SLO(e2e_s=0.25), duration_s=2.0)["goodput_rps"]
    0.5
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd

from blaze_lab.config import BaseConfig, check_number


@dataclasses.dataclass(frozen=True)
class SLO(BaseConfig):
    """Per-request objectives (seconds); None = not checked.

    Attributes:
        ttft_s: time to first token (column ``ttft_s``).
        tpot_s: time per output token (column ``tpot_s``).
        e2e_s: end-to-end latency (column ``latency_s``).
    """

    PREFIX = "slo"
    ttft_s: float | None = None
    tpot_s: float | None = None
    e2e_s: float | None = None

    def validate(self) -> None:
        for name in ("ttft_s", "tpot_s", "e2e_s"):
            if getattr(self, name) is not None:
                check_number(self, name, minimum=0.0, strict_min=True)

    def meets(self, df: pd.DataFrame) -> pd.Series:
        """Boolean per row: succeeded (``outcome == "ok"`` when present) and within every set SLO."""
        ok = df["outcome"].eq("ok") if "outcome" in df.columns else pd.Series(True, index=df.index)
        for name, column in (("ttft_s", "ttft_s"), ("tpot_s", "tpot_s"), ("e2e_s", "latency_s")):
            limit = getattr(self, name)
            if limit is None:
                continue
            if column not in df.columns:
                return pd.Series(False, index=df.index)
            ok &= df[column].le(limit).fillna(False).astype(bool)
        return ok


def goodput(df: pd.DataFrame, slo: SLO, duration_s: float) -> dict[str, Any]:
    """``goodput_rps`` (SLO-meeting requests / s), ``slo_attainment`` (fraction of all requests) and counts."""
    meets = slo.meets(df)
    n = len(df)
    good = int(meets.sum())
    return {
        "goodput_rps": good / duration_s if duration_s > 0 else float("nan"),
        "slo_attainment": good / n if n else float("nan"),
        "slo_met": good,
    }


__all__ = ["SLO", "goodput"]
