"""Losses, built from ``dict(type=..., loss_weight=...)`` configs."""
from .base import BaseWeightedLoss
from .cross_entropy_loss import BCELossWithLogits, CrossEntropyLoss

__all__ = ['BaseWeightedLoss', 'BCELossWithLogits', 'CrossEntropyLoss']
