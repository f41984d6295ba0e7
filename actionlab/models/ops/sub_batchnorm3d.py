"""Sub-batch BatchNorm3d for multigrid training.

Wu et al., "A Multigrid Method for Efficiently Training Video Models", CVPR 2020
(https://arxiv.org/abs/1912.00998).

With the short cycles of multigrid training a GPU sees many small clips; the
statistics are then computed over ``num_splits`` sub-batches instead of the
whole batch, as they will be at the full-size cycles. In eval mode a plain
BatchNorm3d with the aggregated statistics is used (call :meth:`aggregate_stats`
before evaluating). Registered as the norm type ``'SubBatchNorm3D'``; the child
names ``bn``/``split_bn`` and the shared ``weight``/``bias`` follow MMAction2.
"""
from __future__ import annotations

import torch
from torch import nn

from .conv_module import NORM_LAYERS


@NORM_LAYERS.register_module()
class SubBatchNorm3D(nn.Module):
    """BatchNorm3d over ``num_splits`` sub-batches in training, the merged statistics in eval.

    Args:
        num_features: channels.
        num_splits: sub-batches per batch (the batch size must be a multiple); sample
            ``i`` belongs to sub-batch ``i % num_splits``.
        affine: learn a per-channel scale and shift (shared by both modes).
        **cfg: other ``nn.BatchNorm3d`` arguments (``eps``, ``momentum``, ...).
    """

    def __init__(self, num_features: int, num_splits: int = 1, affine: bool = True, **cfg):
        super().__init__()
        if num_splits < 1:
            raise ValueError(f'SubBatchNorm3D num_splits must be >= 1, got {num_splits}')
        self.num_features = num_features
        self.num_splits = num_splits
        self.affine = affine
        # the affine parameters live here, once, not in either norm
        self.bn = nn.BatchNorm3d(num_features, affine=False, **cfg)
        self.split_bn = nn.BatchNorm3d(num_features * num_splits, affine=False, **cfg)
        if affine:
            self.weight = nn.Parameter(torch.ones(num_features))
            self.bias = nn.Parameter(torch.zeros(num_features))

    @torch.no_grad()
    def aggregate_stats(self) -> None:
        """Merge the running statistics of the sub-batches into ``bn`` (their mean, and
        the mean variance plus the variance of the means)."""
        if self.split_bn.track_running_stats:
            means = self.split_bn.running_mean.view(self.num_splits, -1)
            variances = self.split_bn.running_var.view(self.num_splits, -1)
            mean = means.mean(0)
            self.bn.running_mean.copy_(mean)
            self.bn.running_var.copy_(variances.mean(0) + (means - mean).square().mean(0))
            self.bn.num_batches_tracked.copy_(self.split_bn.num_batches_tracked)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            n, c, t, h, w = x.shape
            if n % self.num_splits:
                raise ValueError(f'SubBatchNorm3D: batch of {n} is not a multiple of '
                                 f'num_splits={self.num_splits}')
            x = self.split_bn(x.reshape(n // self.num_splits, c * self.num_splits, t, h, w))
            x = x.reshape(n, c, t, h, w)
        else:
            x = self.bn(x)
        if self.affine:
            x = x * self.weight.view(-1, 1, 1, 1) + self.bias.view(-1, 1, 1, 1)
        return x
