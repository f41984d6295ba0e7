"""Audio datasets: waveforms decoded on the fly, pre-computed audio features, and frame
folders with their audio features."""
from __future__ import annotations

import os

from .base import BaseDataset
from .builder import DATASETS
from .rawframe import RawframeDataset


class _AudioListDataset(BaseDataset):
    """Lines ``path total_frames label [label ...]``; ``suffix`` is appended to paths that
    lack it. ``total_frames`` is the video's frame count, which maps sampled frame
    indices to audio positions."""

    def __init__(self, ann_file, pipeline, suffix: str, **kwargs):
        self.suffix = suffix
        super().__init__(ann_file, pipeline, modality='Audio', **kwargs)

    def load_annotations(self) -> list[dict]:
        if self.ann_file.endswith('.json'):
            infos = self.load_json_annotations()
            for info in infos:
                info['audio_path'] = info.pop('filename')
        else:
            infos = self.parse_frame_count_lines('audio_path')
        for info in infos:
            if not info['audio_path'].endswith(self.suffix):
                info['audio_path'] += self.suffix
        return infos


@DATASETS.register_module()
class AudioDataset(_AudioListDataset):
    """Audio files decoded on the fly (``AudioDecodeInit``), e.g.
    ``some/directory-1.wav 163 1``; a ``.json`` list gives the path as ``filename``."""

    def __init__(self, ann_file, pipeline, suffix: str = '.wav', **kwargs):
        super().__init__(ann_file, pipeline, suffix, **kwargs)


@DATASETS.register_module()
class AudioFeatureDataset(_AudioListDataset):
    """Pre-computed audio features (T x F arrays, ``LoadAudioFeature``), e.g.
    ``some/directory-1.npz 163 1``."""

    def __init__(self, ann_file, pipeline, suffix: str = '.npz', **kwargs):
        super().__init__(ann_file, pipeline, suffix, **kwargs)


@DATASETS.register_module()
class AudioVisualDataset(RawframeDataset):
    """A RawframeDataset whose samples also carry ``audio_path`` =
    ``audio_prefix/<frame_dir>.npy`` and, with ``video_prefix``, ``filename`` =
    ``video_prefix/<frame_dir>.mp4`` (for video pipelines); ``<frame_dir>`` is the name
    in the annotation file, before ``data_prefix`` is joined to it."""

    def __init__(self, ann_file, pipeline, audio_prefix: str, video_prefix: str | None = None,
                 **kwargs):
        self.audio_prefix = audio_prefix
        self.video_prefix = video_prefix
        super().__init__(ann_file, pipeline, **kwargs)

    def load_annotations(self) -> list[dict]:
        # the paths derive from the annotation's frame_dir before data_prefix is joined
        # (as in MMAction2), so an absolute frame_dir stays absolute in all three
        data_prefix, self.data_prefix = self.data_prefix, None
        try:
            infos = super().load_annotations()
        finally:
            self.data_prefix = data_prefix
        for info in infos:
            name = info['frame_dir']
            info['audio_path'] = os.path.join(self.audio_prefix, name + '.npy')
            if self.video_prefix:
                info['filename'] = os.path.join(self.video_prefix, name + '.mp4')
            info['frame_dir'] = self._join_prefix(name)
        return infos
