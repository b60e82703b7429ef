"""The ``llm`` kind for the measurement loop: open a config (load, inputs), call ``generate``, finish (quality).

:class:`LLMMeasurer` is what :func:`blaze_lab.metrics.loop.run_configs` drives; the loop owns warm-up, the
interleaved order, the stop rule, failures and the frames. Here:

- **memory that belongs to the config**: before a config whose model is not loaded yet, every other cached model is
  evicted and the device cleaned (:func:`~blaze_lab.metrics.memory.clean_device`), then the pre-load baseline is
  taken, so ``peak_rss_increase_bytes`` / ``rss_anon_increase_bytes`` and CUDA peaks count this config's model only;
- **quality references keyed by what the reference is**: the reference model's content hash, its load-time config
  and the library versions (:func:`~blaze_lab.models.identity.model_identity`), so a rebuilt model recomputes it;
- **throughput as a ratio estimator**: ``tokens_per_s`` = total generated tokens / total measured seconds (with its
  Fieller CI); the mean of per-call rates stays available as ``tokens_per_s_call_mean``;
- configs whose fp32 twin is their own quality reference are measured first, so references come from them.

Example:
    >>> from blaze_lab.engines.llm import LLMConfig, LLMEngine
    >>> summary, raw = LLMEngine().benchmark([LLMConfig(model="random:tiny-llama", new_tokens=4)])  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any

from blaze_lab.config import stable_hash
from blaze_lab.engines.llm.config import LLMConfig
from blaze_lab.engines.llm.loading import LoadedLLM
from blaze_lab.engines.llm.quality import QualitySettings, compare
from blaze_lab.metrics.measurer import MetricSpec, Ratio
from blaze_lab.metrics.memory import MEMORY_COLUMNS, ExactHeap, clean_device, process_memory
from blaze_lab.metrics.roofline import decode_bytes_per_s, kv_cache_bytes, machine_bandwidth, roofline_fraction
from blaze_lab.metrics.stats import summarize
from blaze_lab.metrics.tokens import GenerationTimings, TokenTimer

if TYPE_CHECKING:
    from blaze_lab.engines.llm.engine import LLMEngine

# Sampled per call and summarized with CIs; latency_s is primary (warm-up stability, stop rule, n).
LLM_METRICS = MetricSpec(
    sampled=("latency_s", "ttft_s", "prefill_s", "decode_s", "tpot_s", "tokens_per_s_call", "requests_per_s_call"),
    primary="latency_s",
    peaks=MEMORY_COLUMNS,
    ratios=(Ratio("tokens_per_s", "tokens", "latency_s"), Ratio("requests_per_s", "requests", "latency_s")),
    totals=("energy_j",),
)


class LLMTrial:
    """One opened LLM config: the loaded model, its fixed batch of prompts and a token timer."""

    def __init__(self, measurer: LLMMeasurer, cfg: LLMConfig, loaded: LoadedLLM, columns: dict[str, Any]) -> None:
        self.measurer = measurer
        self.cfg = cfg
        self.loaded = loaded
        self.columns = columns
        self.batch = benchmark_batch(loaded, cfg)
        self.timer = TokenTimer(loaded.device, measurer.engine.clock)
        self.itl: list[float] = []
        self.memory: dict[str, Any] | None = None  # CPU: the memory probe's peaks (see call)

    def call(self, iteration: int) -> dict[str, Any]:
        if iteration >= 0 and self.memory is None and not self.loaded.device.startswith("cuda"):
            # CPU: the config's peaks come from one extra, untimed probe call under ExactHeap before its first
            # measured call — after warm-up, because first calls do one-time work (bitsandbytes repacks weights on
            # its first CPU forward: a first-call probe read nf4 batch 1 at 198–330 MB across fresh processes).
            probe = self._iteration(exact_heap=True)
            self.memory = {k: probe[k] for k in MEMORY_COLUMNS if k in probe}
        # The first warm-up call (discarded) runs under ExactHeap too: bitsandbytes repacks its weights there, and
        # where its temporaries land would otherwise decide the heap's fragmentation for the probe (see ExactHeap).
        with ExactHeap(active=iteration == -1 and not self.loaded.device.startswith("cuda")):
            row = self._iteration()
        gaps = row.pop("_itl")
        if iteration >= 0:
            self.itl.extend(gaps)
        return row

    def _iteration(self, exact_heap: bool = False) -> dict[str, Any]:
        # CPU calls other than the probe skip the heap trim: their peaks are not reported (the probe's are), and a
        # trimmed heap would make every timed call fault its temporaries in again.
        exact = exact_heap or self.loaded.device.startswith("cuda")
        with ExactHeap(active=exact_heap):
            row = self.measurer.engine.instrumented_iteration(
                self.loaded,
                self.cfg,
                self.batch,
                self.timer,
                baseline=self.measurer.baseline(self.cfg),
                exact_memory=exact,
            )
        if exact_heap:
            row.pop("_itl")
        return row

    def finish(self, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
        itl = summarize(self.itl)
        cols: dict[str, Any] = {f"itl_s_{k}": itl.get(k, math.nan) for k in ("mean", "p50", "p90", "p95", "p99")}
        cols["timer"] = "cuda_event" if self.loaded.device.startswith("cuda") else "perf_counter"
        decode = sorted(float(r["decode_s"]) for r in rows if r.get("decode_s") == r.get("decode_s"))
        cols.update(_roofline(self.cfg, self.loaded, decode[len(decode) // 2] if decode else math.nan))
        if self.memory is not None:
            cols.update(self.memory)  # CPU peaks: the probe's, not the timed calls' (their heap has history)
        if self.measurer.quality.enabled:
            cols.update(self.measurer.quality_columns(self.cfg, self.loaded))
        return cols


class LLMMeasurer:
    """The ``llm`` kind's "measure one config" for :func:`~blaze_lab.metrics.loop.run_configs`."""

    def __init__(
        self, engine: LLMEngine, configs: Sequence[LLMConfig], reference: LLMConfig | None, quality: QualitySettings
    ) -> None:
        self.engine = engine
        self.reference = reference
        self.quality = quality
        self._baselines: dict[Hashable, dict[str, float]] = {}
        self._configs_by_key: dict[Hashable, LLMConfig] = {}
        for cfg in configs:
            self._configs_by_key.setdefault(cfg.load_key(), cfg)

    def cluster(self, cfg: LLMConfig) -> Hashable:
        return cfg.load_key()

    def cluster_order(self, keys: list[Hashable]) -> list[Hashable]:
        # Clusters that are their own quality reference first: later clusters then find the reference stored.
        def own_reference(key: Hashable) -> bool:
            cfg = self._configs_by_key.get(key)
            return cfg is not None and (self.reference or cfg.default_reference()).load_key() == key

        return sorted(keys, key=lambda k: (not own_reference(k), stable_hash(list(k))))  # type: ignore[call-overload]

    def capability(self, cfg: LLMConfig) -> bool:
        return cfg.uses_capability()

    def baseline(self, cfg: LLMConfig) -> dict[str, float] | None:
        return self._baselines.get(cfg.load_key())

    def open(self, cfg: LLMConfig) -> LLMTrial:
        cache = self.engine.model_cache
        key = cfg.load_key()
        hit = key in cache
        if not hit:
            cache.keep_only(key)  # nothing of other configs may stay under this config's peaks
            prime_process(cfg)
            clean_device(cfg.resolved_device())
            self._baselines[key] = process_memory(libraries=True)
        # CPU: an untimed load under ExactHeap, so its freed temporaries do not fragment the heap the probe measures.
        with ExactHeap(active=not hit and not cfg.resolved_device().startswith("cuda")):
            loaded = self.engine.load(cfg)
        columns = {
            "device": loaded.device,
            "random_weights": loaded.random_weights,
            "weight_bytes": loaded.weight_bytes,
            "model_cache_hit": hit,
            "load_s": cache.load_seconds(key),
            **machine_bandwidth(loaded.device).columns(),
        }
        return LLMTrial(self, cfg, loaded, columns)

    def release(self, key: Hashable) -> None:
        """Nothing to do: the next cluster evicts this one's model before it loads (the explorer keeps it)."""

    def quality_columns(self, cfg: LLMConfig, loaded: LoadedLLM) -> dict[str, Any]:
        """KL / top-1 / greedy match against the reference config's stored outputs (computed once per identity)."""
        from blaze_lab.models import eval_text, resolve_model
        from blaze_lab.models.identity import model_identity

        engine = self.engine
        ref_cfg = self.reference or cfg.default_reference()
        outputs = engine.outputs_for(cfg, loaded, self.quality)
        ref_path = loaded.model_path if ref_cfg.model == cfg.model else resolve_model(ref_cfg.model, kind="llm").path
        identity = model_identity(ref_path, {**dict(ref_cfg.load_key()), "amp": ref_cfg.amp})
        key = engine.references.key(identity, self.quality, stable_hash(eval_text()))
        ref = engine.references.get(key)
        if ref is None:
            if ref_cfg.load_key() == cfg.load_key() and ref_cfg.amp == cfg.amp:
                ref = outputs
            else:
                held = ref_cfg.load_key() in engine.model_cache
                ref = engine.outputs_for(ref_cfg, engine.load(ref_cfg), self.quality)
                if not held:
                    # Loaded only for this: drop it, or the next configs' peaks would include a second model.
                    engine.model_cache.evict(ref_cfg.load_key())
            engine.references.put(key, ref)
        cols: dict[str, Any] = dict(compare(ref, outputs))
        cols["reference_config_hash"] = ref_cfg.config_hash()
        cols["reference_identity"] = identity
        return cols


