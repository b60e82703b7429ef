"""Loading an LLM for a config: resolve the spec, apply dtype, quantization, attention kernel and compile.

Quantization methods are a small registry (name → function that loads or transforms the model). Every failure
raised while applying an optional capability is re-raised as :class:`~blaze_lab.errors.UnsupportedError` with the
library's own message, so the benchmark records ``status="unsupported"`` and the reason instead of crashing.

Example:
    >>> from blaze_lab.engines.llm.config import LLMConfig
    >>> loaded = load_llm(LLMConfig(model="random:tiny-llama", device="cpu"))   # doctest: +SKIP
    >>> loaded.weight_bytes > 0                                                   # doctest: +SKIP
    True
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import warnings
from collections.abc import Callable, Iterator
from typing import Any

from blaze_lab.engines.llm.config import LLMConfig
from blaze_lab.errors import ModelLoadError, UnsupportedError
from blaze_lab.metrics.memory import model_bytes

TORCH_DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


@dataclasses.dataclass
class LoadedLLM:
    """A model ready to generate, with what the rows need to know about it."""

    model: Any
    tokenizer: Any
    device: str
    weight_bytes: int
    random_weights: bool
    model_path: str
    num_layers: int
    num_kv_heads: int
    head_dim: int
    kv_element_size: int

    @property
    def nbytes(self) -> int:
        return self.weight_bytes


def torch_dtype(name: str) -> Any:
    import torch

    return getattr(torch, TORCH_DTYPES[name])


def load_tokenizer(path: str, trust_remote_code: bool = False) -> Any:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    tok.padding_side = "left"  # decoder-only batching: pad on the left so every sequence ends at the same position
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


# -- quantization registry ---------------------------------------------------------------------------------------
# Each entry either returns from_pretrained kwargs (applied at load) or transforms the loaded model.


class _DropInt8CastNotice(logging.Filter):
    """bitsandbytes logs on *every* int8 matmul that it casts fp32 inputs to fp16: expected, and it floods output."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("MatMul8bitLt: inputs will be cast")


_INT8_NOTICE_FILTER = _DropInt8CastNotice()


def _bnb_kwargs(cfg: LLMConfig, device: str) -> dict[str, Any]:
    from transformers import BitsAndBytesConfig

    bnb_logger = logging.getLogger("bitsandbytes.autograd._functions")
    if _INT8_NOTICE_FILTER not in bnb_logger.filters:
        bnb_logger.addFilter(_INT8_NOTICE_FILTER)

    if cfg.quantization == "bnb-8bit":
        qc = BitsAndBytesConfig(load_in_8bit=True)
    else:
        qc = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4" if cfg.quantization == "bnb-nf4" else "fp4",
            bnb_4bit_compute_dtype=torch_dtype(cfg.dtype),
        )
    return {"quantization_config": qc, "device_map": {"": 0} if device == "cuda" else device}


def _torchao(cfg: LLMConfig, model: Any) -> Any:
    from torchao.quantization import (
        Int4WeightOnlyConfig,
        Int8DynamicActivationInt8WeightConfig,
        Int8WeightOnlyConfig,
        quantize_,
    )

    configs: dict[str, Callable[[], Any]] = {
        "torchao-int8-weight-only": Int8WeightOnlyConfig,
        "torchao-int4-weight-only": Int4WeightOnlyConfig,
        "torchao-int8-dynamic": Int8DynamicActivationInt8WeightConfig,
    }
    quantize_(model, configs[cfg.quantization]())
    return model


def _quanto(cfg: LLMConfig, model: Any) -> Any:
    from optimum.quanto import freeze, qint4, qint8, quantize

    quantize(model, weights=qint8 if cfg.quantization == "quanto-int8" else qint4)
    freeze(model)
    return model


def _dynamic_int8(cfg: LLMConfig, model: Any) -> Any:
    import torch

    if next(model.parameters()).device.type != "cpu":
        raise UnsupportedError("dynamic-int8 (torch.ao quantize_dynamic) runs on CPU only")
    with warnings.catch_warnings():
        # torch 2.13 deprecates quantized tensor constructors that quantize_dynamic itself calls; nothing to act on.
        warnings.filterwarnings("ignore", message="torch.quantize_per_tensor", category=UserWarning)
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


