"""``attnxfer train``: one run from dotted overrides of the run config."""
from __future__ import annotations

import argparse
import json
import signal
import sys

from attnxfer_core.cli.common import add_progress, progress_of
from attnxfer_core.config import RunConfig, apply_overrides
from attnxfer_core.training.distributed import init_from_launcher
from attnxfer_core.training.execute import execute
from attnxfer_core.training.signals import graceful_stop, received


def train(args: argparse.Namespace) -> int:
    cfg = apply_overrides(RunConfig(), args.overrides)
    ctx = init_from_launcher()  # several processes under torchrun or srun; else one
    try:
        with graceful_stop((signal.SIGTERM, signal.SIGUSR2, signal.SIGINT)):
            result = execute(cfg, progress=progress_of(args))
    finally:
        if ctx.enabled:
            import gc

            import torch.distributed as dist

            gc.collect()  # a DDP model left in a reference cycle holds the group: free it while Python is whole
            dist.destroy_process_group()
    if not ctx.is_main:
        return 0 if result.finished else 3  # rank 0 reports
    if not result.finished:
        why = f"signal {received()}" if received() is not None else "exec.stop_after_steps"
        print(f"stopped by {why} at step {result.stopped_at}, checkpoint saved: {result.run_dir} "
              "(run the same command to resume)", file=sys.stderr)
        return 3
    if result.cached:
        print(f"already finished: {result.run_dir} (use exec.force=true to train again)", file=sys.stderr)
    final = result.summary.get("final", {})
    print(json.dumps({"run_dir": str(result.run_dir), **final}, sort_keys=True))
    return 0


def register(sub) -> None:
    parser = sub.add_parser("train", help="run one training run (key=value overrides of the run config)")
    parser.add_argument("overrides", nargs="*", help="dotted overrides, e.g. transfer.mode=copy optim.epochs=5")
    add_progress(parser)
    parser.set_defaults(handler=train)
