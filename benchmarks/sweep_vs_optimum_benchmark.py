"""Sweep vs optimum-benchmark: the same LLM configs measured by blaze_lab's sweep runner and by optimum-benchmark 0.6.

Both tools get the same local model dir, the same dtypes and batch sizes, the same prompt length and the same fixed
output length (``min_new_tokens == max_new_tokens``), and each keeps its OWN default measurement settings:

* **ours**: ``python -m blaze_lab sweep SPEC --no-report`` (the real papermill runner, one kernel per load-time
  group) on a spec written into a temp dir with no ``measure`` settings except ``quality: {enabled: false}``
  (optimum-benchmark measures no quality), i.e. ``MeasureSettings()``: warm-up until three calls agree, then at
  least 10 interleaved calls until the 95% CI half-width is within 5% of the mean (time-capped). Reported latency:
  ``latency_s`` = E2E of one ``generate`` call (submit to last token).
* **theirs**: ``benchmarks/ob_driver.py`` under ``.venv-ob/bin/python`` (optimum-benchmark's own venv with
  transformers 4.57), a loop over ``Benchmark.launch`` with ``InlineConfig`` and the ``pytorch`` backend; its
  defaults are 1 untimed + 1 ``first_generate`` + 10 two-token warm-up generates, then generate until >= 10
  calls AND >= 10 s. Reported latency: ``report.generate.latency`` = perf_counter around each whole ``generate``
  call, the same quantity as ours (not prefill + decode sums: its per-call ``values`` are used directly).

For each config and tool the script prints the mean latency and the half-width of the 95% Student-t CI of the mean,
both computed here from each tool's raw per-call values with ``blaze_lab.metrics.intervals.mean_ci`` (the
estimator our summaries use), and each tool's total wall time measured from outside: process start, imports, kernel
starts, model loads, warm-up, measurement. CPU seconds (user + sys of the tool's process tree) are printed beside
it: on a loaded machine they drift less than wall time.

Run order (``--order abba``, default): per dtype (one load-time group), the two tools back to back, alternating who
goes first (ours fp32, OB fp32, OB bf16, ours bf16), so each comparison is made minutes apart rather than across
the whole run; each tool's wall time is the sum of its two processes. ``--rounds R`` (default 2) repeats that
sequence R times (default 3), mirrored every other round (abba, baab, abba), each tool in fresh processes every
round: on this shared machine one window's speed differs from the next one's by up to 15% now and then (a
neighbour's burst), so a single pair of processes cannot test a 5% agreement. Each round compares the two tools'
means measured minutes apart (a paired comparison); a config's ours/OB ratio is the **median over rounds** of those
per-round ratios (with 3 rounds one disturbed window cannot move it), each tool's latency the mean of its per-round
means, its CI half-width the mean of the per-round ones (the interval each tool reports for one run), and each
tool's wall time is per round. Both tools run with the same
``OMP_NUM_THREADS`` (``--threads``, default 1: on the shared 2-core machine two OpenMP threads stalled ~6x).

    .venv/bin/python benchmarks/sweep_vs_optimum_benchmark.py  # 6 configs: dtypes, batch sizes, prompt/output length
    .venv/bin/python benchmarks/sweep_vs_optimum_benchmark.py --rounds 1 --configs fp32:1:32:32  # a quick look
    .venv/bin/python benchmarks/sweep_vs_optimum_benchmark.py --configs fp32:1:32:32,bf16:8:32:32

Needs ``.venv-ob``: ``python3 -m venv .venv-ob && .venv-ob/bin/pip install -r benchmarks/ob_requirements.txt``.
Goal: per-config latencies within 5%; our CI half-width no wider than theirs in at most half their wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from blaze_lab.metrics.intervals import mean_ci

REPO = Path(__file__).resolve().parent.parent
DRIVER = REPO / "benchmarks" / "ob_driver.py"
RAW = REPO / "benchmarks" / "raw_generate.py"


DEFAULT_CONFIGS = "fp32:1:32:32,fp32:4:32:32,fp32:1:128:16,bf16:1:32:32,bf16:4:32:32,bf16:1:16:64"


def parse_configs(text: str) -> list[dict[str, Any]]:
    """``fp32:1:32:32,bf16:4:32:32`` -> config dicts, in dtype order of first appearance (one group per dtype)."""
    configs = []
    for item in text.split(","):
        parts = item.strip().split(":")
        if len(parts) != 4:
            raise SystemExit(f"--configs: {item!r} is not dtype:batch:prompt_tokens:new_tokens")
        dtype, batch, prompt, new = parts
        configs.append({"dtype": dtype, "batch_size": int(batch), "prompt_tokens": int(prompt), "new_tokens": int(new)})
    order = list(dict.fromkeys(c["dtype"] for c in configs))
    return sorted(configs, key=lambda c: order.index(c["dtype"]))


def prepare_model_dir(model: str, dest: Path) -> Path:
    """A copy of the model dir both tools can load: weights symlinked, tokenizer_class patched for transformers 4.57.

    Transformers 5 saves ``"tokenizer_class": "TokenizersBackend"``, which 4.57 cannot resolve; both name the same
    fast tokenizer from ``tokenizer.json``, so ``PreTrainedTokenizerFast`` loads identically in both versions.
    """
    from blaze_lab.models import resolve_model

    src = resolve_model(model, kind="llm").path
    dest.mkdir(parents=True)
    for item in src.iterdir():
        if item.name == "tokenizer_config.json":
            data = json.loads(item.read_text())
            data["tokenizer_class"] = "PreTrainedTokenizerFast"
            (dest / item.name).write_text(json.dumps(data, indent=2))
        elif not item.name.startswith("."):
            (dest / item.name).symlink_to(item)
    return dest


def loadavg() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}/{five:.2f}/{fifteen:.2f}"


def timed_subprocess(cmd: list[str], env: dict[str, str], log: Path) -> tuple[float, float, str, str, str]:
    """Run ``cmd`` to completion: (wall s, CPU s of its whole process tree, stdout, load before, load after)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_before = loadavg()
    t0 = time.perf_counter()
    with log.open("w") as err:
        proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=err, text=True, cwd=REPO)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        tail = "".join(log.read_text().splitlines(keepends=True)[-30:])
        raise SystemExit(f"{cmd[:4]} exited {proc.returncode}; log {log}:\n{tail}")
    return wall, cpu, proc.stdout, load_before, loadavg()


