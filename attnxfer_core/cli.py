"""The ``attnxfer`` command line."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Callable, Optional

from .config import RunConfig, apply_overrides
from .errors import UserError

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(name: str):
    def register(fn: Callable[[argparse.Namespace], int]):
        COMMANDS[name] = fn
        return fn

    return register


def _progress(args: argparse.Namespace) -> Optional[bool]:
    return {"on": True, "off": False, "auto": None}[args.progress]


@command("train")
def _train(args: argparse.Namespace) -> int:
    from .runner import execute

    cfg = apply_overrides(RunConfig(), args.overrides)
    result = execute(cfg, progress=_progress(args))
    if not result.finished:
        print(f"stopped at step {result.stopped_at}: {result.run_dir} (run the same command to resume)", file=sys.stderr)
        return 0
    if result.cached:
        print(f"already finished: {result.run_dir} (use exec.force=true to train again)", file=sys.stderr)
    final = result.summary.get("final", {})
    print(json.dumps({"run_dir": str(result.run_dir), **final}, sort_keys=True))
    return 0


@command("bench")
def _bench(args: argparse.Namespace) -> int:
    from .bench import main as bench_main

    return bench_main(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="attnxfer", description="Attention-transfer sufficiency studies on timm ViTs.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="run one training run (key=value overrides of the run config)")
    train.add_argument("overrides", nargs="*", help="dotted overrides, e.g. transfer.mode=copy optim.epochs=5")
    train.add_argument("--progress", choices=("auto", "on", "off"), default="auto", help="progress bar (auto: on a TTY)")

    bench = sub.add_parser("bench", help="step time of copy/distill relative to a plain timm training step")
    bench.add_argument("--shape", action="append", help="shape(s) to time: embedded, vit_small, vit_base, vit_large")
    bench.add_argument("--precision", action="append", choices=("fp32", "bf16"), help="default: fp32 and bf16")
    bench.add_argument("--modes", default="copy,distill,copy_q,copy_k,copy_v,distill_q,distill_k,distill_v")
    bench.add_argument("--steps", type=int, default=20, help="timed steps per mode (after warm-up)")
    bench.add_argument("--warmup", type=int, default=5)
    bench.add_argument("--device", default="auto")
    bench.add_argument("--json", help="also write the results as JSON to this path")
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        return COMMANDS[args.command](args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
