"""Several processes (torch.distributed, gloo on the CPU): DDP student, unwrapped teacher, rank 0 writes."""
import gc
import json
import os
import socket
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from .conftest import TINY_RUN, tiny_run


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _describe(trainer) -> dict:
    teacher = trainer.task.teacher
    return {
        "student": float(sum(p.detach().double().sum() for p in trainer.model.parameters())),
        "teacher_wrapped": isinstance(teacher, torch.nn.parallel.DistributedDataParallel),
        "module_wrapped": isinstance(trainer.task.module, torch.nn.parallel.DistributedDataParallel),
    }


def _worker(rank: int, world: int, port: int, root: str, overrides: list[str]) -> None:
    """One rank. The DDP student holds the gloo process group: every reference to it (the patched
    ``Trainer.__init__`` and the trainers it remembers) is dropped and collected before the group is
    destroyed. Left to interpreter shutdown, gloo's threads can meet a finalising interpreter and abort
    the process (SIGABRT, "terminate called without an active exception"), now and then."""
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
        assert len(trainers) == 1
        gathered = [None] * world
        dist.all_gather_object(gathered, _describe(trainers.pop()))
        if rank == 0:
            (Path(root) / "ranks.json").write_text(json.dumps(gathered))
    finally:
        trainer_module.Trainer.__init__ = original
        trainers.clear()
        gc.collect()
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


def test_launchers_are_recognised_from_their_environment(monkeypatch):
    from attnxfer_core.training.distributed import _first_host, launcher_environment

    torchrun = {"RANK": "3", "WORLD_SIZE": "8", "LOCAL_RANK": "3", "MASTER_ADDR": "n1", "MASTER_PORT": "1234"}
    assert launcher_environment(torchrun) == torchrun
    monkeypatch.setattr("shutil.which", lambda name: None)  # no scontrol: parse the node list
    srun = {"SLURM_PROCID": "9", "SLURM_STEP_NUM_TASKS": "16", "SLURM_LOCALID": "1", "SLURM_JOB_ID": "4242",
            "SLURM_STEP_NODELIST": "gpu[07-08]"}
    assert launcher_environment(srun) == {"RANK": "9", "WORLD_SIZE": "16", "LOCAL_RANK": "1",
                                          "MASTER_ADDR": "gpu07", "MASTER_PORT": str(20000 + 4242)}
    batch_script = {"SLURM_PROCID": "0", "SLURM_NTASKS": "16", "SLURM_JOB_NODELIST": "gpu[07-08]"}
    assert launcher_environment(batch_script) is None  # not an srun step: one process
    assert launcher_environment({"WORLD_SIZE": "1", "RANK": "0"}) is None
    assert _first_host("node[03-05,9],gpu1") == "node03" and _first_host("solo") == "solo"


@pytest.mark.slow
def test_torchrun_two_processes_equal_one_with_the_same_effective_batch(tmp_path):
    """torchrun with 2 gloo processes trains the run one process trains: each rank's half of every
    batch, gradients averaged. With augmentation and drop path off, the weights agree to round-off."""
    import subprocess
    import sys

    from attnxfer_core.runs.tensors import load_tensors

    overrides = [*TINY_RUN, "transfer.mode=distill", "teacher.source=random", "augment.crop_padding=0",
                 "augment.hflip=false"]
    common = [sys.executable, "-m", "attnxfer_core", "train", *overrides]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    single = subprocess.run([*common, f"exec.runs_root={tmp_path}/one/runs"], env=env, capture_output=True,
                            text=True, timeout=600)
    assert single.returncode == 0, single.stderr[-2000:]
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                          "-m", "attnxfer_core", "train", *overrides, f"exec.runs_root={tmp_path}/two/runs"],
                         env=env, capture_output=True, text=True, timeout=600)
    assert two.returncode == 0, two.stderr[-2000:]
    (one_dir,), (two_dir,) = ([p for p in (tmp_path / n / "runs").iterdir() if p.is_dir()] for n in ("one", "two"))
    assert one_dir.name == two_dir.name  # the same run id: the process count is not part of the run
    summary = json.loads((two_dir / "summary.json").read_text())
    assert summary["world_size"] == 2
    a, b = load_tensors(one_dir / "weights.pt"), load_tensors(two_dir / "weights.pt")
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5, msg=key)
