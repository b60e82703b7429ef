"""Image quality beside speed: PSNR and SSIM against the reference config's images, and the reference store.

Both metrics compare 8-bit RGB images (``uint8 [H, W, 3]``), the form a user sees and a PNG stores, so a reference
written to disk and read back compares exactly like the one in memory.

- **PSNR** (dB) = 10·log10(255² / MSE) over all pixels and channels; ``inf`` for identical images.
- **SSIM** (Wang et al. 2004): 11×11 Gaussian window (σ = 1.5), K1 = 0.01, K2 = 0.03, L = 255, computed per
  RGB channel and averaged over the "valid" window positions (no padding), as
  scikit-image's ``structural_similarity(gaussian_weights=True, use_sample_covariance=False)`` does. Images smaller
  than the window use a window shrunk to the image (odd size), so tiny test images still get a score.

With random weights, the numbers measure numeric drift between settings, not visual quality: rows say so in
``quality_note``.

Example:
    >>> a = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    >>> psnr(a, a), round(ssim(a, a), 6)
    (inf, 1.0)
"""

from __future__ import annotations

import dataclasses
import io
import math
import os
import string
from pathlib import Path
from typing import Any

import numpy as np

from blaze_lab.config import stable_hash

RANDOM_WEIGHTS_NOTE = "numeric drift (random weights), not visual quality"
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03
DATA_RANGE = 255.0


@dataclasses.dataclass(frozen=True)
class DiffusionQualitySettings:
    """Quality and image output of a diffusion benchmark (``measure.quality`` in a sweep spec).

    Attributes:
        enabled: compute PSNR/SSIM against the reference config (off for pure speed sweeps).
        thumbnail_px: longer side of the PNG thumbnail kept in the summary row (``thumbnail_png``).
        image_dir: where to save one full-size PNG per config; may contain ``{sweep}`` and ``{group}``
            (None: ``$BLAZE_LAB_IMAGE_DIR`` if set, else no files).
    """

    enabled: bool = True
    thumbnail_px: int = 128
    image_dir: str | None = None

    def __post_init__(self) -> None:
        # Checked here so a spec is refused at validation, not by a KeyError inside the kernel after the model load.
        if self.image_dir is not None:
            check_image_dir_template(self.image_dir)


IMAGE_DIR_FIELDS = ("sweep", "group")


def check_image_dir_template(template: str) -> None:
    """Raise ValueError unless ``template`` formats with exactly ``{sweep}``/``{group}`` placeholders.

    >>> check_image_dir_template("results/{sweep}/{group}/images")
    >>> check_image_dir_template("results/{run}")
    Traceback (most recent call last):
    ...
    ValueError: image_dir: unknown placeholder {run} in 'results/{run}'; allowed: {sweep}, {group}
    """
    if not isinstance(template, str) or not template.strip():
        raise ValueError(f"image_dir: must be a non-empty path string, got {template!r}")
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:  # an unmatched brace
        raise ValueError(
            f"image_dir: not a valid template ({exc}) in {template!r}; allowed: {{sweep}}, {{group}}"
        ) from None
    bad = next((name for name in fields if name not in IMAGE_DIR_FIELDS), None)
    if bad is not None:
        raise ValueError(f"image_dir: unknown placeholder {{{bad}}} in {template!r}; allowed: {{sweep}}, {{group}}")


def _as_float(image: Any) -> np.ndarray:
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return arr.astype(np.float64)


def psnr(reference: Any, image: Any, data_range: float = DATA_RANGE) -> float:
    """Peak signal-to-noise ratio in dB (``inf`` when identical).

    >>> import numpy as np
    >>> round(psnr(np.zeros((4, 4, 3)), np.full((4, 4, 3), 255.0)), 6)
    0.0
    """
    a, b = _as_float(reference), _as_float(image)
    if a.shape != b.shape:
        raise ValueError(f"psnr: shapes differ {a.shape} vs {b.shape}")
    mse = float(np.mean((a - b) ** 2))
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(data_range**2 / mse)


def _gaussian(size: int, sigma: float) -> np.ndarray:
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(x**2) / (2.0 * sigma**2))
    return g / g.sum()


