"""The ``attnxfer`` command line: one module per command group, each with its parsers beside its handlers.

This package is the application's top: it may import the core library, the
studies, the analysis layer and the SLURM layer; nothing in the core imports it.
"""
from __future__ import annotations

import logging
import sys
from typing import Optional

from attnxfer_core.cli import bench, cluster, demo, evaluate, maintenance, protocols, results, studies, train
from attnxfer_core.cli.common import Parser
from attnxfer_core.errors import UserError

GROUPS = (train, demo, studies, cluster, evaluate, protocols, results, maintenance, bench)


def build_parser() -> Parser:
    parser = Parser(prog="attnxfer", description="Attention-transfer sufficiency studies on timm ViTs.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for group in GROUPS:
        group.register(sub)
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        return args.handler(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
