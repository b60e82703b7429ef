"""The curated public API is pinned: adding or removing a name is a deliberate change to this list."""

import blaze_lab
from blaze_lab import errors


def test_top_level_api_is_pinned() -> None:
    assert sorted(blaze_lab.__all__) == [
        "BlazeLabError",
        "Clock",
        "ConfigError",
        "DiffusionConfig",
        "DiffusionEngine",
        "EngineError",
        "Explorer",
        "LLMConfig",
        "LLMEngine",
        "MeasureSettings",
        "ModelLoadError",
        "RealClock",
        "SweepError",
        "UnsupportedError",
        "VirtualClock",
        "__version__",
        "load_results",
        "load_spec",
        "resolve_model",
        "run_sweep",
        "write_report",
    ]
    for name in blaze_lab.__all__:  # every lazy name resolves to a real object
        assert getattr(blaze_lab, name) is not None


def test_error_tree() -> None:
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.BlazeLabError)
    assert issubclass(errors.Overloaded, errors.EngineError)
    assert issubclass(errors.CircuitOpenError, errors.EngineError)
    assert issubclass(errors.ClusterUnavailable, errors.SweepError)
    assert issubclass(errors.ConfigError, ValueError)


def test_import_is_cheap() -> None:
    import subprocess
    import sys

    # Validating a spec imports the kinds' config modules: those must stay torch-free too.
    configs = "blaze_lab.engines.llm.config, blaze_lab.engines.diffusion.config, blaze_lab.serving.config"
    code = f"import sys, blaze_lab, blaze_lab.models, blaze_lab.cache, {configs}; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
