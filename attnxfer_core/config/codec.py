"""Configs as data: the JSON round trip, the canonical text and the run id.

A config is written as ``config.json``, read back with :func:`from_dict` (unknown
keys are errors), and hashed into the run id from its canonical text: sorted,
compact JSON without execution settings, so the same run always gets the same id.
:func:`coerce` turns a string or plain value into a field's declared type; both
reading configs and command-line overrides go through it.
"""
from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import json
import math
import types
import typing
from typing import Any

from attnxfer_core.config.schema import Objective, RunConfig
from attnxfer_core.errors import ConfigError


@functools.lru_cache(maxsize=None)
def field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


@functools.lru_cache(maxsize=None)
def field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


@functools.lru_cache(maxsize=None)
def section_names(cls: type) -> tuple[str, ...]:
    """Fields of ``cls`` that are themselves config dataclasses."""
    hints = field_types(cls)
    return tuple(n for n in field_names(cls) if dataclasses.is_dataclass(hints[n]))


def fields_of(cfg: Any) -> list[tuple[str, Any, bool]]:
    """(name, value, is a nested config section) for each field of a config."""
    sections = section_names(type(cfg))
    return [(n, _normalised(type(cfg), n, getattr(cfg, n)), n in sections) for n in field_names(type(cfg))]


@functools.lru_cache(maxsize=None)
def _is_config_class(cls: type) -> bool:
    # cached: hasattr on an Enum class goes through EnumType.__getattr__, slow enough to
    # dominate collecting thousands of runs
    return dataclasses.is_dataclass(cls)


def to_dict(cfg: Any) -> dict:
    """Plain JSON-ready dict of a config dataclass (enums become their values)."""
    if isinstance(cfg, enum.Enum):
        return cfg.value
    if _is_config_class(type(cfg)):
        return {name: to_dict(_normalised(type(cfg), name, getattr(cfg, name))) for name in field_names(type(cfg))}
    if isinstance(cfg, tuple):
        return [to_dict(v) for v in cfg]
    return cfg


def from_dict(cls: type, data: dict, prefix: str = "") -> Any:
    """Rebuild a config dataclass from :func:`to_dict` output; unknown keys are errors."""
    if not isinstance(data, dict):
        raise ConfigError(prefix.rstrip(".") or cls.__name__, f"expected a mapping, got {type(data).__name__}")
    hints = field_types(cls)
    names = set(field_names(cls))
    for key in data:
        if key not in names:
            raise ConfigError(f"{prefix}{key}", "unknown config key")
    kwargs = {}
    for name in names & set(data):
        kwargs[name] = coerce(hints[name], data[name], f"{prefix}{name}")
    return cls(**kwargs)


_LEAF_BY_TYPE = {
    str: json.dumps,
    int: int.__repr__,
    float: float.__repr__,
    bool: lambda v: "true" if v else "false",
    type(None): lambda v: "null",
}


