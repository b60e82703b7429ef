"""RayExecutor on a real local 2-node Ray cluster: same rows as local, a node killed mid-sweep, no cluster.

The equivalence test uses a tiny spec (random:tiny-llama, 2 load-time groups, tiny measure and quality settings)
instead of the SmolLM2 quickstart, to keep CI time sane; the layout and columns under test are the same.
"""

from __future__ import annotations

import concurrent.futures
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from blaze_lab.errors import ClusterUnavailable, ConfigError
from blaze_lab.sweep.collect import load_manifest
from blaze_lab.sweep.executor import GroupTask, make_executor
from blaze_lab.sweep.plan import expand, groups
from blaze_lab.sweep.ray_executor import RayExecutor, ResourceDefaults, fits, group_resources, parse_address
from blaze_lab.sweep.runner import run_sweep
from blaze_lab.sweep.spec import load_spec

WriteSpec = Callable[..., Path]

TINY_LLM = {
    "name": "tiny_ray",
    "kind": "llm",
    "base": {"model": "random:tiny-llama", "device": "cpu", "prompt_tokens": 4, "new_tokens": 2},
    "zip": {"dtype": ["fp32", "bf16"]},
    "grid": {"batch_size": [1]},
    "reference": {},
    "measure": {
        "warmup": 0, "min_iters": 2, "max_iters": 2, "max_duration_s": 2.0,
        "quality": {"max_eval_tokens": 32, "kl_tokens": 8, "greedy_prompts": 1, "greedy_tokens": 2},
    },
}  # fmt: skip


# -- unit: addresses and resources (no cluster) -------------------------------------------------------------------


