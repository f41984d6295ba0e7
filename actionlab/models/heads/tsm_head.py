"""The TSM head: per-frame classification, then average consensus over the clip.

Lin et al., "TSM: Temporal Shift Module for Efficient Video Understanding", ICCV 2019
(https://arxiv.org/abs/1811.08383).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from ..builder import MODELS
from ..ops import normal_init
from .base import BaseHead


@MODELS.register_module()
class TSMHead(BaseHead):
    """Scores every frame, then averages each group of ``num_segments`` frames.

    The grouping uses the head's own ``num_segments`` (the backbone's), not the
    number of frames per sample: a test batch with several clips or crops per
    video yields one row per clip/crop, averaged later by the recognizer.

    Args:
        num_classes, in_channels, loss_cls, multi_class, label_smooth_eps, topk:
            see :class:`BaseHead`.
        num_segments: frames per clip.
        spatial_type: ``'avg'`` pools each frame's feature map; otherwise kept.
        consensus: e.g. ``dict(type='AvgConsensus', dim=1)``.
        dropout_ratio: dropout before the fc (0 = none).
        init_std: std of the fc's normal init.
        is_shift, temporal_pool: with both, the backbone halved the frames, so
            groups have ``num_segments // 2`` frames.
    """

    def __init__(self, num_classes: int, in_channels: int, num_segments: int = 8,
                 loss_cls: Mapping = dict(type='CrossEntropyLoss'), spatial_type: str | None = 'avg',
                 consensus: Mapping = dict(type='AvgConsensus', dim=1), dropout_ratio: float = 0.8,
                 init_std: float = 0.001, is_shift: bool = True, temporal_pool: bool = False,
                 multi_class: bool = False, label_smooth_eps: float = 0.0,
                 topk: int | Sequence[int] = (1, 5)):
        super().__init__(num_classes, in_channels, loss_cls=loss_cls, multi_class=multi_class,
                         label_smooth_eps=label_smooth_eps, topk=topk)
        self.num_segments = num_segments
        self.spatial_type = spatial_type
        self.dropout_ratio = dropout_ratio
        self.init_std = init_std
        self.is_shift = is_shift
        self.temporal_pool = temporal_pool
        self.consensus = MODELS.build(consensus)
        self.avg_pool = nn.AdaptiveAvgPool2d(1) if spatial_type == 'avg' else nn.Identity()
        self.dropout = nn.Dropout(p=dropout_ratio) if dropout_ratio != 0 else None
        self.fc_cls = nn.Linear(in_channels, num_classes)

    def init_weights(self) -> None:
        normal_init(self.fc_cls, std=self.init_std)

    def forward(self, x: torch.Tensor, num_segs: int | None = None) -> torch.Tensor:
        """(N * num_segments, C, H, W) -> (N, num_classes); ``num_segs`` is ignored."""
        x = self.avg_pool(x).flatten(1)
        if self.dropout is not None:
            x = self.dropout(x)
        cls_score = self.fc_cls(x)
        frames = self.num_segments // 2 if self.is_shift and self.temporal_pool else self.num_segments
        cls_score = cls_score.view((-1, frames) + cls_score.shape[1:])
        return self.consensus(cls_score).squeeze(1)
