"""Backbones: networks that turn frames or clips into feature maps."""
from .c3d import C3D
from .mobilenet_v2 import InvertedResidual, MobileNetV2
from .mobilenet_v2_tsm import MobileNetV2TSM
from .resnet import BasicBlock, Bottleneck, ResNet
from .resnet2plus1d import ResNet2Plus1d
from .resnet3d import BasicBlock3d, Bottleneck3d, ResNet3d, ResNet3dLayer
from .resnet3d_csn import CSNBottleneck3d, ResNet3dCSN
from .resnet3d_slowfast import ResNet3dPathway, ResNet3dSlowFast
from .resnet3d_slowonly import ResNet3dSlowOnly
from .resnet_audio import Bottleneck2dAudio, ResNetAudio
from .resnet_tin import ResNetTIN
from .resnet_tsm import NL3DWrapper, ResNetTSM, TemporalPool
from .tanet import TABlock, TANet
from .timesformer import PatchEmbed, TimeSformer
from .x3d import X3D, BlockX3D, SEModule

__all__ = [
    'BasicBlock', 'Bottleneck', 'ResNet', 'BasicBlock3d', 'Bottleneck3d', 'ResNet3d',
    'NL3DWrapper', 'ResNetTSM', 'TemporalPool',
    'C3D', 'ResNet2Plus1d', 'ResNet3dLayer', 'CSNBottleneck3d', 'ResNet3dCSN', 'ResNet3dPathway',
    'ResNet3dSlowFast', 'ResNet3dSlowOnly', 'X3D', 'BlockX3D', 'SEModule',
    'InvertedResidual', 'MobileNetV2', 'MobileNetV2TSM', 'Bottleneck2dAudio', 'ResNetAudio',
    'ResNetTIN', 'TABlock', 'TANet', 'PatchEmbed', 'TimeSformer',
]