def _filter_valid(plane: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Separable correlation with ``kernel`` along both axes, keeping only fully covered positions."""
    k = kernel.size
    rows = np.lib.stride_tricks.sliding_window_view(plane, k, axis=0) @ kernel
    return np.lib.stride_tricks.sliding_window_view(rows, k, axis=1) @ kernel


def ssim(reference: Any, image: Any, data_range: float = DATA_RANGE) -> float:
    """Mean structural similarity over channels (1.0 when identical).

    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> a = rng.integers(0, 256, (32, 32, 3)).astype(np.uint8)
    >>> noisy = np.clip(a + rng.normal(0, 40, a.shape), 0, 255).astype(np.uint8)
    >>> ssim(a, noisy) < 0.9
    True
    """
    a, b = _as_float(reference), _as_float(image)
    if a.shape != b.shape:
        raise ValueError(f"ssim: shapes differ {a.shape} vs {b.shape}")
    size = min(SSIM_WINDOW, a.shape[0], a.shape[1])
    size -= 1 - size % 2  # odd
    kernel = _gaussian(size, SSIM_SIGMA)
    c1 = (SSIM_K1 * data_range) ** 2
    c2 = (SSIM_K2 * data_range) ** 2
    scores = []
    for ch in range(a.shape[2]):
        x, y = a[:, :, ch], b[:, :, ch]
        mx, my = _filter_valid(x, kernel), _filter_valid(y, kernel)
        sxx = _filter_valid(x * x, kernel) - mx * mx
        syy = _filter_valid(y * y, kernel) - my * my
        sxy = _filter_valid(x * y, kernel) - mx * my
        num = (2 * mx * my + c1) * (2 * sxy + c2)
        den = (mx * mx + my * my + c1) * (sxx + syy + c2)
        scores.append(float(np.mean(num / den)))
    return float(np.mean(scores))


def compare_images(references: list[np.ndarray], images: list[np.ndarray]) -> dict[str, float]:
    """Mean PSNR (dB) and SSIM of image ``i`` against reference ``i`` (pairs up to the shorter list).

    PSNR's mean is ``inf`` only when every pair is identical.
    """
    n = min(len(references), len(images))
    if n == 0:
        return {"psnr_db": math.nan, "ssim": math.nan, "psnr_db_min": math.nan, "ssim_min": math.nan}
    p = [psnr(references[i], images[i]) for i in range(n)]
    s = [ssim(references[i], images[i]) for i in range(n)]
    finite = [v for v in p if math.isfinite(v)]
    mean_psnr = math.inf if not finite else float(np.mean(finite)) if len(finite) == n else _mean_with_inf(p)
    return {"psnr_db": mean_psnr, "ssim": float(np.mean(s)), "psnr_db_min": min(p), "ssim_min": min(s)}


def _mean_with_inf(values: list[float]) -> float:
    # Some pairs identical, some not: average the MSEs (the PSNR of the pooled error), which stays finite.
    mses = [DATA_RANGE**2 / 10 ** (v / 10.0) if math.isfinite(v) else 0.0 for v in values]
    return 10.0 * math.log10(DATA_RANGE**2 / float(np.mean(mses)))


def to_uint8(images: Any) -> list[np.ndarray]:
    """A float ``[N, H, W, 3]`` array in [0, 1] (diffusers ``output_type="np"``) → list of ``uint8`` images."""
    arr = np.asarray(images)
    if arr.dtype != np.uint8:
        # fp16 VAEs can overflow to NaN/inf; show those pixels as black instead of an undefined cast.
        arr = (np.clip(np.nan_to_num(arr, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0) * 255.0).round().astype(np.uint8)
    return [arr[i] for i in range(arr.shape[0])]


def png_bytes(image: np.ndarray, max_side: int | None = None) -> bytes:
    """PNG encoding of a ``uint8`` image, optionally downscaled so its longer side is at most ``max_side``."""
    from PIL import Image

    pil = Image.fromarray(image)
    if max_side is not None and max(pil.size) > max_side:
        pil.thumbnail((max_side, max_side))
    buf = io.BytesIO()
    pil.save(buf, format="PNG")
    return buf.getvalue()


def read_png(data: bytes | Path) -> np.ndarray:
    from PIL import Image

    source = io.BytesIO(data) if isinstance(data, bytes) else data
    with Image.open(source) as img:
        return np.asarray(img.convert("RGB"))


def save_png(image: np.ndarray, path: Path) -> Path:
    """Write ``image`` as PNG atomically (temporary name, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(png_bytes(image))
    os.replace(tmp, path)
    return path


class ImageReferenceStore:
    """Reference images in memory and on disk as PNG files (never pickle), keyed by the reference config.

    Each load-time group of a sweep runs in its own kernel; the first that needs a reference computes it and the
    others read the PNGs from ``<cache>/reference/diffusion/<key>/<i>.png``.
    """

    def __init__(self, root: Path | None = None) -> None:
        self._memory: dict[str, list[np.ndarray]] = {}
        self._root = root

    def _dir(self) -> Path:
        if self._root is not None:
            return self._root
        from blaze_lab.models import cache_dir

        return cache_dir() / "reference" / "diffusion"

    @staticmethod
    def key(reference_hash: str, count: int) -> str:
        return stable_hash({"ref": reference_hash, "images": count}, 16)

    def get(self, key: str, count: int) -> list[np.ndarray] | None:
        if key in self._memory:
            return self._memory[key]
        folder = self._dir() / key
        paths = [folder / f"{i}.png" for i in range(count)]
        if not all(p.exists() for p in paths):
            return None
        try:
            images = [read_png(p) for p in paths]
        except Exception:  # a corrupt or partial file is a miss: recompute rather than trust it
            return None
        self._memory[key] = images
        return images

    def put(self, key: str, images: list[np.ndarray]) -> None:
        self._memory[key] = images
        folder = self._dir() / key
        for i, image in enumerate(images):
            save_png(image, folder / f"{i}.png")


__all__ = [
    "RANDOM_WEIGHTS_NOTE",
    "DiffusionQualitySettings",
    "ImageReferenceStore",
    "compare_images",
    "png_bytes",
    "psnr",
    "read_png",
    "save_png",
    "ssim",
    "to_uint8",
]
