"""Quality beside speed for LLM configs.

For every config: perplexity on the bundled evaluation text, and against the sweep's reference config (default
fp32, no quantization): mean KL divergence of next-token distributions KL(ref ‖ config), top-1 agreement of the
next-token argmax, and the fraction of greedy-continuation tokens that match the reference position by position.

The reference's outputs are computed once and stored without pickle (safetensors) under the model cache, keyed
by the reference config, the text and these settings: each load-time group of a sweep runs in its own kernel and
finds the reference there instead of loading the reference model again.

Example:
    >>> import torch
    >>> ref = torch.log_softmax(torch.tensor([[2.0, 0.0, 0.0]]), -1)
    >>> kl_and_top1(ref, ref)
    (0.0, 1.0)
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

from blaze_lab.config import stable_hash


@dataclasses.dataclass(frozen=True)
class QualitySettings:
    """How much text the quality metrics use.

    Attributes:
        enabled: compute quality at all (off for pure speed sweeps).
        window: tokens per perplexity window (non-overlapping windows over the whole text).
        max_eval_tokens: cap on evaluation tokens (the bundled text is ~1,500 tokens).
        kl_tokens: positions of the first window compared with the reference distribution.
        greedy_prompts: prompts whose greedy continuations are compared.
        greedy_tokens: tokens generated per greedy continuation.
    """

    enabled: bool = True
    window: int = 512
    max_eval_tokens: int = 2048
    kl_tokens: int = 256
    greedy_prompts: int = 2
    greedy_tokens: int = 16


@dataclasses.dataclass
class QualityOutputs:
    """What one config produced on the quality inputs."""

    perplexity: float
    logprobs: Any  # float32 tensor [kl_tokens, vocab] on CPU
    greedy: Any  # int64 tensor [greedy_prompts, greedy_tokens] on CPU


def eval_ids(tokenizer: Any, settings: QualitySettings) -> Any:
    from blaze_lab.models import eval_text

    ids = tokenizer(eval_text(), return_tensors="pt", add_special_tokens=False)["input_ids"][0]
    return ids[: settings.max_eval_tokens]


def compute_outputs(loaded: Any, settings: QualitySettings, autocast: Any) -> QualityOutputs:
    """Perplexity over windows, the first window's log-probs, and greedy continuations."""
    import torch

    model, tok = loaded.model, loaded.tokenizer
    ids = eval_ids(tok, settings)
    device = loaded.device
    nll_sum, count = 0.0, 0
    first_logprobs = None
    with torch.no_grad():
        for start in range(0, len(ids) - 1, settings.window):
            chunk = ids[start : start + settings.window].unsqueeze(0).to(device)
            if chunk.shape[1] < 2:
                break
            with autocast():
                logits = model(input_ids=chunk).logits.float()
            logprobs = torch.log_softmax(logits[0, :-1], dim=-1)
            target = chunk[0, 1:]
            nll_sum += float(-logprobs.gather(1, target.unsqueeze(1)).sum())
            count += int(target.numel())
            if first_logprobs is None:
                first_logprobs = logprobs[: settings.kl_tokens].cpu()
        greedy = greedy_continuations(loaded, settings, autocast)
    ppl = math.exp(nll_sum / count) if count else math.nan
    return QualityOutputs(perplexity=ppl, logprobs=first_logprobs, greedy=greedy)


def greedy_continuations(loaded: Any, settings: QualitySettings, autocast: Any) -> Any:
    from blaze_lab.models import prompts

    tok = loaded.tokenizer
    batch = tok(prompts()[: settings.greedy_prompts], return_tensors="pt", padding=True).to(loaded.device)
    with autocast():
        out = loaded.model.generate(
            **batch,
            max_new_tokens=settings.greedy_tokens,
            min_new_tokens=settings.greedy_tokens,
            do_sample=False,
            pad_token_id=tok.pad_token_id,
        )
    return out[:, batch["input_ids"].shape[1] :].cpu()


def kl_and_top1(ref_logprobs: Any, logprobs: Any) -> tuple[float, float]:
    """Mean KL(ref ‖ config) over positions and the share of positions with the same argmax."""
    import torch

    n = min(ref_logprobs.shape[0], logprobs.shape[0])
    vocab = min(ref_logprobs.shape[1], logprobs.shape[1])
    ref = ref_logprobs[:n, :vocab].float()
    cur = logprobs[:n, :vocab].float()
    kl = torch.sum(torch.exp(ref) * (ref - cur), dim=-1).clamp_min(0.0)
    top1 = (ref.argmax(-1) == cur.argmax(-1)).float().mean()
    return float(kl.mean()), float(top1)


def greedy_match(ref_tokens: Any, tokens: Any) -> float:
    """Fraction of positions where the greedy continuation equals the reference's."""
    n = min(ref_tokens.shape[1], tokens.shape[1])
    if n == 0:
        return math.nan
    return float((ref_tokens[:, :n] == tokens[:, :n]).float().mean())


def compare(reference: QualityOutputs, outputs: QualityOutputs) -> dict[str, float]:
    """Quality columns of a config against the reference."""
    kl, top1 = kl_and_top1(reference.logprobs, outputs.logprobs)
    return {
        "perplexity": outputs.perplexity,
        "reference_perplexity": reference.perplexity,
        "kl_div_mean": kl,
        "top1_agreement": top1,
        "greedy_match": greedy_match(reference.greedy, outputs.greedy),
    }


class ReferenceStore:
    """Reference outputs in memory and on disk (safetensors, never pickle), keyed by config + text + settings."""

    def __init__(self, root: Path | None = None) -> None:
        self._memory: dict[str, QualityOutputs] = {}
        self._root = root

    def _dir(self) -> Path:
        if self._root is not None:
            return self._root
        from blaze_lab.models import cache_dir

        return cache_dir() / "reference"

    def key(self, reference_hash: str, settings: QualitySettings, text_hash: str) -> str:
        return stable_hash({"ref": reference_hash, "settings": dataclasses.asdict(settings), "text": text_hash}, 16)

    def get(self, key: str) -> QualityOutputs | None:
        if key in self._memory:
            return self._memory[key]
        path = self._dir() / f"{key}.safetensors"
        if not path.exists():
            return None
        try:
            from safetensors.torch import load_file

            data = load_file(str(path))
            outputs = QualityOutputs(float(data["perplexity"]), data["logprobs"], data["greedy"])
        except Exception:  # a corrupt or partial file is a miss: recompute rather than trust it
            return None
        self._memory[key] = outputs
        return outputs

    def put(self, key: str, outputs: QualityOutputs) -> None:
        import os

        import torch
        from safetensors.torch import save_file

        self._memory[key] = outputs
        folder = self._dir()
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{key}.{os.getpid()}.tmp"
        save_file(
            {
                "perplexity": torch.tensor(outputs.perplexity, dtype=torch.float64),
                "logprobs": outputs.logprobs.contiguous(),
                "greedy": outputs.greedy.contiguous(),
            },
            str(tmp),
        )
        os.replace(tmp, folder / f"{key}.safetensors")


__all__ = [
    "QualityOutputs",
    "QualitySettings",
    "ReferenceStore",
    "compare",
    "compute_outputs",
    "greedy_match",
    "kl_and_top1",
]
