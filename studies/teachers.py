"""Teacher choice and the teacher x student-initialisation grid (appendix).

Embedded scale: the short budget (a fifth of the main recipe), 3 seeds; MAE, supervised and random
teachers, and of the initialisation grid the MAE-initialised student under the two pretrained
teachers, so that the whole study fits about 45 minutes on two cores (``attnxfer plan teachers``).
"""
from dataclasses import replace

from attnxfer_core.config import PretrainMethod, TeacherConfig, TeacherSource
from attnxfer_core.experiments.claims import Superiority
from attnxfer_core.experiments.figures import GroupedBars
from attnxfer_core.experiments.presets import EMBEDDED_MODEL, embedded_teacher
from attnxfer_core.experiments.scales import base_run
from attnxfer_core.experiments.study import Reference, Study, with_values
from attnxfer_core.modes import Mode

# Paper scale: timm checkpoints. Patch-14 teachers need patch-14 students (equal token counts).
PAPER_TEACHERS = {
    "mae": ("vit_large_patch16_224.mae", 16),
    "supervised": ("vit_large_patch16_224.augreg_in21k_ft_in1k", 16),
    "clip": ("vit_large_patch14_clip_224.openai", 14),
    "dinov2": ("vit_large_patch14_dinov2.lvd142m", 14),
}


def _embedded_source(name: str) -> TeacherConfig:
    if name == "random":
        return TeacherConfig(source=TeacherSource.RANDOM, model=EMBEDDED_MODEL)
    return embedded_teacher(PretrainMethod(name))


def _points(scale):
    teachers = ("mae", "supervised", "random") if scale == "embedded" else tuple(PAPER_TEACHERS)
    points = [{"method": "scratch", "teacher": "none", "init": "random"}]
    points += [{"method": m, "teacher": t, "init": "random"} for m in ("copy", "distill") for t in teachers]
    # a pretrained student init must fit the student, whose patch size follows the teacher's
    fits = ([t for t in teachers if t != "random"] if scale == "embedded"
            else [t for t in teachers if PAPER_TEACHERS[t][1] == 16])
    inits = ("mae",)
    points += [{"method": "distill", "teacher": t, "init": i} for t in fits for i in inits]
    return points


def _build(scale, p):
    cfg = base_run(scale, Mode(p["method"]), budget="short")
    if p["method"] == "scratch":
        return cfg
    if scale == "embedded":
        cfg = replace(cfg, teacher=_embedded_source(p["teacher"]))
        if p["init"] != "random":
            cfg = replace(cfg, init=_embedded_source(p["init"]))
        return cfg
    name, patch = PAPER_TEACHERS[p["teacher"]]
    values = {"teacher.name": name, "teacher.model.img_size": 224, "student.patch_size": patch}
    if p["init"] != "random":
        init_name, _ = PAPER_TEACHERS[p["init"]]
        values.update({"init.source": "timm", "init.name": init_name})
    return with_values(cfg, values)


def _claims(scale):
    if scale != "embedded":
        return ()  # the random-teacher control exists at embedded scale only
    return tuple(Superiority(text=f"Teacher quality dominates: a pretrained ({teacher}) teacher beats a random one "
                                  f"({method})",
                             better={"method": method, "init": "random", "teacher": teacher},
                             worse={"method": method, "init": "random", "teacher": "random"},
                             source="appendix (teacher x student-init grid)")
                 for method in ("copy", "distill") for teacher in ("mae", "supervised"))


STUDY = Study(
    name="teachers",
    paper="teacher choice; appendix teacher x student-init grid",
    description="Which teacher's attention transfers best, and does a pretrained student init add anything?",
    points=_points,
    build=_build,
    references=(Reference("grid", None, "teacher quality dominates (values unknown)"),),
    figures=(GroupedBars(x="teacher", hue="init", where={"method": ("distill", "scratch")},
                         title="Teacher choice x student initialisation (distillation)"),),
    claims=_claims,
)
