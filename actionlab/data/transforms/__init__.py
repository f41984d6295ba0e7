"""Data transforms with MMAction2's config names and result keys.

A transform is a callable ``results: dict -> dict``; :class:`Compose` chains them, and
``TRANSFORMS.build(dict(type='Resize', scale=(-1, 256)))`` builds one from a config.
Decoders put ``imgs`` as one uint8 array (N, H, W, C) in RGB order; every transform
also accepts a list of H x W x C frames.
"""
from .audio import (
                    AudioAmplify,
                    AudioDecode,
                    AudioDecodeInit,
                    AudioFeatureSelector,
                    FormatAudioShape,
                    LoadAudioFeature,
                    MelSpectrogram,
)
from .augment import (
                      CenterCrop,
                      ColorJitter,
                      Flip,
                      Fuse,
                      Imgaug,
                      MultiGroupCrop,
                      MultiScaleCrop,
                      Normalize,
                      PytorchVideoTrans,
                      RandomCrop,
                      RandomRescale,
                      RandomResizedCrop,
                      Resize,
                      TenCrop,
                      ThreeCrop,
                      TorchvisionTrans,
)
from .base import TRANSFORMS, Transform
from .compose import Compose
from .decoding import (
                       ArrayDecode,
                       DecordDecode,
                       DecordInit,
                       ImageDecode,
                       OpenCVDecode,
                       OpenCVInit,
                       PIMSDecode,
                       PIMSInit,
                       PyAVDecode,
                       PyAVDecodeMotionVector,
                       PyAVInit,
                       RawFrameDecode,
)
from .formatting import (
                         Collect,
                         DataContainer,
                         FormatShape,
                         ImageToTensor,
                         Rename,
                         ToDataContainer,
                         ToTensor,
                         Transpose,
                         to_tensor,
)
from .labels import LoadHVULabel
from .localization import GenerateLocalizationLabels, LoadLocalizationFeature, LoadProposals
from .pose import (
                   FormatGCNInput,
                   GeneratePoseTarget,
                   JointToBone,
                   LoadKineticsPose,
                   PoseCompact,
                   PoseDecode,
                   PoseNormalize,
)
from .sampling import (
                       BuildPseudoClip,
                       DenseSampleFrames,
                       PaddingWithLoop,
                       SampleAVAFrames,
                       SampleFrames,
                       SampleProposalFrames,
                       UniformSampleFrames,
                       UntrimmedSampleFrames,
)

__all__ = [
    'TRANSFORMS', 'Transform', 'Compose', 'SampleFrames', 'DecordInit', 'DecordDecode',
    'PyAVInit', 'PyAVDecode', 'OpenCVInit', 'OpenCVDecode', 'RawFrameDecode', 'Resize',
    'RandomRescale', 'RandomCrop', 'RandomResizedCrop', 'MultiScaleCrop', 'CenterCrop',
    'ThreeCrop', 'TenCrop', 'Flip', 'Normalize', 'FormatShape', 'Collect', 'ToTensor',
    'to_tensor',
    'DenseSampleFrames', 'UntrimmedSampleFrames', 'SampleAVAFrames', 'SampleProposalFrames',
    'UniformSampleFrames', 'PaddingWithLoop', 'BuildPseudoClip', 'AudioDecodeInit',
    'AudioDecode', 'LoadAudioFeature', 'AudioFeatureSelector', 'AudioAmplify',
    'MelSpectrogram', 'FormatAudioShape', 'MultiGroupCrop', 'ColorJitter', 'Fuse', 'Imgaug',
    'TorchvisionTrans', 'PytorchVideoTrans', 'PoseDecode', 'LoadKineticsPose', 'PoseCompact',
    'GeneratePoseTarget', 'PoseNormalize', 'JointToBone', 'FormatGCNInput',
    'LoadLocalizationFeature', 'GenerateLocalizationLabels', 'LoadProposals', 'LoadHVULabel',
    'ImageToTensor', 'Transpose', 'Rename', 'ToDataContainer', 'DataContainer',
    'PyAVDecodeMotionVector', 'PIMSInit', 'PIMSDecode', 'ArrayDecode', 'ImageDecode',
]
