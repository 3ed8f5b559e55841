"""Commands that come before a study's runs: size its seeds by ``power``, ``register`` its protocol file."""
from __future__ import annotations

import argparse
from pathlib import Path

from analysis.power import format_power, study_power
from analysis.registration import render_protocol
from analysis.study_data import load_study_data
from attnxfer_core.cli.common import COUNT, studies_named
from attnxfer_core.errors import UserError
from attnxfer_core.experiments.scales import EMBEDDED


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be a number in (0, 1), got {text!r}")
    return value


def power(args: argparse.Namespace) -> int:
    """Per claim, the seeds needed for the target power, sized on the study's collected (pilot) tables."""
    study = studies_named([args.study])[0]
    data = load_study_data(study, Path(args.tables))
    if data is None:
        raise UserError(f"--tables: {args.tables} has no collected tables of {study.name} to size from "
                        f"(run a pilot, then attnxfer collect {study.name} --tables ...)")
    print(f"{study.name}: sized on {args.tables} (tables of code {data.provenance.get('code_version', '?')})")
    print(format_power(study_power(data, args.power, args.most), args.power, args.most))
    return 0


def register_protocol(args: argparse.Namespace) -> int:
    """Write (or print) ``studies/<study>.protocol.md`` from the study file, sized on ``--tables``."""
    study = studies_named([args.study])[0]
    if study.protocol is None:
        raise UserError(f"study: {study.name} declares no protocol (protocol=Protocol(...) in studies/"
                        f"{study.name}.py)")
    if study.protocol.hand_written:
        raise UserError(f"study: {study.name}'s protocol ({study.protocol.file}) was written by hand before "
                        "attnxfer register existed; it is not rendered")
    pilot = load_study_data(study, Path(args.tables)) if args.tables else None
    if args.tables and pilot is None:
        raise UserError(f"--tables: {args.tables} has no collected tables of {study.name}")
    text = render_protocol(study, EMBEDDED, pilot, args.tables or "")
    if args.write:
        target = Path(study.protocol.file)
        if target.exists() and target.read_text() != text and not args.force:
            raise UserError(f"--write: {target} exists and differs; a registered protocol is not rewritten "
                            "(--force, only before any of its runs trained)")
        target.write_text(text)
        print(f"wrote {target}: commit it before any of its runs trains")
    else:
        print(text, end="")
    return 0


def register(sub) -> None:
    pw = sub.add_parser("power", help="seeds each claim needs for 80%% power, sized from a pilot's collected tables")
    pw.add_argument("study")
    pw.add_argument("--tables", default="results/tables", help="collected tables of the pilot (or earlier runs)")
    pw.add_argument("--power", type=_fraction, default=0.8, help="target power (default 0.8)")
    pw.add_argument("--most", type=COUNT, default=100, help="largest seed count considered (default 100)")
    pw.set_defaults(handler=power)
    reg = sub.add_parser("register", help="write the study's protocol file (studies/<study>.protocol.md) from "
                         "its declaration, before its runs")
    reg.add_argument("study")
    reg.add_argument("--tables", default="results/tables", help="collected tables its seeds were sized on ('' none)")
    reg.add_argument("--write", action="store_true", help="write the file (default: print it)")
    reg.add_argument("--force", action="store_true", help="overwrite a protocol file that differs")
    reg.set_defaults(handler=register_protocol)

