"""Several processes (torch.distributed, gloo on the CPU): DDP student, unwrapped teacher, rank 0 writes."""
import json
import os
import socket
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from .conftest import tiny_run


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, root: str, overrides: list[str]) -> None:
    import attnxfer_core.training.trainer as trainer_module
    from attnxfer_core.training.execute import execute

    trainers = []
    original = trainer_module.Trainer.__init__

    def remember(self, *args, **kwargs):
        original(self, *args, **kwargs)
        trainers.append(self)

    trainer_module.Trainer.__init__ = remember
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), LOCAL_RANK=str(rank))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.set_num_threads(1)
    try:
        execute(tiny_run(Path(root), *overrides))
        (trainer,) = trainers
        teacher = trainer.task.teacher
        check = {
            "student": float(sum(p.detach().double().sum() for p in trainer.model.parameters())),
            "teacher_wrapped": isinstance(teacher, torch.nn.parallel.DistributedDataParallel),
            "module_wrapped": isinstance(trainer.task.module, torch.nn.parallel.DistributedDataParallel),
        }
        gathered = [None] * world
        dist.all_gather_object(gathered, check)
        if rank == 0:
            (Path(root) / "ranks.json").write_text(json.dumps(gathered))
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["distill", "copy"])
def test_two_ranks_train_one_run(tmp_path, mode):
    overrides = [f"transfer.mode={mode}", "teacher.source=random", "optim.epochs=2", "student.drop_path=0.1"]
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path), overrides), nprocs=2, join=True)
    (run_dir,) = [p for p in (tmp_path / "runs").iterdir() if p.is_dir()]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["final"]["n"] == 320  # both shares of the test set
    ranks = json.loads((tmp_path / "ranks.json").read_text())
    assert ranks[0]["student"] == pytest.approx(ranks[1]["student"], abs=1e-9)  # DDP kept the students equal
    assert all(r["module_wrapped"] and not r["teacher_wrapped"] for r in ranks)
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert len([r for r in records if r["kind"] == "eval"]) == 2  # one writer: no duplicated records
