#!/usr/bin/env bash
# A lent-GPU session, prepared to run once (docs/gpu-runs.md records what it produced). From the repo root on the GPU
# machine, with the wheels of benchmarks/gpu/fetch_wheels.sh carried in .whl/:
#   bash benchmarks/gpu/run_gpu.sh [llm] [diffusion]      (default: both)
# Writes everything under $OUT (at most 8 files come back): each sweep's results folder as a tarball, made right after
# that sweep so a time-out still returns what finished, plus a log. A preflight on the tiny model fails fast (exit 3)
# before any long run, so a broken environment costs seconds of device time, not minutes.
set -u
OUT=${OUT:-/tmp/gpu-out}
parts=${*:-llm diffusion}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 BLAZE_LAB_CACHE=/tmp/blaze-cache
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || { echo "wheel install failed"; exit 1; }
  export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD
fi
log=$OUT/run.log
{
  date -u
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python3 -c "import torch, transformers, bitsandbytes, diffusers, papermill; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'transformers', transformers.__version__, 'bnb', bitsandbytes.__version__, 'diffusers', diffusers.__version__, 'papermill', papermill.__version__)"
  timeout 90 python3 - <<'PY' || { echo "preflight failed"; exit 3; }
from blaze_lab.engines.llm import LLMConfig, LLMEngine
from blaze_lab.engines.llm.quality import QualitySettings
from blaze_lab.metrics import MeasureSettings
cfgs = [LLMConfig(model="random:tiny-llama", device="cuda", new_tokens=8, quantization=q) for q in ("none", "bnb-nf4")]
s = LLMEngine().benchmark(cfgs, measure=MeasureSettings(warmup=1, min_iters=2), quality=QualitySettings(window=64, max_eval_tokens=128, kl_tokens=32), progress=False)
print(s[["llm.quantization", "status", "error", "timer", "tokens_per_s_mean", "peak_allocated_bytes", "nvml_vram_bytes"]].to_string())
assert (s.status == "ok").all(), s.error.tolist()
PY
} >>"$log" 2>&1 || { tail -40 "$log"; exit 3; }
sweep() {  # sweep SPEC NAME TIMEOUT_S
  local t0=$SECONDS
  timeout "$3" python3 -m blaze_lab sweep "$1" --results results --no-report --kernel python3 >>"$log" 2>&1
  echo "== $2: exit $? after $((SECONDS - t0)) s" >>"$log"
  tar czf "$OUT/$2.tgz" -C results "$2" 2>>"$log"
}
case " $parts " in *" llm "*)
  sweep experiments/gpu.yaml gpu 210
  timeout 40 python3 benchmarks/llm_overhead.py --model random:llama-1b --dtype bf16 --batch-size 8 --pairs 10 \
    >"$OUT/llm_overhead.txt" 2>&1
  tail -4 "$OUT/llm_overhead.txt" >>"$log";;
esac
case " $parts " in *" diffusion "*) sweep experiments/diffusion_gpu.yaml diffusion_gpu 200;; esac
date -u >>"$log"
tail -45 "$log"
