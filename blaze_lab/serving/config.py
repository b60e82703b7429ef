"""``ServingConfig``: one serving measurement — batching mode, batcher limits, open-loop load, SLOs, result cache.

Imports nothing heavy (no torch), so validating a sweep spec of kind ``serving`` stays cheap.

Example:
    >>> cfg = ServingConfig(batching="dynamic", max_batch_size=8, max_wait_ms=5.0, rate_rps=4.0)
    >>> cfg.flat()["serving.batching"], cfg.slo().ttft_s is None
    ('dynamic', True)
    >>> ServingConfig(batching="paged")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    blaze_lab.errors.ConfigError: serving.batching: invalid value 'paged'; allowed: none, dynamic, continuous
    >>> ServingConfig(max_batch_size=0)
    Traceback (most recent call last):
    ...
    blaze_lab.errors.ConfigError: serving.max_batch_size: invalid value 0; must be >= 1
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import ClassVar

from blaze_lab.config import BaseConfig, check_choice, check_int, check_number, check_type, check_url
from blaze_lab.engines.llm.config import DEVICES, DTYPES
from blaze_lab.errors import ConfigError
from blaze_lab.load.arrivals import ARRIVAL_KINDS
from blaze_lab.load.slo import SLO
from blaze_lab.secrets import Secret

BATCHING_MODES = ("none", "dynamic", "continuous")
"""``none``: one request per generate call; ``dynamic``: Triton-style batches (size or max wait);
``continuous``: transformers' continuous-batching manager (requests join and leave between decode steps)."""

CACHE_TIERS = ("memory", "disk", "redis")

SCHEDULES = ("fixed", "saturation")
"""``fixed``: one open-loop run at ``rate_rps``; ``saturation``: the schedule of :mod:`blaze_lab.load.saturation`."""


