"""MobileNetV2, applied frame by frame (the base of TSM-MobileNetV2).

Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks", CVPR 2018
(https://arxiv.org/abs/1801.04381).

A 3x3 stem, seven stages of inverted residual blocks (1x1 expand, 3x3 depthwise,
1x1 linear project, with a shortcut when shapes allow) and a final 1x1 conv to
1280 channels (``conv2``, the eighth "stage"). Names follow MMAction2 (and
mmcls): ``conv1.conv``, ``layer1.0.conv.0.conv``, ``conv2.bn``..., so their
checkpoints load unchanged.
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import torch
from torch import nn

from ..builder import MODELS
from ..ops import ConvModule
from .resnet import (
    StageFreezingMixin,
    _check_pretrained,
    init_resnet_weights,
    load_pretrained_weights,
    run_residual,
)


def make_divisible(value: float, divisor: int, min_value: int | None = None,
                   min_ratio: float = 0.9) -> int:
    """Round a channel count to a multiple of ``divisor`` (at least ``min_value``, default
    ``divisor``), rounding up if rounding to nearest lost more than ``1 - min_ratio``."""
    min_value = divisor if min_value is None else min_value
    new_value = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if new_value < min_ratio * value:
        new_value += divisor
    return new_value


class InvertedResidual(nn.Module):
    """1x1 expand (skipped when ``expand_ratio == 1``), 3x3 depthwise, 1x1 linear project.

    The convs are the children of ``conv`` (an ``nn.Sequential`` of ConvModules). A
    shortcut adds the input when ``stride == 1`` and the channel count is kept.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int, expand_ratio: float,
                 conv_cfg: Mapping | None = None, norm_cfg: Mapping = dict(type='BN'),
                 act_cfg: Mapping = dict(type='ReLU6'), with_cp: bool = False):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f'InvertedResidual stride must be 1 or 2, got {stride}')
        self.stride = stride
        self.with_cp = with_cp
        self.use_res_connect = stride == 1 and in_channels == out_channels
        hidden_dim = int(round(in_channels * expand_ratio))
        common = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg)
        layers = []
        if expand_ratio != 1:
            layers.append(ConvModule(in_channels, hidden_dim, 1, act_cfg=act_cfg, **common))
        layers += [
            ConvModule(hidden_dim, hidden_dim, 3, stride=stride, padding=1, groups=hidden_dim,
                       act_cfg=act_cfg, **common),
            ConvModule(hidden_dim, out_channels, 1, act_cfg=None, **common),
        ]
        self.conv = nn.Sequential(*layers)

    def _residual(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.use_res_connect:
            return run_residual(self._residual, x, self.with_cp)
        return run_residual(self.conv, x, self.with_cp)


@MODELS.register_module()
class MobileNetV2(StageFreezingMixin):
    """MobileNetV2 backbone for 2D (per-frame) recognizers.

    Args:
        pretrained: checkpoint loaded by :meth:`init_weights` (path or cache name,
            e.g. ``mmcls://mobilenet_v2``); ``None`` = random init.
        widen_factor: channel multiplier of every layer (the last conv is widened
            only when > 1).
        out_indices: stages whose output is returned, 0-7 (7 = ``conv2``); a tuple
            when more than one.
        frozen_stages: freeze the stem and stages 1..frozen_stages (-1 = none, 8 =
            everything including ``conv2``).
        conv_cfg, norm_cfg, act_cfg: layer configs of every ConvModule.
        norm_eval: keep all norm layers in eval mode while training.
        with_cp: recompute each block in the backward pass to save memory.
    """

    # per stage: expand ratio, output channels, blocks, stride of the first block
    arch_settings = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                     (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))

    def __init__(self, pretrained: str | os.PathLike | None = None, widen_factor: float = 1.0,
                 out_indices: Sequence[int] = (7,), frozen_stages: int = -1,
                 conv_cfg: Mapping = dict(type='Conv'),
                 norm_cfg: Mapping = dict(type='BN2d', requires_grad=True),
                 act_cfg: Mapping = dict(type='ReLU6', inplace=True), norm_eval: bool = False,
                 with_cp: bool = False):
        super().__init__()
        _check_pretrained(pretrained, type(self).__name__)
        self.out_indices = tuple(out_indices)
        if not self.out_indices or any(i not in range(8) for i in self.out_indices):
            raise ValueError(f'MobileNetV2 out_indices must lie in 0..7, got {out_indices!r}')
        if frozen_stages not in range(-1, 9):
            raise ValueError(f'MobileNetV2 frozen_stages must be in -1..8, got {frozen_stages}')
        self.pretrained = pretrained
        self.widen_factor = widen_factor
        self.frozen_stages = frozen_stages
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.act_cfg = act_cfg
        self.norm_eval = norm_eval
        self.with_cp = with_cp

        self.in_channels = make_divisible(32 * widen_factor, 8)
        self.conv1 = ConvModule(3, self.in_channels, 3, stride=2, padding=1, conv_cfg=conv_cfg,
                                norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.layers = []
        for i, (expand_ratio, channels, num_blocks, stride) in enumerate(self.arch_settings):
            layer = self.make_layer(make_divisible(channels * widen_factor, 8), num_blocks, stride,
                                    expand_ratio)
            self.add_module(f'layer{i + 1}', layer)
            self.layers.append(f'layer{i + 1}')
        self.out_channel = int(1280 * widen_factor) if widen_factor > 1.0 else 1280
        self.conv2 = ConvModule(self.in_channels, self.out_channel, 1, conv_cfg=conv_cfg,
                                norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.layers.append('conv2')

    def make_layer(self, out_channels: int, num_blocks: int, stride: int,
                   expand_ratio: float) -> nn.Sequential:
        """A stage of ``num_blocks`` inverted residual blocks; the first one has ``stride``."""
        blocks = []
        for i in range(num_blocks):
            blocks.append(InvertedResidual(self.in_channels, out_channels, stride if i == 0 else 1,
                                           expand_ratio, conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg,
                                           act_cfg=self.act_cfg, with_cp=self.with_cp))
            self.in_channels = out_channels
        return nn.Sequential(*blocks)

    def init_weights(self) -> None:
        """Kaiming convs, unit norms, then load ``pretrained`` if set."""
        init_resnet_weights(self)
        if self.pretrained is not None:
            load_pretrained_weights(self, self.pretrained)

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """(N, 3, H, W) frames -> feature map(s) of the stages in ``out_indices``."""
        x = self.conv1(x)
        outs = []
        for i, name in enumerate(self.layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return outs[0] if len(outs) == 1 else tuple(outs)

    def _stage_name(self, i: int) -> str:
        return self.layers[i - 1]  # stage 8 is conv2
