"""Datasets with MMAction2's annotation formats; ``build_dataset`` builds them from configs."""
from .base import BaseDataset
from .builder import DATASETS, ConcatDataset, RepeatDataset, build_dataset
from .rawframe import RawframeDataset
from .video import VideoDataset

__all__ = ['DATASETS', 'build_dataset', 'BaseDataset', 'VideoDataset', 'RawframeDataset',
           'RepeatDataset', 'ConcatDataset']
