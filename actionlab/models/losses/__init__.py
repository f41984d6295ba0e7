"""Losses, built from ``dict(type=..., loss_weight=...)`` configs."""
from .base import BaseWeightedLoss
from .cross_entropy_loss import BCELossWithLogits, CrossEntropyLoss
from .hvu_loss import HVULoss
from .nll_loss import NLLLoss

__all__ = ['BaseWeightedLoss', 'BCELossWithLogits', 'CrossEntropyLoss', 'HVULoss', 'NLLLoss']
