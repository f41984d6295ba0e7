"""Heads: features -> class scores, with their losses."""
from .audio_tsn_head import AudioTSNHead
from .base import AvgConsensus, BaseHead
from .i3d_head import I3DHead
from .tsm_head import TSMHead
from .tsn_head import TSNHead

__all__ = ['AudioTSNHead', 'AvgConsensus', 'BaseHead', 'I3DHead', 'TSMHead', 'TSNHead']
