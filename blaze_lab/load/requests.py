"""Requests and workloads: length distributions, a seeded workload generator and trace replay.

A :class:`Request` carries what routers and batchers need: an id, its arrival time, prompt and output lengths
in tokens, an integer session key (affinity) and, for shared-prefix workloads, the chained hashes of its prompt's
KV blocks (:func:`blaze_lab.load.prefix.block_hashes`: what prefix-aware routing and replica caches match on).
:class:`WorkloadConfig` describes a synthetic workload; :func:`workload_arrays` draws it as numpy columns (cheap for
a million requests) and :func:`iter_requests` turns columns into requests lazily. :func:`replay_trace` reads a
recorded trace (frame or parquet/CSV path).

Example:
    >>> w = WorkloadConfig(n_requests=3, rate=10.0, arrival="constant", prompt_dist="fixed", prompt_mean=8)
    >>> [(r.id, round(r.arrival_s, 2), r.prompt_tokens) for r in iter_requests(workload_arrays(w))]
    [(0, 0.1, 8), (1, 0.2, 8), (2, 0.3, 8)]
"""

from __future__ import annotations

import dataclasses
import math
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from blaze_lab.config import BaseConfig, check_choice, check_int, check_number
from blaze_lab.errors import ConfigError
from blaze_lab.load.arrivals import ARRIVAL_KINDS, arrival_times

LENGTH_DISTS = ("fixed", "uniform", "lognormal")


class Request:
    """One request of a workload."""

    __slots__ = ("arrival_s", "blocks", "id", "output_tokens", "prompt_tokens", "session")

    def __init__(self, id: int, arrival_s: float = 0.0, prompt_tokens: int = 0, output_tokens: int = 0,
                 session: int = 0, blocks: tuple[int, ...] = ()) -> None:
        self.id = id
        self.arrival_s = arrival_s
        self.prompt_tokens = prompt_tokens
        self.output_tokens = output_tokens
        self.session = session
        self.blocks = blocks

    def __repr__(self) -> str:
        return (f"Request(id={self.id}, arrival_s={self.arrival_s:.4f}, prompt_tokens={self.prompt_tokens}, "
                f"output_tokens={self.output_tokens}, session={self.session})")


def sample_lengths(dist: str, mean: float, n: int, rng: np.random.Generator, cv: float = 0.5,
                   low: int = 1, high: int | None = None) -> np.ndarray:
    """``n`` token lengths (ints >= ``low``) from a fixed, uniform (mean ± mean·cv·√3) or lognormal distribution."""
    if dist not in LENGTH_DISTS:
        raise ConfigError("load.length_dist", dist, allowed=LENGTH_DISTS)
    if dist == "fixed":
        values = np.full(n, mean)
    elif dist == "uniform":
        half = mean * cv * math.sqrt(3.0)  # uniform on [a, b] has std (b - a) / sqrt(12)
        values = rng.uniform(mean - half, mean + half, n)
    else:
        sigma2 = math.log(1.0 + cv * cv)
        values = rng.lognormal(math.log(mean) - sigma2 / 2.0, math.sqrt(sigma2), n)
    out = np.maximum(np.rint(values), low).astype(np.int64)
    return np.minimum(out, high) if high is not None else out


@dataclasses.dataclass(frozen=True)
class WorkloadConfig(BaseConfig):
    """A synthetic open-loop workload.

    Attributes:
        n_requests: number of requests.
        rate: mean arrivals per second.
        arrival: "poisson", "gamma" or "constant".
        burstiness_cv: inter-arrival coefficient of variation for gamma arrivals.
        prompt_dist, prompt_mean, prompt_cv: prompt length distribution (tokens).
        output_dist, output_mean, output_cv: output length distribution (tokens).
        max_tokens: upper bound for both lengths.
        sessions: number of distinct session keys (uniformly assigned).
        seed: seeds every draw (arrivals, lengths, sessions use independent streams).
    """

    PREFIX = "load"
    n_requests: int = 1000
    rate: float = 10.0
    arrival: str = "poisson"
    burstiness_cv: float = 1.0
    prompt_dist: str = "lognormal"
    prompt_mean: float = 128.0
    prompt_cv: float = 0.5
    output_dist: str = "lognormal"
    output_mean: float = 64.0
    output_cv: float = 0.5
    max_tokens: int = 4096
    sessions: int = 100
    seed: int = 0

    def validate(self) -> None:
        check_int(self, "n_requests", minimum=0)
        check_number(self, "rate", minimum=0.0, strict_min=True)
        check_choice(self, "arrival", ARRIVAL_KINDS)
        check_number(self, "burstiness_cv", minimum=0.0, strict_min=True)
        check_choice(self, "prompt_dist", LENGTH_DISTS)
        check_choice(self, "output_dist", LENGTH_DISTS)
        check_number(self, "prompt_mean", minimum=1.0)
        check_number(self, "output_mean", minimum=1.0)
        check_number(self, "prompt_cv", minimum=0.0)
        check_number(self, "output_cv", minimum=0.0)
        check_int(self, "max_tokens", minimum=1)
        check_int(self, "sessions", minimum=1)
        check_int(self, "seed", minimum=0)


