"""SlowOnly: the slow pathway of SlowFast on its own.

Feichtenhofer et al., "SlowFast Networks for Video Recognition", ICCV 2019
(https://arxiv.org/abs/1812.03982). Also the 3D-heatmap backbone of PoseC3D.

A 3D ResNet with a 2D (1 x 7 x 7) stem, temporal kernels only in the last two
stages (``inflate=(0, 0, 1, 1)``) and no temporal pooling after stage 1.
"""
from __future__ import annotations

from collections.abc import Sequence

from ..builder import MODELS
from .resnet3d_slowfast import ResNet3dPathway


@MODELS.register_module()
class ResNet3dSlowOnly(ResNet3dPathway):
    """SlowOnly backbone: a :class:`ResNet3dPathway` without lateral connections.

    Args:
        lateral: must stay False (kept for MMAction2 configs).
        conv1_kernel, conv1_stride_t, pool1_stride_t, inflate, with_pool2: SlowOnly's
            defaults of the :class:`ResNet3d` arguments.
        *args, **kwargs: other :class:`ResNet3d` arguments (``depth``, ``pretrained``, ...).
    """

    def __init__(self, *args, lateral: bool = False, conv1_kernel: Sequence[int] = (1, 7, 7),
                 conv1_stride_t: int = 1, pool1_stride_t: int = 1,
                 inflate: Sequence = (0, 0, 1, 1), with_pool2: bool = False, **kwargs):
        if lateral:
            raise ValueError('ResNet3dSlowOnly has no lateral connections (lateral=True is for '
                             'the slow pathway of ResNet3dSlowFast)')
        super().__init__(*args, lateral=False, conv1_kernel=conv1_kernel,
                         conv1_stride_t=conv1_stride_t, pool1_stride_t=pool1_stride_t,
                         inflate=inflate, with_pool2=with_pool2, **kwargs)
