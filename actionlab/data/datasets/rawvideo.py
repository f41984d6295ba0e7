"""RawVideoDataset: OmniSource's raw videos, pre-cut into numbered clips."""
from __future__ import annotations

import os
import random

from .base import BaseDataset
from .builder import DATASETS

SAMPLING_STRATEGIES = ('positive', 'random')


@DATASETS.register_module()
class RawVideoDataset(BaseDataset):
    """Raw videos cut into 10 s clips ``video_dir/part_0.mp4``, ``part_1.mp4``, ...
    (``clipname_tmpl``). Annotation lines: ``video_dir label num_clips [pos_idx ...]``,
    e.g. ``some/path/D32_1gwq35E 66 10 0 1 2`` (10 clips, the first three show the action);
    a ``.json`` list of ``{video_dir, label, num_clips, positive_clip_inds}`` works too.

    Each time a sample is loaded one clip is chosen with Python's ``random``: a positive
    clip (``sampling_strategy='positive'``; videos without positive clips are dropped) or
    any clip (``'random'``), and its path set as ``filename``. Single-label only;
    frames are numbered from 0. A ``clipname_tmpl`` not starting with a letter (e.g.
    ``'_{}.mp4'``) is appended to ``video_dir`` instead of joined as a file name.
    """

    def __init__(self, ann_file, pipeline, clipname_tmpl: str = 'part_{}.mp4',
                 sampling_strategy: str = 'positive', **kwargs):
        if kwargs.get('multi_class'):
            raise ValueError('RawVideoDataset: multi_class is not supported')
        if sampling_strategy not in SAMPLING_STRATEGIES:
            raise ValueError(f'RawVideoDataset: sampling_strategy must be one of '
                             f'{", ".join(SAMPLING_STRATEGIES)}, got {sampling_strategy!r}')
        self.clipname_tmpl = clipname_tmpl
        self.sampling_strategy = sampling_strategy
        super().__init__(ann_file, pipeline, start_index=0, **kwargs)
        if sampling_strategy == 'positive':
            self.video_infos = [info for info in self.video_infos
                                if info['positive_clip_inds']]
            if self.sample_by_class:  # class weights of the videos that remain
                self._set_class_prob()

    def load_annotations(self) -> list[dict]:
        if self.ann_file.endswith('.json'):
            return self.load_json_annotations()
        infos = []
        for lineno, line, tokens in self._annotation_lines():
            where = f'{self.ann_file}:{lineno}: {line!r}'
            try:
                label, num_clips, *positives = (int(t) for t in tokens[1:])
            except ValueError:
                raise ValueError(f'{where}: expected "video_dir label num_clips [pos_idx ...]" '
                                 'with integers') from None
            bad = [p for p in positives if not 0 <= p < num_clips]
            if bad:
                raise ValueError(f'{where}: positive clip {bad[0]} is out of range for '
                                 f'{num_clips} clips')
            infos.append(dict(video_dir=self._join_prefix(tokens[0]),
                              label=self._labels([label], where), num_clips=num_clips,
                              positive_clip_inds=positives))
        return infos

    def load_json_annotations(self) -> list[dict]:
        """A ``.json`` list of ``{video_dir, label, num_clips, positive_clip_inds}``."""
        infos = self.read_json_list()
        for i, info in enumerate(infos):
            missing = {'video_dir', 'label', 'num_clips', 'positive_clip_inds'} - info.keys()
            if missing:
                raise ValueError(f'{self.ann_file}: sample {i} lacks {sorted(missing)}')
            info['video_dir'] = self._join_prefix(info['video_dir'])
        return infos

    def sample_clip(self, results: dict) -> dict:
        """Choose the clip of this load and set ``filename``."""
        if self.sampling_strategy == 'positive':
            index = random.choice(results['positive_clip_inds'])
        else:
            index = random.randint(0, results['num_clips'] - 1)
        clipname = self.clipname_tmpl.format(index)
        if self.clipname_tmpl[0].isalpha():
            results['filename'] = os.path.join(results['video_dir'], clipname)
        else:
            results['filename'] = results['video_dir'] + clipname
        return results

    def _prepare(self, idx: int) -> dict:
        return self.sample_clip(super()._prepare(idx))
