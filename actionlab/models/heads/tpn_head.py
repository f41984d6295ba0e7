"""The TPN head: a TSN head that also takes 3D features and can score fully convolutionally.

Yang et al., "Temporal Pyramid Network for Action Recognition", CVPR 2020
(https://arxiv.org/abs/2004.03548).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..builder import MODELS
from .tsn_head import TSNHead


@MODELS.register_module()
class TPNHead(TSNHead):
    """Class scores after a :class:`~actionlab.models.necks.TPN` neck.

    Takes the :class:`TSNHead` arguments. The input is either the (N, C, T, H, W)
    output of the neck (``num_segs=None``: global average pool when
    ``spatial_type='avg'``, dropout, fc) or per-frame maps (N * num_segs, C, H, W)
    as for :class:`TSNHead`.
    """

    def forward(self, x: torch.Tensor, num_segs: int | None = None,
                fcn_test: bool = False) -> torch.Tensor:
        """Scores (N, num_classes); with ``fcn_test`` the fc is applied as a 1x1x1 conv and
        the (N, num_classes, T, H, W) score map is returned (1x1x1 after 'avg' pooling)."""
        if fcn_test:
            if self.spatial_type == 'avg':
                x = F.adaptive_avg_pool3d(x, 1)
            weight = self.fc_cls.weight.view(self.fc_cls.weight.shape + (1, 1, 1))
            return F.conv3d(x, weight, self.fc_cls.bias)
        if num_segs is not None:
            return super().forward(x, num_segs)
        if self.spatial_type == 'avg':
            x = F.adaptive_avg_pool3d(x, 1)
        if self.dropout is not None:
            x = self.dropout(x)
        return self.fc_cls(x.flatten(1))
