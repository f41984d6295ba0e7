"""The TimeSformer head: one linear layer on the class-token feature.

Bertasius et al., "Is Space-Time Attention All You Need for Video Understanding?",
ICML 2021 (https://arxiv.org/abs/2102.05095).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from ..builder import MODELS
from .base import BaseHead


@MODELS.register_module()
class TimeSformerHead(BaseHead):
    """Class scores from (N, in_channels) features.

    Args:
        num_classes, in_channels, loss_cls, multi_class, label_smooth_eps, topk:
            see :class:`BaseHead`.
        init_std: std of the truncated-normal init of the fc weight (bias 0).
    """

    def __init__(self, num_classes: int, in_channels: int,
                 loss_cls: Mapping = dict(type='CrossEntropyLoss'), init_std: float = 0.02,
                 multi_class: bool = False, label_smooth_eps: float = 0.0,
                 topk: int | Sequence[int] = (1, 5)):
        super().__init__(num_classes, in_channels, loss_cls=loss_cls, multi_class=multi_class,
                         label_smooth_eps=label_smooth_eps, topk=topk)
        self.init_std = init_std
        self.fc_cls = nn.Linear(in_channels, num_classes)

    def init_weights(self) -> None:
        nn.init.trunc_normal_(self.fc_cls.weight, std=self.init_std)
        nn.init.constant_(self.fc_cls.bias, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, in_channels) -> (N, num_classes)."""
        return self.fc_cls(x)
