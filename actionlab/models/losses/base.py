"""Base class of losses scaled by a ``loss_weight``."""
from __future__ import annotations

from abc import ABCMeta, abstractmethod

import torch
from torch import nn


class BaseWeightedLoss(nn.Module, metaclass=ABCMeta):
    """A loss whose value is multiplied by ``loss_weight``.

    Subclasses implement :meth:`_forward`. When it returns a dict, every entry
    whose key contains ``'loss'`` is scaled and the others (metrics) are left alone.
    """

    def __init__(self, loss_weight: float = 1.0):
        super().__init__()
        self.loss_weight = loss_weight

    @abstractmethod
    def _forward(self, *args, **kwargs) -> torch.Tensor | dict[str, torch.Tensor]:
        """The unweighted loss."""

    def forward(self, *args, **kwargs) -> torch.Tensor | dict[str, torch.Tensor]:
        ret = self._forward(*args, **kwargs)
        if isinstance(ret, dict):
            return {k: v * self.loss_weight if 'loss' in k else v for k, v in ret.items()}
        return ret * self.loss_weight
