"""A finished model as a timm folder: ``model.safetensors`` and timm's ``config.json``.

Researchers take students elsewhere (fine-tuning, probing, other suites) through timm, so every
finished classifier run also writes ``RUN/timm/``, which ``timm.create_model("local-dir:RUN/timm",
pretrained=True)`` loads with no code from this suite. It lives in a folder of its own because the
run directory's ``config.json`` is the run's resolved config. The config is written in the
format timm's ``local-dir:`` loader reads (architecture, model arguments, and the data config
the run evaluated with), with atomic writes like every other run file.
"""
from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import save as safetensors_bytes

from attnxfer_core.runs.files import atomic_write_bytes, atomic_write_json

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"


def export_timm(model: torch.nn.Module, folder: Path, *, arch: str, model_args: dict, preprocessing: dict,
                tag: str) -> Path:
    """Write ``model`` (a timm ViT built as ``timm.create_model(arch, **model_args)``) into ``folder``.

    The weights are written before the config, so a folder with a config always has its weights.
    """
    folder = Path(folder)
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    atomic_write_bytes(folder / WEIGHTS_FILE, safetensors_bytes(state))
    size = model_args.get("img_size")
    in_chans = model_args.get("in_chans", 3)
    pretrained_cfg = {
        "tag": tag,
        "custom_load": False,
        "input_size": [in_chans, size, size] if size else [in_chans, 224, 224],
        "fixed_input_size": True,
        "num_classes": model.num_classes,
        "first_conv": "patch_embed.proj",
        "classifier": "head",
        **preprocessing,
    }
    config = {
        "architecture": arch,
        "num_classes": model.num_classes,
        "num_features": model.num_features,
        "global_pool": model.global_pool,
        "model_args": {**model_args, "num_classes": model.num_classes},
        "pretrained_cfg": pretrained_cfg,
    }
    atomic_write_json(folder / CONFIG_FILE, config)
    return folder
