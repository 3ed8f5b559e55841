"""timm weights by name, wherever they live: the timm registry, ``hf-hub:`` repositories and
``local-dir:`` folders, and the hub's local cache that a sweep's jobs rely on.

Compute nodes often have no internet. ``attnxfer prefetch STUDY`` loads every named weight a
study needs once, where the hub is reachable, which leaves them in the hub's cache;
``attnxfer submit`` then refuses a study whose weights are not cached (before anything is
queued) and its jobs run with the hub offline, so a job never hangs or fails on the network.
Failures say which field and name, and what to run, never a hub library's traceback.
"""
from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Iterable, Iterator

import timm
import torch

from attnxfer_core.config import RunConfig, TeacherConfig, TeacherSource
from attnxfer_core.errors import ConfigError, UserError
from attnxfer_core.modes import spec_of

HUB = "hf-hub"
LOCAL_DIR = "local-dir"
OFFLINE_ENV = "HF_HUB_OFFLINE"


def _split(name: str) -> tuple[str, str]:
    """(source, identifier): source is "" for timm registry names."""
    head, sep, rest = name.partition(":")
    if sep and head.replace("_", "-").lower() in (HUB, LOCAL_DIR):
        return head.replace("_", "-").lower(), rest
    return "", name


def check_name(name: str, field: str) -> None:
    """Refuse, naming ``field``, a name timm could not resolve; nothing is downloaded."""
    if not name:
        raise ConfigError(field, "needs a timm model name (a registry name, hf-hub:ORG/REPO or local-dir:PATH)")
    source, ident = _split(name)
    if not ident:
        raise ConfigError(field, f"{name!r} names no repository or folder after '{source}:'")
    if source == HUB:
        if ident.count("/") != 1 or not all(ident.split("/")):
            raise ConfigError(field, f"{name!r}: expected hf-hub:ORG/REPO")
        return
    if source == LOCAL_DIR:
        folder = Path(ident)
        config = folder / "config.json"
        if not config.is_file():
            raise ConfigError(field, f"{name!r}: {config} does not exist (a local-dir folder holds a timm "
                              "config.json and model.safetensors)")
        try:
            arch = json.loads(config.read_text()).get("architecture")
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            raise ConfigError(field, f"{name!r}: {config} is not a timm config (not JSON)") from None
        if not isinstance(arch, str) or not timm.is_model(arch):
            raise ConfigError(field, f"{name!r}: {config} names no known timm architecture ({arch!r})")
        return
    if ":" in name or "/" in name:
        raise ConfigError(field, f"{name!r}: use hf-hub:ORG/REPO for a hub repository or local-dir:PATH for a folder")
    if not timm.is_model(name):
        raise ConfigError(field, f"unknown timm model {name!r}")


@contextlib.contextmanager
def hub_offline() -> Iterator[None]:
    """The hub's files come from its local cache only, in this process and the ones it starts."""
    import huggingface_hub.constants as constants

    before_env, before = os.environ.get(OFFLINE_ENV), constants.HF_HUB_OFFLINE
    os.environ[OFFLINE_ENV] = "1"
    constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = before
        if before_env is None:
            os.environ.pop(OFFLINE_ENV, None)
        else:
            os.environ[OFFLINE_ENV] = before_env


def is_offline() -> bool:
    import huggingface_hub.constants as constants

    return bool(constants.HF_HUB_OFFLINE)


def create(name: str, *, pretrained: bool, num_classes: int, img_size: int | None, field: str,
           **kwargs) -> torch.nn.Module:
    """``timm.create_model`` for a checked name; failures become one line naming ``field``."""
    check_name(name, field)
    extra = {"img_size": img_size} if img_size else {}
    try:
        return timm.create_model(name, pretrained=pretrained, num_classes=num_classes, **extra, **kwargs)
    except Exception as exc:  # hub, network and file errors come in many types
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        what = "weights" if pretrained else "config"
        hint = ("not in the hub's local cache and the hub is offline" if is_offline() else "is the hub reachable?")
        hint += ("; run `attnxfer prefetch STUDY` where the hub is reachable, or save the weights and use "
                 f"{field.rsplit('.', 1)[0]}.source=file")
        raise UserError(f"{field}: cannot load the {what} of {name} ({first}); {hint}") from None


def hub_names(configs: Iterable[RunConfig]) -> list[tuple[str, str]]:
    """Distinct (field, name) of the timm-named weights the runs load (teacher and init), in order."""
    seen: dict[str, str] = {}
    for cfg in configs:
        for field_name, source in (("teacher", cfg.teacher), ("init", cfg.init)):
            if _needs(cfg, field_name, source):
                seen.setdefault(source.name, f"{field_name}.name")
    return [(field, name) for name, field in seen.items()]


def _needs(cfg: RunConfig, field_name: str, source: TeacherConfig) -> bool:
    if source.source is not TeacherSource.TIMM:
        return False
    spec = spec_of(cfg.transfer.mode)
    return spec.needs_teacher if field_name == "teacher" else not spec.init_from_teacher


def load_each(names: list[tuple[str, str]], *, offline: bool) -> list[dict]:
    """Load every named weight once (from the cache alone when ``offline``): what prefetching and
    the submission check do. Returns one record per name; raises on the first that fails."""
    records = []
    for field, name in names:
        with hub_offline() if offline else contextlib.nullcontext():
            model = create(name, pretrained=True, num_classes=0, img_size=None, field=field)
        params = sum(p.numel() for p in model.parameters())
        records.append({"name": name, "field": field, "params": params,
                        "architecture": type(model).__name__, "source": _split(name)[0] or "timm"})
        del model
    return records


def require_cached(configs: Iterable[RunConfig]) -> None:
    """Refuse a submission whose named weights are not all in the local cache (its jobs run offline)."""
    names = hub_names(configs)
    try:
        load_each(names, offline=True)
    except UserError as exc:
        raise UserError(f"{exc}; nothing was submitted") from None
