"""The X3D head: global pooling, fc to 2048 channels, ReLU, dropout, fc.

Feichtenhofer, "X3D: Expanding Architectures for Efficient Video Recognition",
CVPR 2020 (https://arxiv.org/abs/2004.04730).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from ..builder import MODELS
from ..ops import normal_init
from .base import BaseHead


@MODELS.register_module()
class X3DHead(BaseHead):
    """Class scores from an X3D feature map (N, C, T, H, W).

    Args:
        num_classes, in_channels, loss_cls, multi_class, label_smooth_eps, topk:
            see :class:`BaseHead`.
        spatial_type: global ``'avg'`` or ``'max'`` pooling.
        dropout_ratio: dropout before the last fc (0 = none).
        init_std: std of the normal init of both fcs.
        fc1_bias: give the first fc a bias.
    """

    mid_channels = 2048

    def __init__(self, num_classes: int, in_channels: int,
                 loss_cls: Mapping = dict(type='CrossEntropyLoss'), spatial_type: str = 'avg',
                 dropout_ratio: float = 0.5, init_std: float = 0.01, fc1_bias: bool = False,
                 multi_class: bool = False, label_smooth_eps: float = 0.0,
                 topk: int | Sequence[int] = (1, 5)):
        super().__init__(num_classes, in_channels, loss_cls=loss_cls, multi_class=multi_class,
                         label_smooth_eps=label_smooth_eps, topk=topk)
        pools = {'avg': nn.AdaptiveAvgPool3d, 'max': nn.AdaptiveMaxPool3d}
        if spatial_type not in pools:
            raise ValueError(f"X3DHead spatial_type must be 'avg' or 'max', got {spatial_type!r}")
        self.spatial_type = spatial_type
        self.dropout_ratio = dropout_ratio
        self.init_std = init_std
        self.fc1_bias = fc1_bias
        self.pool = pools[spatial_type]((1, 1, 1))
        self.fc1 = nn.Linear(in_channels, self.mid_channels, bias=fc1_bias)
        self.relu = nn.ReLU()
        self.dropout = nn.Dropout(p=dropout_ratio) if dropout_ratio != 0 else None
        self.fc2 = nn.Linear(self.mid_channels, num_classes)

    def init_weights(self) -> None:
        normal_init(self.fc1, std=self.init_std)
        normal_init(self.fc2, std=self.init_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, T, H, W) -> (N, num_classes)."""
        x = self.relu(self.fc1(self.pool(x).flatten(1)))
        if self.dropout is not None:
            x = self.dropout(x)
        return self.fc2(x)
