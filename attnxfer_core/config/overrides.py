"""Changing configs: dotted ``key=value`` overrides, parsed by each field's type.

Configs are immutable; every function here returns a new config that shares the
sections it did not touch. One implementation, :func:`set_fields`, serves the
command line, study files (``with_values``) and anything else that edits a config.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Iterable, Mapping

from attnxfer_core.config.codec import coerce, field_names, field_types, section_names
from attnxfer_core.errors import ConfigError


def parse_override(item: str) -> tuple[str, str]:
    """``"key=value"`` -> ``("key", "value")``; anything else names itself in the error."""
    if "=" not in item:
        raise ConfigError(item, "override must look like key=value")
    key, value = item.split("=", 1)
    key = key.strip()
    if not key or not all(key.split(".")):
        raise ConfigError(repr(key), "not a config key: use dotted field names such as optim.lr")
    return key, value


def apply_overrides(cfg: Any, overrides: Iterable[str]) -> Any:
    """Return ``cfg`` with dotted ``key=value`` overrides applied (a later one wins).

    Values are parsed by the field's annotated type, so ``optim.lr=abc`` fails here
    with a message naming ``optim.lr`` instead of deep inside training.
    """
    values: dict[str, Any] = {}
    for item in overrides:
        key, raw = parse_override(item)
        values.pop(key, None)  # re-inserted last: a repeated key keeps its last value and position
        values[key] = raw
    return set_fields(cfg, values)


def set_field(cfg: Any, key: str, raw: Any) -> Any:
    """A copy of ``cfg`` with one dotted field set (``raw``: a string or a plain value)."""
    return set_fields(cfg, {key: raw})


def set_fields(cfg: Any, values: Mapping[str, Any]) -> Any:
    """A copy of ``cfg`` with dotted fields set, each value parsed by its field's type.

    Every touched section is copied once; sections off the paths are shared.
    """
    tree: dict[str, Any] = {}
    for key, raw in values.items():
        parts = key.split(".")
        node = tree
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):  # a key inside another key's value: one of them is wrong
                return _one_by_one(cfg, values)
        if isinstance(node.get(parts[-1]), dict):
            return _one_by_one(cfg, values)
        node[parts[-1]] = (key, raw)
    return _apply_tree(cfg, tree, "")


def _one_by_one(cfg: Any, values: Mapping[str, Any]) -> Any:
    """Keys that overlap (``a=...`` and ``a.b=...``) are applied in order, so the error names the first bad one."""
    for key, raw in values.items():
        cfg = _apply_tree(cfg, _path_tree(key, raw), "")
    return cfg


def _path_tree(key: str, raw: Any) -> dict[str, Any]:
    parts = key.split(".")
    tree: dict[str, Any] = {parts[-1]: (key, raw)}
    for part in reversed(parts[:-1]):
        tree = {part: tree}
    return tree


def _apply_tree(obj: Any, tree: dict[str, Any], prefix: str) -> Any:
    cls = type(obj)
    names, sections = field_names(cls), section_names(cls)
    changes = {}
    for name, sub in tree.items():
        path = prefix + name
        if name not in names:
            raise ConfigError(path if isinstance(sub, dict) else sub[0], "unknown config key")
        if isinstance(sub, dict):
            if name not in sections:
                raise ConfigError(_first_key(sub), f"'{path}' is not a config section")
            changes[name] = _apply_tree(getattr(obj, name), sub, path + ".")
        else:
            key, raw = sub
            if name in sections:
                raise ConfigError(key, f"is a config section; set one of its fields (e.g. {key}.<field>=...)")
            changes[name] = coerce(field_types(cls)[name], raw, key)
    return dataclasses.replace(obj, **changes)


def _first_key(tree: dict[str, Any]) -> str:
    """The full dotted key of the first leaf below ``tree`` (what the user typed)."""
    node: Any = tree
    while isinstance(node, dict):
        node = next(iter(node.values()))
    return node[0]
