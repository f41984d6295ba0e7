"""Heads: features -> class scores, with their losses."""
from .audio_tsn_head import AudioTSNHead
from .base import AvgConsensus, BaseHead
from .i3d_head import I3DHead
from .slowfast_head import SlowFastHead
from .timesformer_head import TimeSformerHead
from .tpn_head import TPNHead
from .trn_head import TRNHead
from .tsm_head import TSMHead
from .tsn_head import TSNHead
from .x3d_head import X3DHead

__all__ = ['AudioTSNHead', 'AvgConsensus', 'BaseHead', 'I3DHead', 'TSMHead', 'TSNHead',
           'SlowFastHead', 'TPNHead', 'X3DHead',
           'TimeSformerHead', 'TRNHead']
