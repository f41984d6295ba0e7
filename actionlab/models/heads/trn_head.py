"""The TRN head: relational reasoning over the frames of a clip.

Zhou et al., "Temporal Relational Reasoning in Videos", ECCV 2018
(https://arxiv.org/abs/1711.08496).

Each frame's pooled feature is projected to ``hidden_dim``; a relation module
then scores ordered tuples of frames with small MLPs. ``'TRN'`` uses one tuple,
all frames in order; ``'TRNMultiScale'`` adds the scores of tuples of every size
from ``num_segments`` down to 2, each size with its own MLP. For sizes below
``num_segments`` it scores at most 3 tuples drawn at random (NumPy's global
generator, as MMAction2; this happens at test time too, so seed NumPy for
repeatable scores).
"""
from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import nn

from ..builder import MODELS
from ..ops import normal_init
from .base import BaseHead


class RelationModule(nn.Module):
    """Score all frames together: ReLU, fc to 512, ReLU, fc to classes (child ``classifier``)."""

    def __init__(self, hidden_dim: int, num_segments: int, num_classes: int):
        super().__init__()
        self.hidden_dim = hidden_dim
        self.num_segments = num_segments
        self.num_classes = num_classes
        bottleneck_dim = 512
        self.classifier = nn.Sequential(
            nn.ReLU(), nn.Linear(num_segments * hidden_dim, bottleneck_dim),
            nn.ReLU(), nn.Linear(bottleneck_dim, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, num_segments, hidden_dim) -> (N, num_classes)."""
        return self.classifier(x.flatten(1))


class RelationModuleMultiScale(nn.Module):
    """Sum of relation scores over tuple sizes num_segments..2 (child ``fc_fusion_scales``)."""

    max_subsample = 3

    def __init__(self, hidden_dim: int, num_segments: int, num_classes: int):
        super().__init__()
        if num_segments < 2:
            raise ValueError(f'TRNMultiScale needs num_segments >= 2, got {num_segments}')
        self.hidden_dim = hidden_dim
        self.num_segments = num_segments
        self.num_classes = num_classes
        self.scales = list(range(num_segments, 1, -1))
        # every ordered tuple of `scale` frames, as index tensors (one row per tuple)
        self.relations_scales = [torch.tensor(list(itertools.combinations(range(num_segments), scale)))
                                 for scale in self.scales]
        self.subsample_scales = [min(self.max_subsample, len(rel)) for rel in self.relations_scales]
        num_bottleneck = 256
        self.fc_fusion_scales = nn.ModuleList(
            nn.Sequential(nn.ReLU(), nn.Linear(scale * hidden_dim, num_bottleneck),
                          nn.ReLU(), nn.Linear(num_bottleneck, num_classes))
            for scale in self.scales)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, num_segments, hidden_dim) -> (N, num_classes)."""
        n = x.shape[0]
        scores = self.fc_fusion_scales[0](x.flatten(1))
        for fusion, relations, count in zip(self.fc_fusion_scales[1:], self.relations_scales[1:],
                                            self.subsample_scales[1:]):
            chosen = relations[np.random.choice(len(relations), count, replace=False)]
            # (N, count, scale, hidden) -> (N, count, scale * hidden): all chosen tuples at once
            tuples = x[:, chosen.to(x.device)].reshape(n, count, -1)
            scores = scores + fusion(tuples).sum(1)
        return scores


@MODELS.register_module()
class TRNHead(BaseHead):
    """Class scores of (N * num_segments, C, H, W) frame features through frame relations.

    Args:
        num_classes, in_channels, loss_cls, multi_class, label_smooth_eps, topk:
            see :class:`BaseHead`.
        num_segments: frames per clip (the recognizer's ``num_segs`` is not used).
        spatial_type: ``'avg'`` pools each frame's map; ``None`` expects pooled input.
        relation_type: ``'TRN'`` or ``'TRNMultiScale'``.
        hidden_dim: width of the per-frame projection ``fc_cls``.
        dropout_ratio: dropout before ``fc_cls`` (0 = none).
        init_std: std of ``fc_cls``'s normal init.
    """

    def __init__(self, num_classes: int, in_channels: int, num_segments: int = 8,
                 loss_cls: Mapping = dict(type='CrossEntropyLoss'), spatial_type: str | None = 'avg',
                 relation_type: str = 'TRNMultiScale', hidden_dim: int = 256,
                 dropout_ratio: float = 0.8, init_std: float = 0.001,
                 multi_class: bool = False, label_smooth_eps: float = 0.0,
                 topk: int | Sequence[int] = (1, 5)):
        super().__init__(num_classes, in_channels, loss_cls=loss_cls, multi_class=multi_class,
                         label_smooth_eps=label_smooth_eps, topk=topk)
        relations = {'TRN': RelationModule, 'TRNMultiScale': RelationModuleMultiScale}
        if relation_type not in relations:
            raise ValueError(f"TRNHead relation_type must be 'TRN' or 'TRNMultiScale', got {relation_type!r}")
        self.num_segments = num_segments
        self.spatial_type = spatial_type
        self.relation_type = relation_type
        self.hidden_dim = hidden_dim
        self.dropout_ratio = dropout_ratio
        self.init_std = init_std
        self.consensus = relations[relation_type](hidden_dim, num_segments, num_classes)
        self.dropout = nn.Dropout(p=dropout_ratio) if dropout_ratio != 0 else None
        self.fc_cls = nn.Linear(in_channels, hidden_dim)
        self.avg_pool = nn.AdaptiveAvgPool2d(1) if spatial_type == 'avg' else None

    def init_weights(self) -> None:
        normal_init(self.fc_cls, std=self.init_std)

    def forward(self, x: torch.Tensor, num_segs: int | None = None) -> torch.Tensor:
        """(N * num_segments, C, H, W) -> (N, num_classes); ``num_segs`` is ignored."""
        if self.avg_pool is not None:
            x = self.avg_pool(x)
        x = x.flatten(1)
        if self.dropout is not None:
            x = self.dropout(x)
        x = self.fc_cls(x)
        return self.consensus(x.view(-1, self.num_segments, self.hidden_dim))