def test_address_and_resource_derivation(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_address("ray://head:10001") == ("head", 10001)
    assert parse_address("10.0.0.5") == ("10.0.0.5", 6379)
    with pytest.raises(ConfigError, match="address"):
        parse_address("head:notaport")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    with pytest.raises(ConfigError, match="--address"):
        RayExecutor(None)

    def task(*devices: str) -> GroupTask:
        runs = [{"run_id": d, "config": {"device": d}} for d in devices]
        return GroupTask("s", "g", "llm", "nb.ipynb", {"runs": runs}, tuple(devices))

    defaults = ResourceDefaults()
    assert group_resources(task("cuda"), defaults, cluster_has_gpus=False)["num_gpus"] == 1
    assert group_resources(task("auto"), defaults, cluster_has_gpus=True)["num_gpus"] == 1
    assert group_resources(task("auto"), defaults, cluster_has_gpus=False)["num_gpus"] == 0
    assert group_resources(task("cpu"), defaults, cluster_has_gpus=True)["num_gpus"] == 0
    forced = ResourceDefaults(num_cpus=2, num_gpus=0.5, memory_bytes=1 << 30, resources={"big": 1})
    options = group_resources(task("cuda"), forced, cluster_has_gpus=True)
    assert options == {"num_cpus": 2, "num_gpus": 0.5, "memory": 1 << 30, "resources": {"big": 1}}
    assert fits(options, {"CPU": 4, "GPU": 1, "memory": 2 << 30, "big": 1})
    assert not fits(options, {"CPU": 4, "GPU": 1, "memory": 2 << 30})  # no "big" resource on that node
    assert not fits({"num_cpus": 1, "num_gpus": 1}, {"CPU": 8})

    executor = RayExecutor.from_options("head:6379", '{"num_gpus": 1, "memory_bytes": 2e9, "max_retries": 0}')
    assert (executor.defaults.num_gpus, executor.defaults.memory_bytes, executor.max_retries) == (1, 2_000_000_000, 0)
    with pytest.raises(ConfigError, match="max_retries"):
        RayExecutor.from_options("head:6379", {"max_retries": "two"})
    with pytest.raises(ConfigError, match="JSON"):
        RayExecutor.from_options("head:6379", "{num_cpus: 2}")


def test_unreachable_address_fails_fast_naming_it(write_spec: WriteSpec, tmp_path: Path) -> None:
    from ray_cluster import free_port

    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    path = write_spec({"name": "nocluster", "kind": "fake", "grid": {"x": [1]}})
    started = time.monotonic()
    with pytest.raises(ClusterUnavailable, match=address.replace(".", r"\.")):
        run_sweep(path, results_root=tmp_path / "results", executor="ray", address=address, progress=False)
    assert time.monotonic() - started < 10
    assert not (tmp_path / "results" / "nocluster").exists()  # nothing written before the check
    assert type(make_executor("ray", address)).__name__ == "RayExecutor"

    from typer.testing import CliRunner

    from blaze_lab.cli import app

    result = CliRunner().invoke(app, ["sweep", str(path), "--executor", "ray", "--address", address,
                                      "--results", str(tmp_path / "results")])  # fmt: skip
    assert result.exit_code == 2
    assert f"error: no Ray cluster reachable at {address}" in result.output
    sweep = ["sweep", str(path), "--executor", "ray", "--address", address, "--results", str(tmp_path / "results")]
    result = CliRunner().invoke(app, [*sweep, "--ray-options", '{"num_cpus": 2, "resources": {"big": 1}}'])
    assert result.exit_code == 2 and f"no Ray cluster reachable at {address}" in result.output
    result = CliRunner().invoke(app, [*sweep, "--ray-options", '{"gpus": 1}'])
    assert result.exit_code == 2 and "--ray-options.gpus" in result.output and "num_gpus" in result.output


# -- on a real cluster --------------------------------------------------------------------------------------------


def _frames(root: Path, name: str) -> Any:
    from blaze_lab.sweep.collect import collect

    return collect(root / name)


@pytest.mark.ray
@pytest.mark.slow
def test_ray_sweep_gives_the_same_rows_as_local(ray_cluster: Any, tmp_path: Path) -> None:
    spec = tmp_path / "tiny_ray.yaml"
    spec.write_text(yaml.safe_dump(TINY_LLM, sort_keys=False))

    local = run_sweep(spec, results_root=tmp_path / "local", progress=False)
    ray_cluster.wait_started("w1")  # both nodes up (the second one started in the background meanwhile)
    # Spread the two groups over both nodes: one CPU each, so Ray runs them in parallel on head and w1.
    remote = run_sweep(spec, results_root=tmp_path / "ray", executor="ray", address=ray_cluster.address,
                       progress=False)  # fmt: skip

    (ls, lr), (rs, rr) = _frames(tmp_path / "local", "tiny_ray"), _frames(tmp_path / "ray", "tiny_ray")
    assert remote.counts == local.counts == {"ok": 2}
    assert set(rs.columns) == set(ls.columns) and set(rr.columns) == set(lr.columns)
    key = ["run_id", "group", "config_hash", "status", "llm.dtype", "llm.batch_size"]
    assert rs.sort_values("run_id")[key].values.tolist() == ls.sort_values("run_id")[key].values.tolist()
    assert sorted(rr["run_id"].unique()) == sorted(lr["run_id"].unique())
    for group in remote.executed:  # same layout, written by the driver
        assert {p.name for p in (remote.results_dir / group).iterdir()} >= {
            "summary.parquet", "raw.parquet", "executed.ipynb"}  # fmt: skip
    manifest = load_manifest(remote.results_dir)
    assert manifest["executor"] == "ray" and all(g["status"] == "done" for g in manifest["groups"].values())

    # Resume works the same: nothing left to run, no cluster work.
    again = run_sweep(spec, results_root=tmp_path / "ray", executor="ray", address=ray_cluster.address,
                      progress=False)  # fmt: skip
    assert again.executed == () and again.counts == {"ok": 2}


@pytest.mark.ray
@pytest.mark.slow
def test_node_killed_mid_sweep_retries_or_records_errors(
    ray_cluster: Any, write_spec: WriteSpec, tmp_path: Path, execution_log: Callable[[], list[list[str]]]
) -> None:
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    hold = tmp_path / "hold"
    hold.mkdir()
    ray_cluster.add_node("doomed", num_cpus=2, resources={"doomed": 2})
    ray_cluster.wait_started("doomed")
    ray.init(address=ray_cluster.address, logging_level="WARNING", log_to_driver=False)
    try:
        doomed = ray_cluster.wait_for(
            lambda nodes: next((n["NodeID"] for n in nodes if "doomed" in n["Resources"]), None), "doomed node"
        )
    finally:
        ray.shutdown()

    # Two groups both start on the doomed node: "soft" may move elsewhere on retry, "pinned" needs its resource.
    path = write_spec({"name": "killed", "kind": "fake", "zip": {"model": ["soft", "pinned"], "mode": ["hold"] * 2}})
    env = {"env_vars": {"BLAZE_TEST_LOG": str(tmp_path / "executions.log"), "BLAZE_TEST_HOLD": str(hold)}}

    def placement(task: GroupTask) -> dict[str, Any]:
        model = task.parameters["runs"][0]["config"]["model"]
        if model == "soft":
            return {"runtime_env": env, "scheduling_strategy": NodeAffinitySchedulingStrategy(doomed, soft=True)}
        return {"runtime_env": env, "resources": {"doomed": 1}}

    executor = RayExecutor(ray_cluster.address, max_retries=2, infeasible_timeout_s=1.0, poll_s=0.2,
                           task_options=placement)  # fmt: skip
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        future = pool.submit(run_sweep, path, results_root=tmp_path / "results", executor=executor, progress=False)
        deadline = time.monotonic() + 90
        while len(execution_log()) < 2 and time.monotonic() < deadline and not future.done():
            time.sleep(0.2)
        assert len(execution_log()) == 2, "both groups should be running on the doomed node"
        ray_cluster.kill_node("doomed")
        (hold / "release").write_text("go")  # the retried execution may finish
        result = future.result(timeout=120)

    summary, _ = result.frames()
    rows = {model: frame.iloc[0] for model, frame in summary.groupby("fake.model")}
    assert rows["soft"]["status"] == "ok"  # retried by Ray on a surviving node
    assert rows["pinned"]["status"] == "error"
    assert "no alive node" in rows["pinned"]["error"] and "doomed" in rows["pinned"]["error"]
    executions = [line[0] for line in execution_log()]
    assert executions.count(rows["soft"]["group"]) == 2  # ran twice: the lost attempt and the retry
    manifest = load_manifest(result.results_dir)
    assert manifest["counts"] == {"error": 1, "ok": 1} and manifest["ended"]


@pytest.mark.ray
def test_worker_process_killed_retries_exhausted_becomes_error_rows(
    ray_cluster: Any, write_spec: WriteSpec, tmp_path: Path, execution_log: Callable[[], list[list[str]]]
) -> None:
    hold = tmp_path / "hold"
    hold.mkdir()
    path = write_spec({"name": "crashed", "kind": "fake", "zip": {"model": ["lost", "fine"], "mode": ["hold", "ok"]}})
    env = {"env_vars": {"BLAZE_TEST_LOG": str(tmp_path / "executions.log"), "BLAZE_TEST_HOLD": str(hold)}}
    executor = RayExecutor(ray_cluster.address, max_retries=0, poll_s=0.2, task_options={"runtime_env": env})
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        future = pool.submit(run_sweep, path, results_root=tmp_path / "results", executor=executor, progress=False)
        deadline = time.monotonic() + 60
        while not (hold / "started").exists() and time.monotonic() < deadline and not future.done():
            time.sleep(0.1)
        assert not future.done(), future.result().frames()[0].to_dict("records")
        kernel_pid = int((hold / "started").read_text())
        # The kernel's parent is the Ray worker process running the group: kill it like the OOM killer would.
        worker_pid = int(Path(f"/proc/{kernel_pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        os.kill(worker_pid, signal.SIGKILL)
        result = future.result(timeout=120)

    summary, _ = result.frames()
    rows = {model: frame.iloc[0] for model, frame in summary.groupby("fake.model")}
    assert rows["fine"]["status"] == "ok"
    assert rows["lost"]["status"] == "error"
    assert rows["lost"]["error"].startswith(f"worker lost after 1 attempt(s) on {ray_cluster.address}")
    assert [line[0] for line in execution_log()].count(rows["lost"]["group"]) == 1  # max_retries=0: no retry


def test_plan_has_two_groups_for_the_tiny_spec(tmp_path: Path) -> None:
    spec = tmp_path / "tiny_ray.yaml"
    spec.write_text(yaml.safe_dump(TINY_LLM, sort_keys=False))
    assert len(groups(expand(load_spec(spec)))) == 2
