"""PoseDataset: skeleton sequences from a pickle (ST-GCN, 2s-AGCN, PoseC3D)."""
from __future__ import annotations

import logging

import numpy as np

from actionlab.data.io import load_pickle

from .base import BaseDataset
from .builder import DATASETS

logger = logging.getLogger(__name__)

BOX_THRESHOLDS = ('0.5', '0.6', '0.7', '0.8', '0.9')


@DATASETS.register_module()
class PoseDataset(BaseDataset):
    """Skeleton annotations in a ``.pkl`` file: a list of dicts with ``frame_dir`` (or
    ``filename``), ``total_frames``, ``label``, ``keypoint`` (M x T x V x C),
    ``keypoint_score`` (M x T x V), ``img_shape``, ...; or a dict ``{'split': {name:
    [frame_dir, ...]}, 'annotations': [...]}`` from which ``split`` (e.g. 'xsub_train',
    'train1') selects samples.

    Kinetics-skeleton options: ``valid_ratio`` keeps samples whose share of frames with a
    pose is at least the ratio (``valid_frames``, or ``valid@<box_thr>`` with
    ``box_thr``); ``box_thr`` ('0.5'...'0.9') above 0.5 also sets ``anno_inds``, the
    detections whose ``box_score`` reaches it (for ``LoadKineticsPose``). ``class_prob``
    ({label: weight}) replaces the class sampling weights (with ``sample_by_class``).
    Frames are numbered from 0.
    """

    def __init__(self, ann_file, pipeline, split: str | None = None,
                 valid_ratio: float | None = None, box_thr: str | float | None = None,
                 class_prob: dict | None = None, **kwargs):
        self.split = split
        if box_thr is not None:
            allowed = {float(t): t for t in BOX_THRESHOLDS}
            try:
                value = float(box_thr)
            except (TypeError, ValueError):
                value = None
            if value not in allowed:
                raise ValueError(f'PoseDataset: box_thr must be one of {", ".join(BOX_THRESHOLDS)}, '
                                 f'got {box_thr!r}')
            box_thr = allowed[value]
        self.box_thr = box_thr
        self.valid_ratio = valid_ratio
        super().__init__(ann_file, pipeline, start_index=0, modality='Pose', **kwargs)
        if valid_ratio is not None:
            self._filter_valid(float(valid_ratio))
            if self.sample_by_class:  # class weights of the samples that remain
                self._set_class_prob()
        if class_prob is not None:
            self.class_prob = {int(k): v for k, v in class_prob.items()}

    def _filter_valid(self, valid_ratio: float) -> None:
        key = 'valid_frames' if self.box_thr is None else f'valid@{self.box_thr}'
        missing = [i for i, info in enumerate(self.video_infos) if key not in info]
        if missing:
            raise ValueError(f'PoseDataset({self.ann_file}): valid_ratio needs "{key}" in every '
                             f'sample; sample {missing[0]} has none')
        self.video_infos = [info for info in self.video_infos
                            if info[key] / info['total_frames'] >= valid_ratio]
        if self.box_thr not in (None, '0.5'):
            for info in self.video_infos:
                info['anno_inds'] = np.flatnonzero(np.asarray(info['box_score'])
                                                   >= float(self.box_thr))
        logger.info('%d samples of %s remain after valid_ratio thresholding',
                    len(self.video_infos), self.ann_file)

    def load_annotations(self) -> list[dict]:
        if not self.ann_file.endswith('.pkl'):
            raise ValueError(f'PoseDataset: ann_file must be a .pkl file, got {self.ann_file}')
        data = load_pickle(self.ann_file, 'annotation')
        if self.split is not None:
            if not isinstance(data, dict) or not {'split', 'annotations'} <= data.keys():
                raise ValueError(f'{self.ann_file}: split={self.split!r} needs a dict with '
                                 '"split" and "annotations"')
            if self.split not in data['split']:
                raise KeyError(f'{self.ann_file}: no split {self.split!r}; available: '
                               f'{", ".join(data["split"])}')
            names = set(data['split'][self.split])
            data = [x for x in data['annotations']
                    if x.get('filename', x.get('frame_dir')) in names]
        elif isinstance(data, dict) and 'annotations' in data:
            data = data['annotations']
        if not isinstance(data, list) or not data:
            raise ValueError(f'{self.ann_file}: expected a non-empty list of samples')
        for i, info in enumerate(data):
            where = f'{self.ann_file}: sample {i}'
            for key in ('filename', 'frame_dir'):
                if key in info:
                    info[key] = self._join_prefix(info[key])
            if 'label' in info:
                info['label'] = self._labels([info['label']], where)
        return data
