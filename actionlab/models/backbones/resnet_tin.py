"""ResNet with Temporal Interlace modules (TIN).

Shao et al., "Temporal Interlacing Network", AAAI 2020 (https://arxiv.org/abs/2001.06499).

Like TSM, a fraction of the channels moves along time inside each residual
branch, but by learned amounts: from the clip's pooled features an ``OffsetNet``
predicts fractional temporal offsets (two groups, each also mirrored) and a
``WeightNet`` per-frame weights; the channels are shifted with linear
interpolation (:func:`~actionlab.models.ops.tin_shift.linear_sampler`, a
pure-PyTorch equivalent of mmcv's CUDA ``tin_shift``) and reweighted.

Module names follow MMAction2: the first conv of every block becomes
``conv1.conv.net1`` (the ``TemporalInterlace``) + ``conv1.conv.net2`` (the conv).
"""
from __future__ import annotations

import logging

import torch
from torch import nn

from ..builder import MODELS
from ..ops.tin_shift import linear_sampler
from .resnet import BasicBlock, Bottleneck
from .resnet_tsm import ResNetTSM

logger = logging.getLogger(__name__)


class CombineNet(nn.Module):
    """Run ``net1`` (temporal interlace), then ``net2`` (the wrapped conv)."""

    #: pretrained ResNet weights map onto the wrapped conv
    wrapped_child = 'net2'

    def __init__(self, net1: nn.Module, net2: nn.Module):
        super().__init__()
        self.net1 = net1
        self.net2 = net2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net2(self.net1(x))


class WeightNet(nn.Module):
    """Per-frame weights in (0, 2) for each offset group: Conv1d over time, ``2 * sigmoid``.

    The conv bias starts at 0, so the weights start at 1.
    """

    def __init__(self, in_channels: int, groups: int):
        super().__init__()
        self.groups = groups
        self.sigmoid = nn.Sigmoid()
        self.conv = nn.Conv1d(in_channels, groups, 3, padding=1)
        self.init_weights()

    def init_weights(self) -> None:
        nn.init.zeros_(self.conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, T) -> (N, T, groups)."""
        return 2 * self.sigmoid(self.conv(x).transpose(1, 2))


class OffsetNet(nn.Module):
    """Temporal offsets in (-2, 2) per group: Conv1d to one channel, fc-ReLU-fc over time,
    ``4 * (sigmoid - 0.5)``.

    The last fc's bias starts at 0.5108 (MMAction2's value), so that its share of
    the offsets starts at 0.5 frame: ``4 * (sigmoid(0.5108) - 0.5) = 0.5``.
    """

    def __init__(self, in_channels: int, groups: int, num_segments: int):
        super().__init__()
        self.sigmoid = nn.Sigmoid()
        self.conv = nn.Conv1d(in_channels, 1, 3, padding=1)
        self.fc1 = nn.Linear(num_segments, num_segments)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(num_segments, groups)
        self.init_weights()

    def init_weights(self) -> None:
        nn.init.constant_(self.fc2.bias, 0.5108)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, T) -> (N, 1, groups)."""
        x = self.conv(x).flatten(1)
        x = self.fc2(self.relu(self.fc1(x)))
        return 4 * (self.sigmoid(x.unsqueeze(1)) - 0.5)


class TemporalInterlace(nn.Module):
    """Interlace the first ``in_channels // shift_div`` channels in time; keep the rest.

    Those channels form 4 groups: groups 0 and 1 move by the two predicted offsets,
    groups 2 and 3 by their negatives; each group's frames are then scaled by the
    WeightNet weights of offset group ``g % 2``.

    Args:
        in_channels: channels of the (N * num_segments, C, H, W) input.
        num_segments: frames per clip.
        shift_div: the first ``in_channels // shift_div`` channels (a multiple of 4) are
            interlaced.
    """

    #: offset groups predicted by OffsetNet (each used with both signs)
    deform_groups = 2

    def __init__(self, in_channels: int, num_segments: int = 3, shift_div: int = 1):
        super().__init__()
        folds = in_channels // shift_div
        if folds == 0 or folds % (2 * self.deform_groups):
            raise ValueError(f'TemporalInterlace: in_channels // shift_div = {in_channels} // {shift_div} '
                             f'must be a positive multiple of {2 * self.deform_groups}')
        self.num_segments = num_segments
        self.shift_div = shift_div
        self.in_channels = in_channels
        self.offset_net = OffsetNet(folds, self.deform_groups, num_segments)
        self.weight_net = WeightNet(folds, self.deform_groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N * T, C, H, W) -> (N * T, C, H, W)."""
        nt, c, h, w = x.shape
        t = self.num_segments
        n = nt // t
        folds = c // self.shift_div
        moving = x[:, :folds].reshape(n, t, folds, h, w)
        # what each clip looks like over time: (N, folds, T)
        pooled = moving.mean(dim=(3, 4)).transpose(1, 2)
        offset = self.offset_net(pooled).view(n, -1)
        weight = self.weight_net(pooled)
        shifted = linear_sampler(moving, torch.cat([offset, -offset], 1), weight.repeat(1, 1, 2))
        return torch.cat([shifted.reshape(nt, folds, h, w), x[:, folds:]], dim=1)


@MODELS.register_module()
class ResNetTIN(ResNetTSM):
    """ResNet backbone for TIN.

    Args:
        depth: ResNet depth.
        num_segments: frames per clip in the batch axis.
        is_tin: insert temporal interlace modules.
        shift_div: 1/shift_div of each block's input channels are interlaced.
        **kwargs: arguments of :class:`ResNetTSM` / :class:`ResNet`. As in MMAction2,
            TIN never adds TSM's plain shifts or temporal pooling (``is_shift`` and
            ``temporal_pool`` have no effect); non-local blocks work as in TSM.
    """

    def __init__(self, depth: int, num_segments: int = 8, is_tin: bool = True, shift_div: int = 4,
                 **kwargs):
        for ignored in ('is_shift', 'temporal_pool'):
            if kwargs.pop(ignored, False):
                logger.warning('ResNetTIN ignores %s=True (TIN replaces the temporal shift)', ignored)
        super().__init__(depth, num_segments=num_segments, is_shift=False, temporal_pool=False,
                         shift_div=shift_div, **kwargs)
        self.is_tin = is_tin
        if is_tin:
            self.make_temporal_interlace()

    def make_temporal_interlace(self) -> None:
        """Put a temporal interlace module in front of the first conv of every block."""
        blocks = [m for m in self.modules() if isinstance(m, (BasicBlock, Bottleneck))]
        for block in blocks:
            conv = block.conv1.conv
            interlace = TemporalInterlace(conv.in_channels, num_segments=self.num_segments,
                                          shift_div=self.shift_div)
            block.conv1.conv = CombineNet(interlace, conv)
