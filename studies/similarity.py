"""Appendix: how similar is each student's attention to the pretrained teacher's and to a fine-tuned model's?"""
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
)
