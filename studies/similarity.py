"""Appendix: how similar is each student's attention to the pretrained teacher's and to a fine-tuned model's?

Embedded scale: the full recipe, so scratch, fine-tune, copy and distill are the main replication's
runs (seeds 0-2, trained once); only copy-Q is trained here.
"""
from attnxfer_core.experiments.claims import Superiority
from attnxfer_core.experiments.figures import AttentionMapsPicture, SimilarityLines
from attnxfer_core.experiments.scales import base_run
from attnxfer_core.experiments.study import Reference, Study, product
from attnxfer_core.modes import Mode

STUDY = Study(
    name="similarity",
    paper="appendix (Jensen-Shannon divergence per layer)",
    description="Per-layer JSD of attention maps to the pretrained teacher and to the fine-tuned model.",
    points=lambda scale: product(method=("scratch", "finetune", "copy", "copy_q", "distill")),
    build=lambda scale, p: base_run(scale, Mode(p["method"])),
    analyses=("similarity", "attention_maps"),
    references=(Reference("copy_q", None, "far from both references despite high accuracy (values unknown)"),),
    figures=(SimilarityLines(), AttentionMapsPicture()),
    claims=tuple(
        Superiority(text=f"Copy-Q's attention is farther from the {ref} model's than distillation's is "
                         f"(JSD, matched heads, mean over layers)",
                    better={"method": "copy_q"}, worse={"method": "distill"},
                    metric=f"similarity:jsd_matched/{ref}", source="appendix (attention similarity)")
        for ref in ("pretrained", "finetuned")),
)