_PRIMED: set[tuple[Any, ...]] = set()


def prime_process(cfg: LLMConfig) -> None:
    """Pay this process's one-time costs of ``cfg``'s settings before its memory baseline is taken.

    The first load of a setting in a process also imports its libraries (bitsandbytes, torchao, the model classes),
    starts thread pools and allocates kernel workspaces — 100–200 MB of RSS on CPU that stay for the life of the
    process. Charged to whichever config came first, they made the same config read 30% larger alone than after
    others in one process (README example). A tiny random Llama with the same load-time settings is loaded, called
    once and freed instead; the config's baseline then excludes those costs, alone or not.
    """
    key = tuple((k, v) for k, v in cfg.load_key() if k != "model")
    if key in _PRIMED:
        return
    _PRIMED.add(key)

    from blaze_lab.engines.llm.loading import load_llm

    with contextlib.suppress(Exception):  # priming is best effort: the real load reports any failure itself
        tiny = load_llm(cfg.replace(model="random:tiny-llama"))
        batch = tiny.tokenizer(["warm"], return_tensors="pt").to(tiny.device)
        import torch

        with torch.no_grad():
            tiny.model.generate(**batch, max_new_tokens=2, do_sample=False, pad_token_id=tiny.tokenizer.pad_token_id)
        del tiny, batch


