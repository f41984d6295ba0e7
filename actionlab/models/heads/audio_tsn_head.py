"""The head of audio recognizers: pool the spectrogram features, dropout, fc.

Xiao et al., "Audiovisual SlowFast Networks for Video Recognition", 2020
(https://arxiv.org/abs/2001.08740), audio pathway as a stand-alone TSN-style model.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from ..builder import MODELS
from ..ops import normal_init
from .base import BaseHead


@MODELS.register_module()
class AudioTSNHead(BaseHead):
    """Class scores from 2D spectrogram features (N, C, T', F').

    Args:
        num_classes, in_channels, loss_cls, multi_class, label_smooth_eps, topk:
            see :class:`BaseHead`.
        spatial_type: ``'avg'`` pools to 1x1; ``None`` keeps the map.
        dropout_ratio: dropout before the fc (0 = none).
        init_std: std of the fc's normal init.
    """

    def __init__(self, num_classes: int, in_channels: int,
                 loss_cls: Mapping = dict(type='CrossEntropyLoss'), spatial_type: str | None = 'avg',
                 dropout_ratio: float = 0.4, init_std: float = 0.01,
                 multi_class: bool = False, label_smooth_eps: float = 0.0,
                 topk: int | Sequence[int] = (1, 5)):
        super().__init__(num_classes, in_channels, loss_cls=loss_cls, multi_class=multi_class,
                         label_smooth_eps=label_smooth_eps, topk=topk)
        self.spatial_type = spatial_type
        self.dropout_ratio = dropout_ratio
        self.init_std = init_std
        self.avg_pool = nn.AdaptiveAvgPool2d((1, 1)) if spatial_type == 'avg' else None
        self.dropout = nn.Dropout(p=dropout_ratio) if dropout_ratio != 0 else None
        self.fc_cls = nn.Linear(in_channels, num_classes)

    def init_weights(self) -> None:
        normal_init(self.fc_cls, std=self.init_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, T', F') -> (N, num_classes)."""
        if self.avg_pool is not None:
            x = self.avg_pool(x)
        x = x.flatten(1)
        if self.dropout is not None:
            x = self.dropout(x)
        return self.fc_cls(x)
