"""Run configuration: the typed schema, its JSON form and run ids, and overrides.

``from attnxfer_core.config import RunConfig, apply_overrides, run_id`` is the usual
way in. Field validation (:mod:`.validate`) and the derived pretraining run
(:mod:`.pretraining`) are imported from their modules.
"""
from attnxfer_core.config.codec import canonical_json, canonical_text, coerce, fields_of, from_dict, run_id, to_dict
from attnxfer_core.config.overrides import apply_overrides, parse_override, set_field, set_fields
from attnxfer_core.config.schema import (
    AugmentConfig,
    DataConfig,
    ErasingMode,
    ExecConfig,
    Interpolation,
    LayerDecayGroups,
    MAEConfig,
    MapAverage,
    ModelConfig,
    Objective,
    OptimConfig,
    Precision,
    PretrainConfig,
    PretrainMethod,
    RunConfig,
    TeacherConfig,
    TeacherSource,
    TransferConfig,
)

__all__ = [
    "AugmentConfig", "DataConfig", "ErasingMode", "ExecConfig", "Interpolation", "LayerDecayGroups", "MAEConfig",
    "MapAverage", "ModelConfig", "Objective",
    "OptimConfig", "Precision", "PretrainConfig", "PretrainMethod", "RunConfig", "TeacherConfig", "TeacherSource",
    "TransferConfig", "apply_overrides", "canonical_json", "canonical_text", "coerce", "fields_of", "from_dict",
    "parse_override", "run_id", "set_field", "set_fields", "to_dict",
]
