"""VideoDataset: one video file per sample."""
from __future__ import annotations

from .base import BaseDataset
from .builder import DATASETS


@DATASETS.register_module()
class VideoDataset(BaseDataset):
    """Video files listed in ``ann_file``, one per line: ``path/to/video.mp4 label``, or
    ``path label1 label2 ...`` with ``multi_class=True`` (a ``.json`` list of
    ``{"filename": ..., "label": [...]}`` works too). Paths are joined to ``data_prefix``.
    Frames are numbered from ``start_index`` = 0.

    Example::

        dataset = VideoDataset('train.txt', pipeline, data_prefix='videos')
    """

    def __init__(self, ann_file, pipeline, start_index: int = 0, **kwargs):
        super().__init__(ann_file, pipeline, start_index=start_index, **kwargs)

    def load_annotations(self) -> list[dict]:
        if self.ann_file.endswith('.json'):
            return self.load_json_annotations()
        infos = []
        for lineno, line, tokens in self._annotation_lines():
            where = f'{self.ann_file}:{lineno}: {line!r}'
            if len(tokens) < 2:
                raise ValueError(f'{where}: expected "<video path> <label> [<label> ...]"')
            infos.append(dict(filename=self._join_prefix(tokens[0]),
                              label=self._labels(tokens[1:], where)))
        return infos
