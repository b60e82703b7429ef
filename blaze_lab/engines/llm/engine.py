"""The measured LLM engine: generate, stream, perplexity, and ``benchmark(configs) -> DataFrame``.

``LLMEngine.benchmark`` measures each config with the shared measurement loop (warm-up, minimum iterations and
duration, optional CI stop rule), per-token timers (TTFT, prefill, decode, TPOT, ITL measured directly), memory
(peak allocated/reserved on CUDA, peak RSS, NVML VRAM), the decode roofline, and quality against a reference
config. Models come from a :class:`~blaze_lab.cache.models.ModelCache`, so configs that differ only in run-time
fields share one load. A config the device cannot run becomes a ``status="unsupported"`` row with the library's
reason; out-of-memory becomes ``oom``; anything else ``error`` — never an exception out of ``benchmark``.

Example (the README has the SmolLM2 version):
    >>> from blaze_lab.engines.llm import LLMEngine, LLMConfig
    >>> from blaze_lab.metrics import MeasureSettings
    >>> configs = [LLMConfig(model="random:tiny-llama", batch_size=b, new_tokens=8) for b in (1, 4)]
    >>> summary = LLMEngine().benchmark(configs, measure=MeasureSettings(warmup=1, min_iters=3))  # doctest: +SKIP
    >>> summary[["llm.batch_size", "tokens_per_s_mean", "tokens_per_s_ci_low", "status"]]         # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import queue
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import pandas as pd

from blaze_lab.cache.models import ModelCache
from blaze_lab.clock import Clock, RealClock
from blaze_lab.config import stable_hash
from blaze_lab.engines.base import CachedModelEngine, EngineStatus, classify_failure
from blaze_lab.engines.llm.config import LLMConfig
from blaze_lab.engines.llm.loading import LoadedLLM, load_llm, torch_dtype
from blaze_lab.engines.llm.quality import QualityOutputs, QualitySettings, ReferenceStore, compare, compute_outputs
from blaze_lab.env import fingerprint
from blaze_lab.errors import EngineUnavailable, ModelLoadError, UnsupportedError
from blaze_lab.metrics.memory import MemoryTracker
from blaze_lab.metrics.recorder import order_columns, summarize_frame
from blaze_lab.metrics.roofline import decode_bytes_per_s, kv_cache_bytes, peak_bandwidth, roofline_fraction
from blaze_lab.metrics.stats import summarize
from blaze_lab.metrics.timing import MeasureSettings, measure
from blaze_lab.metrics.tokens import GenerationTimings, TokenTimer

# Sampled per iteration and summarized with CIs; tokens_per_s is primary (it decides n / valid).
SAMPLED_METRICS = (
    "tokens_per_s",
    "latency_s",
    "ttft_s",
    "prefill_s",
    "decode_s",
    "tpot_s",
    "requests_per_s",
)
PEAK_METRICS = ("peak_allocated_bytes", "peak_reserved_bytes", "peak_rss_bytes", "nvml_vram_bytes")

# One process-wide model cache: a notebook kernel measures a whole load-time group with one load.
DEFAULT_MODEL_CACHE = ModelCache(budget_bytes=None)


@dataclasses.dataclass(frozen=True)
class GenerationResult:
    """Texts and token ids of one generate call, with its timings."""

    texts: list[str]
    token_ids: list[list[int]]
    timings: GenerationTimings


@dataclasses.dataclass(frozen=True)
class StreamChunk:
    """A piece of streamed text and when it became available (seconds since submit)."""

    text: str
    t_s: float


def _autocast(loaded_device: str, amp: str) -> Callable[[], contextlib.AbstractContextManager[Any]]:
    if amp == "off":
        return contextlib.nullcontext
    import torch

    device_type = "cuda" if loaded_device.startswith("cuda") else "cpu"
    return lambda: torch.autocast(device_type=device_type, dtype=torch_dtype(amp))


class _TimerProcessor:
    """Adapts TokenTimer's logits hook to transformers' LogitsProcessor base (generate type-checks the list)."""

    def __new__(cls, timer: TokenTimer) -> Any:
        from transformers import LogitsProcessor

        class _Proc(LogitsProcessor):
            def __call__(self, input_ids: Any, scores: Any) -> Any:
                return timer(input_ids, scores)

        return _Proc()


class LLMEngine(CachedModelEngine):
    """An instrumented transformers causal LM.

    ``LLMEngine(config)`` binds a default config for ``generate``/``stream``/``perplexity``; ``benchmark`` takes
    its own list of configs. Status follows :class:`EngineStatus`.
    """

    def __init__(
        self,
        config: LLMConfig | None = None,
        *,
        model_cache: ModelCache | None = None,
        clock: Clock | None = None,
        references: ReferenceStore | None = None,
    ) -> None:
        self.config = config or LLMConfig()
        self.model_cache = model_cache if model_cache is not None else DEFAULT_MODEL_CACHE
        self.clock = clock or RealClock()
        self.references = references or ReferenceStore()
        self._init_lifecycle()
        self.last_raw: pd.DataFrame = pd.DataFrame()
        self._quality_memo: dict[tuple[Any, ...], QualityOutputs] = {}

    # -- lifecycle (status, health, load, close: CachedModelEngine) ----------------------------------------------
    def _load_uncached(self, config: LLMConfig) -> tuple[LoadedLLM, int]:
        return _load_with_size(config)

    def load(self, config: LLMConfig | None = None) -> LoadedLLM:
        """Load (or fetch from the model cache) the model for ``config``; raises on failure."""
        return super().load(config)  # type: ignore[no-any-return]

    def _ready(self) -> LoadedLLM:
        if self._status in (EngineStatus.STOPPED, EngineStatus.FAILED):
            raise EngineUnavailable(f"engine is {self._status.value}")
        return self.load()

    # -- generation ----------------------------------------------------------------------------------------------
    def generate(self, prompts: Sequence[str], max_new_tokens: int | None = None) -> GenerationResult:
        """Batched generation (left padding) with per-token timings.

        >>> engine = LLMEngine(LLMConfig(model="random:tiny-llama", device="cpu"))  # doctest: +SKIP
        >>> engine.generate(["Hello"], 4).texts  # doctest: +SKIP
        """
        loaded = self._ready()
        cfg = self.config
        timer = TokenTimer(loaded.device, self.clock)
        timer.start()
        batch = loaded.tokenizer(list(prompts), return_tensors="pt", padding=True).to(loaded.device)
        out = self._generate(loaded, cfg, batch, max_new_tokens or cfg.new_tokens, timer, exact=False)
        new = out[:, batch["input_ids"].shape[1] :]
        texts = loaded.tokenizer.batch_decode(new, skip_special_tokens=True)
        return GenerationResult(texts=texts, token_ids=new.tolist(), timings=timer.timings())

    def stream(self, prompt: str, max_new_tokens: int | None = None) -> Iterator[StreamChunk]:
        """Yield text pieces as they are decoded, each with its time since submit (TextIteratorStreamer)."""
        from transformers import TextIteratorStreamer

        loaded = self._ready()
        cfg = self.config
        t0 = self.clock.now()
        streamer = TextIteratorStreamer(loaded.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=300)
        batch = loaded.tokenizer([prompt], return_tensors="pt").to(loaded.device)
        errors: queue.Queue[BaseException] = queue.Queue()

        def worker() -> None:
            try:
                self._generate(loaded, cfg, batch, max_new_tokens or cfg.new_tokens, streamer, exact=False)
            except BaseException as exc:  # surfaced to the consumer below
                errors.put(exc)
                streamer.end()

        thread = threading.Thread(target=worker, daemon=True)
        thread.start()
        for text in streamer:
            if text:
                yield StreamChunk(text=text, t_s=self.clock.now() - t0)
        thread.join()
        if not errors.empty():
            raise errors.get()

    def _generate(
        self, loaded: LoadedLLM, cfg: LLMConfig, batch: Any, new_tokens: int, streamer: Any, *, exact: bool
    ) -> Any:
        import torch

        kwargs: dict[str, Any] = {
            "max_new_tokens": new_tokens,
            "do_sample": cfg.do_sample,
            "pad_token_id": loaded.tokenizer.pad_token_id,
            "streamer": streamer,
        }
        if exact:
            kwargs["min_new_tokens"] = new_tokens  # fixed output length: EOS may not end a measured run early
        if isinstance(streamer, TokenTimer):
            kwargs["logits_processor"] = [_TimerProcessor(streamer)]
        if cfg.do_sample:
            kwargs.update(temperature=cfg.temperature, top_p=cfg.top_p)
            torch.manual_seed(cfg.seed)
        if cfg.cache_implementation != "dynamic":
            kwargs["cache_implementation"] = cfg.cache_implementation
        # no_grad rather than inference_mode: quanto int4 kernels fail under inference_mode (ENVIRONMENT.md).
        with torch.no_grad(), _autocast(loaded.device, cfg.amp)():
            return loaded.model.generate(**batch, **kwargs)

    def perplexity(self, settings: QualitySettings | None = None) -> float:
        """Perplexity of the bound config on the bundled evaluation text."""
        loaded = self._ready()
        return compute_outputs(
            loaded, settings or QualitySettings(), _autocast(loaded.device, self.config.amp)
        ).perplexity

    # -- benchmark -----------------------------------------------------------------------------------------------
    def benchmark(
        self,
        configs: Sequence[LLMConfig],
        *,
        reference: LLMConfig | None = None,
        measure: MeasureSettings | None = None,
        quality: QualitySettings | None = None,
        run_ids: Sequence[str] | None = None,
        extra: Mapping[str, Any] | None = None,
        progress: bool = True,
    ) -> pd.DataFrame:
        """Measure every config; one summary row each (raw per-iteration rows in ``self.last_raw``).

        ``reference`` is the quality reference (default: each config's fp32, unquantized twin). Invalid configs
        raise ConfigError when constructed; an unresolvable model spec raises ModelLoadError before anything
        runs. Everything that fails while running becomes a row with its status.
        """
        from tqdm.auto import tqdm

        measure_settings = measure or MeasureSettings()
        quality_settings = quality or QualitySettings()
        ids = list(run_ids) if run_ids is not None else [c.config_hash() for c in configs]
        _check_models_resolve(configs)
        env = fingerprint()
        raw_rows: list[dict[str, Any]] = []
        summary_rows: list[dict[str, Any]] = []
        # Group by load-time fields so each model is loaded once, even with a small cache budget; configs that are
        # their own quality reference go first, so the reference comes from them instead of an extra load.
        order = sorted(
            range(len(configs)),
            key=lambda i: (
                configs[i].load_key() != (reference or configs[i].default_reference()).load_key(),
                stable_hash(list(configs[i].load_key())),
            ),
        )
        bar = tqdm(total=len(configs), desc="llm configs", disable=not progress, leave=False)
        for i in order:
            cfg = configs[i]
            bar.set_postfix_str(cfg.config_hash())
            base = {
                "run_id": ids[i],
                "config_hash": cfg.config_hash(),
                "engine": "llm",
                **(extra or {}),
                **cfg.flat(),
            }
            raw, summary = self._benchmark_one(cfg, base, reference, measure_settings, quality_settings)
            raw_rows.extend({**r, **env} for r in raw)
            summary_rows.append({**summary, **env})
            bar.update(1)
        bar.close()
        self.last_raw = order_columns(pd.DataFrame(raw_rows))
        summary = order_columns(pd.DataFrame(summary_rows))
        return summary.astype({"n": "int64", "valid": "bool"})

    def _benchmark_one(
        self,
        cfg: LLMConfig,
        base: dict[str, Any],
        reference: LLMConfig | None,
        settings: MeasureSettings,
        quality: QualitySettings,
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        stage = "load"
        try:
            hit = cfg.load_key() in self.model_cache
            loaded = self.load(cfg)
            base = {
                **base,
                "device": loaded.device,
                "random_weights": loaded.random_weights,
                "weight_bytes": loaded.weight_bytes,
                "model_cache_hit": hit,
                "load_s": self.model_cache.load_seconds(cfg.load_key()),
            }
            stage = "warmup"
            batch = benchmark_batch(loaded, cfg)
            timer = TokenTimer(loaded.device, self.clock)

            def step(iteration: int) -> dict[str, Any]:
                nonlocal stage
                row = self.instrumented_iteration(loaded, cfg, batch, timer)
                stage = "measure"
                return {"iteration": iteration, **row}

            outcome = measure(step, settings, clock=self.clock, value=lambda r: r["tokens_per_s"])
            stage = "quality"
            quality_cols = self._quality(cfg, loaded, reference, quality) if quality.enabled else {}
        except Exception as exc:
            status, reason = classify_failure(
                exc, capability_stage=stage in ("load", "warmup") and cfg.uses_capability()
            )
            if isinstance(exc, UnsupportedError):
                status = "unsupported"
            self._last_error = reason
            row = {**base, "status": status, "error": f"[{stage}] {reason}"}
            return [row], {**row, "n": 0, "valid": False, "validity_reason": f"status={status}"}
        itl = [gap for r in outcome.samples for gap in r.pop("_itl")]
        raw = [{**base, "status": "ok", "error": "", **r} for r in outcome.samples]
        summary = (
            summarize_frame(
                pd.DataFrame(raw),
                metrics=SAMPLED_METRICS,
                primary="tokens_per_s",
                max_metrics=(*PEAK_METRICS, "energy_j"),
            )
            .iloc[0]
            .to_dict()
        )
        summary.pop("iteration", None)
        summary.pop("output_tokens", None)
        itl_stats = summarize(itl)
        summary.update({f"itl_s_{k}": itl_stats[k] for k in ("mean", "p50", "p90", "p95", "p99")})
        summary.update(
            {
                "duration_s": outcome.duration_s,
                "stopped_by": outcome.stopped_by,
                "timer": "cuda_event" if loaded.device.startswith("cuda") else "perf_counter",
                **_roofline(cfg, loaded, summary),
                **quality_cols,
            }
        )
        return raw, summary

    def instrumented_iteration(
        self, loaded: LoadedLLM, cfg: LLMConfig, batch: Any, timer: TokenTimer
    ) -> dict[str, Any]:
        """One measured generate call with every metric on (what ``benchmarks/llm_overhead.py`` times)."""
        with MemoryTracker(loaded.device) as mem:
            timer.start()
            self._generate(loaded, cfg, batch, cfg.new_tokens, timer, exact=True)
        t = timer.timings()
        return {**_iteration_metrics(cfg, t), **mem.result(), "_itl": t.itl_s}

    def _quality(
        self, cfg: LLMConfig, loaded: LoadedLLM, reference: LLMConfig | None, settings: QualitySettings
    ) -> dict[str, Any]:
        ref_cfg = reference or cfg.default_reference()
        outputs = self._outputs_for(cfg, loaded, settings)
        from blaze_lab.models import eval_text

        key = self.references.key(ref_cfg.load_hash() + ref_cfg.amp, settings, stable_hash(eval_text()))
        ref = self.references.get(key)
        if ref is None:
            if ref_cfg.load_key() == cfg.load_key() and ref_cfg.amp == cfg.amp:
                ref = outputs
            else:
                held = ref_cfg.load_key() in self.model_cache
                ref = self._outputs_for(ref_cfg, self.load(ref_cfg), settings)
                if not held:
                    # The reference model was loaded only for this: drop it, or the next configs' peak memory
                    # would include a second model (seen on the H200: fp16 peaks +5 GB from the fp32 reference).
                    self.model_cache.evict(ref_cfg.load_key())
            self.references.put(key, ref)
        cols: dict[str, Any] = dict(compare(ref, outputs))
        cols["reference_config_hash"] = ref_cfg.config_hash()
        return cols

    def _outputs_for(self, cfg: LLMConfig, loaded: LoadedLLM, settings: QualitySettings) -> QualityOutputs:
        # Quality depends on load-time fields and AMP only: batch sizes and lengths share one computation.
        memo_key = (cfg.load_key(), cfg.amp, dataclasses.astuple(settings))
        if memo_key not in self._quality_memo:
            self._quality_memo[memo_key] = compute_outputs(loaded, settings, _autocast(loaded.device, cfg.amp))
        return self._quality_memo[memo_key]


def _load_with_size(cfg: LLMConfig) -> tuple[LoadedLLM, int]:
    loaded = load_llm(cfg)
    return loaded, loaded.nbytes


def _check_models_resolve(configs: Sequence[LLMConfig]) -> None:
    from blaze_lab.models import resolve_model

    for spec in dict.fromkeys(c.model for c in configs):
        resolve_model(spec, kind="llm")  # raises ModelLoadError with a one-line message


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


def _iteration_metrics(cfg: LLMConfig, t: GenerationTimings) -> dict[str, Any]:
    tokens = cfg.batch_size * t.output_tokens
    return {
        "latency_s": t.e2e_s,
        "ttft_s": t.ttft_s,
        "prefill_s": t.prefill_s,
        "decode_s": t.decode_s,
        "tpot_s": t.tpot_s,
        "output_tokens": t.output_tokens,
        "tokens_per_s": tokens / t.e2e_s if t.e2e_s > 0 else math.nan,
        "requests_per_s": cfg.batch_size / t.e2e_s if t.e2e_s > 0 else math.nan,
    }


def _roofline(cfg: LLMConfig, loaded: LoadedLLM, summary: Mapping[str, Any]) -> dict[str, Any]:
    decode_s = summary.get("decode_s_p50", math.nan)
    steps = cfg.new_tokens - 1
    if not decode_s or math.isnan(decode_s) or steps <= 0:
        return {"decode_bytes_per_s": math.nan, "peak_bandwidth_bytes_per_s": math.nan, "roofline_fraction": math.nan}
    mean_seq = cfg.prompt_tokens + cfg.new_tokens / 2.0
    kv = kv_cache_bytes(
        loaded.num_layers, loaded.num_kv_heads, loaded.head_dim, mean_seq, cfg.batch_size, loaded.kv_element_size
    )
    achieved = decode_bytes_per_s(loaded.weight_bytes, kv, steps / decode_s)
    peak = peak_bandwidth(loaded.device)
    return {
        "decode_bytes_per_s": achieved,
        "peak_bandwidth_bytes_per_s": peak,
        "roofline_fraction": roofline_fraction(achieved, peak),
    }


__all__ = [
    "DEFAULT_MODEL_CACHE",
    "GenerationResult",
    "LLMConfig",
    "LLMEngine",
    "ModelLoadError",
    "StreamChunk",
]
