"""What several command groups share: the one-line-error parser, progress and study arguments."""
from __future__ import annotations

import argparse
import sys
from typing import Optional

from attnxfer_core.config.bounds import Bound, arg_type
from attnxfer_core.experiments.scales import SCALES
from attnxfer_core.experiments.study import PlannedRun, Study
from attnxfer_core.experiments.validation import validate_runs
from studies import get_study, load_studies

# argparse types of the options that are counts: a bad value is the parser's one-line error
COUNT = arg_type(int, Bound(ge=1))  # seeds, steps, images ...
NON_NEGATIVE = arg_type(int, Bound(ge=0))  # warm-up steps, worker processes, indices, seeds of a test


class Parser(argparse.ArgumentParser):
    """Command-line mistakes are one line too (``attnxfer CMD -h`` shows the usage)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"error: {self.prog}: {message} (see {self.prog} -h)\n")


def add_progress(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--progress", choices=("auto", "on", "off"), default="auto",
                        help="progress bar (auto: on a TTY)")


def progress_of(args: argparse.Namespace) -> Optional[bool]:
    return {"on": True, "off": False, "auto": None}[args.progress]


def add_scale(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scale", choices=SCALES, default=SCALES[0])


def study_parser(sub, name: str, help_text: str, where: bool = False) -> argparse.ArgumentParser:
    """A sub-command that works on one study at one scale."""
    parser = sub.add_parser(name, help=help_text)
    parser.add_argument("study")
    parser.add_argument("overrides", nargs="*",
                        help="key=value overrides applied to every run (e.g. exec.runs_root=...)")
    add_scale(parser)
    parser.add_argument("--seeds", type=COUNT, help="seeds per point (default: the study's own)")
    if where:
        parser.add_argument("--where", action="append",
                            help="only runs whose varied value matches (and their dependencies)")
    return parser


def validated_study(args: argparse.Namespace) -> tuple[Study, list[PlannedRun]]:
    """The study named on the command line, expanded and validated as a whole (names and runs)."""
    study = get_study(args.study)
    runs = study.expand(args.scale, seeds=args.seeds, overrides=args.overrides)
    validate_runs(study, runs, args.scale)
    return study, runs


def studies_named(names: list[str]) -> list[Study]:
    """The named studies, or every registered study when none is named."""
    return [get_study(n) for n in names] if names else list(load_studies().values())


def command_line(args: argparse.Namespace) -> str:
    """The command as typed (for provenance records), also under ``python -m attnxfer_core``."""
    launcher = sys.argv[0] if sys.argv else ""
    if launcher.endswith(("attnxfer", "__main__.py")):
        return "attnxfer " + " ".join(sys.argv[1:])
    return f"attnxfer {args.command}"
