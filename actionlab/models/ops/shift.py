"""Temporal shift of channels along the segment axis of a frame batch (TSM).

Lin et al., "TSM: Temporal Shift Module for Efficient Video Understanding", ICCV 2019
(https://arxiv.org/abs/1811.08383).

Frames of a clip arrive stacked in the batch axis, ``(N * T, C, H, W)``. Along T,
the first ``C // shift_div`` channels move one step towards the past (frame t
sees frame t + 1), the next ``C // shift_div`` one step towards the future
(frame t sees frame t - 1), the rest stay; vacated positions are zero.
"""
from __future__ import annotations

import torch
from torch import nn


def temporal_shift(x: torch.Tensor, num_segments: int, shift_div: int = 8) -> torch.Tensor:
    """Shift ``1/shift_div`` of the channels of ``x`` (N*T, C, H, W) by one frame each way."""
    nt, c, h, w = x.shape
    if nt % num_segments:
        raise ValueError(f'temporal_shift: batch of {nt} frames is not a multiple of '
                         f'num_segments={num_segments}')
    fold = c // shift_div
    x = x.view(nt // num_segments, num_segments, c, h, w)
    # Writing slices into one preallocated tensor avoids the zeros + cat copies.
    out = torch.empty_like(x)
    out[:, :-1, :fold] = x[:, 1:, :fold]
    out[:, -1:, :fold] = 0
    out[:, 1:, fold:2 * fold] = x[:, :-1, fold:2 * fold]
    out[:, :1, fold:2 * fold] = 0
    out[:, :, 2 * fold:] = x[:, :, 2 * fold:]
    return out.view(nt, c, h, w)


class TemporalShift(nn.Module):
    """Shift the input in time, then apply ``net``.

    The wrapped module is kept as the child ``net`` so state_dict keys read
    ``<name>.net.weight``, as in MMAction2 checkpoints.
    """

    #: the child that holds the wrapped module (see ``ResNet`` pretrained loading)
    wrapped_child = 'net'

    def __init__(self, net: nn.Module, num_segments: int = 3, shift_div: int = 8):
        super().__init__()
        self.net = net
        self.num_segments = num_segments
        self.shift_div = shift_div

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(temporal_shift(x, self.num_segments, self.shift_div))

    def extra_repr(self) -> str:
        return f'num_segments={self.num_segments}, shift_div={self.shift_div}'
