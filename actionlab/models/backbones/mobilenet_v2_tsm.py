"""MobileNetV2 with temporal shift modules (TSM).

Lin et al., "TSM: Temporal Shift Module for Efficient Video Understanding", ICCV 2019
(https://arxiv.org/abs/1811.08383).

The frames of each clip lie next to each other in the batch, (N * num_segments,
C, H, W). Every inverted residual block with a shortcut and an expansion conv
shifts the input of that first conv in time (``layerX.Y.conv.0.net`` in the
state_dict, as MMAction2).
"""
from __future__ import annotations

from ..builder import MODELS
from ..ops import TemporalShift
from .mobilenet_v2 import InvertedResidual, MobileNetV2


@MODELS.register_module()
class MobileNetV2TSM(MobileNetV2):
    """MobileNetV2 backbone for TSM.

    Args:
        num_segments: frames per clip in the batch axis.
        is_shift: insert temporal shifts.
        shift_div: 1/shift_div of the channels move each way.
        **kwargs: arguments of :class:`MobileNetV2`.
    """

    def __init__(self, num_segments: int = 8, is_shift: bool = True, shift_div: int = 8, **kwargs):
        super().__init__(**kwargs)
        self.num_segments = num_segments
        self.is_shift = is_shift
        self.shift_div = shift_div
        if is_shift:
            self.make_temporal_shift()

    def make_temporal_shift(self) -> None:
        """Shift the input of the expansion conv of every residual block."""
        for m in self.modules():
            if isinstance(m, InvertedResidual) and len(m.conv) == 3 and m.use_res_connect:
                m.conv[0] = TemporalShift(m.conv[0], num_segments=self.num_segments,
                                          shift_div=self.shift_div)