def run_ours(
    model_dir: Path,
    configs: list[dict[str, Any]],
    work: Path,
    env: dict[str, str],
    tag: str,
    measure: dict[str, Any],
) -> dict[str, Any]:
    """Our sweep on a generated spec (``measure`` {}: library defaults) -> per-config raw latencies."""
    from blaze_lab.sweep.collect import collect

    spec = {
        "name": "sweep_vs_ob",
        "description": "benchmarks/sweep_vs_optimum_benchmark.py (generated)",
        "kind": "llm",
        "base": {
            "model": str(model_dir),
            "device": "cpu",
            "dtype": configs[0]["dtype"],
        },
        # One dtype per call (one load-time group); the shapes vary together, config by config.
        "zip": {field: [c[field] for c in configs] for field in ("batch_size", "prompt_tokens", "new_tokens")},
        "reference": None,
        # Quality off: optimum-benchmark has no quality metric, and it would add a perplexity pass per group.
        # Nothing else by default: MeasureSettings() defaults are what a spec without `measure:` gets.
        "measure": {**measure, "quality": {"enabled": False}},
    }
    spec_path = work / f"sweep_vs_ob-{tag}.yaml"
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))
    results = work / f"results-{tag}"
    cmd = [sys.executable, "-m", "blaze_lab", "sweep", str(spec_path), "--results", str(results), "--no-report"]
    wall, cpu, _, load_before, load_after = timed_subprocess(cmd, env, work / f"ours-{tag}.log")
    summary, raw = collect(results / "sweep_vs_ob")
    per_config = {}
    for cfg in configs:
        key = config_key(cfg)
        rows = raw[_select(raw, cfg)]
        srow = summary[_select(summary, cfg)]
        status = str(srow["status"].iloc[0]) if len(srow) else "missing"
        if "warmup" in rows:  # warm-up calls are in the raw rows, marked; the summary is over the others
            rows = rows[~rows["warmup"].astype(bool)]
        values = [float(v) for v in rows["latency_s"].dropna()] if status == "ok" else []
        per_config[key] = {
            "values": values,
            "status": status,
            "error": str(srow["error"].iloc[0]) if len(srow) else "no row",
            "stopped_by": str(srow["stopped_by"].iloc[0]) if status == "ok" else "",
            "contended": bool(srow["contended"].iloc[0]) if status == "ok" else None,
            "valid": bool(srow["valid"].iloc[0]) if status == "ok" else None,
            "warmup_calls": int(srow["warmup_calls"].iloc[0]) if status == "ok" and "warmup_calls" in srow else None,
            "load_s": float(srow["load_s"].iloc[0]) if status == "ok" else float("nan"),
        }
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "loads": [f"{load_before} → {load_after}"],
        "per_config": per_config,
        "command": " ".join(cmd),
    }


