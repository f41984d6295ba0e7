"""X3D: a small 3D network expanded along width, bottleneck width and depth.

Feichtenhofer, "X3D: Expanding Architectures for Efficient Video Recognition",
CVPR 2020 (https://arxiv.org/abs/2004.04730).

The base network has a 24-channel stem (a 1x3x3 spatial conv and a depthwise
5x1x1 temporal conv), four stages of 1, 2, 5 and 3 blocks doubling the width,
and a final 1x1x1 conv. A block is 1x1x1 conv -> depthwise 3x3x3 conv ->
squeeze-excitation (every other block) -> swish -> 1x1x1 conv, with a
residual connection. ``gamma_w`` scales the widths, ``gamma_b`` the inner
width of the blocks, ``gamma_d`` the number of blocks; X3D-S is
``gamma_w=1, gamma_b=2.25, gamma_d=2.2``. Names follow MMAction2, which ports
the weights of the official models.
"""
from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence

import torch
from torch import nn

from ..builder import MODELS
from ..ops import ConvModule, build_activation_layer, constant_init
from .resnet import (
    StageFreezingMixin,
    _check_pretrained,
    freeze_module,
    init_resnet_weights,
    load_pretrained_weights,
    run_residual,
)


def round_width(width: float, multiplier: float, min_width: int = 8, divisor: int = 8) -> int:
    """``width * multiplier`` rounded to a multiple of ``divisor`` (at least ``min_width``,
    and never rounded down by more than 10%)."""
    width *= multiplier
    rounded = max(min_width, int(width + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * width:
        rounded += divisor
    return int(rounded)


class SEModule(nn.Module):
    """Squeeze-and-excitation: channel gates from globally pooled features.

    Hu et al., "Squeeze-and-Excitation Networks", CVPR 2018 (https://arxiv.org/abs/1709.01507).

    Args:
        channels: channels of the input.
        reduction: the hidden width is ``round_width(channels, reduction)``.
    """

    def __init__(self, channels: int, reduction: float):
        super().__init__()
        self.bottleneck = round_width(channels, reduction)
        self.avg_pool = nn.AdaptiveAvgPool3d(1)
        self.fc1 = nn.Conv3d(channels, self.bottleneck, kernel_size=1)
        self.relu = nn.ReLU()
        self.fc2 = nn.Conv3d(self.bottleneck, channels, kernel_size=1)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = self.sigmoid(self.fc2(self.relu(self.fc1(self.avg_pool(x)))))
        return x * gate


class BlockX3D(nn.Module):
    """X3D residual block: 1x1x1 -> depthwise 3x3x3 (+ SE) -> swish -> 1x1x1.

    Args:
        inplanes: input channels.
        planes: inner (bottleneck) channels.
        outplanes: output channels.
        spatial_stride: stride of the depthwise conv.
        downsample: projection of the shortcut, or None.
        se_ratio: squeeze-excitation reduction, or None for no SE.
        use_swish: swish after the depthwise conv (identity otherwise).
        conv_cfg, norm_cfg, act_cfg: layer configs (``act_cfg`` after the first conv
            and after the residual sum).
        with_cp: recompute the block in the backward pass to save memory.
    """

    def __init__(self, inplanes: int, planes: int, outplanes: int, spatial_stride: int = 1,
                 downsample: nn.Module | None = None, se_ratio: float | None = None,
                 use_swish: bool = True, conv_cfg: Mapping = dict(type='Conv3d'),
                 norm_cfg: Mapping = dict(type='BN3d'), act_cfg: Mapping = dict(type='ReLU'),
                 with_cp: bool = False):
        super().__init__()
        self.inplanes = inplanes
        self.planes = planes
        self.outplanes = outplanes
        self.spatial_stride = spatial_stride
        self.se_ratio = se_ratio
        self.use_swish = use_swish
        self.with_cp = with_cp
        self.conv1 = ConvModule(inplanes, planes, 1, bias=False, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                                act_cfg=act_cfg)
        self.conv2 = ConvModule(planes, planes, 3, stride=(1, spatial_stride, spatial_stride), padding=1,
                                groups=planes, bias=False, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                                act_cfg=None)
        self.swish = nn.SiLU() if use_swish else nn.Identity()
        self.conv3 = ConvModule(planes, outplanes, 1, bias=False, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                                act_cfg=None)
        if se_ratio is not None:
            self.se_module = SEModule(planes, se_ratio)
        self.downsample = downsample
        self.relu = build_activation_layer(act_cfg)

    def _residual(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.conv1(x))
        if self.se_ratio is not None:
            out = self.se_module(out)
        out = self.conv3(self.swish(out))
        identity = x if self.downsample is None else self.downsample(x)
        return out + identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(run_residual(self._residual, x, self.with_cp))


@MODELS.register_module()
class X3D(StageFreezingMixin):
    """X3D backbone: (N, C, T, H, W) clips -> (N, feat_dim, T, H / 32, W / 32) features.

    Args:
        gamma_w: width expansion (of the 24 base channels).
        gamma_b: bottleneck width expansion (inner width of blocks and of ``conv5``).
        gamma_d: depth expansion (of the 1, 2, 5, 3 blocks per stage).
        pretrained: a checkpoint (path/name) loaded by :meth:`init_weights`, or None.
        in_channels: input channels.
        num_stages: stages (1-4).
        spatial_strides: per stage.
        frozen_stages: freeze the stem and stages 1..frozen_stages (-1 = none).
        se_style: ``'half'`` (SE in every other block, from the first) or ``'all'``.
        se_ratio: SE reduction, or None for no SE.
        use_swish: swish after the depthwise convs.
        conv_cfg, norm_cfg, act_cfg: layer configs.
        norm_eval: keep norm layers in eval mode while training.
        with_cp: recompute blocks in the backward pass to save memory.
        zero_init_residual: start the last norm of each block at zero.
    """

    def __init__(self, gamma_w: float = 1.0, gamma_b: float = 1.0, gamma_d: float = 1.0,
                 pretrained: str | os.PathLike | None = None, in_channels: int = 3, num_stages: int = 4,
                 spatial_strides: Sequence[int] = (2, 2, 2, 2), frozen_stages: int = -1,
                 se_style: str = 'half', se_ratio: float | None = 1 / 16, use_swish: bool = True,
                 conv_cfg: Mapping = dict(type='Conv3d'),
                 norm_cfg: Mapping = dict(type='BN3d', requires_grad=True),
                 act_cfg: Mapping = dict(type='ReLU', inplace=True), norm_eval: bool = False,
                 with_cp: bool = False, zero_init_residual: bool = True):
        super().__init__()
        _check_pretrained(pretrained, type(self).__name__)
        if not 1 <= num_stages <= 4:
            raise ValueError(f'X3D num_stages must be 1..4, got {num_stages}')
        if len(spatial_strides) != num_stages:
            raise ValueError(f'X3D spatial_strides {tuple(spatial_strides)} need one entry per stage '
                             f'(num_stages={num_stages})')
        if se_style not in ('half', 'all'):
            raise ValueError(f"X3D se_style must be 'half' or 'all', got {se_style!r}")
        self.gamma_w = gamma_w
        self.gamma_b = gamma_b
        self.gamma_d = gamma_d
        self.pretrained = pretrained
        self.in_channels = in_channels
        self.num_stages = num_stages
        self.spatial_strides = tuple(spatial_strides)
        self.frozen_stages = frozen_stages
        self.se_style = se_style
        self.se_ratio = se_ratio
        self.use_swish = use_swish
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.act_cfg = act_cfg
        self.norm_eval = norm_eval
        self.with_cp = with_cp
        self.zero_init_residual = zero_init_residual

        self.base_channels = round_width(24, gamma_w) if gamma_w else 24
        self.stage_blocks = tuple(int(math.ceil(gamma_d * n)) if gamma_d else n
                                  for n in (1, 2, 5, 3))[:num_stages]
        layers = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg)
        self.conv1_s = ConvModule(in_channels, self.base_channels, (1, 3, 3), stride=(1, 2, 2),
                                  padding=(0, 1, 1), bias=False, conv_cfg=conv_cfg, norm_cfg=None,
                                  act_cfg=None)
        self.conv1_t = ConvModule(self.base_channels, self.base_channels, (5, 1, 1), padding=(2, 0, 0),
                                  groups=self.base_channels, bias=False, act_cfg=act_cfg, **layers)

        self.res_layers = []
        layer_inplanes = self.base_channels
        for i, num_blocks in enumerate(self.stage_blocks):
            inplanes = self.base_channels * 2**i
            layer = self.make_res_layer(
                BlockX3D, layer_inplanes, inplanes, int(inplanes * gamma_b), num_blocks,
                spatial_stride=self.spatial_strides[i], se_style=se_style, se_ratio=se_ratio,
                use_swish=use_swish, norm_cfg=norm_cfg, act_cfg=act_cfg, conv_cfg=conv_cfg,
                with_cp=with_cp)
            layer_inplanes = inplanes
            self.add_module(f'layer{i + 1}', layer)
            self.res_layers.append(f'layer{i + 1}')

        last = self.base_channels * 2**(len(self.stage_blocks) - 1)
        self.feat_dim = int(last * gamma_b)
        self.conv5 = ConvModule(last, self.feat_dim, 1, bias=False, act_cfg=act_cfg, **layers)

    def make_res_layer(self, block: type[nn.Module], layer_inplanes: int, inplanes: int, planes: int,
                       blocks: int, spatial_stride: int = 1, se_style: str = 'half',
                       se_ratio: float | None = None, use_swish: bool = True,
                       norm_cfg: Mapping | None = None, act_cfg: Mapping | None = None,
                       conv_cfg: Mapping | None = None, with_cp: bool = False) -> nn.Sequential:
        """A stage: ``blocks`` blocks of inner width ``planes`` and output width ``inplanes``;
        the first takes ``layer_inplanes`` channels, strides and projects the shortcut."""
        downsample = None
        if spatial_stride != 1 or layer_inplanes != inplanes:
            downsample = ConvModule(layer_inplanes, inplanes, 1, stride=(1, spatial_stride, spatial_stride),
                                    bias=False, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=None)
        layers = []
        for i in range(blocks):
            with_se = se_style == 'all' or i % 2 == 0
            layers.append(block(layer_inplanes if i == 0 else inplanes, planes, inplanes,
                                spatial_stride=spatial_stride if i == 0 else 1,
                                downsample=downsample if i == 0 else None,
                                se_ratio=se_ratio if with_se else None, use_swish=use_swish,
                                norm_cfg=norm_cfg, conv_cfg=conv_cfg, act_cfg=act_cfg,
                                with_cp=with_cp))
        return nn.Sequential(*layers)

    def init_weights(self) -> None:
        """Load ``pretrained``, or Kaiming convs, unit norms and zeroed residual ends."""
        if self.pretrained is not None:
            load_pretrained_weights(self, self.pretrained)
            return
        init_resnet_weights(self)
        if self.zero_init_residual:
            for m in self.modules():
                if isinstance(m, BlockX3D):
                    constant_init(m.conv3.norm, 0)

    def _freeze_stem(self) -> None:
        freeze_module(self.conv1_s)
        freeze_module(self.conv1_t)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, T, H, W) -> (N, feat_dim, T, H / 32, W / 32)."""
        x = self.conv1_t(self.conv1_s(x))
        for name in self.res_layers:
            x = getattr(self, name)(x)
        return self.conv5(x)
