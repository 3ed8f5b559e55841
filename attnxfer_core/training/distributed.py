"""Multi-process training: who am I, and who writes.

A run asking for several GPUs (one or more nodes) trains with
torch.distributed, set up from submitit's environment. Every rank computes;
only rank 0 writes to the run directory. The frozen teacher is never wrapped
in DDP (it is not part of the student module tree).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1


SINGLE = DistContext()


def from_environment() -> DistContext:
    """The context torch.distributed was initialised with (single process if not)."""
    if dist.is_available() and dist.is_initialized():
        return DistContext(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))
    return SINGLE


def init_from_submitit() -> DistContext:
    """Initialise torch.distributed from a submitit job's environment when it has several tasks."""
    import submitit

    env = submitit.JobEnvironment()
    if env.num_tasks <= 1:
        return SINGLE
    if not dist.is_initialized():
        submitit.helpers.TorchDistributedEnvironment().export(set_cuda_visible_devices=False)
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend)
    if torch.cuda.is_available():
        torch.cuda.set_device(env.local_rank)
    return DistContext(env.global_rank, env.num_tasks, env.local_rank)


def all_mean(values: dict[str, float], ctx: DistContext) -> dict[str, float]:
    """Average scalar loss terms over ranks (for logging)."""
    if not ctx.enabled or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64)
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.all_reduce(t)
    return {k: float(v) / ctx.world for k, v in zip(keys, t.cpu())}


def gather_objects(obj: Any, ctx: DistContext) -> list[Any]:
    """Every rank's ``obj``, in rank order (single process: [obj])."""
    if not ctx.enabled:
        return [obj]
    out: list[Any] = [None] * ctx.world
    dist.all_gather_object(out, obj)
    return out


def barrier(ctx: DistContext) -> None:
    if ctx.enabled:
        dist.barrier()
