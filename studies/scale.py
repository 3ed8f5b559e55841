"""Table 5: model size. Teachers of each size are pretrained (embedded) or taken from timm (paper).

Embedded scale: two sizes, each with an MAE teacher of its own size on the shipped teacher's recipe (the
small one is the shipped teacher itself; the tiny one is pretrained here); students on the short budget
(a fifth of the main recipe), 3 seeds. A third, wider size (96 wide, 6 deep) would need an MAE teacher of
about three times the shipped one's 83 minutes: too much for a study sized to about 45 minutes on two
cores, so it is left out at embedded scale.

The claims were registered before any student of this study was trained: the paper finds that scratch
saturates with size while fine-tuning and attention transfer keep gaining, so each method's gain over
scratch of the same size should be larger at the largest size than at the smallest (paired by seed).
"""
from dataclasses import replace

from attnxfer_core.config import PretrainMethod
from attnxfer_core.experiments.claims import GainDifference
from attnxfer_core.experiments.figures import GroupedBars
from attnxfer_core.experiments.presets import EMBEDDED_MODEL, embedded_teacher
from attnxfer_core.experiments.scales import base_run
from attnxfer_core.experiments.study import Reference, Study, product, with_values
from attnxfer_core.modes import Mode

EMBEDDED_SIZES = {
    "tiny": dict(embed_dim=32, depth=4, num_heads=2),
    "small": dict(embed_dim=64, depth=4, num_heads=4),  # the shipped teacher's size
}
PAPER_SIZES = {  # student arch, MAE teacher, patch size
    "ViT-B": ("vit_base_patch16_224", "vit_base_patch16_224.mae", 16),
    "ViT-L": ("vit_large_patch16_224", "vit_large_patch16_224.mae", 16),
    "ViT-H": ("vit_huge_patch14_224", "vit_huge_patch14_224.mae", 14),
}


def _build(scale, p):
    mode = Mode(p["method"])
    cfg = base_run(scale, mode, budget="short")
    if scale == "embedded":
        size = EMBEDDED_SIZES[p["size"]]
        cfg = replace(cfg, student=replace(cfg.student, **size))  # the recipe column's drop path kept
        if mode is not Mode.SCRATCH:  # an MAE teacher of the same size
            teacher = replace(embedded_teacher(PretrainMethod.MAE), model=replace(EMBEDDED_MODEL, **size))
            cfg = replace(cfg, teacher=teacher)
        return cfg
    arch, teacher, patch = PAPER_SIZES[p["size"]]
    values = {"student.arch": arch, "student.patch_size": patch}
    if mode is not Mode.SCRATCH:
        values["teacher.name"] = teacher
    return with_values(cfg, values)


def _sizes(scale):
    return tuple(EMBEDDED_SIZES if scale == "embedded" else PAPER_SIZES)


def _claims(scale):
    small, large = _sizes(scale)[0], _sizes(scale)[-1]
    return tuple(GainDifference(
        text=f"{label} scales with size: its gain over scratch is larger at {large} than at {small}",
        gain={"size": large, "method": method}, over={"size": large, "method": "scratch"},
        than={"size": small, "method": method}, than_over={"size": small, "method": "scratch"})
        for method, label in (("finetune", "Fine-tuning"), ("copy", "Attention copy"),
                              ("distill", "Attention distillation")))


STUDY = Study(
    name="scale",
    paper="Table 5",
    description="Does attention transfer scale with model size like fine-tuning does?",
    points=lambda scale: product(size=_sizes(scale), method=("scratch", "finetune", "copy", "distill")),
    build=_build,
    references=(Reference("trend", None,
                          "transfer scales with size like fine-tuning; scratch saturates (values unknown)"),),
    figures=(GroupedBars(x="size", hue="method", title="Table 5: model size"),),
    claims=_claims,
)
