"""Datasets with MMAction2's annotation formats; ``build_dataset`` builds them from configs."""
from .activitynet import ActivityNetDataset
from .audio import AudioDataset, AudioFeatureDataset, AudioVisualDataset
from .ava import AVADataset
from .base import BaseDataset
from .builder import DATASETS, ConcatDataset, RepeatDataset, build_dataset
from .hvu import HVUDataset
from .image import ImageDataset
from .pose import PoseDataset
from .rawframe import RawframeDataset
from .rawvideo import RawVideoDataset
from .ssn import SSNDataset
from .video import VideoDataset

__all__ = ['DATASETS', 'build_dataset', 'BaseDataset', 'VideoDataset', 'RawframeDataset',
           'RepeatDataset', 'ConcatDataset', 'RawVideoDataset', 'ImageDataset', 'AudioDataset',
           'AudioFeatureDataset', 'AudioVisualDataset', 'HVUDataset', 'PoseDataset',
           'ActivityNetDataset', 'AVADataset', 'SSNDataset']
