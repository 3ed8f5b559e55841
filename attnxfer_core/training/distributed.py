"""Multi-process training: who am I, and who writes.

A run asking for several GPUs (one or more nodes) trains with
torch.distributed, set up from submitit's environment (the suite's sweeps: ``slurm/job.py``), or
from torchrun's or srun's (``torchrun --nproc_per_node=8 -m attnxfer_core train
...``, ``srun attnxfer train ...``). Every rank computes; only rank 0 writes to
the run directory. The frozen teacher is never wrapped
in DDP (it is not part of the student module tree).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Optional

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


def _first_host(nodelist: str) -> str:
    """The first host of a SLURM node list (``node[03-05,9],gpu1`` -> ``node03``)."""
    import shutil
    import subprocess

    if shutil.which("scontrol"):
        out = subprocess.run(["scontrol", "show", "hostnames", nodelist], capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.split():
            return out.stdout.split()[0]
    head = nodelist.split(",")[0]
    if "[" in head:
        prefix, rest = head.split("[", 1)
        return prefix + rest.split(",")[0].split("-")[0].rstrip("]")
    return head


def launcher_environment(env: Any = None) -> Optional[dict[str, str]]:
    """The torch.distributed variables torchrun or srun gave this process (None: launched alone).

    torchrun sets RANK, WORLD_SIZE, LOCAL_RANK and the master's address itself. ``srun`` sets
    SLURM_PROCID, SLURM_STEP_NUM_TASKS (only inside a job step, so a batch script's own process is never
    mistaken for one of many) and SLURM_LOCALID; the master is the step's first node, and its port is
    derived from the job id unless MASTER_PORT is set.
    """
    env = os.environ if env is None else env
    if int(env.get("WORLD_SIZE", "1")) > 1 and "RANK" in env:
        return {"RANK": env["RANK"], "WORLD_SIZE": env["WORLD_SIZE"], "LOCAL_RANK": env.get("LOCAL_RANK", "0"),
                "MASTER_ADDR": env.get("MASTER_ADDR", "127.0.0.1"), "MASTER_PORT": env.get("MASTER_PORT", "29500")}
    if int(env.get("SLURM_STEP_NUM_TASKS", "1")) > 1 and "SLURM_PROCID" in env:
        nodes = env.get("SLURM_STEP_NODELIST") or env.get("SLURM_JOB_NODELIST", "127.0.0.1")
        port = env.get("MASTER_PORT") or str(20000 + int(env.get("SLURM_JOB_ID", "0")) % 20000)
        return {"RANK": env["SLURM_PROCID"], "WORLD_SIZE": env["SLURM_STEP_NUM_TASKS"],
                "LOCAL_RANK": env.get("SLURM_LOCALID", "0"), "MASTER_ADDR": env.get("MASTER_ADDR") or
                _first_host(nodes), "MASTER_PORT": port}
    return None


def init_from_launcher() -> DistContext:
    """Initialise torch.distributed when torchrun or srun started several processes; else one process."""
    if dist.is_available() and dist.is_initialized():
        return from_environment()
    found = launcher_environment()
    if found is None:
        return SINGLE
    os.environ.update(found)
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend=backend, init_method="env://")
    local = int(found["LOCAL_RANK"])
    if torch.cuda.is_available():
        torch.cuda.set_device(local)
    return DistContext(int(found["RANK"]), int(found["WORLD_SIZE"]), local)


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
