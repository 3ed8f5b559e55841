"""attnxfer rehearse: the paper-scale study's real runs, a few steps each on synthetic ImageNet-layout images."""
import json

import pytest

from attnxfer_core.cli import main as cli_main
from attnxfer_core.config import RunConfig, TeacherSource, from_dict, to_dict
from attnxfer_core.experiments.cost import estimate, images_of
from studies import get_study

# a tiny student and teacher in place of ViT-L (the CPU stand-in for a GPU rehearsal)
TINY = ["student.embed_dim=32", "student.depth=2", "student.num_heads=2", "student.patch_size=8",
        "student.img_size=32", "teacher.source=random", "teacher.model.arch=vit_large_patch16_224",
        "teacher.model.embed_dim=32", "teacher.model.depth=2", "teacher.model.num_heads=2",
        "teacher.model.patch_size=8", "teacher.model.img_size=32", "exec.data_workers=0", "precision=fp32"]


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def test_rehearsal_measures_every_run_and_predicts_the_sweep(tmp_path, capsys):
    args = ["rehearse", "main", *TINY, f"exec.runs_root={tmp_path}/runs", "--scale", "paper",
            "--executor", "debug", "--classes", "4", "--steps", "2", "--out", str(tmp_path / "r"),
            "--json", str(tmp_path / "report.json")]
    assert cli_main(args) == 0
    out = capsys.readouterr().out
    assert "predicted from the measurement" in out
    report = json.loads((tmp_path / "report.json").read_text())
    expanded = get_study("main").expand("paper", overrides=[*TINY, f"exec.runs_root={tmp_path}/runs"])
    real = {r.run_id: r for r in expanded}
    assert {row["run_id"] for row in report["rows"]} == set(real)
    for row in report["rows"]:
        run = real[row["run_id"]]
        micro, accum = run.config.optim.split(run.resources.gpus)
        assert row["measured"] and row["steps_timed"] == 2
        assert (row["micro_batch"], row["accumulation"], row["gpus"]) == (micro, accum, 16)
        train = row["optimizer_steps"] * accum * (row["micro_step_seconds"] + row["data_wait_seconds"])
        evals = images_of(run.config).evaluated / 16 * row["micro_step_seconds"] / micro / 3  # forward only
        assert abs(row["wall_hours"] - (train + evals) / 3600) < 1e-9 and evals > 0
        assert abs(row["gpu_hours"] - 16 * row["wall_hours"]) < 1e-6
        assert abs(row["flops_gpu_hours"] - estimate(run.config, "paper").seconds / 3600) < 1e-9
    # a second rehearsal into the same folder would resume its runs instead of measuring them
    assert cli_main(args) == 2
    assert "holds an earlier rehearsal" in capsys.readouterr().err
    # plan takes the measurement in place of its FLOP guess
    plan = ["plan", "main", *TINY, f"exec.runs_root={tmp_path}/runs", "--scale", "paper"]
    assert cli_main([*plan, "--rehearsal", str(tmp_path / "report.json")]) == 0
    out = capsys.readouterr().out
    total = sum(row["gpu_hours"] for row in report["rows"])
    assert "4 of 4 runs measured by attnxfer rehearse" in out and f"estimated {total:.0f} GPU-h" in out
    assert cli_main([*plan, "--rehearsal", str(tmp_path / "nope.json")]) == 2
    assert "--rehearsal" in capsys.readouterr().err
    # each rehearsal kept the real run's recipe: only data, batch split, execution and weights differ
    for config_file in (tmp_path / "r" / "runs").glob("*/config.json"):
        rehearsal = from_dict(RunConfig, json.loads(config_file.read_text())["config"])
        twin = next(r.config for r in real.values() if r.config.transfer.mode is rehearsal.transfer.mode)
        changed = {k for k, v in _flat(to_dict(rehearsal)).items() if _flat(to_dict(twin)).get(k) != v}
        allowed = ("data.", "exec.", "optim.batch_size", "optim.micro_batch", "teacher.source")
        assert all(k.startswith(allowed) for k in changed), changed
        assert rehearsal.optim.batch_size == twin.optim.split(16)[0]
        assert rehearsal.teacher.source in (TeacherSource.RANDOM, TeacherSource.NONE)


def test_rehearsal_of_a_timm_teacher_keeps_its_architecture():
    from attnxfer_core.bench.rehearse import architecture_of

    arch = architecture_of("vit_large_patch16_224.mae", "teacher.name", None)
    assert (arch.arch, arch.embed_dim, arch.depth, arch.num_heads, arch.patch_size, arch.img_size) == \
        ("vit_large_patch16_224", 1024, 24, 16, 16, 224)
    reg = architecture_of("vit_small_patch14_reg4_dinov2", "teacher.name", None)
    assert reg.reg_tokens == 4 and reg.init_values is not None and reg.patch_size == 14


def test_rehearsals_are_of_paper_scale_runs(tmp_path, capsys):
    assert cli_main(["rehearse", "main", f"exec.runs_root={tmp_path}/runs", "--executor", "debug"]) == 2
    assert "--scale paper" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_bad_rehearsal_options_are_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli_main(["rehearse", "main", f"exec.runs_root={tmp_path}/runs", "--steps", "0"])
    assert "--steps: must be >= 1" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_a_micro_batch_near_the_gpus_memory_is_flagged():
    from attnxfer_core.bench.rehearse import format_report

    row = dict(label="method=copy", seed=0, micro_batch=64, accumulation=2, gpus=16, measured=True,
               micro_step_seconds=0.5, data_wait_seconds=0.0, images_per_second_per_gpu=128.0,
               peak_gpu_memory_gb=76.0, peak_rss_gb=20.0, gpu_total_memory_gb=80.0, wall_hours=10.0,
               gpu_hours=160.0, flops_gpu_hours=150.0)
    assert "warning: method=copy s0 peaks at 76.0 of 80 GB (95%)" in format_report([row])
    assert "warning" not in format_report([{**row, "peak_gpu_memory_gb": 60.0}])
