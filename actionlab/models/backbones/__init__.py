"""Backbones: networks that turn frames or clips into feature maps."""
from .resnet import BasicBlock, Bottleneck, ResNet
from .resnet3d import BasicBlock3d, Bottleneck3d, ResNet3d
from .resnet_tsm import NL3DWrapper, ResNetTSM, TemporalPool

__all__ = [
    'BasicBlock', 'Bottleneck', 'ResNet', 'BasicBlock3d', 'Bottleneck3d', 'ResNet3d',
    'NL3DWrapper', 'ResNetTSM', 'TemporalPool',
]
