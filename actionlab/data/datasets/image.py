"""ImageDataset: single images as one-frame videos (OmniSource web images)."""
from __future__ import annotations

from .builder import DATASETS
from .video import VideoDataset


@DATASETS.register_module()
class ImageDataset(VideoDataset):
    """Images listed in ``ann_file``, one per line: ``path/to/img.jpg label [label ...]``
    (or a ``.json`` list), read by ``ImageDecode`` and usually repeated into a clip by
    ``BuildPseudoClip``. ``start_index`` is None: there are no frame indices."""

    def __init__(self, ann_file, pipeline, **kwargs):
        super().__init__(ann_file, pipeline, start_index=None, **kwargs)
