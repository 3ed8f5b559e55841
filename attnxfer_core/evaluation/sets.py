"""Evaluation sets by name, for a finished run.

- ``clean``: the run's own test set.
- ``corruptions`` / ``corruptions_extra``: the 15 benchmark (4 extra) corruptions x 5 severities.
  Tensor datasets: generated from ``data.corruption_subset`` test images and cached;
  ImageFolder datasets: ImageNet-C folders ``<exec.shift_root>/imagenet-c/<name>/<severity>/``.
  ``clean_subset`` is that subset uncorrupted (the reference for relative mCE).
- ``imagenet_v2``, ``imagenet_sketch``, ``imagenet_a``, ``imagenet_r``: ImageFolder dirs under
  ``exec.shift_root``; class folders are WordNet ids (mapped to the model's classes through the
  training set's folder names) or class numbers (ImageNet-V2). The 200-class sets (A, R) are
  scored on the logits of their 200 classes only.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional

import torch
from torch import Tensor

from attnxfer_core.config import RunConfig
from attnxfer_core.data import DataSource, InMemorySource
from attnxfer_core.data.source import balanced_subset
from attnxfer_core.errors import UserError
from attnxfer_core.evaluation.corruptions import BENCHMARK, EXTRA, SEVERITIES, corrupted_sets
from attnxfer_core.runs.rundir import cache_dir

Batch = tuple[Tensor, Tensor]
SHIFTED_DIRS = {
    "imagenet_v2": "imagenetv2-matched-frequency",
    "imagenet_sketch": "imagenet-sketch",
    "imagenet_a": "imagenet-a",
    "imagenet_r": "imagenet-r",
}
FAMILIES = ("clean", "clean_subset", "corruptions", "corruptions_extra", *SHIFTED_DIRS)


@dataclass
class EvalSet:
    name: str  # e.g. "clean", "corruptions/fog/3", "imagenet_r"
    batches: Callable[[int], Iterator[Batch]]  # batch size -> (images, labels)
    class_index: Optional[Tensor] = None  # the model outputs this set is scored on (None: all)
    corruption: Optional[tuple[str, int]] = None


def _tensor_batches(source: InMemorySource, images: Tensor, labels: Tensor) -> Callable[[int], Iterator[Batch]]:
    def batches(batch_size: int) -> Iterator[Batch]:
        for start in range(0, len(labels), batch_size):
            yield source.normalize(images[start:start + batch_size]), labels[start:start + batch_size]
    return batches


def _subset(source: InMemorySource, cfg: RunConfig) -> tuple[Tensor, Tensor]:
    size = min(cfg.data.corruption_subset, source.eval_size)
    idx = balanced_subset(source.test.labels, size, seed=0, field="data.corruption_subset")
    return source.test.images[idx], source.test.labels[idx]


def resolve_sets(families: list[str], cfg: RunConfig, source: DataSource, workers: int = 0) -> list[EvalSet]:
    """The evaluation sets the family names stand for (generating corrupted sets if needed)."""
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        raise UserError(f"unknown evaluation set(s) {', '.join(unknown)}; choose from: {', '.join(FAMILIES)}")
    sets: list[EvalSet] = []
    for family in families:
        if family == "clean":
            sets.append(EvalSet("clean", lambda bs: source.eval_batches(bs)))
        elif family in ("clean_subset", "corruptions", "corruptions_extra"):
            sets += _corruption_family(family, cfg, source, workers)
        else:
            sets.append(_shifted(family, cfg))
    return sets


def set_names(families: list[str]) -> list[str]:
    """The names of the sets the families stand for, known without data (what a cached evaluation holds)."""
    names: list[str] = []
    for family in families:
        if family in ("corruptions", "corruptions_extra"):
            kinds = BENCHMARK if family == "corruptions" else EXTRA
            names += [f"corruptions/{n}/{s}" for n in kinds for s in SEVERITIES]
        else:
            names.append(family)
    return names


def _corruption_family(family: str, cfg: RunConfig, source: DataSource, workers: int) -> list[EvalSet]:
    names = BENCHMARK if family == "corruptions" else EXTRA
    if isinstance(source, InMemorySource):
        images, labels = _subset(source, cfg)
        if family == "clean_subset":
            return [EvalSet("clean_subset", _tensor_batches(source, images, labels))]
        made = corrupted_sets(images, cache_dir(Path(cfg.exec.runs_root), cfg.exec.cache_root), names, SEVERITIES,
                              seed=0, workers=workers)
        return [EvalSet(f"corruptions/{n}/{s}", _tensor_batches(source, made[(n, s)], labels), corruption=(n, s))
                for n in names for s in SEVERITIES]
    if family == "clean_subset":
        return [EvalSet("clean_subset", lambda bs: source.eval_batches(bs))]
    root = Path(cfg.exec.shift_root) / "imagenet-c"
    return [_folder_set(f"corruptions/{n}/{s}", root / n / str(s), cfg, corruption=(n, s))
            for n in names for s in SEVERITIES]


def _shifted(family: str, cfg: RunConfig) -> EvalSet:
    return _folder_set(family, Path(cfg.exec.shift_root) / SHIFTED_DIRS[family], cfg)


def class_mapping(folder_classes: list[str], model_classes: list[str]) -> Tensor:
    """Model output index of each class folder: by WordNet id, or by class number (ImageNet-V2)."""
    position = {c: i for i, c in enumerate(model_classes)}
    out = []
    for name in folder_classes:
        if name in position:
            out.append(position[name])
        elif name.isdigit() and int(name) < len(model_classes):
            out.append(int(name))
        else:
            raise UserError(f"class folder {name!r} is neither a training class nor a class number")
    return torch.tensor(out)


def _folder_set(name: str, root: Path, cfg: RunConfig, corruption: Optional[tuple[str, int]] = None) -> EvalSet:
    from timm.data import create_transform
    from torchvision.datasets import ImageFolder

    if not root.is_dir():
        raise UserError(f"evaluation set {name}: {root} is not a directory (set exec.shift_root)")
    if not cfg.data.root:
        raise UserError(f"evaluation set {name} needs the training data's class list (data.root)")
    model_classes = sorted(p.name for p in (Path(cfg.data.root) / "train").iterdir() if p.is_dir())
    dataset = ImageFolder(str(root), transform=create_transform(cfg.student.img_size or 224, is_training=False))
    mapping = class_mapping(dataset.classes, model_classes)
    restrict = None if len(dataset.classes) == len(model_classes) else mapping

    def batches(batch_size: int) -> Iterator[Batch]:
        loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, num_workers=cfg.exec.data_workers)
        for images, labels in loader:
            # labels: folder index -> model class (full sets) or position among the kept classes (200-class sets)
            yield images, (mapping[labels] if restrict is None else labels)

    return EvalSet(name, batches, class_index=restrict, corruption=corruption)