def run_theirs(
    model_dir: Path, configs: list[dict[str, Any]], work: Path, env: dict[str, str], tag: str, ob_python: Path
) -> dict[str, Any]:
    """optimum-benchmark in its own venv, as a subprocess of this script -> per-config raw ``generate`` latencies."""
    cmd = [str(ob_python), str(DRIVER), "--model", str(model_dir), "--configs", json.dumps(configs)]
    wall, cpu, stdout, load_before, load_after = timed_subprocess(cmd, env, work / f"ob-{tag}.log")
    out = json.loads(stdout.strip().splitlines()[-1])
    per_config = {}
    for res in out["results"]:
        cfg = res["config"]
        per_config[config_key(cfg)] = {
            "values": res.get("generate_values", []),
            "status": "ok" if res["error"] is None else "error",
            "error": res["error"] or "",
            "launch_s": res["launch_s"],
            "prefill_mean_s": _mean(res.get("prefill_values", [])),
            "decode_mean_s": _mean(res.get("decode_values", [])),
        }
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "loads": [f"{load_before} → {load_after}"],
        "per_config": per_config,
        "versions": {k: out[k] for k in ("optimum_benchmark", "transformers", "torch", "torch_threads")},
        "import_s": out["import_s"],
    }


def run_control(
    model_dir: Path, configs: list[dict[str, Any]], work: Path, env: dict[str, str], ob_python: Path, iters: int
) -> dict[str, Any]:
    """Bare ``generate`` in each venv (benchmarks/raw_generate.py): the transformers 5 / 4.57 speed ratio per config."""
    out: dict[str, Any] = {}
    for name, python in (("tf5", Path(sys.executable)), ("tf457", ob_python)):
        cmd = [
            str(python),
            str(RAW),
            "--model",
            str(model_dir),
            "--configs",
            json.dumps(configs),
            "--iters",
            str(iters),
        ]
        wall, _, stdout, _, load_after = timed_subprocess(cmd, env, work / f"raw-{name}.log")
        data = json.loads(stdout.strip().splitlines()[-1])
        out[name] = {
            "transformers": data["transformers"],
            "wall_s": wall,
            "load_after": load_after,
            "per_config": {config_key(r["config"]): r["values"] for r in data["results"]},
        }
    return out


def merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One tool's phases as one result: walls, CPU and import times add up; per-config entries and loads join."""
    out = {**parts[0], "per_config": {}, "loads": []}
    out["wall_s"] = sum(p["wall_s"] for p in parts)
    out["cpu_s"] = sum(p["cpu_s"] for p in parts)
    if "import_s" in out:
        out["import_s"] = sum(p["import_s"] for p in parts)
    for p in parts:
        out["per_config"].update(p["per_config"])
        out["loads"] += p["loads"]
    out["phases"] = len(parts)
    return out


def phases(configs: list[dict[str, Any]], order: str) -> list[tuple[str, list[dict[str, Any]]]]:
    """(side, configs) in run order.

    ``abba``/``baab``: one phase per dtype (a load-time group) for each tool, the two tools back to back and the
    side that goes first alternating, so each dtype's two measurements are adjacent in time and a slow drift in
    machine load hits both tools alike.
    """
    if order not in ("abba", "baab"):
        first, second = ("ours", "theirs") if order == "ours-first" else ("theirs", "ours")
        return [(first, configs), (second, configs)]
    out = []
    dtypes = list(dict.fromkeys(c["dtype"] for c in configs))
    for i, dtype in enumerate(dtypes):
        group = [c for c in configs if c["dtype"] == dtype]
        sides = ("ours", "theirs") if (i % 2 == 0) == (order == "abba") else ("theirs", "ours")
        out += [(side, group) for side in sides]
    return out


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def stats(values: list[float]) -> tuple[float, float, int]:
    """(mean, half-width of the 95% Student-t CI of the mean, n): the interval our summaries report."""
    if not values:
        return float("nan"), float("nan"), 0
    mean, low, high = mean_ci(values)
    return float(mean), float(high - low) / 2.0, len(values)


def config_key(cfg: dict[str, Any]) -> str:
    """``fp32 bs1 32→32``: dtype, batch size, prompt → new tokens (the name both tools' results are keyed by)."""
    return f"{cfg['dtype']} bs{cfg['batch_size']} {cfg['prompt_tokens']}→{cfg['new_tokens']}"


def _select(frame: Any, cfg: dict[str, Any]) -> Any:
    mask = frame["llm.dtype"] == cfg["dtype"]
    for field in ("batch_size", "prompt_tokens", "new_tokens"):
        mask &= frame[f"llm.{field}"] == cfg[field]
    return mask


def _tool_stats(rounds: list[dict[str, Any]], side: str, key: str) -> dict[str, Any]:
    """One tool's numbers for one config over the rounds: per-round (mean, half-width, n) and their combination."""
    per_round = [stats(r[side]["per_config"][key]["values"]) for r in rounds]
    means = [m for m, _, _ in per_round]
    return {
        "rounds": per_round,
        "mean": _mean(means),
        "half_width": _mean([h for _, h, _ in per_round]),
        "ci_rel": _mean([h / m for m, h, _ in per_round if m]),
        "n": "/".join(str(n) for _, _, n in per_round),
    }


