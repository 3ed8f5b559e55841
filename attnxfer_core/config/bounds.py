"""Valid values, declared once beside each field, and the one check that enforces them all.

A config field says what it accepts where it is defined::

    epochs: int = bounded(10, ge=1)

:func:`check_bounds` walks any config dataclass (nested ones too) and refuses the first value
outside its field's bounds, naming the field; every float must also be finite. Command-line
options take their argparse ``type`` from the same declaration (:func:`arg_type`), so a flag and
the profile or config field it sets cannot disagree. Rules between fields (a batch divisible by
the processes, a layer index against the depth) are not bounds: they live in
:mod:`attnxfer_core.config.validate` and the transfer plan.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from attnxfer_core.errors import ConfigError

BOUNDS = "bounds"  # the field-metadata key


@dataclass(frozen=True)
class Bound:
    """A closed or open interval (numbers), or a set of choices (strings)."""

    ge: Optional[float] = None
    gt: Optional[float] = None
    le: Optional[float] = None
    lt: Optional[float] = None
    choices: tuple[str, ...] = ()

    def problem(self, value: Any) -> Optional[str]:
        """Why ``value`` is outside the bound (None when it is inside)."""
        if self.choices:
            if value not in self.choices:
                return f"unknown value {value!r}; choose one of: {self._choices()}"
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"expected a number, got {value!r}"
        if isinstance(value, float) and not math.isfinite(value):
            return f"must be a finite number, got {value!r}"
        if ((self.ge is not None and value < self.ge) or (self.gt is not None and value <= self.gt)
                or (self.le is not None and value > self.le) or (self.lt is not None and value >= self.lt)):
            return f"must be {self.describe()}, got {value!r}"
        return None

    def _choices(self) -> str:
        return ", ".join(c if c else "'' (empty)" for c in self.choices)

    def describe(self) -> str:
        if self.choices:
            return "one of " + self._choices()
        lo = f">= {self.ge:g}" if self.ge is not None else f"> {self.gt:g}" if self.gt is not None else ""
        hi = f"<= {self.le:g}" if self.le is not None else f"< {self.lt:g}" if self.lt is not None else ""
        if lo and hi:
            left = "[" if self.ge is not None else "("
            right = "]" if self.le is not None else ")"
            low = self.ge if self.ge is not None else self.gt
            high = self.le if self.le is not None else self.lt
            return f"in {left}{low:g}, {high:g}{right}"
        return lo or hi or "any value"


def bounded(default: Any = dataclasses.MISSING, *, metadata: Optional[dict] = None, **bound: Any) -> Any:
    """A dataclass field whose valid values are ``Bound(**bound)`` (None, for Optional fields, always is)."""
    meta = {**(metadata or {}), BOUNDS: Bound(**bound)}
    return field(default=default, metadata=meta)


def bound_of(cls: type, name: str) -> Optional[Bound]:
    for f in dataclasses.fields(cls):
        if f.name == name:
            return f.metadata.get(BOUNDS)
    raise KeyError(name)


def check_bounds(obj: Any, prefix: str = "") -> None:
    """Raise :class:`ConfigError` for the first field of ``obj`` (recursively) outside its bounds."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        key = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value):
            check_bounds(value, f"{key}.")
            continue
        bound: Optional[Bound] = f.metadata.get(BOUNDS)
        for item in (value if isinstance(value, tuple) else (value,)):
            if item is None:
                continue
            if isinstance(item, float) and not math.isfinite(item):
                raise ConfigError(key, f"must be a finite number, got {item!r}")
            problem = bound.problem(item) if bound is not None else None
            if problem:
                raise ConfigError(key, problem)


def arg_type(kind: Callable[[str], Any], bound: Bound) -> Callable[[str], Any]:
    """An argparse ``type`` that parses with ``kind`` and enforces ``bound``."""

    def parse(text: str) -> Any:
        import argparse

        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {kind.__name__}, got {text!r}") from None
        problem = bound.problem(value)
        if problem:
            raise argparse.ArgumentTypeError(problem)
        return value

    parse.__name__ = kind.__name__
    return parse


def field_arg(cls: type, name: str, kind: Callable[[str], Any]) -> Callable[[str], Any]:
    """The argparse ``type`` of an option that sets ``cls.name``: the field's own bounds."""
    bound = bound_of(cls, name)
    if bound is None:
        raise KeyError(f"{cls.__name__}.{name} declares no bounds")
    return arg_type(kind, bound)