def benchmark_batch(loaded: LoadedLLM, cfg: LLMConfig) -> Any:
    """``batch_size`` distinct prompts of exactly ``prompt_tokens`` tokens, cut from the bundled text."""
    import torch

    from blaze_lab.models import eval_text

    ids = loaded.tokenizer(eval_text(), return_tensors="pt", add_special_tokens=False)["input_ids"][0]
    if len(ids) < cfg.prompt_tokens + 1:
        reps = (cfg.prompt_tokens // max(1, len(ids))) + 2
        ids = ids.repeat(reps)
    span = len(ids) - cfg.prompt_tokens
    gen = torch.Generator().manual_seed(cfg.seed)
    starts = torch.randint(0, span, (cfg.batch_size,), generator=gen)
    input_ids = torch.stack([ids[s : s + cfg.prompt_tokens] for s in starts.tolist()])
    return {"input_ids": input_ids.to(loaded.device), "attention_mask": torch.ones_like(input_ids).to(loaded.device)}


def iteration_metrics(cfg: LLMConfig, t: GenerationTimings) -> dict[str, Any]:
    """One call's raw metrics (token and request counts kept for the ratio estimators)."""
    tokens = cfg.batch_size * t.output_tokens
    return {
        "latency_s": t.e2e_s,
        "ttft_s": t.ttft_s,
        "prefill_s": t.prefill_s,
        "decode_s": t.decode_s,
        "tpot_s": t.tpot_s,
        "output_tokens": t.output_tokens,
        "tokens": tokens,
        "requests": cfg.batch_size,
        "tokens_per_s_call": tokens / t.e2e_s if t.e2e_s > 0 else math.nan,
        "requests_per_s_call": cfg.batch_size / t.e2e_s if t.e2e_s > 0 else math.nan,
    }


def _roofline(cfg: LLMConfig, loaded: LoadedLLM, decode_s: float) -> dict[str, Any]:
    steps = cfg.new_tokens - 1
    if not decode_s or math.isnan(decode_s) or steps <= 0:
        return {"decode_bytes_per_s": math.nan, "roofline_fraction": math.nan}
    mean_seq = cfg.prompt_tokens + cfg.new_tokens / 2.0
    kv = kv_cache_bytes(
        loaded.num_layers, loaded.num_kv_heads, loaded.head_dim, mean_seq, cfg.batch_size, loaded.kv_element_size
    )
    achieved = decode_bytes_per_s(loaded.weight_bytes, kv, steps / decode_s)
    peak = machine_bandwidth(loaded.device).bytes_per_s
    return {"decode_bytes_per_s": achieved, "roofline_fraction": roofline_fraction(achieved, peak)}


def quality_memo_key(cfg: LLMConfig, settings: QualitySettings) -> tuple[Any, ...]:
    """Quality depends on load-time fields and AMP only: batch sizes and lengths share one computation."""
    return (cfg.load_key(), cfg.amp, dataclasses.astuple(settings))


__all__ = ["LLM_METRICS", "LLMMeasurer", "LLMTrial", "benchmark_batch", "iteration_metrics", "quality_memo_key"]
