"""The measured LLM engine: generate, stream, perplexity, and ``benchmark(configs) -> (summary, raw)``.

``LLMEngine.benchmark`` measures each config through the one measurement loop
(:func:`blaze_lab.metrics.loop.run_configs`: warm-up until stable, interleaved calls, the CI stop rule), with
per-token timers (TTFT, prefill, decode, TPOT, ITL measured directly), memory
(peak allocated/reserved on CUDA, peak RSS, NVML VRAM), the decode roofline, and quality against a reference
config. Models come from a :class:`~blaze_lab.cache.models.ModelCache`, so configs that differ only in run-time
fields share one load. A config the device cannot run becomes a ``status="unsupported"`` row with the library's
reason; out-of-memory becomes ``oom``; anything else ``error`` — never an exception out of ``benchmark``.

Example (the README has the SmolLM2 version):
    >>> from blaze_lab.engines.llm import LLMEngine, LLMConfig
    >>> from blaze_lab.metrics import MeasureSettings
    >>> configs = [LLMConfig(model="random:tiny-llama", batch_size=b, new_tokens=8) for b in (1, 4)]
    >>> summary, raw = LLMEngine().benchmark(configs, measure=MeasureSettings(min_iters=5))  # doctest: +SKIP
    >>> summary[["llm.batch_size", "tokens_per_s_mean", "tokens_per_s_ci_low", "status"]]         # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import dataclasses
import queue
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import pandas as pd

from blaze_lab.cache.models import ModelCache
from blaze_lab.clock import Clock, RealClock
from blaze_lab.engines.base import CachedModelEngine, EngineStatus
from blaze_lab.engines.llm.config import LLMConfig
from blaze_lab.engines.llm.loading import LoadedLLM, load_llm, torch_dtype
from blaze_lab.engines.llm.quality import QualityOutputs, QualitySettings, ReferenceStore, compute_outputs
from blaze_lab.errors import EngineUnavailable, ModelLoadError
from blaze_lab.metrics.loop import run_configs
from blaze_lab.metrics.memory import MemoryTracker
from blaze_lab.metrics.timing import MeasureSettings
from blaze_lab.metrics.tokens import GenerationTimings, TokenTimer

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
        self._quality_memo: dict[tuple[Any, ...], QualityOutputs] = {}

    # -- lifecycle (status, health, load, close: CachedModelEngine) ----------------------------------------------
    def _load_uncached(self, config: LLMConfig) -> tuple[LoadedLLM, int]:
        return _load_with_size(config)

    def load(self, config: LLMConfig | None = None) -> LoadedLLM:
        """Load (or fetch from the model cache) the model for ``config``; raises on failure."""
        return super().load(config)

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
        # no_grad rather than inference_mode: quanto int4 kernels fail under inference_mode (pinned quanto).
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
        order_seed: int | None = None,
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Measure every config through the one measurement loop; returns ``(summary, raw)``.

        One summary row per config in input order; raw rows are the calls (``warmup=True`` for warm-up calls).
        ``reference`` is the quality reference (default: each config's fp32, unquantized twin). Invalid configs
        raise ConfigError when constructed; an unresolvable model spec raises ModelLoadError before anything
        runs. Everything that fails while running becomes a row with its status.
        """
        from blaze_lab.engines.llm.measure import LLM_METRICS, LLMMeasurer

        _check_models_resolve(configs)
        ids = list(run_ids) if run_ids is not None else [c.config_hash() for c in configs]
        measurer = LLMMeasurer(self, configs, reference, quality or QualitySettings())
        return run_configs(
            "llm",
            list(zip(ids, configs, strict=True)),
            measurer,
            LLM_METRICS,
            settings=measure or MeasureSettings(),
            clock=self.clock,
            extra=extra,
            progress=progress,
            order_seed=order_seed,
        )

    def instrumented_iteration(
        self,
        loaded: LoadedLLM,
        cfg: LLMConfig,
        batch: Any,
        timer: TokenTimer,
        baseline: dict[str, float] | None = None,
        *,
        exact_memory: bool = True,
    ) -> dict[str, Any]:
        """One measured generate call with every metric on (what ``benchmarks/llm_overhead.py`` times).

        ``exact_memory=False`` skips the heap trim before the call (see :class:`MemoryTracker`): for timed CPU calls,
        whose reported peaks come from the memory probe instead.
        """
        from blaze_lab.engines.llm.measure import iteration_metrics

        with MemoryTracker(loaded.device, baseline=baseline, trim=exact_memory) as mem:
            timer.start()
            self._generate(loaded, cfg, batch, cfg.new_tokens, timer, exact=True)
        t = timer.timings()
        return {**iteration_metrics(cfg, t), **mem.result(), "_itl": t.itl_s}

    def outputs_for(self, cfg: LLMConfig, loaded: LoadedLLM, settings: QualitySettings) -> QualityOutputs:
        """Quality outputs (perplexity, next-token log-probs, greedy tokens) of a loaded config, memoized."""
        from blaze_lab.engines.llm.measure import quality_memo_key

        memo_key = quality_memo_key(cfg, settings)
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


__all__ = [
    "DEFAULT_MODEL_CACHE",
    "GenerationResult",
    "LLMConfig",
    "LLMEngine",
    "ModelLoadError",
    "StreamChunk",
]
