"""Non-local blocks with mmcv's parameter names.

Wang et al., "Non-local Neural Networks", CVPR 2018 (https://arxiv.org/abs/1711.07971).

Every position attends to every position: ``y = softmax(theta(x)^T phi(x)) g(x)``
(the pairwise function depends on ``mode``), and the block returns
``x + conv_out(y)``. The children are ``g``, ``theta``, ``phi``, ``conv_out``
(and ``concat_project`` for ``mode='concatenation'``); with ``sub_sample`` the
key/value branches are followed by a 2x2 spatial max-pool and become
``nn.Sequential(conv, pool)`` (keys ``g.0.conv.weight``), exactly as in mmcv.
"""
from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from .conv_module import ConvModule
from .weight_init import constant_init, normal_init

_MODES = ('gaussian', 'embedded_gaussian', 'dot_product', 'concatenation')


class _NonLocalNd(nn.Module):
    """Shared body of :class:`NonLocal2d` and :class:`NonLocal3d`.

    Args:
        in_channels: channels of the input (and output).
        reduction: the inner branches have ``in_channels // reduction`` channels.
        use_scale: divide the ``embedded_gaussian`` logits by sqrt(inner channels).
        conv_cfg: conv type of the 1x1 convs.
        norm_cfg: norm after ``conv_out`` (e.g. ``dict(type='BN3d')``); ``None`` = none.
        mode: pairwise function, one of ``gaussian``, ``embedded_gaussian``,
            ``dot_product``, ``concatenation``.
        sub_sample: max-pool keys and values 2x2 in space (fewer positions to attend to).
        std: std of the normal init of ``g``/``theta``/``phi``.
        zeros_init: start ``conv_out`` (its norm if any) at zero, so the block begins
            as the identity.
    """

    _pool: type[nn.Module]
    _pool_kernel: tuple[int, ...]

    def __init__(self, in_channels: int, reduction: int = 2, use_scale: bool = True,
                 conv_cfg: Mapping | None = None, norm_cfg: Mapping | None = None,
                 mode: str = 'embedded_gaussian', sub_sample: bool = False,
                 std: float = 0.01, zeros_init: bool = True):
        super().__init__()
        if mode not in _MODES:
            raise ValueError(f'NonLocal mode must be one of {_MODES}, got {mode!r}')
        self.in_channels = in_channels
        self.reduction = reduction
        self.use_scale = use_scale
        self.inter_channels = max(in_channels // reduction, 1)
        self.mode = mode
        self.sub_sample = sub_sample
        self.std = std
        self.zeros_init = zeros_init

        self.g = ConvModule(in_channels, self.inter_channels, 1, conv_cfg=conv_cfg, act_cfg=None)
        self.conv_out = ConvModule(self.inter_channels, in_channels, 1, conv_cfg=conv_cfg,
                                   norm_cfg=norm_cfg, act_cfg=None)
        if mode != 'gaussian':
            self.theta = ConvModule(in_channels, self.inter_channels, 1, conv_cfg=conv_cfg,
                                    act_cfg=None)
            self.phi = ConvModule(in_channels, self.inter_channels, 1, conv_cfg=conv_cfg,
                                  act_cfg=None)
        if mode == 'concatenation':
            self.concat_project = ConvModule(self.inter_channels * 2, 1, 1, bias=False,
                                             act_cfg=dict(type='ReLU'))
        if sub_sample:
            pool = self._pool(kernel_size=self._pool_kernel)
            self.g = nn.Sequential(self.g, pool)
            # the gaussian mode compares raw inputs, so its phi is the pool alone
            self.phi = nn.Sequential(self.phi, pool) if mode != 'gaussian' else pool
        self.init_weights()

    def init_weights(self) -> None:
        """Normal(std) init of the branch convs; ``conv_out`` zero (or normal) as mmcv."""
        branches = [self.g] if self.mode == 'gaussian' else [self.g, self.theta, self.phi]
        for branch in branches:
            conv_module = branch[0] if isinstance(branch, nn.Sequential) else branch
            normal_init(conv_module.conv, std=self.std)
        target = self.conv_out.norm if self.conv_out.with_norm else self.conv_out.conv
        if self.zeros_init:
            constant_init(target, 0)
        else:
            normal_init(target, std=self.std)

    def _pairwise(self, theta_x: torch.Tensor, phi_x: torch.Tensor) -> torch.Tensor:
        """(N, P, C') x (N, C', Q) -> attention weights (N, P, Q)."""
        if self.mode == 'concatenation':
            # theta_x (N, C', P, 1), phi_x (N, C', 1, Q): score every pair with a 1x1 conv
            p, q = theta_x.shape[2], phi_x.shape[3]
            pairs = torch.cat([theta_x.expand(-1, -1, p, q), phi_x.expand(-1, -1, p, q)], dim=1)
            weight = self.concat_project(pairs).squeeze(1)
            return weight / weight.shape[-1]
        weight = torch.matmul(theta_x, phi_x)
        if self.mode == 'dot_product':
            return weight / weight.shape[-1]
        if self.mode == 'embedded_gaussian' and self.use_scale:
            weight = weight / theta_x.shape[-1] ** 0.5
        return weight.softmax(dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        g_x = self.g(x).reshape(n, self.inter_channels, -1).transpose(1, 2)   # (N, Q, C')
        if self.mode == 'gaussian':
            theta_x = x.reshape(n, self.in_channels, -1).transpose(1, 2)      # (N, P, C)
            phi_x = (self.phi(x) if self.sub_sample else x).reshape(n, self.in_channels, -1)
        elif self.mode == 'concatenation':
            theta_x = self.theta(x).reshape(n, self.inter_channels, -1, 1)
            phi_x = self.phi(x).reshape(n, self.inter_channels, 1, -1)
        else:
            theta_x = self.theta(x).reshape(n, self.inter_channels, -1).transpose(1, 2)
            phi_x = self.phi(x).reshape(n, self.inter_channels, -1)
        weight = self._pairwise(theta_x, phi_x)                                 # (N, P, Q)
        y = torch.matmul(weight, g_x).transpose(1, 2).reshape(n, self.inter_channels, *x.shape[2:])
        return x + self.conv_out(y)


class NonLocal2d(_NonLocalNd):
    """Non-local block over the H x W positions of an (N, C, H, W) input."""

    _pool = nn.MaxPool2d
    _pool_kernel = (2, 2)

    def __init__(self, in_channels: int, sub_sample: bool = False,
                 conv_cfg: Mapping | None = dict(type='Conv2d'), **kwargs):
        super().__init__(in_channels, conv_cfg=conv_cfg, sub_sample=sub_sample, **kwargs)


class NonLocal3d(_NonLocalNd):
    """Non-local block over the T x H x W positions of an (N, C, T, H, W) input.

    ``sub_sample`` pools 1x2x2 (space only), as mmcv.
    """

    _pool = nn.MaxPool3d
    _pool_kernel = (1, 2, 2)

    def __init__(self, in_channels: int, sub_sample: bool = False,
                 conv_cfg: Mapping | None = dict(type='Conv3d'), **kwargs):
        super().__init__(in_channels, conv_cfg=conv_cfg, sub_sample=sub_sample, **kwargs)
