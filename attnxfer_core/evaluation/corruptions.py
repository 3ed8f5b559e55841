"""ImageNet-C style corruptions (``imagecorruptions``, the maintained fork), generated once and cached.

A corrupted set is a pure function of (the clean images, corruption, severity,
seed): its cache file is named by a hash of exactly that, with the clean
images entering as a content hash, so a cache can never be stale. Sets are
generated in parallel processes.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import zlib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import Tensor

from attnxfer_core.data.source import derive_seed
from attnxfer_core.runs.files import atomic_write_bytes

GENERATOR_VERSION = 1  # bump when the generation changes: old cache files are then simply not found
SEVERITIES = (1, 2, 3, 4, 5)
# The ImageNet-C benchmark's 15 corruptions and the 4 extra (held-out) ones, in the library's order.
BENCHMARK = (
    "gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur", "motion_blur", "zoom_blur",
    "snow", "frost", "fog", "brightness", "contrast", "elastic_transform", "pixelate", "jpeg_compression",
)
EXTRA = ("speckle_noise", "gaussian_blur", "spatter", "saturate")
# These two ignore numpy's global seed; they take seed= instead (the others reject it).
TAKES_SEED = {"impulse_noise", "glass_blur"}


def images_hash(images: Tensor) -> str:
    return hashlib.sha256(images.contiguous().numpy().tobytes()).hexdigest()[:16] + f"-{tuple(images.shape)}"


def cache_path(cache_dir: Path, source_hash: str, name: str, severity: int, seed: int) -> Path:
    key = json.dumps([source_hash, name, severity, seed, GENERATOR_VERSION])
    return Path(cache_dir) / "corruptions" / f"{name}-{severity}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.pt"


def corrupt_images(images: Tensor, name: str, severity: int, seed: int) -> Tensor:
    """Corrupt a uint8 (N, C, H, W) batch image by image; grayscale stays grayscale."""
    from imagecorruptions import corrupt

    out = torch.empty_like(images)
    tag = zlib.crc32(name.encode())
    for i, image in enumerate(images):
        array = image.permute(1, 2, 0).numpy()
        if array.shape[2] == 1:
            array = array[:, :, 0]
        value = derive_seed(seed, tag, severity, i) % 2**32
        np.random.seed(value)
        kwargs = {"seed": value} if name in TAKES_SEED else {}
        result = np.asarray(corrupt(array, corruption_name=name, severity=severity, **kwargs))
        if result.ndim == 3 and images.shape[1] == 1:
            result = result.astype(np.float32).mean(axis=2).round()  # the library returns 3 channels
        result = np.clip(result, 0, 255).astype(np.uint8)
        if result.ndim == 2:
            result = result[:, :, None]
        out[i] = torch.from_numpy(result).permute(2, 0, 1)
    return out


def _generate(args: tuple) -> str:
    """Corrupt one set and store it; single-threaded, since workers already run one per core."""
    images, path, name, severity, seed = args
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        corrupted = corrupt_images(images, name, severity, seed)
    finally:
        torch.set_num_threads(threads)  # in-process generation must not change the caller's threads
    buffer = io.BytesIO()
    torch.save(corrupted, buffer)
    atomic_write_bytes(path, buffer.getvalue())
    return str(path)


def corrupted_sets(
    images: Tensor, cache_dir: Path, names: Sequence[str], severities: Sequence[int] = SEVERITIES,
    seed: int = 0, workers: int = 0,
) -> dict[tuple[str, int], Tensor]:
    """{(corruption, severity): uint8 images}, generating (in parallel) only what is not cached."""
    source = images_hash(images)
    paths = {(n, s): cache_path(cache_dir, source, n, s, seed) for n in names for s in severities}
    missing = [(images, p, n, s, seed) for (n, s), p in paths.items() if not p.exists()]
    if missing:
        paths[next(iter(paths))].parent.mkdir(parents=True, exist_ok=True)
        workers = workers or max(1, min(len(missing), os.cpu_count() or 1))
        if workers == 1:
            for task in missing:
                _generate(task)
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                list(pool.map(_generate, missing))
    return {key: torch.load(path, weights_only=True) for key, path in paths.items()}


def corruption_errors(top1: dict[tuple[str, int], float]) -> dict[str, float]:
    """Per corruption: the summed top-1 error (in [0, 1] per set) over severities, as in ImageNet-C."""
    errors: dict[str, float] = {}
    for (name, _severity), acc in top1.items():
        errors[name] = errors.get(name, 0.0) + (1.0 - acc / 100.0)
    return errors


def mce(model_top1: dict[tuple[str, int], float], baseline_top1: dict[tuple[str, int], float],
        names: Sequence[str] = BENCHMARK) -> float:
    """Mean corruption error: mean over corruptions of sum_s E(model) / sum_s E(baseline), in percent."""
    model, base = corruption_errors(model_top1), corruption_errors(baseline_top1)
    return _mean_ratio(model, base, names)


# AlexNet's top-1 error on each ImageNet-C benchmark corruption, averaged over the five severities: the
# normaliser of the published mCE (Hendrycks & Dietterich, "Benchmarking Neural Network Robustness to Common
# Corruptions and Perturbations", ICLR 2019; the values the ImageNet-C reference evaluation uses).
ALEXNET_ERRORS = {
    "gaussian_noise": 0.886428, "shot_noise": 0.894468, "impulse_noise": 0.922640, "defocus_blur": 0.819880,
    "glass_blur": 0.826268, "motion_blur": 0.785948, "zoom_blur": 0.798360, "snow": 0.866816, "frost": 0.826572,
    "fog": 0.819324, "brightness": 0.564592, "contrast": 0.853204, "elastic_transform": 0.646056,
    "pixelate": 0.717840, "jpeg_compression": 0.606500,
}


def mce_alexnet(model_top1: dict[tuple[str, int], float]) -> float:
    """The published mCE (percent): mean over the benchmark corruptions of the model's error summed over the
    five severities divided by AlexNet's. Corruptions without all five severities are left out; NaN if none
    is left (report the corruptions that were evaluated beside it)."""
    complete = [n for n in BENCHMARK if sum(1 for (c, _s) in model_top1 if c == n) == len(SEVERITIES)]
    alexnet = {n: len(SEVERITIES) * ALEXNET_ERRORS[n] for n in complete}
    return _mean_ratio(corruption_errors(model_top1), alexnet, complete)


def mean_corruption_error(model_top1: dict[tuple[str, int], float]) -> float:
    """Unnormalised mean corruption error (percent): 100 - top-1, averaged over every set evaluated."""
    return 100.0 - float(np.mean(list(model_top1.values()))) if model_top1 else float("nan")


def _mean_ratio(num: dict[str, float], den: dict[str, float], names: Sequence[str]) -> float:
    """100 x mean of num/den over corruptions; a corruption with a zero denominator (a baseline
    at 0% error, or not degraded at all) is left out; NaN if none is left."""
    ratios = [num[n] / den[n] for n in names if den[n] > 1e-12]
    return 100.0 * float(np.mean(ratios)) if ratios else float("nan")


def relative_mce(model_top1: dict[tuple[str, int], float], model_clean: float,
                 baseline_top1: dict[tuple[str, int], float], baseline_clean: float,
                 names: Sequence[str] = BENCHMARK) -> float:
    """Relative mCE: degradation from clean, normalised by the baseline's degradation, in percent."""
    def degradation(top1, clean):
        err_clean = 1.0 - clean / 100.0
        out: dict[str, float] = {}
        for (name, _s), acc in top1.items():
            out[name] = out.get(name, 0.0) + (1.0 - acc / 100.0) - err_clean
        return out

    model, base = degradation(model_top1, model_clean), degradation(baseline_top1, baseline_clean)
    return _mean_ratio(model, base, names)
