"""ActivityNetDataset: temporal action localization on pre-extracted features."""
from __future__ import annotations

import copy
import json
import logging
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from actionlab.engine.logging import to_jsonable
from actionlab.evaluation import average_recall_at_avg_proposals

from .base import BaseDataset
from .builder import DATASETS

DEFAULT_AR_AN = dict(max_avg_proposals=100, temporal_iou_thresholds=np.linspace(0.5, 0.95, 10))


@DATASETS.register_module()
class ActivityNetDataset(BaseDataset):
    """ActivityNet-style localization annotations, a ``.json`` dict by video name::

        {"v_--1DO2V4K74": {"duration_second": 211.53, "duration_frame": 6337,
                           "annotations": [{"segment": [30.0, 205.2], "label": "Rock climbing"}],
                           "feature_frame": 6336, "fps": 30.0, "rfps": 29.96}, ...}

    Each sample is that dict plus ``video_name``; the pipeline also gets ``data_prefix``
    (the feature folder, for ``LoadLocalizationFeature``). ``evaluate`` scores proposals
    with AR@AN (keys ``auc``, ``AR@1``, ``AR@5``, ``AR@10``, ``AR@100``).
    """

    def __init__(self, ann_file, pipeline, data_prefix=None, test_mode: bool = False):
        super().__init__(ann_file, pipeline, data_prefix=data_prefix, test_mode=test_mode)

    def load_annotations(self) -> list[dict]:
        database = self.read_json()
        if not isinstance(database, dict) or not database:
            raise ValueError(f'annotation file {self.ann_file} must hold a non-empty dict of '
                             'video name -> annotation')
        infos = []
        for name, info in database.items():
            missing = {'duration_second', 'duration_frame', 'annotations',
                       'feature_frame'} - info.keys()
            if missing:
                raise ValueError(f'{self.ann_file}: video {name!r} lacks {sorted(missing)}')
            infos.append(dict(info, video_name=name))
        return infos

    def _prepare(self, idx: int) -> dict:
        results = super()._prepare(idx)
        results['data_prefix'] = self.data_prefix
        return results

    def _import_ground_truth(self) -> dict[str, np.ndarray]:
        """Video id (name without 'v_') -> (n, 2) annotated segments in seconds."""
        return {info['video_name'][2:]: np.array([ann['segment'] for ann in info['annotations']],
                                                 dtype=np.float64).reshape(-1, 2)
                for info in self.video_infos}

    @staticmethod
    def proposals2json(results: Sequence[dict], show_progress: bool = False) -> dict:
        """Results (``video_name``, ``proposal_list`` of {segment, score}) -> {video id:
        proposal_list}, ActivityNet's submission layout. ``show_progress`` draws a bar."""
        if show_progress:
            from tqdm import tqdm
            results = tqdm(results, desc='proposals to json')
        return {result['video_name'][2:]: result['proposal_list'] for result in results}

    @staticmethod
    def _import_proposals(results: Sequence[dict]) -> tuple[dict[str, np.ndarray], int]:
        proposals, total = {}, 0
        for result in results:
            rows = [[*p['segment'], p['score']] for p in result['proposal_list']]
            proposals[result['video_name'][2:]] = np.array(rows, dtype=np.float64).reshape(-1, 3)
            total += len(rows)
        return proposals, total

    def dump_results(self, results, out: str | os.PathLike, output_format: str | None = None,
                     version: str = 'VERSION 1.3') -> None:
        """``output_format='json'``: proposals in the ActivityNet submission format
        ({version, results, external_data}) to the file ``out`` (NumPy and torch values
        become plain numbers and lists); ``'csv'``: per-video TEM outputs
        (``(video_name, array)`` results) as ``out/<video_name>.csv`` with the header
        ``action,start,end,tmin,tmax``. ``None`` (as ``actionlab test --out`` calls it):
        'json' when ``out`` ends with ``.json``, else 'csv'."""
        if output_format is None:
            output_format = 'json' if Path(out).suffix.lower() == '.json' else 'csv'
        if output_format == 'json':
            submission = dict(version=version, results=self.proposals2json(results),
                              external_data={})
            Path(out).write_text(json.dumps(to_jsonable(submission, ndigits=None)))
        elif output_format == 'csv':
            os.makedirs(out, exist_ok=True)
            for video_name, outputs in results:
                np.savetxt(os.path.join(out, video_name + '.csv'), outputs,
                           header='action,start,end,tmin,tmax', delimiter=',', comments='')
        else:
            raise ValueError(f"ActivityNetDataset.dump_results: output_format must be 'json' or "
                             f"'csv', got {output_format!r}")

    def evaluate(self, results: list, metrics='AR@AN', metric_options: dict | None = None,
                 logger: logging.Logger | None = None, **deprecated_kwargs) -> dict[str, float]:
        """AR@AN of proposal ``results`` (one dict per video with ``video_name`` and
        ``proposal_list``); options ``max_avg_proposals`` (100) and
        ``temporal_iou_thresholds`` (0.5:0.05:0.95) under ``metric_options['AR@AN']``."""
        options = copy.deepcopy(metric_options) if metric_options is not None else {}
        options['AR@AN'] = dict(DEFAULT_AR_AN, **options.get('AR@AN', {}))
        if deprecated_kwargs:
            warnings.warn("metric arguments belong in metric_options={'AR@AN': {...}}",
                          DeprecationWarning, stacklevel=2)
            options['AR@AN'].update(deprecated_kwargs)
        metrics = [metrics] if isinstance(metrics, str) else list(metrics)
        for metric in metrics:
            if metric != 'AR@AN':
                raise KeyError(f"metric '{metric}' is not supported; allowed: AR@AN")
        if len(results) != len(self):
            raise ValueError(f'{len(results)} results for a dataset of {len(self)} videos')
        proposals, num_proposals = self._import_proposals(results)
        recall, _, _, auc = average_recall_at_avg_proposals(
            self._import_ground_truth(), proposals, num_proposals,
            max_avg_proposals=options['AR@AN']['max_avg_proposals'],
            temporal_iou_thresholds=np.asarray(options['AR@AN']['temporal_iou_thresholds']))
        eval_results = {'auc': auc}
        for n in (1, 5, 10, 100):
            eval_results[f'AR@{n}'] = float(np.mean(recall[:, n - 1]))
        log = logger or logging.getLogger(__name__)
        for name, value in eval_results.items():
            log.info('%s: %.4f', name, value)
        return eval_results
