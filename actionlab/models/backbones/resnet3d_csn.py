"""Channel-Separated Convolutional Networks (ip-CSN and ir-CSN).

Tran et al., "Video Classification with Channel-Separated Convolutional Networks",
ICCV 2019 (https://arxiv.org/abs/1904.02811).

A 3D ResNet whose bottleneck 3x3x3 conv is channel-separated: ``'ip'``
(interaction-preserved) keeps a 1x1x1 conv followed by a depthwise 3x3x3 conv,
``'ir'`` (interaction-reduced) keeps only the depthwise conv. The middle conv is
an ``nn.Sequential`` (keys ``conv2.0.*``, ``conv2.1.*``) as in MMAction2.
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from torch import nn

from ..builder import MODELS
from ..ops import ConvModule
from .resnet3d import Bottleneck3d, ResNet3d

_MODES = ('ip', 'ir')


class CSNBottleneck3d(Bottleneck3d):
    """:class:`Bottleneck3d` with a channel-separated middle conv.

    Args:
        bottleneck_mode: ``'ip'`` (1x1x1 conv + depthwise conv) or ``'ir'`` (depthwise only).
        *args, **kwargs: as for :class:`Bottleneck3d`.
    """

    def __init__(self, inplanes: int, planes: int, *args, bottleneck_mode: str = 'ir', **kwargs):
        if bottleneck_mode not in _MODES:
            raise ValueError(f"CSN bottleneck_mode must be 'ip' or 'ir', got {bottleneck_mode!r}")
        self.bottleneck_mode = bottleneck_mode  # read by _make_conv2 during super().__init__
        super().__init__(inplanes, planes, *args, **kwargs)

    def _make_conv2(self, planes: int, kernel_size: tuple[int, int, int], stride: tuple[int, int, int],
                    padding: tuple[int, int, int], dilation: tuple[int, int, int],
                    conv_cfg: Mapping, norm_cfg: Mapping, act_cfg: Mapping) -> nn.Module:
        layers = []
        if self.bottleneck_mode == 'ip':
            layers.append(ConvModule(planes, planes, 1, bias=False, conv_cfg=conv_cfg,
                                     norm_cfg=norm_cfg, act_cfg=None))
        layers.append(ConvModule(planes, planes, kernel_size, stride=stride, padding=padding,
                                 dilation=dilation, groups=planes, bias=False, conv_cfg=conv_cfg,
                                 norm_cfg=norm_cfg, act_cfg=act_cfg))
        return nn.Sequential(*layers)


@MODELS.register_module()
class ResNet3dCSN(ResNet3d):
    """CSN backbone (depth 50, 101 or 152).

    Args:
        depth, pretrained: as for :class:`ResNet3d`.
        temporal_strides, conv1_kernel, conv1_stride_t, pool1_stride_t, norm_cfg,
        inflate_style: CSN's defaults of the :class:`ResNet3d` arguments.
        bottleneck_mode: ``'ir'`` or ``'ip'`` (see :class:`CSNBottleneck3d`).
        bn_frozen: with ``norm_eval``, also stop the norm layers' affine parameters
            from learning.
        **kwargs: other :class:`ResNet3d` arguments.
    """

    arch_settings = {
        50: (CSNBottleneck3d, (3, 4, 6, 3)),
        101: (CSNBottleneck3d, (3, 4, 23, 3)),
        152: (CSNBottleneck3d, (3, 8, 36, 3)),
    }

    def __init__(self, depth: int, pretrained: str | os.PathLike | None,
                 temporal_strides: Sequence[int] = (1, 2, 2, 2), conv1_kernel: Sequence[int] = (3, 7, 7),
                 conv1_stride_t: int = 1, pool1_stride_t: int = 1,
                 norm_cfg: Mapping = dict(type='BN3d', requires_grad=True, eps=1e-3),
                 inflate_style: str = '3x3x3', bottleneck_mode: str = 'ir', bn_frozen: bool = False,
                 **kwargs):
        if bottleneck_mode not in _MODES:
            raise ValueError(f"ResNet3dCSN bottleneck_mode must be 'ip' or 'ir', got {bottleneck_mode!r}")
        self.bottleneck_mode = bottleneck_mode  # read by make_res_layer during super().__init__
        self.bn_frozen = bn_frozen
        super().__init__(depth, pretrained, temporal_strides=temporal_strides,
                         conv1_kernel=conv1_kernel, conv1_stride_t=conv1_stride_t,
                         pool1_stride_t=pool1_stride_t, norm_cfg=norm_cfg,
                         inflate_style=inflate_style, **kwargs)

    def make_res_layer(self, *args, **kwargs) -> nn.Sequential:
        """:meth:`ResNet3d.make_res_layer` with CSN bottlenecks of ``bottleneck_mode``."""
        return ResNet3d.make_res_layer(*args, bottleneck_mode=self.bottleneck_mode, **kwargs)

    def train(self, mode: bool = True) -> ResNet3dCSN:
        """Switch mode; with ``norm_eval`` and ``bn_frozen`` the norms also stop learning."""
        super().train(mode)
        if mode and self.norm_eval and self.bn_frozen:
            for m in self.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    for param in m.parameters():
                        param.requires_grad = False
        return self
