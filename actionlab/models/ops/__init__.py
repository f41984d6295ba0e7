"""Building blocks shared by model families: conv blocks, non-local blocks, temporal shift
and TAM, TIN shift, (2+1)D and audio convs, SubBatchNorm3D, transformer blocks, conv+BN
folding, oneDNN inference layers and weight initialisers."""
from .conv2plus1d import Conv2plus1d
from .conv_audio import ConvAudio
from .conv_module import (
                          ACTIVATION_LAYERS,
                          CONV_LAYERS,
                          NORM_LAYERS,
                          ConvModule,
                          build_activation_layer,
                          build_conv_layer,
                          build_norm_layer,
)
from .fuse_conv_bn import fuse_conv_bn
from .non_local import NonLocal2d, NonLocal3d
from .shift import TemporalShift, temporal_shift
from .sub_batchnorm3d import SubBatchNorm3D
from .tam import TAM
from .tin_shift import linear_sampler, tin_shift
from .transformer import (
                          TRANSFORMER_BLOCKS,
                          DividedSpatialAttentionWithNorm,
                          DividedTemporalAttentionWithNorm,
                          FFNWithNorm,
)
from .weight_init import constant_init, kaiming_init, normal_init

__all__ = [
    'ACTIVATION_LAYERS', 'CONV_LAYERS', 'NORM_LAYERS', 'ConvModule', 'build_activation_layer',
    'build_conv_layer', 'build_norm_layer', 'NonLocal2d', 'NonLocal3d', 'TemporalShift',
    'temporal_shift', 'constant_init', 'kaiming_init', 'normal_init',
    'Conv2plus1d', 'SubBatchNorm3D',
    'fuse_conv_bn',
    'ConvAudio', 'TAM', 'linear_sampler', 'tin_shift', 'TRANSFORMER_BLOCKS',
    'DividedSpatialAttentionWithNorm', 'DividedTemporalAttentionWithNorm', 'FFNWithNorm',
]
