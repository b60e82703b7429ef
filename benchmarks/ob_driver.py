"""optimum-benchmark side of ``benchmarks/sweep_vs_optimum_benchmark.py``: run configs, print JSON to stdout.

Runs under optimum-benchmark's OWN venv (``.venv-ob``: optimum-benchmark 0.6 needs transformers 4.57, which the
project's venv cannot have). It imports nothing from blaze_lab. One ``Benchmark.launch`` per config with
``InlineConfig`` (the default ``ProcessConfig`` busy-waits in the parent and takes one of the 2 cores here), the
``pytorch`` backend and an ``InferenceConfig`` that sets only the shapes and the output length: every measurement
setting (warm-up runs, iterations, duration) is optimum-benchmark's own default.

    .venv-ob/bin/python benchmarks/ob_driver.py --model /tmp/x/model \\
        --configs '[{"dtype": "fp32", "batch_size": 1, "prompt_tokens": 32, "new_tokens": 32}]'

stdout is ONE JSON object (optimum-benchmark's logging goes to stderr)::

    {"optimum_benchmark": "0.6.0", "transformers": ..., "torch": ..., "import_s": ..., "driver_wall_s": ...,
     "results": [{"config": {...}, "launch_s": ..., "generate_values": [...], "prefill_values": [...],
                  "decode_values": [...], "per_token_values": [...], "first_generate_s": ..., "load_model_s": ...,
                  "error": null}, ...]}

``generate_values`` are optimum-benchmark's ``report.generate.latency.values``: one per tracked ``generate`` call,
perf_counter from the call's start to its return (the E2E latency of a whole batch of ``new_tokens`` tokens).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import sys
import time
import traceback
from typing import Any

DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


def _values(report: dict[str, Any], target: str) -> list[float]:
    entry = report.get(target) or {}
    latency = entry.get("latency") or {}
    return [float(v) for v in latency.get("values", [])]


def run_one(model: str, cfg: dict[str, Any], benchmark_api: Any) -> dict[str, Any]:
    """Launch one optimum-benchmark benchmark for ``cfg`` (dtype, batch_size, prompt_tokens, new_tokens)."""
    Benchmark, BenchmarkConfig, InferenceConfig, InlineConfig, PyTorchConfig = benchmark_api
    name = f"{cfg['dtype']}-bs{cfg['batch_size']}"
    t0 = time.perf_counter()
    try:
        config = BenchmarkConfig(
            name=name,
            launcher=InlineConfig(),
            backend=PyTorchConfig(
                model=model,
                device="cpu",
                task="text-generation",
                library="transformers",
                torch_dtype=DTYPES[cfg["dtype"]],
            ),
            scenario=InferenceConfig(
                input_shapes={"batch_size": cfg["batch_size"], "sequence_length": cfg["prompt_tokens"]},
                generate_kwargs={"max_new_tokens": cfg["new_tokens"], "min_new_tokens": cfg["new_tokens"]},
            ),
        )
        report = Benchmark.launch(config).to_dict()
    except Exception as exc:  # one failing config must not lose the others' numbers
        traceback.print_exc(file=sys.stderr)
        return {"config": cfg, "launch_s": time.perf_counter() - t0, "error": f"{type(exc).__name__}: {exc}"}
    first = _values(report, "first_generate")
    load = _values(report, "load_model")
    return {
        "config": cfg,
        "launch_s": time.perf_counter() - t0,
        "generate_values": _values(report, "generate"),
        "prefill_values": _values(report, "prefill"),
        "decode_values": _values(report, "decode"),
        "per_token_values": _values(report, "per_token"),
        "first_generate_s": first[0] if first else None,
        "load_model_s": load[0] if load else None,
        "error": None,
    }


def main() -> None:
    start = time.perf_counter()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="local transformers model dir (tokenizer loadable by 4.57)")
    parser.add_argument("--configs", required=True, help="JSON list of {dtype, batch_size, prompt_tokens, new_tokens}")
    args = parser.parse_args()
    configs = json.loads(args.configs)

    # Keep stdout for the one JSON object: everything else (optimum-benchmark's and transformers' logging, prints)
    # goes to stderr, at the file-descriptor level so C-level writes are redirected too.
    json_out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    import torch
    import transformers
    from optimum_benchmark import Benchmark, BenchmarkConfig, InferenceConfig, InlineConfig, PyTorchConfig

    api = (Benchmark, BenchmarkConfig, InferenceConfig, InlineConfig, PyTorchConfig)
    import_s = time.perf_counter() - start
    results = []
    for cfg in configs:
        results.append(run_one(args.model, cfg, api))
        print(f"[ob_driver] {cfg} done in {results[-1]['launch_s']:.1f}s", file=sys.stderr, flush=True)
    out = {
        "optimum_benchmark": importlib.metadata.version("optimum-benchmark"),
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "import_s": import_s,
        "driver_wall_s": time.perf_counter() - start,
        "results": results,
    }
    json_out.write(json.dumps(out) + "\n")
    json_out.flush()


if __name__ == "__main__":
    main()
