from blaze_lab.env import fingerprint, package_version


def test_fingerprint_is_flat_and_prefixed() -> None:
    fp = fingerprint()
    assert all(k.startswith("env.") for k in fp)
    assert fp["env.device"] in ("cpu", "cuda")
    assert fp["env.torch"] == package_version("torch")
    assert fp["env.cpu_count"] >= 1
    assert all(isinstance(v, str | int | float | type(None)) for v in fp.values())
