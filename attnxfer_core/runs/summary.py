"""``summary.json``: what a finished run reports, as one typed record.

``execute`` writes it last (its presence means the run finished); collection,
the demo, the plan's estimates and status read it. The fields are the ones every
finished run has had since the suite's first recipe; anything else in the file
(the machine's environment and code version, the CPU contention meter, an
``installed`` or ``carried`` note, fields of later versions) is kept in ``extra``
and written back flat, so reading and writing a summary loses nothing and a
summary of any earlier version still loads.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    final: dict = field(default_factory=dict)  # the test set's numbers (a pilot's: the validation split's)
    status: str = "done"
    objective: str = ""
    mode: str = ""
    seed: int = 0
    epochs: Optional[int] = None
    steps: Optional[int] = None
    train_seconds: Optional[float] = None  # training time over every attempt
    images_per_second: Optional[float] = None
    wall_seconds_this_attempt: Optional[float] = None
    attempt_from_step: int = 0  # 0 unless the last attempt resumed
    setup_seconds: Optional[float] = None  # the last attempt's set-up: data, models, teacher
    final_split: str = "test"  # "val" only for pilots
    val: dict = field(default_factory=dict)  # the validation split's last numbers, beside a test result
    teacher: dict = field(default_factory=dict)  # its source, and the suite-pretrained run it came from
    init: dict = field(default_factory=dict)
    device: str = ""
    attention_paths: list = field(default_factory=list)  # "maps", "sdpa": how map transfer ran
    world_size: int = 1
    threads: list = field(default_factory=list)  # intra-op threads that trained it (CPU round-off depends on them)
    finished_at: str = ""
    extra: dict = field(default_factory=dict)  # everything else, written back flat

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> "RunSummary":
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        values = {k: v for k, v in record.items() if k in known and v is not None}
        return cls(**{"run_id": "", **values}, extra={k: v for k, v in record.items() if k not in known})

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        return {**self.extra, **out}

    @property
    def code_version(self) -> Optional[str]:
        return self.extra.get("code_version")

    @property
    def restored(self) -> bool:
        """Installed from a shipped or carried record rather than trained in this runs root."""
        return "installed" in self.extra or "carried" in self.extra
