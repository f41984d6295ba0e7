"""ResNet with temporal shift modules (TSM), optionally with non-local blocks.

Lin et al., "TSM: Temporal Shift Module for Efficient Video Understanding", ICCV 2019
(https://arxiv.org/abs/1811.08383).

The frames of each clip lie next to each other in the batch, (N * num_segments,
C, H, W). Shifting a fraction of the channels one frame forward/backward lets a
2D network mix time at no extra cost. Module names follow MMAction2
(``layerX.Y.conv1.conv.net`` for a shifted conv, ``layerX.Y.block`` +
``layerX.Y.non_local_block`` for a block followed by non-local attention,
``layer2.net`` under temporal pooling), so its checkpoints load unchanged.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from ..builder import MODELS
from ..ops import NonLocal3d, TemporalShift
from .resnet import ResNet


class NL3DWrapper(nn.Module):
    """Run a residual block (``channels`` outputs), then a 3D non-local block over
    all frames of each clip."""

    wrapped_child = 'block'

    def __init__(self, block: nn.Module, channels: int, num_segments: int,
                 non_local_cfg: Mapping = dict()):
        super().__init__()
        self.block = block
        self.num_segments = num_segments
        self.non_local_block = NonLocal3d(channels, **non_local_cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.block(x)
        nt, c, h, w = x.shape
        # (N*T, C, H, W) -> (N, C, T, H, W) for attention across all frames of a clip
        x = x.view(nt // self.num_segments, self.num_segments, c, h, w).transpose(1, 2)
        x = self.non_local_block(x)
        return x.transpose(1, 2).reshape(nt, c, h, w)


class TemporalPool(nn.Module):
    """Halve the number of frames with a temporal max-pool (3, stride 2), then run ``net``."""

    wrapped_child = 'net'

    def __init__(self, net: nn.Module, num_segments: int):
        super().__init__()
        self.net = net
        self.num_segments = num_segments
        self.max_pool3d = nn.MaxPool3d(kernel_size=(3, 1, 1), stride=(2, 1, 1), padding=(1, 0, 0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nt, c, h, w = x.shape
        x = x.view(nt // self.num_segments, self.num_segments, c, h, w).transpose(1, 2)
        x = self.max_pool3d(x).transpose(1, 2)
        return self.net(x.reshape(-1, c, h, w))


@MODELS.register_module()
class ResNetTSM(ResNet):
    """ResNet backbone for TSM.

    Args:
        depth: ResNet depth (see :class:`ResNet`; other keyword arguments go there too).
        num_segments: frames per clip in the batch axis.
        is_shift: insert temporal shifts.
        non_local: per stage, an int or per-block 0/1 flags for a non-local block after
            the block. Used only when ``non_local_cfg`` is not empty (MMAction2's rule).
        non_local_cfg: arguments of :class:`NonLocal3d` (e.g. ``mode``, ``sub_sample``,
            ``use_scale``, ``norm_cfg``).
        shift_div: 1/shift_div of the channels move each way.
        shift_place: ``'blockres'`` shifts inside the residual branch (before conv1 of
            each block; every second block for ResNets with >= 23 blocks in stage 3),
            ``'block'`` shifts the input of every whole block.
        temporal_pool: halve the frames before stage 2 (stages 2-4 then see
            num_segments // 2 frames per clip).
    """

    def __init__(self, depth: int, num_segments: int = 8, is_shift: bool = True,
                 non_local: Sequence = (0, 0, 0, 0), non_local_cfg: Mapping = dict(),
                 shift_div: int = 8, shift_place: str = 'blockres', temporal_pool: bool = False,
                 **kwargs):
        super().__init__(depth, **kwargs)
        if shift_place not in ('block', 'blockres'):
            raise ValueError(f"ResNetTSM shift_place must be 'block' or 'blockres', got {shift_place!r}")
        self.num_segments = num_segments
        self.is_shift = is_shift
        self.shift_div = shift_div
        self.shift_place = shift_place
        self.temporal_pool = temporal_pool
        self.non_local = tuple(non_local)
        self.non_local_cfg = dict(non_local_cfg)
        # frames per clip seen by each stage
        half = num_segments // 2 if temporal_pool else num_segments
        self.stage_segments = [num_segments] + [half] * (self.num_stages - 1)
        if min(self.stage_segments) <= 0:
            raise ValueError(f'ResNetTSM needs num_segments >= 2 with temporal_pool, got {num_segments}')
        if is_shift:
            self.make_temporal_shift()
        if self.non_local_cfg:
            self.make_non_local()
        if temporal_pool:
            self.make_temporal_pool()

    def make_temporal_shift(self) -> None:
        """Wrap the convs (``blockres``) or blocks (``block``) of every stage in a shift."""
        deep = len(self.stage_blocks) > 2 and self.stage_blocks[2] >= 23
        every = 2 if self.shift_place == 'blockres' and deep else 1
        for name, segments in zip(self.res_layers, self.stage_segments):
            stage = getattr(self, name)
            for i, block in enumerate(stage):
                if self.shift_place == 'block':
                    stage[i] = TemporalShift(block, segments, self.shift_div)
                elif i % every == 0:
                    block.conv1.conv = TemporalShift(block.conv1.conv, segments, self.shift_div)

    def make_non_local(self) -> None:
        """Follow the flagged blocks by a 3D non-local block over each clip."""
        if len(self.non_local) != self.num_stages:
            raise ValueError(f'ResNetTSM non_local needs one entry per stage '
                             f'(num_stages={self.num_stages}), got {len(self.non_local)}')
        for i, (name, segments) in enumerate(zip(self.res_layers, self.stage_segments)):
            stage = getattr(self, name)
            flags = self.non_local[i]
            flags = (flags,) * len(stage) if isinstance(flags, int) else tuple(flags)
            if len(flags) != len(stage):
                raise ValueError(f'ResNetTSM non_local flags {flags} for {name} need one entry per '
                                 f'block ({len(stage)})')
            channels = self.base_channels * 2**i * self.block.expansion
            for j, flag in enumerate(flags):
                if flag:
                    stage[j] = NL3DWrapper(stage[j], channels, segments, self.non_local_cfg)

    def make_temporal_pool(self) -> None:
        """Max-pool time by 2 between stage 1 and stage 2."""
        self.layer2 = TemporalPool(self.layer2, self.num_segments)