def workload_arrays(cfg: WorkloadConfig) -> dict[str, np.ndarray]:
    """The workload as columns ``id, arrival_s, prompt_tokens, output_tokens, session``."""
    n = cfg.n_requests
    rngs = [np.random.default_rng([cfg.seed, stream]) for stream in range(3)]
    return {
        "id": np.arange(n, dtype=np.int64),
        "arrival_s": arrival_times(cfg.arrival, cfg.rate, n, cfg.burstiness_cv, seed=cfg.seed),
        "prompt_tokens": sample_lengths(cfg.prompt_dist, cfg.prompt_mean, n, rngs[0], cfg.prompt_cv,
                                        high=cfg.max_tokens),
        "output_tokens": sample_lengths(cfg.output_dist, cfg.output_mean, n, rngs[1], cfg.output_cv,
                                        high=cfg.max_tokens),
        "session": rngs[2].integers(0, cfg.sessions, n, dtype=np.int64),
    }


def iter_requests(columns: dict[str, np.ndarray]) -> Iterator[Request]:
    """Requests from columns, created lazily (a million Request objects never exist at once); an optional
    ``blocks`` column holds each request's block hashes."""
    blocks = columns["blocks"].tolist() if "blocks" in columns else [()] * len(columns["id"])
    for rid, t, p, o, s, b in zip(
        columns["id"].tolist(), columns["arrival_s"].tolist(), columns["prompt_tokens"].tolist(),
        columns["output_tokens"].tolist(), columns["session"].tolist(), blocks, strict=True,
    ):
        yield Request(rid, t, p, o, s, b)


def session_key(value: object) -> int:
    """Stable integer key of a session/client id (crc32 of its text; ints are kept)."""
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return int(value)
    return zlib.crc32(str(value).encode())


def replay_trace(trace: pd.DataFrame | str | Path) -> dict[str, np.ndarray]:
    """Columns of a recorded trace: needs ``arrival_s``; optional prompt/output tokens and session (any type).

    Arrival times are shifted to start at the first arrival and sorted; ids are re-numbered in arrival order.
    """
    if not isinstance(trace, pd.DataFrame):
        path = Path(trace)
        if not path.exists():
            raise ConfigError("load.trace", str(path), reason="file not found")
        trace = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    if "arrival_s" not in trace.columns:
        raise ConfigError("load.trace", list(trace.columns), reason="trace needs an 'arrival_s' column")
    df = trace.sort_values("arrival_s", kind="stable").reset_index(drop=True)
    n = len(df)
    t = df["arrival_s"].to_numpy(dtype=float)
    return {
        "id": np.arange(n, dtype=np.int64),
        "arrival_s": t - (t[0] if n else 0.0),
        "prompt_tokens": df.get("prompt_tokens", pd.Series(np.zeros(n))).to_numpy(dtype=np.int64),
        "output_tokens": df.get("output_tokens", pd.Series(np.zeros(n))).to_numpy(dtype=np.int64),
        "session": np.array([session_key(v) for v in df["session"]], dtype=np.int64)
        if "session" in df.columns else np.zeros(n, dtype=np.int64),
    }


__all__ = ["LENGTH_DISTS", "Request", "WorkloadConfig", "iter_requests", "replay_trace", "sample_lengths",
           "session_key", "workload_arrays"]
