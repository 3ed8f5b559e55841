"""Fig 3: transfer only the first k or the last k layers, k over the depth.

Embedded scale: the short budget (a fifth of the main recipe). Copy sweeps every k (the figure's
lines); distillation, three times the cost of copy, is run at the middle k only (its claim) and
with all layers, so that the whole study fits about 45 minutes on two cores (``attnxfer plan layers``).
"""
from attnxfer_core.experiments.claims import Superiority
from attnxfer_core.experiments.figures import SweepLines
from attnxfer_core.experiments.scales import EMBEDDED, base_run, depth_of
from attnxfer_core.experiments.study import Reference, Study, with_values
from attnxfer_core.modes import Mode

BUDGET = "short"


def _ks(scale):
    depth = depth_of(scale)
    ks = range(1, depth + 1) if depth <= 8 else range(depth // 6, depth + 1, depth // 6)
    return [k for k in ks if k < depth]


def _middle(scale):
    ks = _ks(scale)
    return ks[len(ks) // 2]  # half the depth


def _points(scale):
    depth = depth_of(scale)
    points = [{"method": "scratch", "side": "none", "k": 0}]
    for method in ("copy", "distill"):
        points.append({"method": method, "side": "all", "k": depth})  # full transfer: the reference line
        ks = _ks(scale) if method == "copy" or scale != EMBEDDED else [_middle(scale)]
        for side in ("first", "last"):
            points += [{"method": method, "side": side, "k": k} for k in ks]
    return points


def _build(scale, p):
    cfg = base_run(scale, Mode(p["method"]), budget=BUDGET)
    if p["method"] == "scratch":
        return cfg
    layers = "all" if p["side"] == "all" else f"{p['side']}:{p['k']}"
    return with_values(cfg, {"transfer.layers": layers})


def _claims(scale):
    k = _middle(scale)
    return tuple(Superiority(text=f"Later layers matter more: last-{k} beats first-{k} ({method})",
                             better={"method": method, "side": "last", "k": k},
                             worse={"method": method, "side": "first", "k": k})
                 for method in ("copy", "distill"))


STUDY = Study(
    name="layers",
    paper="Fig 3",
    description="Which layers matter: transfer the first k or the last k layers.",
    points=_points,
    build=_build,
    references=(Reference("trend", None, "more layers better; later layers matter more (values unknown)"),),
    figures=(SweepLines(x="k", hue=("method", "side"), where={"side": ("first", "last")},
                        xlabel="k (layers transferred)",
                        title="Fig 3: transferring the first or last k layers",
                        references={"scratch": {"method": "scratch"},
                                    "all layers (copy)": {"method": "copy", "side": "all"},
                                    "all layers (distill)": {"method": "distill", "side": "all"}}),),
    claims=_claims,
)
