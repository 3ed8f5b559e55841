"""Which layers and which heads take part in a transfer.

One grammar, one resolver, used for layers and heads alike (in the spirit of
timm's ``feature_take_indices``): ``all``, ``none``, ``first:K``, ``last:K`` or an
explicit comma list where negative indices count from the end.
"""
from __future__ import annotations

from typing import Sequence, Union

from attnxfer_core.errors import ConfigError

IndexSpec = Union[str, int, Sequence[int], None]


def resolve_indices(spec: IndexSpec, size: int, field: str) -> tuple[int, ...]:
    """Resolve ``spec`` against ``size`` items into sorted, unique, non-negative indices.

    ``None`` and ``"all"`` select everything; an ``int`` k selects the first k (a
    bare count reads most naturally as "how many"); sequences are explicit indices.
    """
    if spec is None:
        return tuple(range(size))
    if isinstance(spec, bool):
        raise ConfigError(field, f"expected an index spec, got {spec!r}")
    if isinstance(spec, int):
        return _first_or_last("first", spec, size, field)
    if isinstance(spec, str):
        text = spec.strip().lower()
        if text in ("all", ""):
            return tuple(range(size))
        if text == "none":
            return ()
        if ":" in text:
            where, _, count = text.partition(":")
            try:
                k = int(count)
            except ValueError:
                raise ConfigError(field, f"bad count in {spec!r}; use first:K or last:K") from None
            return _first_or_last(where, k, size, field)
        items: list[int] = []
        for part in text.split(","):
            part = part.strip()
            if not part:
                continue
            try:
                items.append(int(part))
            except ValueError:
                raise ConfigError(
                    field, f"cannot read {spec!r}; use all, none, first:K, last:K or a list like 0,2,-1"
                ) from None
        return _explicit(items, size, field)
    return _explicit(list(spec), size, field)


def _first_or_last(where: str, k: int, size: int, field: str) -> tuple[int, ...]:
    if not 0 <= k <= size:
        raise ConfigError(field, f"count {k} out of range 0..{size}")
    if where == "first":
        return tuple(range(k))
    if where == "last":
        return tuple(range(size - k, size))
    raise ConfigError(field, f"unknown selector {where!r}; use first:K or last:K")


def _explicit(items: list[int], size: int, field: str) -> tuple[int, ...]:
    out = set()
    for i in items:
        if not isinstance(i, int) or isinstance(i, bool):
            raise ConfigError(field, f"index {i!r} is not an integer")
        if not -size <= i < size:
            raise ConfigError(field, f"index {i} out of range for {size} (valid: {-size}..{size - 1})")
        if i % size in out:
            raise ConfigError(field, f"index {i} is listed twice (as {i % size}); list each index once")
        out.add(i % size)
    return tuple(sorted(out))


def parse_layer_heads(spec: str, depth: int, num_heads: int, field: str) -> dict[int, tuple[int, ...]]:
    """Parse per-layer head overrides ``"L=h,h;L=h"`` into {layer: heads}."""
    result: dict[int, tuple[int, ...]] = {}
    for chunk in (c.strip() for c in spec.split(";")):
        if not chunk:
            continue
        if "=" not in chunk:
            raise ConfigError(field, f"cannot read {chunk!r}; use L=h,h;L=h")
        layer_text, heads_text = chunk.split("=", 1)
        try:
            (layer,) = _explicit([int(layer_text)], depth, field)
        except ValueError:
            raise ConfigError(field, f"{layer_text!r} must be one layer index") from None
        if layer in result:
            raise ConfigError(field, f"layer {layer_text.strip()} is given twice")
        result[layer] = resolve_indices(heads_text, num_heads, field)
    return result


def parse_layer_map(spec: str, student_depth: int, teacher_depth: int, field: str) -> dict[int, int]:
    """Parse ``"s=t,s=t"`` into {student layer: teacher layer}."""
    result: dict[int, int] = {}
    for chunk in (c.strip() for c in spec.split(",")):
        if not chunk:
            continue
        if "=" not in chunk:
            raise ConfigError(field, f"cannot read {chunk!r}; use s=t,s=t")
        s_text, t_text = chunk.split("=", 1)
        try:
            s, t = int(s_text), int(t_text)
        except ValueError:
            raise ConfigError(field, f"cannot read {chunk!r}; layers must be integers") from None
        (s_idx,) = _explicit([s], student_depth, field)
        (t_idx,) = _explicit([t], teacher_depth, field)
        if s_idx in result:
            raise ConfigError(field, f"student layer {s} is mapped twice")
        result[s_idx] = t_idx
    return result
