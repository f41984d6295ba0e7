"""TANet: a ResNet whose bottlenecks carry a Temporal Adaptive Module (TA-Blocks).

Liu et al., "TAM: Temporal Adaptive Module for Video Recognition", ICCV 2021
(https://arxiv.org/abs/2005.06803).

Frames of a clip lie next to each other in the batch, (N * num_segments, C, H, W).
In every bottleneck the TAM (:class:`~actionlab.models.ops.tam.TAM`) runs right
after the first 1x1 conv. Each block becomes ``TABlock`` with children ``block``
(the bottleneck) and ``tam``, as in MMAction2, so its checkpoints load unchanged
and ImageNet ResNet weights map onto the wrapped bottlenecks.
"""
from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from ..builder import MODELS
from ..ops.tam import TAM
from .resnet import Bottleneck, ResNet, run_residual


class TABlock(nn.Module):
    """A bottleneck with a TAM between its first and second conv.

    Args:
        block: the :class:`Bottleneck` to extend.
        num_segments: frames per clip.
        tam_cfg: further arguments of :class:`TAM`.
    """

    #: pretrained ResNet weights map onto the wrapped bottleneck
    wrapped_child = 'block'

    def __init__(self, block: Bottleneck, num_segments: int, tam_cfg: Mapping | None = None):
        super().__init__()
        if not isinstance(block, Bottleneck):
            raise TypeError(f'TABlock wraps Bottleneck blocks (ResNet-50 and deeper), '
                            f'got {type(block).__name__}')
        self.block = block
        self.num_segments = num_segments
        self.tam = TAM(in_channels=block.conv1.conv.out_channels, num_segments=num_segments,
                       **(tam_cfg or {}))

    def _residual(self, x: torch.Tensor) -> torch.Tensor:
        block = self.block
        identity = x if block.downsample is None else block.downsample(x)
        return block.conv3(block.conv2(self.tam(block.conv1(x)))) + identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block.relu(run_residual(self._residual, x, self.block.with_cp))


@MODELS.register_module()
class TANet(ResNet):
    """Temporal Adaptive Network backbone.

    Args:
        depth: ResNet depth, 50, 101 or 152 (TA-Blocks need bottlenecks).
        num_segments: frames per clip (at least 3).
        tam_cfg: arguments of every :class:`TAM` (``alpha``, ``beta``, ...).
        **kwargs: arguments of :class:`ResNet`.
    """

    def __init__(self, depth: int, num_segments: int, tam_cfg: Mapping | None = None, **kwargs):
        super().__init__(depth, **kwargs)
        if num_segments < 3:
            raise ValueError(f'TANet needs num_segments >= 3, got {num_segments}')
        if self.block is not Bottleneck:
            raise ValueError(f'TANet needs a bottleneck ResNet (depth 50, 101 or 152), got depth {depth}')
        self.num_segments = num_segments
        self.tam_cfg = dict(tam_cfg or {})
        self.make_tam_modeling()

    def make_tam_modeling(self) -> None:
        """Turn every bottleneck into a TA-Block."""
        for name in self.res_layers:
            stage = getattr(self, name)
            for i, block in enumerate(stage):
                stage[i] = TABlock(block, self.num_segments, self.tam_cfg)
