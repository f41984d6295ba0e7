"""R(2+1)D: a 3D ResNet whose convs are factorised into spatial and temporal convs.

Tran et al., "A Closer Look at Spatiotemporal Convolutions for Action Recognition",
CVPR 2018 (https://arxiv.org/abs/1711.11248).

Every conv is a :class:`~actionlab.models.ops.Conv2plus1d`
(``conv_cfg=dict(type='Conv2plus1d')``), and there is no temporal pooling
after stage 1: time is reduced by the stages' temporal strides instead.
"""
from __future__ import annotations

from ..builder import MODELS
from .resnet3d import ResNet3d


@MODELS.register_module()
class ResNet2Plus1d(ResNet3d):
    """R(2+1)D backbone; takes the :class:`ResNet3d` arguments.

    ``conv_cfg`` must be ``dict(type='Conv2plus1d')`` and ``pretrained2d`` False
    (factorised kernels cannot be inflated from a 2D network); ``with_pool2`` is
    ignored (always off).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.pretrained2d:
            raise ValueError('ResNet2Plus1d needs pretrained2d=False: 2D weights cannot be inflated '
                             'into (2+1)D convs')
        if dict(self.conv_cfg).get('type') != 'Conv2plus1d':
            raise ValueError(f"ResNet2Plus1d needs conv_cfg=dict(type='Conv2plus1d'), got {self.conv_cfg!r}")
        # time is reduced by the stages' strides; MMAction2 ignores with_pool2 here too
        self.with_pool2 = False