@dataclasses.dataclass(frozen=True)
class ServingConfig(BaseConfig):
    """One serving setting (``serving.*`` columns).

    Load-time fields: ``model, device, dtype``; everything else is run-time (one model load per group).

    Attributes:
        model: model spec (as in ``LLMConfig``): ``random:tiny-llama``, ``smollm2-135m``, a local dir ...
        device: ``auto``, ``cpu`` or ``cuda``.
        dtype: weight dtype: fp32, fp16 or bf16.
        batching: ``none`` | ``dynamic`` | ``continuous``.
        max_batch_size: most requests in one batch (dynamic) or running at once (continuous).
        max_wait_ms: dynamic batching: longest the oldest queued request waits for the batch to fill.
        max_queue: requests allowed to wait; one more is refused with ``Overloaded`` (a ``rejected`` row).
        bucket: dynamic batching: prompt-length bucket width in tokens (a batch holds one bucket); 0 = off.
        arrival: open-loop arrival process: ``poisson``, ``gamma`` or ``constant``.
        rate_rps: mean arrival rate (requests per second).
        burstiness: coefficient of variation of gamma inter-arrival gaps (> 1 bursty, < 1 smooth).
        n_requests: requests sent per measurement.
        prompt_tokens: tokens per prompt (cut from the bundled text, distinct per request).
        new_tokens: tokens generated per request (greedy).
        slo_ttft_s, slo_tpot_s, slo_e2e_s: per-request objectives for goodput; None = not checked.
        cache_tiers: result-cache tiers in front of the batcher (any of memory, disk, redis); empty = no cache.
        redis_url: the Redis server of the ``redis`` tier (only this address is contacted). A secret: with a
            password, give ``{env: NAME}`` in specs (a literal one is refused); it is written down redacted.
        prompt_pool: 0 = every request has its own prompt; N > 0 = prompts drawn from N with Zipf popularity
            (repeats are what a result cache can answer).
        zipf_s: Zipf exponent of the prompt popularity (with ``prompt_pool``, or of the prefix groups).
        prefix_groups: 0 = off; N > 0 = every prompt starts with one of N shared prefixes of ``prompt_tokens``
            tokens (Zipf(``zipf_s``) popularity) followed by its own ``suffix_tokens`` tokens
            (:mod:`blaze_lab.load.prefix`; excludes ``prompt_pool``).
        suffix_tokens: each request's own tokens after its shared prefix (with ``prefix_groups``).
        prefix_reuse: reuse the KV of the longest leading run a prompt shares with earlier prompts (automatic prefix
            caching, :mod:`blaze_lab.serving.prefix_runner`); one request at a time only (``batching: none``).
        seed: seeds arrivals, prompt choice and popularity.
        schedule: ``fixed`` (one run at ``rate_rps``) or ``saturation`` (a synchronous probe, a max-throughput
            probe, then ``saturation_steps`` rates up to ``saturation_overshoot`` x the max-throughput rate, each
            stopped early when over-saturated; ``rate_rps`` is then unused; :mod:`blaze_lab.load.saturation`).
        saturation_steps: rates measured above the synchronous rate, up to the top of the schedule.
        saturation_overshoot: the top rate as a multiple of the max-throughput rate (1.5: the top steps are
            over-saturated by construction, so the detector has something to find).
        saturation_step_s: each rate step sends about rate x this many seconds of arrivals (at least
            ``n_requests``); 0 = ``n_requests`` arrivals per step. Long enough for a growing queue to show.
        saturation_window_s: the over-saturation detector's shortest window (at least 40 mean arrival gaps and
            5 x the synchronous latency are used).
        slo_target: SLO attainment the max rate meeting the SLO must keep (saturation schedule).
    """

    PREFIX = "serving"
    LOAD_FIELDS = ("model", "device", "dtype")
    SECRET_FIELDS: ClassVar[Mapping[str, str]] = {"redis_url": "url"}

    model: str = "random:tiny-llama"
    device: str = "auto"
    dtype: str = "fp32"
    batching: str = "dynamic"
    max_batch_size: int = 8
    max_wait_ms: float = 5.0
    max_queue: int = 1024
    bucket: int = 0
    arrival: str = "poisson"
    rate_rps: float = 4.0
    burstiness: float = 1.0
    n_requests: int = 16
    prompt_tokens: int = 32
    new_tokens: int = 16
    slo_ttft_s: float | None = None
    slo_tpot_s: float | None = None
    slo_e2e_s: float | None = None
    cache_tiers: tuple[str, ...] = ()
    redis_url: Secret | str = "redis://127.0.0.1:6379/0"
    prompt_pool: int = 0
    zipf_s: float = 1.1
    prefix_groups: int = 0
    suffix_tokens: int = 16
    prefix_reuse: bool = False
    seed: int = 0
    schedule: str = "fixed"
    saturation_steps: int = 4
    saturation_overshoot: float = 1.5
    saturation_step_s: float = 0.0
    saturation_window_s: float = 2.0
    slo_target: float = 0.9

    def validate(self) -> None:
        check_type(self, "model", str)
        if not self.model.strip():
            raise ConfigError(self.field_name("model"), self.model, reason="must name a model")
        check_choice(self, "device", DEVICES)
        check_choice(self, "dtype", DTYPES)
        check_choice(self, "batching", BATCHING_MODES)
        check_int(self, "max_batch_size", minimum=1, maximum=4096)
        check_number(self, "max_wait_ms", minimum=0.0)
        check_int(self, "max_queue", minimum=1)
        check_int(self, "bucket", minimum=0)
        check_choice(self, "arrival", ARRIVAL_KINDS)
        check_number(self, "rate_rps", minimum=0.0, strict_min=True)
        check_number(self, "burstiness", minimum=0.0, strict_min=True)
        check_int(self, "n_requests", minimum=1)
        check_int(self, "prompt_tokens", minimum=1)
        check_int(self, "new_tokens", minimum=1)
        for name in ("slo_ttft_s", "slo_tpot_s", "slo_e2e_s"):
            if getattr(self, name) is not None:
                check_number(self, name, minimum=0.0, strict_min=True)
        if not isinstance(self.cache_tiers, tuple):
            raise ConfigError(self.field_name("cache_tiers"), self.cache_tiers, reason="must be a list of tiers")
        for tier in self.cache_tiers:
            if tier not in CACHE_TIERS:
                raise ConfigError(self.field_name("cache_tiers"), tier, allowed=CACHE_TIERS)
        if len(set(self.cache_tiers)) != len(self.cache_tiers):
            raise ConfigError(self.field_name("cache_tiers"), list(self.cache_tiers), reason="a tier is listed twice")
        check_url(self, "redis_url", ("redis://", "rediss://", "unix://"))
        check_int(self, "prompt_pool", minimum=0)
        check_number(self, "zipf_s", minimum=0.0)
        check_int(self, "prefix_groups", minimum=0)
        check_int(self, "suffix_tokens", minimum=1)
        check_type(self, "prefix_reuse", bool)
        if self.prefix_reuse and self.batching != "none":
            raise ConfigError(self.field_name("prefix_reuse"), self.prefix_reuse,
                              reason=f"needs batching: none (got {self.batching!r}); padded batches do not reuse KV")
        if self.prefix_groups and self.prompt_pool:
            raise ConfigError(self.field_name("prefix_groups"), self.prefix_groups,
                              reason="set prefix_groups or prompt_pool, not both")
        check_int(self, "seed", minimum=0)
        check_choice(self, "schedule", SCHEDULES)
        check_int(self, "saturation_steps", minimum=0, maximum=32)
        check_number(self, "saturation_window_s", minimum=0.0, strict_min=True)
        check_number(self, "saturation_overshoot", minimum=0.0, strict_min=True)
        check_number(self, "saturation_step_s", minimum=0.0)
        check_number(self, "slo_target", minimum=0.0, maximum=1.0, strict_min=True)
        if self.schedule == "saturation" and self.cache_tiers:
            raise ConfigError(self.field_name("schedule"), self.schedule,
                              reason="the saturation schedule runs without a result cache (cache_tiers: [])")

    def slo(self) -> SLO:
        """The per-request objectives as a :class:`~blaze_lab.load.slo.SLO`."""
        return SLO(ttft_s=self.slo_ttft_s, tpot_s=self.slo_tpot_s, e2e_s=self.slo_e2e_s)

    def effective_batch_size(self) -> int:
        """``none`` serves one request at a time whatever ``max_batch_size`` says."""
        return 1 if self.batching == "none" else self.max_batch_size


__all__ = ["BATCHING_MODES", "CACHE_TIERS", "SCHEDULES", "ServingConfig"]
