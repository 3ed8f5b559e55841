"""Fig 4: how many heads per layer must be transferred."""
from attnxfer_core.experiments.figures import SweepLines
from attnxfer_core.experiments.scales import base_run, heads_of
from attnxfer_core.experiments.study import Reference, Study, with_values
from attnxfer_core.modes import Mode


def _points(scale):
    heads = heads_of(scale)
    counts = range(1, heads + 1) if heads <= 8 else (1, 2, 4, 8, 12, 16)
    return ([{"method": "scratch", "heads": 0}]
            + [{"method": m, "heads": n} for m in ("copy", "distill") for n in counts])


def _build(scale, p):
    cfg = base_run(scale, Mode(p["method"]))
    return cfg if p["method"] == "scratch" else with_values(cfg, {"transfer.heads": f"first:{p['heads']}"})


STUDY = Study(
    name="heads",
    paper="Fig 4",
    description="Transfer the first n heads of every transferred layer.",
    points=_points,
    build=_build,
    references=(Reference("trend", None, "rises, saturates near 12 of 16 heads (values unknown)"),),
    figures=(SweepLines(x="heads", hue="method", exclude={"method": ("scratch",)}, xlabel="heads",
                        title="Fig 4: heads transferred per layer", references={"scratch": {"method": "scratch"}}),),
)
