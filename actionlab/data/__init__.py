"""Data: video/frame readers (``io``), transforms, datasets, the data loader and the
synthetic dataset."""
from .datasets import DATASETS, build_dataset
from .loader import build_dataloader
from .transforms import TRANSFORMS, Compose

__all__ = ['DATASETS', 'TRANSFORMS', 'Compose', 'build_dataset', 'build_dataloader']
