"""Fig 4: how many heads per layer must be transferred.

Embedded scale: the short budget (a fifth of the main recipe), every head count of the 4-head
student, 3 seeds. The paper's curve rises and saturates near 12 of 16 heads; its embedded analogue
is 3 of 4: the claims test that all heads beat one, and that three match all four within a point.
"""
from attnxfer_core.experiments.claims import Equivalence, Superiority
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
    cfg = base_run(scale, Mode(p["method"]), budget="short")
    return cfg if p["method"] == "scratch" else with_values(cfg, {"transfer.heads": f"first:{p['heads']}"})


def _claims(scale):
    heads = heads_of(scale)
    near = (3 * heads) // 4  # 12 of 16 in the paper
    claims = []
    for method in ("copy", "distill"):
        claims.append(Superiority(text=f"More heads transfer more: all {heads} heads beat one ({method})",
                                  better={"method": method, "heads": heads}, worse={"method": method, "heads": 1}))
        claims.append(Equivalence(text=f"Transfer saturates before all heads: {near} of {heads} heads match all "
                                       f"{heads} within 1 point ({method})",
                                  a={"method": method, "heads": near}, b={"method": method, "heads": heads},
                                  margin=1.0))
    return tuple(claims)


STUDY = Study(
    name="heads",
    paper="Fig 4",
    description="Transfer the first n heads of every transferred layer.",
    points=_points,
    build=_build,
    references=(Reference("trend", None, "rises, saturates near 12 of 16 heads (values unknown)"),),
    figures=(SweepLines(x="heads", hue="method", exclude={"method": ("scratch",)}, xlabel="heads",
                        title="Fig 4: heads transferred per layer", references={"scratch": {"method": "scratch"}}),),
    claims=_claims,
)
