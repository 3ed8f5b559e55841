"""The study registry: every module in this package that defines ``STUDY`` is a study.

Add a study by adding one file here (see README, "Adding a study"). A study file
that fails to import is reported by name, and does not hide the others.
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import Optional

from attnxfer_core.errors import UserError
from attnxfer_core.experiments.study import Study

_CACHE: Optional[dict[str, Study]] = None


def load_studies() -> dict[str, Study]:
    """All registered studies by name; a broken study file is a one-line error naming it."""
    global _CACHE
    if _CACHE is not None:
        return _CACHE
    found: dict[str, Study] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        try:
            module = importlib.import_module(f"{__name__}.{info.name}")
        except Exception as exc:  # a study file is user code: any failure is reported, not raised raw
            raise UserError(f"study file studies/{info.name}.py failed to import: "
                            f"{type(exc).__name__}: {exc}") from None
        study = getattr(module, "STUDY", None)
        if not isinstance(study, Study):
            raise UserError(f"studies/{info.name}.py defines no STUDY = Study(...)")
        if study.name in found:
            raise UserError(f"two study files define the study name {study.name!r}")
        found[study.name] = study
    _CACHE = found
    return found


def get_study(name: str) -> Study:
    studies = load_studies()
    if name not in studies:
        raise UserError(f"unknown study {name!r}; choose one of: {', '.join(studies)}")
    return studies[name]