LOAD_TIME_QUANT: dict[str, Callable[[LLMConfig, str], dict[str, Any]]] = {
    "bnb-8bit": _bnb_kwargs,
    "bnb-nf4": _bnb_kwargs,
    "bnb-fp4": _bnb_kwargs,
}
POST_LOAD_QUANT: dict[str, Callable[[LLMConfig, Any], Any]] = {
    "torchao-int8-weight-only": _torchao,
    "torchao-int4-weight-only": _torchao,
    "torchao-int8-dynamic": _torchao,
    "quanto-int8": _quanto,
    "quanto-int4": _quanto,
    "dynamic-int8": _dynamic_int8,
}


@contextlib.contextmanager
def capability(what: str) -> Iterator[None]:
    """Re-raise library failures inside the block as UnsupportedError('<what>: <library message>')."""
    try:
        yield
    except (UnsupportedError, ModelLoadError, MemoryError):
        raise
    except Exception as exc:
        if "out of memory" in str(exc).lower():
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise UnsupportedError(f"{what}: {type(exc).__name__}: {first}"[:500]) from exc


def _detach_from_checkpoint(model: Any) -> None:
    """Copy a quantized model's unquantized tensors out of the memory-mapped checkpoint, then drop the mapping.

    Why: quantizing reads every page of the fp32 checkpoint, and the layers left unquantized (embeddings, norms)
    stay zero-copy views into its memory map, so the whole file stays mapped and its pages count in the process's
    RSS — an nf4 model then "used" more memory than the fp32 one (622 vs 564 MB for SmolLM2). Owning those few
    tensors costs their size once and releases the file's pages. (An unquantized model keeps its zero-copy views:
    there the mapped pages *are* the weights.)
    """
    import gc

    for tensor in [*model.parameters(), *model.buffers()]:
        if tensor.dtype.is_floating_point and tensor.device.type == "cpu":
            tensor.data = tensor.data.clone()
    gc.collect()


def load_llm(cfg: LLMConfig) -> LoadedLLM:
    """Load the model and tokenizer for ``cfg`` (raises ModelLoadError / UnsupportedError)."""
    from transformers import AutoModelForCausalLM

    from blaze_lab.models import resolve_model

    device = cfg.resolved_device()
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise UnsupportedError("device=cuda: no CUDA device is visible")
    resolved = resolve_model(cfg.model, kind="llm")
    path = str(resolved.path)
    tokenizer = load_tokenizer(path, cfg.trust_remote_code)
    kwargs: dict[str, Any] = {
        "dtype": torch_dtype(cfg.dtype),
        "attn_implementation": cfg.attn_implementation,
        "trust_remote_code": cfg.trust_remote_code,
    }
    quant_at_load = LOAD_TIME_QUANT.get(cfg.quantization)
    if quant_at_load is not None:
        with capability(cfg.quantization):
            kwargs.update(quant_at_load(cfg, device))
            model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    else:
        try:
            model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
        except OSError as exc:
            raise ModelLoadError(f"cannot load model from {path}: {exc}") from exc
        model.to(device)  # type: ignore[arg-type]  # transformers' stub types .to() narrowly
        post = POST_LOAD_QUANT.get(cfg.quantization)
        if post is not None:
            with capability(cfg.quantization):
                model = post(cfg, model)
    model.eval()
    if cfg.quantization != "none" and device == "cpu":
        _detach_from_checkpoint(model)
    weight_bytes = model_bytes(model)
    if cfg.torch_compile:
        import torch

        with capability("torch_compile"):
            model.forward = torch.compile(model.forward)
    conf = model.config
    heads = getattr(conf, "num_attention_heads", 1)
    head_dim = getattr(conf, "head_dim", None) or conf.hidden_size // heads
    return LoadedLLM(
        model=model,
        tokenizer=tokenizer,
        device=device,
        weight_bytes=weight_bytes,
        random_weights=resolved.random_weights,
        model_path=path,
        num_layers=getattr(conf, "num_hidden_layers", 0),
        num_kv_heads=getattr(conf, "num_key_value_heads", heads) or heads,
        head_dim=head_dim,
        kv_element_size=2 if cfg.dtype in ("fp16", "bf16") else 4,
    )


__all__ = ["LoadedLLM", "load_llm", "load_tokenizer", "torch_dtype"]
