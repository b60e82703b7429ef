"""PSNR / SSIM against closed forms and a direct (loop) SSIM, and the PNG reference store."""

from __future__ import annotations

import math

import numpy as np
import pytest

from blaze_lab.engines.diffusion.quality import (
    ImageReferenceStore,
    _gaussian,
    compare_images,
    png_bytes,
    psnr,
    read_png,
    ssim,
    to_uint8,
)


def _image(seed: int = 0, size: int = 24) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


def _ssim_loop(x: np.ndarray, y: np.ndarray, size: int = 11) -> float:
    """Textbook SSIM: weighted window statistics at every fully covered position, one channel."""
    w = np.outer(_gaussian(size, 1.5), _gaussian(size, 1.5))
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    vals = []
    for i in range(x.shape[0] - size + 1):
        for j in range(x.shape[1] - size + 1):
            a, b = x[i : i + size, j : j + size], y[i : i + size, j : j + size]
            ma, mb = (w * a).sum(), (w * b).sum()
            va, vb = (w * (a - ma) ** 2).sum(), (w * (b - mb) ** 2).sum()
            cov = (w * (a - ma) * (b - mb)).sum()
            vals.append(((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma**2 + mb**2 + c1) * (va + vb + c2)))
    return float(np.mean(vals))


def test_identical_images_give_inf_psnr_and_ssim_one() -> None:
    a = _image()
    assert psnr(a, a) == math.inf
    assert ssim(a, a) == pytest.approx(1.0, abs=1e-12)


def test_psnr_closed_form() -> None:
    a = np.zeros((8, 8, 3), dtype=np.uint8)
    b = np.full((8, 8, 3), 10, dtype=np.uint8)  # MSE = 100
    assert psnr(a, b) == pytest.approx(10 * math.log10(255**2 / 100))


def test_ssim_matches_direct_computation_and_drops_with_noise() -> None:
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, (20, 20, 1)).astype(np.uint8)
    y = np.clip(x + rng.normal(0, 20, x.shape), 0, 255).astype(np.uint8)
    expected = _ssim_loop(x[:, :, 0].astype(float), y[:, :, 0].astype(float))
    assert ssim(x, y) == pytest.approx(expected, rel=1e-9)
    noisier = np.clip(x + rng.normal(0, 60, x.shape), 0, 255).astype(np.uint8)
    assert ssim(x, noisier) < ssim(x, y) < 1.0
    assert psnr(x, noisier) < psnr(x, y)


def test_ssim_of_a_brightness_shift_is_the_luminance_term() -> None:
    # y = x + c: variances and covariance are equal, so SSIM reduces to the luminance term per window.
    x = np.full((16, 16, 1), 100.0)
    x[::2] = 120.0
    y = x + 30.0
    mx, my = 110.0, 140.0
    c1 = (0.01 * 255) ** 2
    lum = (2 * mx * my + c1) / (mx**2 + my**2 + c1)
    # every 11x11 window over alternating rows has mean close to 110; compare with a loose tolerance
    assert ssim(x, y) == pytest.approx(lum, abs=2e-3)


def test_small_images_use_a_shrunken_window() -> None:
    a = _image(size=6)
    assert ssim(a, a) == pytest.approx(1.0)
    assert -1.0 < ssim(a, _image(seed=1, size=6)) < 0.5  # unrelated noise: near zero (can be negative)


def test_compare_images_pairs_and_mixed_identical() -> None:
    a, b = _image(0), _image(1)
    out = compare_images([a, a], [a, b])
    assert math.isfinite(out["psnr_db"]) and out["psnr_db_min"] == psnr(a, b)
    assert out["ssim"] == pytest.approx((1.0 + ssim(a, b)) / 2)
    assert compare_images([a], [a])["psnr_db"] == math.inf


def test_png_round_trip_is_lossless_and_store_persists(tmp_path) -> None:
    images = to_uint8(np.random.default_rng(0).random((2, 16, 16, 3)))
    assert np.array_equal(read_png(png_bytes(images[0])), images[0])
    store = ImageReferenceStore(tmp_path)
    key = store.key("abc", 2)
    assert store.get(key, 2) is None
    store.put(key, images)
    fresh = ImageReferenceStore(tmp_path)  # another kernel: reads the PNG files
    got = fresh.get(key, 2)
    assert got is not None and all(np.array_equal(g, i) for g, i in zip(got, images, strict=True))
    (tmp_path / key / "1.png").write_bytes(b"not a png")
    assert ImageReferenceStore(tmp_path).get(key, 2) is None  # corrupt file: a miss, recomputed


def test_to_uint8_maps_nan_and_inf_pixels_without_warnings() -> None:
    arr = np.array([[[[np.nan, np.inf, -np.inf], [0.5, 1.2, -0.1]]]])
    (img,) = to_uint8(arr)
    assert img.tolist() == [[[0, 255, 0], [128, 255, 0]]]