def _leaf_json(value: Any) -> str:
    """Compact JSON of a field value (what json.dumps gives, without its overhead)."""
    exact = _LEAF_BY_TYPE.get(type(value))
    if exact is not None:
        return exact(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, enum.Enum):
        return _leaf_json(value.value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return float.__repr__(value)
    if isinstance(value, tuple):
        return "[" + ",".join(_leaf_json(v) for v in value) + "]"
    return json.dumps(value)


@functools.lru_cache(maxsize=None)
def _float_names(cls: type) -> frozenset[str]:
    """Fields declared float (or Optional[float]): an int written there canonicalises as a float."""
    hints = field_types(cls)
    return frozenset(n for n in field_names(cls)
                     if hints[n] is float or typing.get_args(hints[n]) == (float, type(None)))


def _normalised(cls: type, name: str, value: Any) -> Any:
    return float(value) if type(value) is int and name in _float_names(cls) else value


_KEEP = object()  # marks a field the canonical text always includes


@functools.lru_cache(maxsize=None)
def _sorted_keys(cls: type) -> tuple[tuple[str, str, bool, Any], ...]:
    """(field name, its JSON key, is a section, the default it is left out at or _KEEP) in sorted order."""
    sections = section_names(cls)
    omitted = {f.name: f.default for f in dataclasses.fields(cls) if f.metadata.get("id_omits_default")}
    if any(default is dataclasses.MISSING for default in omitted.values()):
        raise TypeError(f"{cls.__name__}: a field left out of ids at its default needs a plain default")
    return tuple((n, json.dumps(n), n in sections, omitted.get(n, _KEEP)) for n in sorted(field_names(cls)))


def canonical_text(cfg: Any, skip: tuple[str, ...] = ()) -> str:
    """Sorted, compact JSON of a config. Configs are frozen, so each section's text is
    computed once and kept on the object: studies of thousands of runs that share
    most sections hash quickly. A field added after ids were published (``ADDED_LATER``)
    is left out while it holds its default, so old runs keep their ids."""
    cached = cfg.__dict__.get("_canonical") if not skip else None
    if cached is not None:
        return cached
    parts = []
    for name, key, is_section, omit_at in _sorted_keys(type(cfg)):
        if name in skip:
            continue
        value = getattr(cfg, name)
        if omit_at is not _KEEP and value == omit_at:
            continue
        parts.append(key + ":" + (canonical_text(value) if is_section
                                  else _leaf_json(_normalised(type(cfg), name, value))))
    text = "{" + ",".join(parts) + "}"
    if not skip:
        object.__setattr__(cfg, "_canonical", text)
    return text


def canonical_json(cfg: RunConfig) -> str:
    """The config as the run id sees it: sorted JSON without execution settings."""
    return canonical_text(cfg, skip=("exec",))


def run_id(cfg: RunConfig) -> str:
    """Stable id: the objective/mode for humans plus a hash of the canonical config.
    Kept on the (frozen) config once computed: expansion, collection and status all ask."""
    cached = cfg.__dict__.get("_run_id")
    if cached is not None:
        return cached
    digest = hashlib.sha256(canonical_json(cfg).encode()).hexdigest()[:12]
    label = cfg.objective.value if cfg.objective is not Objective.CLASSIFY else cfg.transfer.mode.value
    rid = f"{label}-{digest}"
    object.__setattr__(cfg, "_run_id", rid)
    return rid


_NONE_WORDS = {"none", "null", "~"}
_TRUE_WORDS = {"true", "1", "yes", "on"}
_FALSE_WORDS = {"false", "0", "no", "off"}


def coerce(tp: Any, raw: Any, key: str) -> Any:
    """Convert ``raw`` to type ``tp``; raises ConfigError naming ``key``."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        if raw is None or (isinstance(raw, str) and raw.strip().lower() in _NONE_WORDS):
            return None
        return coerce(inner[0], raw, key)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, raw, prefix=f"{key}.")
    if origin is tuple:
        items = raw
        if isinstance(raw, str):
            text = raw.strip().strip("[]()")
            items = [s for s in (p.strip() for p in text.split(",")) if s]
        if not isinstance(items, (list, tuple)):
            raise ConfigError(key, f"expected a list, got {raw!r}")
        return tuple(coerce(args[0], item, key) for item in items)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(raw.strip() if isinstance(raw, str) else raw)
        except ValueError:
            choices = ", ".join(m.value for m in tp)
            raise ConfigError(key, f"unknown value {raw!r}; choose one of: {choices}") from None
    if tp is bool:
        if isinstance(raw, bool):
            return raw
        word = str(raw).strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
        raise ConfigError(key, f"expected true/false, got {raw!r}")
    if tp is int:
        if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
            raise ConfigError(key, f"expected an integer, got {raw!r}")
        try:
            return int(raw) if not isinstance(raw, str) else int(raw.strip())
        except (TypeError, ValueError):
            raise ConfigError(key, f"expected an integer, got {raw!r}") from None
    if tp is float:
        if isinstance(raw, bool):
            raise ConfigError(key, f"expected a number, got {raw!r}")
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise ConfigError(key, f"expected a number, got {raw!r}") from None
        if math.isnan(value) or math.isinf(value):
            raise ConfigError(key, f"expected a finite number, got {raw!r}")
        return value
    if tp is str:
        if not isinstance(raw, str):
            raise ConfigError(key, f"expected a string, got {raw!r}")
        return raw
    if tp is dict:  # free-form options passed on as they are (a cluster profile's extra sbatch flags)
        if not isinstance(raw, dict):
            raise ConfigError(key, f"expected a mapping, got {raw!r}")
        for name, item in raw.items():
            if not isinstance(item, (str, int, float, bool)):
                raise ConfigError(f"{key}.{name}", f"expected a string, number or boolean, got {item!r}")
        return dict(raw)
    raise ConfigError(key, f"unsupported config type {tp!r}")
