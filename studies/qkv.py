"""Table 2: transfer Q, K or V instead of the attention map, by copy and by distillation.

Embedded scale: the short budget (a fifth of the main recipe), 3 seeds: about 40 minutes.
"""
from attnxfer_core.experiments.claims import Superiority
from attnxfer_core.experiments.figures import GroupedBars
from attnxfer_core.experiments.scales import base_run
from attnxfer_core.experiments.study import Reference, Study, product
from attnxfer_core.modes import Kind, Target, mode_for


def _points(scale):
    return [{**p, "method": mode_for(Kind(p["kind"]), Target(p["target"])).value}
            for p in product(kind=("copy", "distill"), target=("map", "q", "k", "v"))]


STUDY = Study(
    name="qkv",
    paper="Table 2",
    description="Which attention quantity carries the benefit: the map, or Q, K or V alone?",
    points=_points,
    build=lambda scale, p: base_run(scale, mode_for(Kind(p["kind"]), Target(p["target"])), budget="short"),
    references=(
        Reference("copy_q", None, "transferring Q alone is best, above the map (values unknown)"),
        Reference("copy", None, "map copy (value in this table unknown)"),
    ),
    figures=(GroupedBars(x="target", hue="kind", title="Table 2: transfer Q, K or V instead of the map"),),
    claims=(Superiority(text="Copying Q alone beats copying the attention map",
                        better={"kind": "copy", "target": "q"}, worse={"kind": "copy", "target": "map"}),),
)
