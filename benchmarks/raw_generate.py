"""Control for ``benchmarks/sweep_vs_optimum_benchmark.py``: bare ``model.generate`` timings in whichever venv runs it.

Imports only torch and transformers, so the same loop runs under the project's venv (transformers 5) and under
``.venv-ob`` (transformers 4.57). The ratio of the two tells how much of a latency gap between blaze_lab and
optimum-benchmark is the transformers version rather than either tool's measurement.

    .venv-ob/bin/python benchmarks/raw_generate.py --model DIR --iters 3 \\
        --configs '[{"dtype": "fp32", "batch_size": 1, "prompt_tokens": 32, "new_tokens": 32}]'

Prints one JSON object to stdout: ``{"transformers": ..., "results": [{"config": ..., "values": [...]}]}``
(``values``: perf_counter around each ``generate`` call after one warm-up call).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--configs", required=True, help="JSON list of {dtype, batch_size, prompt_tokens, new_tokens}")
    parser.add_argument("--iters", type=int, default=3)
    args = parser.parse_args()

    import torch
    import transformers
    from transformers import AutoModelForCausalLM

    results = []
    models: dict[str, Any] = {}
    for cfg in json.loads(args.configs):
        dtype = getattr(torch, DTYPES[cfg["dtype"]])
        if cfg["dtype"] not in models:
            models.clear()  # one model in memory at a time
            models[cfg["dtype"]] = AutoModelForCausalLM.from_pretrained(args.model, dtype=dtype).eval()
        model = models[cfg["dtype"]]
        gen = torch.Generator().manual_seed(0)
        ids = torch.randint(0, model.config.vocab_size, (cfg["batch_size"], cfg["prompt_tokens"]), generator=gen)
        kwargs = {
            "input_ids": ids,
            "attention_mask": torch.ones_like(ids),
            "max_new_tokens": cfg["new_tokens"],
            "min_new_tokens": cfg["new_tokens"],
            "do_sample": False,
            "pad_token_id": model.config.eos_token_id,
        }
        values = []
        with torch.no_grad():
            model.generate(**kwargs)  # warm-up
            for _ in range(args.iters):
                t0 = time.perf_counter()
                model.generate(**kwargs)
                values.append(time.perf_counter() - t0)
        results.append({"config": cfg, "values": values})
        print(f"[raw_generate {transformers.__version__}] {cfg} {values}", file=sys.stderr, flush=True)
    print(json.dumps({"transformers": transformers.__version__, "torch": torch.__version__, "results": results}))


if __name__ == "__main__":
    main()
