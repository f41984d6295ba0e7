"""Factorised spectrogram convolution of the audio ResNet (``ConvAudio``).

Xiao et al., "Audiovisual SlowFast Networks for Video Recognition", 2020
(https://arxiv.org/abs/2001.08740).

A k x k conv over a (time x frequency) spectrogram is replaced by two branches
that each see one axis: a (k x 1) conv and a (1 x k) conv, each followed by BN
and ReLU, merged by channel concatenation (2 x out_channels) or by a sum.
Registered as the conv layer type ``'ConvAudio'``, so ``ConvModule`` builds it
from ``conv_cfg=dict(type='ConvAudio')``; child names (``conv_1.conv``,
``conv_1.bn``, ...) follow MMAction2.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .conv_module import CONV_LAYERS, ConvModule
from .weight_init import constant_init, kaiming_init


def _pair(value: int | Sequence[int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


@CONV_LAYERS.register_module()
class ConvAudio(nn.Module):
    """Two axis-wise conv branches (each conv + BN + ReLU), concatenated or summed.

    Args:
        in_channels, out_channels: channels of the input and of each branch.
        kernel_size: (kt, kf); the branches use (kt, 1) and (1, kf) kernels with
            'same' zero padding (``k // 2``).
        op: ``'concat'`` (output has ``2 * out_channels`` channels) or ``'sum'``.
        stride: applied by both branches.
        padding, dilation, groups: accepted as for ``nn.Conv2d`` so that
            ``ConvModule`` can build this layer; as in MMAction2 the branches always
            use their own 'same' padding, no dilation and one group.
        bias: conv bias of the branches.
        padding_mode: padding mode of the branch convs.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | Sequence[int],
                 op: str = 'concat', stride: int | Sequence[int] = 1,
                 padding: int | Sequence[int] = 0, dilation: int | Sequence[int] = 1,
                 groups: int = 1, bias: bool = False, padding_mode: str = 'zeros'):
        super().__init__()
        if op not in ('concat', 'sum'):
            raise ValueError(f"ConvAudio op must be 'concat' or 'sum', got {op!r}")
        kernel_size = _pair(kernel_size)
        stride = _pair(stride)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.op = op
        self.stride = stride
        self.padding = _pair(padding)
        self.dilation = dilation
        self.groups = groups
        self.bias = bias
        common = dict(stride=stride, bias=bias, conv_cfg=dict(type='Conv'), norm_cfg=dict(type='BN'),
                      act_cfg=dict(type='ReLU'), padding_mode=padding_mode)
        self.conv_1 = ConvModule(in_channels, out_channels, (kernel_size[0], 1),
                                 padding=(kernel_size[0] // 2, 0), **common)
        self.conv_2 = ConvModule(in_channels, out_channels, (1, kernel_size[1]),
                                 padding=(0, kernel_size[1] // 2), **common)
        self.init_weights()

    def init_weights(self) -> None:
        """Kaiming-normal convs, BN weight 1 / bias 0."""
        for branch in (self.conv_1, self.conv_2):
            kaiming_init(branch.conv)
            constant_init(branch.bn, 1, bias=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_1 = self.conv_1(x)
        x_2 = self.conv_2(x)
        if self.op == 'concat':
            return torch.cat([x_1, x_2], 1)
        return x_1 + x_2
