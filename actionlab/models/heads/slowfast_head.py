"""The SlowFast head: pool each pathway, concatenate, dropout, fc.

Feichtenhofer et al., "SlowFast Networks for Video Recognition", ICCV 2019
(https://arxiv.org/abs/1812.03982).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from ..builder import MODELS
from .i3d_head import I3DHead


@MODELS.register_module()
class SlowFastHead(I3DHead):
    """Class scores from the ``(slow, fast)`` features of :class:`ResNet3dSlowFast`.

    An :class:`I3DHead` (same arguments, dropout 0.8 by default) over both pathways:
    the pooled features are concatenated fast first, then slow (the order of
    MMAction2's fc weights), so ``in_channels`` is C_fast + C_slow.
    """

    def __init__(self, num_classes: int, in_channels: int,
                 loss_cls: Mapping = dict(type='CrossEntropyLoss'), spatial_type: str | None = 'avg',
                 dropout_ratio: float = 0.8, init_std: float = 0.01, multi_class: bool = False,
                 label_smooth_eps: float = 0.0, topk: int | Sequence[int] = (1, 5)):
        super().__init__(num_classes, in_channels, loss_cls=loss_cls, spatial_type=spatial_type,
                         dropout_ratio=dropout_ratio, init_std=init_std, multi_class=multi_class,
                         label_smooth_eps=label_smooth_eps, topk=topk)

    def forward(self, x: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """(slow (N, C_s, T_s, H, W), fast (N, C_f, T_f, H, W)) -> (N, num_classes)."""
        x_slow, x_fast = x
        if self.avg_pool is not None:
            x_slow, x_fast = self.avg_pool(x_slow), self.avg_pool(x_fast)
        x = torch.cat((x_fast.flatten(1), x_slow.flatten(1)), dim=1)
        if self.dropout is not None:
            x = self.dropout(x)
        return self.fc_cls(x)
