"""AVADataset: spatio-temporal action detection on AVA key frames."""
from __future__ import annotations

import csv
import logging
import os
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from actionlab.data.io import load_pickle

from .base import BaseDataset
from .builder import DATASETS

logger = logging.getLogger(__name__)


def read_labelmap(path: str | os.PathLike) -> tuple[list[dict], set[int]]:
    """An AVA label map (``.pbtxt``: ``item { name: "..." id: N }``, or ``label_id``) ->
    ([{'id', 'name'}, ...], {ids})."""
    labelmap, ids, name = [], set(), ''
    try:
        lines = Path(path).read_text().splitlines()
    except FileNotFoundError:
        raise FileNotFoundError(f'label map not found: {path}') from None
    for line in lines:
        line = line.strip()
        if line.startswith('name:'):
            name = line.split('"')[1]
        elif line.startswith(('id:', 'label_id:')):
            class_id = int(line.split()[-1])
            labelmap.append({'id': class_id, 'name': name})
            ids.add(class_id)
    return labelmap, ids


@DATASETS.register_module()
class AVADataset(BaseDataset):
    """AVA key frames from the official files::

        ann_file      ava_{train,val}_v2.x.csv: video_id,timestamp,x1,y1,x2,y2,action,entity_id
                      (box corners normalised to [0, 1])
        exclude_file  ava_{train,val}_excluded_timestamps_v2.x.csv: video_id,timestamp
        label_file    ava_action_list_v2.x.pbtxt (needed for custom_classes)
        proposal_file a pickle {'video_id,timestamp': (n, 4 or 5) normalised boxes [+ score]}

    One sample per key frame (``img_key`` = 'video_id,timestamp' with the timestamp as 4
    digits): the frames of ``data_prefix/video_id`` (``filename_tmpl``), ``gt_bboxes``
    (one row per person), ``gt_labels`` (multi-hot over ``num_classes``, class 0 unused),
    ``entity_ids``, and ``proposals`` (+ ``scores``): the person detections scoring at
    least ``person_det_score_thr`` (or the best one if none does), at most
    ``num_max_proposals``; a key frame without detections gets the whole frame.
    ``custom_classes`` (ids from the label map, without 0) trains on a subset, with
    ``num_classes = len(custom_classes) + 1``. The key frame of second ``t`` is frame
    ``fps * (t - timestamp_start)`` of the clip (``SampleAVAFrames``). In training,
    excluded timestamps are dropped. ``dump_results`` writes detections in AVA's CSV
    format; frame-mAP evaluation (``evaluate``) is not part of ActionLab yet: run the
    official AVA evaluation on that CSV.
    """

    def __init__(self, ann_file, exclude_file, pipeline, label_file=None,
                 filename_tmpl: str = 'img_{:05}.jpg', start_index: int = 0, proposal_file=None,
                 person_det_score_thr: float = 0.9, num_classes: int = 81,
                 custom_classes: Sequence[int] | None = None, data_prefix=None,
                 test_mode: bool = False, modality: str = 'RGB', num_max_proposals: int = 1000,
                 timestamp_start: int = 900, timestamp_end: int = 1800, fps: int = 30):
        if not 0 <= person_det_score_thr <= 1:
            raise ValueError(f'AVADataset: person_det_score_thr must be in [0, 1], '
                             f'got {person_det_score_thr}')
        self.custom_classes = None
        if custom_classes is not None:
            custom_classes = [int(c) for c in custom_classes]
            if num_classes != len(custom_classes) + 1:
                raise ValueError(f'AVADataset: num_classes must be len(custom_classes) + 1 = '
                                 f'{len(custom_classes) + 1}, got {num_classes}')
            if 0 in custom_classes:
                raise ValueError('AVADataset: custom_classes must not contain 0')
            if label_file is None:
                raise ValueError('AVADataset: custom_classes needs label_file')
            unknown = set(custom_classes) - read_labelmap(label_file)[1]
            if unknown:
                raise ValueError(f'AVADataset: custom_classes {sorted(unknown)} are not in '
                                 f'{label_file}')
            self.custom_classes = tuple([0] + custom_classes)
        self.exclude_file = exclude_file
        self.label_file = label_file
        self.proposal_file = proposal_file
        self.person_det_score_thr = person_det_score_thr
        self.filename_tmpl = filename_tmpl
        self.num_max_proposals = num_max_proposals
        self.timestamp_start = timestamp_start
        self.timestamp_end = timestamp_end
        self.fps = fps
        super().__init__(ann_file, pipeline, data_prefix=data_prefix, test_mode=test_mode,
                         start_index=start_index, modality=modality, num_classes=num_classes)
        self.proposals = None if proposal_file is None else self._read_proposals(proposal_file)
        # no class_prob to update after this filter: AVA samples are multi-label key
        # frames, so the dataset takes no sample_by_class
        if not test_mode:
            valid = self.filter_exclude_file()
            logger.info('%d out of %d key frames of %s are valid', len(valid),
                        len(self.video_infos), ann_file)
            self.video_infos = [self.video_infos[i] for i in valid]

    @staticmethod
    def _read_proposals(path) -> dict:
        return load_pickle(path, 'proposal')

    def parse_img_record(self, img_records: list[dict]
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Merge the records (CSV lines) of one key frame by person box: (boxes (n, 4),
        multi-hot labels (n, num_classes), entity ids (n,)), in order of first appearance."""
        by_box: dict[tuple, list[dict]] = {}
        for record in img_records:
            by_box.setdefault(tuple(record['entity_box'].tolist()), []).append(record)
        bboxes, labels, entity_ids = [], [], []
        for records in by_box.values():
            bboxes.append(records[0]['entity_box'])
            label = np.zeros(self.num_classes, dtype=np.float32)
            label[[r['label'] for r in records]] = 1.
            labels.append(label)
            entity_ids.append(records[0]['entity_id'])
        return np.stack(bboxes), np.stack(labels), np.stack(entity_ids)

    def filter_exclude_file(self) -> list[int]:
        """Indices of the key frames not listed in ``exclude_file``."""
        if self.exclude_file is None:
            return list(range(len(self.video_infos)))
        try:
            with open(self.exclude_file, newline='') as f:
                excluded = {(row[0], int(row[1])) for row in csv.reader(f) if row}
        except FileNotFoundError:
            raise FileNotFoundError(f'exclude file not found: {self.exclude_file}') from None
        return [i for i, info in enumerate(self.video_infos)
                if (info['video_id'], info['timestamp']) not in excluded]

    def load_annotations(self) -> list[dict]:
        records_by_img = defaultdict(list)
        shot_info = (0, (self.timestamp_end - self.timestamp_start) * self.fps)
        for lineno, line, _ in self._annotation_lines():
            fields = line.split(',')
            where = f'{self.ann_file}:{lineno}: {line!r}'
            if len(fields) < 8:
                raise ValueError(f'{where}: expected video_id,timestamp,x1,y1,x2,y2,action,'
                                 'entity_id')
            try:
                timestamp, label, entity_id = int(fields[1]), int(fields[6]), int(fields[7])
                box = np.array([float(v) for v in fields[2:6]])
            except ValueError:
                raise ValueError(f'{where}: timestamp, box, action and entity_id must be '
                                 'numbers') from None
            if self.custom_classes is not None:
                if label not in self.custom_classes:
                    continue
                label = self.custom_classes.index(label)
            if not 0 < label < self.num_classes:
                raise ValueError(f'{where}: action {label} is out of range for '
                                 f'num_classes={self.num_classes}')
            records_by_img[f'{fields[0]},{timestamp:04d}'].append(
                dict(entity_box=box, label=label, entity_id=entity_id))
        infos = []
        for img_key, records in records_by_img.items():
            video_id, timestamp = img_key.split(',')
            bboxes, labels, entity_ids = self.parse_img_record(records)
            infos.append(dict(frame_dir=self._join_prefix(video_id), video_id=video_id,
                              timestamp=int(timestamp), img_key=img_key, shot_info=shot_info,
                              fps=self.fps, ann=dict(gt_bboxes=bboxes, gt_labels=labels,
                                                     entity_ids=entity_ids)))
        return infos

    def _prepare(self, idx: int) -> dict:
        results = super()._prepare(idx)
        results.update(filename_tmpl=self.filename_tmpl, timestamp_start=self.timestamp_start,
                       timestamp_end=self.timestamp_end)
        if self.proposals is not None:
            proposals = self.proposals.get(results['img_key'])
            if proposals is None:
                results['proposals'] = np.array([[0, 0, 1, 1]], dtype=np.float32)
                results['scores'] = np.array([1], dtype=np.float32)
            elif proposals.shape[-1] == 5:
                thr = min(self.person_det_score_thr, proposals[:, 4].max())
                proposals = proposals[proposals[:, 4] >= thr][:self.num_max_proposals]
                results['proposals'] = proposals[:, :4]
                results['scores'] = proposals[:, 4]
            elif proposals.shape[-1] == 4:
                results['proposals'] = proposals[:self.num_max_proposals]
            else:
                raise ValueError(f'{self.proposal_file}: proposals of {results["img_key"]} must '
                                 f'have 4 or 5 columns, got shape {proposals.shape}')
        ann = results.pop('ann')
        results.update(gt_bboxes=ann['gt_bboxes'], gt_labels=ann['gt_labels'],
                       entity_ids=ann['entity_ids'])
        return results

    def dump_results(self, results: Sequence, out: str | os.PathLike) -> None:
        """Detections (per key frame, per class c a (n, 5) array x1, y1, x2, y2, score in
        [0, 1] coordinates, class c + 1) as AVA CSV rows
        ``video_id,timestamp,x1,y1,x2,y2,action_id,score``."""
        if not str(out).endswith('.csv'):
            raise ValueError(f'AVADataset.dump_results writes a .csv file, got {out}')
        if len(results) != len(self):
            raise ValueError(f'{len(results)} results for a dataset of {len(self)} key frames')
        with open(out, 'w', newline='') as f:
            writer = csv.writer(f)
            for info, per_class in zip(self.video_infos, results):
                for c, boxes in enumerate(per_class):
                    action = self.custom_classes[c + 1] if self.custom_classes else c + 1
                    for x1, y1, x2, y2, score in np.asarray(boxes).reshape(-1, 5):
                        writer.writerow([info['video_id'], info['timestamp'],
                                         *(f'{v:.3f}' for v in (x1, y1, x2, y2)), action,
                                         f'{score:.3f}'])

    def evaluate(self, results, metrics=('mAP',), metric_options=None, logger=None):
        """Frame-mAP on AVA needs the official evaluation, which is not part of
        ActionLab yet: raises NotImplementedError saying how to get the CSV for it."""
        raise NotImplementedError(
            'AVADataset.evaluate (frame-mAP@0.5) is not available yet; write the detections '
            'with dataset.dump_results(results, "out.csv") and score them with the official '
            'AVA evaluation')
