"""Fig 3: transfer only the first k or the last k layers, k over the depth."""
from attnxfer_core.modes import Mode
from attnxfer_core.scales import base_run, depth_of
from attnxfer_core.study import Reference, Study, with_values


def _points(scale):
    depth = depth_of(scale)
    ks = range(1, depth + 1) if depth <= 8 else range(depth // 6, depth + 1, depth // 6)
    points = [{"mode": "scratch", "side": "none", "k": 0}]
    for mode in ("copy", "distill"):
        points.append({"mode": mode, "side": "all", "k": depth})  # full transfer: the reference line
        for side in ("first", "last"):
            points += [{"mode": mode, "side": side, "k": k} for k in ks if k < depth]
    return points


def _build(scale, p):
    cfg = base_run(scale, Mode(p["mode"]))
    if p["mode"] == "scratch":
        return cfg
    layers = "all" if p["side"] == "all" else f"{p['side']}:{p['k']}"
    return with_values(cfg, {"transfer.layers": layers})


STUDY = Study(
    name="layers",
    paper="Fig 3",
    description="Which layers matter: transfer the first k or the last k layers.",
    points=_points,
    build=_build,
    references=(Reference("trend", None, "more layers better; later layers matter more (values unknown)"),),
)
