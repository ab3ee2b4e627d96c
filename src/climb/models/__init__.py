"""Models: one encoder per modality, fusion modules, per-task heads and masked losses.

The model layer never knows dataset names: it sees the batch of ``docs/interfaces.md`` and
task descriptions (anything with ``key``, ``type`` and ``classes``).
"""

from climb.models.encoders import ENCODERS, build_encoder
from climb.models.fusion import FUSIONS, build_fusion
from climb.models.heads import TaskHead, task_out_dim
from climb.models.losses import masked_task_loss
from climb.models.model import MultimodalModel

__all__ = [
    "ENCODERS",
    "FUSIONS",
    "MultimodalModel",
    "TaskHead",
    "build_encoder",
    "build_fusion",
    "masked_task_loss",
    "task_out_dim",
]
