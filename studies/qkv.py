"""Table 2: transfer Q, K or V instead of the attention map, by copy and by distillation."""
from attnxfer_core.modes import Kind, Target
from attnxfer_core.scales import base_run, mode_for
from attnxfer_core.study import Reference, Study, product

STUDY = Study(
    name="qkv",
    paper="Table 2",
    description="Which attention quantity carries the benefit: the map, or Q, K or V alone?",
    points=lambda scale: product(kind=("copy", "distill"), target=("map", "q", "k", "v")),
    build=lambda scale, p: base_run(scale, mode_for(Kind(p["kind"]), Target(p["target"]))),
    references=(
        Reference("copy_q", None, "transferring Q alone is best, above the map (values unknown)"),
        Reference("copy", None, "map copy (value in this table unknown)"),
    ),
)
