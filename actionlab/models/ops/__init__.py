"""Building blocks shared by model families: conv blocks, non-local blocks,
temporal shift and weight initialisers."""
from .conv_module import (
                          ACTIVATION_LAYERS,
                          CONV_LAYERS,
                          NORM_LAYERS,
                          ConvModule,
                          build_activation_layer,
                          build_conv_layer,
                          build_norm_layer,
)
from .non_local import NonLocal2d, NonLocal3d
from .shift import TemporalShift, temporal_shift
from .weight_init import constant_init, kaiming_init, normal_init

__all__ = [
    'ACTIVATION_LAYERS', 'CONV_LAYERS', 'NORM_LAYERS', 'ConvModule', 'build_activation_layer',
    'build_conv_layer', 'build_norm_layer', 'NonLocal2d', 'NonLocal3d', 'TemporalShift',
    'temporal_shift', 'constant_init', 'kaiming_init', 'normal_init',
]
