"""Rank and world size of the current process.

Training on several GPUs or nodes goes through ``torch.distributed`` (one process per
GPU, started by ``torchrun``); a process that never initialised a process group is
rank 0 of a world of size 1.
"""
from __future__ import annotations

import torch.distributed as dist


def get_dist_info() -> tuple[int, int]:
    """``(rank, world_size)`` of this process; ``(0, 1)`` outside distributed training."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main_process() -> bool:
    """True on rank 0, the process that writes checkpoints and logs."""
    return get_dist_info()[0] == 0
