"""What one run asks of the machine: two CPU cores at embedded scale, GPU nodes at paper scale."""
from __future__ import annotations

from dataclasses import dataclass

from attnxfer_core.config import RunConfig


@dataclass(frozen=True)
class Resources:
    """What one run asks of the cluster (SLURM)."""

    gpus_per_node: int = 8  # GPUs per node
    nodes: int = 1
    cpus_per_gpu: int = 10
    mem_gb: int = 480  # per node
    hours: float = 72.0  # wall-clock limit of one job (runs longer than this requeue)

    @property
    def gpus(self) -> int:
        return self.gpus_per_node * self.nodes


EMBEDDED_RESOURCES = Resources(gpus_per_node=0, nodes=1, cpus_per_gpu=2, mem_gb=8, hours=1.0)

# Paper-scale resources by student architecture (one 8-GPU node per ViT-B, two per ViT-L, four per ViT-H).
PAPER_RESOURCES = {
    "vit_base_patch16_224": Resources(gpus_per_node=8, nodes=1, hours=48),
    "vit_large_patch16_224": Resources(gpus_per_node=8, nodes=2, hours=48),
    "vit_huge_patch14_224": Resources(gpus_per_node=8, nodes=4, hours=48),
}
PAPER_DEFAULT = Resources(gpus_per_node=8, nodes=2, hours=48)


def paper_resources(cfg: RunConfig) -> Resources:
    return PAPER_RESOURCES.get(cfg.student.arch, PAPER_DEFAULT)