def report(
    configs: list[dict[str, Any]], rounds: list[dict[str, Any]], control: dict[str, Any] | None
) -> tuple[str, dict[str, Any]]:
    """The markdown tables and the goal verdicts (latency ratio: median of per-round ratios; CI and wall: per round)."""
    header = (
        "| config | ours latency s (±CI95) | ours n | ours CI % | OB latency s (±CI95) | OB n | OB CI % "
        "| ours/OB per round | ours/OB (median) | CI ours ≤ OB |"
    )
    rule = "|---|---|---|---|---|---|---|---|---|---|"
    if control:
        header += " bare generate tf5/tf4.57 | ours/OB ÷ bare ratio |"
        rule += "---|---|"
    lines = [header, rule]
    agree, narrower = [], []
    for cfg in configs:
        key = config_key(cfg)
        o, t = _tool_stats(rounds, "ours", key), _tool_stats(rounds, "theirs", key)
        ratios = [
            om / tm if tm else float("nan") for (om, _, _), (tm, _, _) in zip(o["rounds"], t["rounds"], strict=True)
        ]
        ratio = statistics.median(ratios)  # paired within a round; the median ignores one disturbed window of three
        per_round = ", ".join(f"{r:.3f}" for r in ratios)
        agree.append(abs(ratio - 1.0) <= 0.05)
        narrower.append(o["ci_rel"] <= t["ci_rel"])
        name = key
        bad = [
            f"{side} round {i} {c['status']}: {c['error'][:60]}"
            for i, r in enumerate(rounds)
            for side in ("ours", "theirs")
            if (c := r[side]["per_config"][key])["status"] != "ok"
        ]
        if bad:
            name += f" ({'; '.join(bad)})"
        line = (
            f"| {name} | {o['mean']:.3f} ± {o['half_width']:.3f} | {o['n']} | {100 * o['ci_rel']:.1f} "
            f"| {t['mean']:.3f} ± {t['half_width']:.3f} | {t['n']} | {100 * t['ci_rel']:.1f} | {per_round} "
            f"| {ratio:.3f} | {'yes' if narrower[-1] else 'no'} |"
        )
        if control:
            bare = _mean(control["tf5"]["per_config"][key]) / _mean(control["tf457"]["per_config"][key])
            line += f" {bare:.3f} | {ratio / bare:.3f} |"
        lines.append(line)
    walls = {side: _mean([r[side]["wall_s"] for r in rounds]) for side in ("ours", "theirs")}
    cpus = {side: _mean([r[side]["cpu_s"] for r in rounds]) for side in ("ours", "theirs")}
    wall_ratio = walls["ours"] / walls["theirs"]
    cpu_ratio = cpus["ours"] / cpus["theirs"] if cpus["theirs"] else float("nan")
    loads = {side: "; ".join(load for r in rounds for load in r[side]["loads"]) for side in ("ours", "theirs")}
    lines += [
        "",
        "| tool | wall s per round | CPU s per round (user+sys) | processes per round "
        "| load 1/5/15 min before → after, per process |",
        "|---|---|---|---|---|",
        f"| ours (sweep runner) | {walls['ours']:.1f} | {cpus['ours']:.1f} | {rounds[0]['ours']['phases']} "
        f"| {loads['ours']} |",
        f"| optimum-benchmark | {walls['theirs']:.1f} | {cpus['theirs']:.1f} | {rounds[0]['theirs']['phases']} "
        f"| {loads['theirs']} |",
        f"| ratio ours/OB | {wall_ratio:.3f} | {cpu_ratio:.3f} | | |",
        "",
        "| contention (ours, per config and round) | "
        + "; ".join(
            f"{config_key(c)}: "
            + "/".join(str(r["ours"]["per_config"][config_key(c)].get("contended", "?")) for r in rounds)
            for c in configs
        )
        + " |",
    ]
    verdict = {
        "rounds": len(rounds),
        "wall_ratio": wall_ratio,
        "cpu_ratio": cpu_ratio,
        "wall_goal_met": wall_ratio <= 0.5,
        "speed_goal_met": wall_ratio <= 0.5 and all(narrower),
        "ci_goal_met": all(narrower),
        "ci_narrower_count": f"{sum(narrower)}/{len(narrower)}",
        "latency_goal_met": all(agree),
        "latency_agree_count": f"{sum(agree)}/{len(agree)}",
    }
    return "\n".join(lines), verdict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m", help="blaze_lab model spec (resolved to a local dir)")
    parser.add_argument(
        "--configs",
        default=DEFAULT_CONFIGS,
        help="comma-separated dtype:batch:prompt_tokens:new_tokens (default: 6 configs over dtypes, batch sizes, "
        "prompt and output lengths)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="OMP_NUM_THREADS for BOTH tools (0: leave unset). Default 1: on the shared 2-core machine a 2-thread "
        "generate stalled ~6x whenever a sibling thread was descheduled (see docs/benchmarks.md)",
    )
    parser.add_argument(
        "--order",
        choices=("abba", "baab", "ours-first", "ob-first"),
        default="abba",
        help="abba: per dtype, both tools back to back, alternating who goes first, ours first on the first dtype "
        "(one process per tool and dtype); baab: the same, OB first; ours-first/ob-first: each tool once over all "
        "configs",
    )
    parser.add_argument(
        "--ours-measure",
        default="{}",
        help="JSON measure settings for our spec (default {}: MeasureSettings() defaults, as the goal asks)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="repeat the whole order this many times, mirrored every other round, fresh processes each round; "
        "the ratio is the median over rounds (default 3: one process per tool and dtype cannot tell a 5%% "
        "difference from this machine's window-to-window spread)",
    )
    parser.add_argument("--ob-python", type=Path, default=REPO / ".venv-ob" / "bin" / "python")
    parser.add_argument(
        "--control-iters",
        type=int,
        default=0,
        help="bare-generate calls per config and venv for a transformers 5 vs 4.57 control (0: skip it)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write every raw value and timing here")
    args = parser.parse_args()
    if not args.ob_python.exists():
        raise SystemExit(
            f"{args.ob_python} not found: python3 -m venv .venv-ob && "
            ".venv-ob/bin/pip install -r benchmarks/ob_requirements.txt"
        )

    configs = parse_configs(args.configs)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    work = Path(tempfile.mkdtemp(prefix="sweep-vs-ob-"))
    try:
        model_dir = prepare_model_dir(args.model, work / "model")
        print(
            f"model dir {model_dir}; configs {len(configs)}; threads {args.threads or 'default'}; "
            f"order {args.order}; load {loadavg()}",
            flush=True,
        )
        measure = json.loads(args.ours_measure)
        rounds: list[dict[str, Any]] = []
        for rnd in range(args.rounds):
            # Mirror every other round (abba, baab, ...): a drift over the run then hits both tools alike.
            order = args.order if rnd % 2 == 0 else {"abba": "baab", "baab": "abba"}.get(args.order, args.order)
            parts: dict[str, list[dict[str, Any]]] = {"ours": [], "theirs": []}
            for i, (side, group) in enumerate(phases(configs, order)):
                tag = f"r{rnd}-{i}-{group[0]['dtype']}"
                if side == "ours":
                    part = run_ours(model_dir, group, work, env, tag, measure)
                else:
                    part = run_theirs(model_dir, group, work, env, tag, args.ob_python)
                parts[side].append(part)
                names = ", ".join(f"{c['dtype']} bs{c['batch_size']}" for c in group)
                print(f"round {rnd} {side} [{names}]: {part['wall_s']:.1f} s wall, load {part['loads'][0]}", flush=True)
            rounds.append({side: merge(p) for side, p in parts.items()})
        control = None
        if args.control_iters:
            control = run_control(model_dir, configs, work, env, args.ob_python, args.control_iters)
            print(
                f"control: {control['tf5']['wall_s'] + control['tf457']['wall_s']:.1f} s wall, "
                f"load {control['tf457']['load_after']}",
                flush=True,
            )
        table, verdict = report(configs, rounds, control)
        print()
        print(table)
        print()
        ob = rounds[0]["theirs"]
        print(f"optimum-benchmark side: {ob['versions']}; its imports {ob['import_s']:.1f} s")
        print(
            f"latency within 5%: {verdict['latency_goal_met']} ({verdict['latency_agree_count']}); "
            f"wall ours/OB <= 0.5: {verdict['wall_goal_met']} ({verdict['wall_ratio']:.3f}); "
            f"CI ours <= OB: {verdict['ci_goal_met']} ({verdict['ci_narrower_count']})"
        )
        if args.json is not None:
            dump: dict[str, Any] = {"rounds": rounds}
            if control:
                dump["control"] = {name: c for name, c in control.items()}
            args.json.write_text(json.dumps({"configs": configs, "verdict": verdict, **dump}, indent=1))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
