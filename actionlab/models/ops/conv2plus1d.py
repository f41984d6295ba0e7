"""(2+1)D convolution: a spatial 1 x k x k conv, norm, ReLU, then a temporal t x 1 x 1 conv.

Tran et al., "A Closer Look at Spatiotemporal Convolutions for Action Recognition",
CVPR 2018 (https://arxiv.org/abs/1711.11248).

Registered as the conv layer type ``'Conv2plus1d'``, so any block built from
``conv_cfg`` (``ResNet3d`` and friends) can use it: ``conv_cfg=dict(type='Conv2plus1d')``.
Child names (``conv_s``, ``bn_s``, ``conv_t``) follow MMAction2.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from .conv_module import CONV_LAYERS, build_norm_layer
from .weight_init import constant_init, kaiming_init


def _triple(value: int | Sequence[int]) -> tuple[int, int, int]:
    values = (value,) * 3 if isinstance(value, int) else tuple(value)
    if len(values) != 3:
        raise ValueError(f'Conv2plus1d expects an int or 3 values (t, h, w), got {value!r}')
    return values


@CONV_LAYERS.register_module()
class Conv2plus1d(nn.Module):
    """A 3D conv factorised into a spatial and a temporal conv.

    The middle width is the one of the paper, chosen so that the factorised pair
    has about as many weights as a full ``t x k x k`` conv; like MMAction2 it is
    computed with ``t = 3`` whatever the temporal kernel, so checkpoints match.

    Args:
        in_channels, out_channels: channels of input and output.
        kernel_size, stride, padding: ``(t, h, w)`` or one int; the spatial conv
            takes the h/w parts, the temporal conv the t part.
        dilation, groups: accepted for conv-layer compatibility; MMAction2 ignores
            them and so do we (its checkpoints were trained that way).
        bias: add a bias to both convs.
        norm_cfg: norm between the two convs.
        padding_mode: only ``'zeros'``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | Sequence[int],
                 stride: int | Sequence[int] = 1, padding: int | Sequence[int] = 0,
                 dilation: int | Sequence[int] = 1, groups: int = 1, bias: bool = True,
                 norm_cfg: Mapping = dict(type='BN3d'), padding_mode: str = 'zeros'):
        super().__init__()
        if padding_mode != 'zeros':
            raise ValueError(f"Conv2plus1d supports padding_mode='zeros' only, got {padding_mode!r}")
        kernel_size, stride, padding = _triple(kernel_size), _triple(stride), _triple(padding)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
        self.bias = bias
        self.norm_cfg = norm_cfg
        spatial = kernel_size[1] * kernel_size[2]
        mid_channels = int(3 * in_channels * out_channels * spatial
                           / (in_channels * spatial + 3 * out_channels))
        self.mid_channels = mid_channels

        self.conv_s = nn.Conv3d(in_channels, mid_channels, (1,) + kernel_size[1:],
                                stride=(1,) + stride[1:], padding=(0,) + padding[1:], bias=bias)
        _, self.bn_s = build_norm_layer(norm_cfg, mid_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv_t = nn.Conv3d(mid_channels, out_channels, (kernel_size[0], 1, 1),
                                stride=(stride[0], 1, 1), padding=(padding[0], 0, 0), bias=bias)
        self.init_weights()

    def init_weights(self) -> None:
        """Kaiming convs, norm weight 1 / bias 0."""
        kaiming_init(self.conv_s)
        kaiming_init(self.conv_t)
        constant_init(self.bn_s, 1, bias=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_t(self.relu(self.bn_s(self.conv_s(x))))
