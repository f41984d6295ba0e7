"""Negative log-likelihood loss on log-probabilities."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..builder import MODELS
from .base import BaseWeightedLoss


@MODELS.register_module()
class NLLLoss(BaseWeightedLoss):
    """``F.nll_loss(cls_score, label)``: ``cls_score`` holds log-probabilities (N, C) and
    ``label`` class indices (N,); extra keyword arguments go to ``F.nll_loss``.

    Args:
        loss_weight: factor applied to the loss.
    """

    def _forward(self, cls_score: torch.Tensor, label: torch.Tensor, **kwargs) -> torch.Tensor:
        return F.nll_loss(cls_score, label, **kwargs)
