"""Data transforms with MMAction2's config names and result keys.

A transform is a callable ``results: dict -> dict``; :class:`Compose` chains them, and
``TRANSFORMS.build(dict(type='Resize', scale=(-1, 256)))`` builds one from a config.
Decoders put ``imgs`` as one uint8 array (N, H, W, C) in RGB order; every transform
also accepts a list of H x W x C frames.
"""
from .augment import (
                      CenterCrop,
                      Flip,
                      MultiScaleCrop,
                      Normalize,
                      RandomCrop,
                      RandomRescale,
                      RandomResizedCrop,
                      Resize,
                      TenCrop,
                      ThreeCrop,
)
from .base import TRANSFORMS, Transform
from .compose import Compose
from .decoding import DecordDecode, DecordInit, OpenCVDecode, OpenCVInit, PyAVDecode, PyAVInit, RawFrameDecode
from .formatting import Collect, FormatShape, ToTensor, to_tensor
from .sampling import SampleFrames

__all__ = [
    'TRANSFORMS', 'Transform', 'Compose', 'SampleFrames', 'DecordInit', 'DecordDecode',
    'PyAVInit', 'PyAVDecode', 'OpenCVInit', 'OpenCVDecode', 'RawFrameDecode', 'Resize',
    'RandomRescale', 'RandomCrop', 'RandomResizedCrop', 'MultiScaleCrop', 'CenterCrop',
    'ThreeCrop', 'TenCrop', 'Flip', 'Normalize', 'FormatShape', 'Collect', 'ToTensor',
    'to_tensor',
]
