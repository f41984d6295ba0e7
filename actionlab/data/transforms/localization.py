"""Temporal action localization transforms (BSN/BMN on pre-extracted features): load a
video's feature CSV, turn annotated segments into normalised targets, and load PGM
proposals with their BSP features."""
from __future__ import annotations

import os

import numpy as np

from .base import TRANSFORMS, Transform


def _load_csv(path: str, what: str) -> np.ndarray:
    """A float32 table from a CSV file with one header line."""
    try:
        table = np.loadtxt(path, dtype=np.float32, delimiter=',', skiprows=1, ndmin=2)
    except FileNotFoundError:
        raise FileNotFoundError(f'{what} not found: {path}') from None
    except ValueError as e:
        raise ValueError(f'{what} {path} is not a numeric CSV with one header line: {e}') from None
    return table


@TRANSFORMS.register_module()
class LoadLocalizationFeature(Transform):
    """Read ``data_prefix/video_name + raw_feature_ext`` (a CSV with a header line, one row
    per temporal position) into ``raw_feature`` (channels, positions) float32."""

    def __init__(self, raw_feature_ext: str = '.csv'):
        if raw_feature_ext != '.csv':
            raise ValueError(f"LoadLocalizationFeature: raw_feature_ext must be '.csv', "
                             f'got {raw_feature_ext!r}')
        self.raw_feature_ext = raw_feature_ext

    def __call__(self, results: dict) -> dict:
        path = os.path.join(results['data_prefix'] or '', results['video_name'] + self.raw_feature_ext)
        results['raw_feature'] = _load_csv(path, 'feature file').T
        return results


@TRANSFORMS.register_module()
class GenerateLocalizationLabels(Transform):
    """``annotations`` ([{'segment': [start_s, end_s], ...}]) -> ``gt_bbox`` (N, 2): the
    segments as fractions of the featured duration (``feature_frame / duration_frame *
    duration_second`` seconds), clipped to [0, 1]."""

    def __call__(self, results: dict) -> dict:
        featured_seconds = (float(results['feature_frame']) / results['duration_frame']
                            * results['duration_second'])
        segments = np.array([ann['segment'] for ann in results['annotations']], dtype=np.float64)
        results['gt_bbox'] = np.clip(segments.reshape(-1, 2) / featured_seconds, 0, 1)
        return results


@TRANSFORMS.register_module()
class LoadProposals(Transform):
    """Load the ``top_k`` first PGM proposals of ``video_name`` from
    ``pgm_proposals_dir`` (CSV with header: tmin, tmax, tmin_score, tmax_score, score,
    match_iou, ...) and their BSP features from ``pgm_features_dir`` (``.npy``, one row per
    proposal). Sets ``bsp_feature``, ``tmin``, ``tmax``, ``tmin_score``, ``tmax_score`` and
    ``reference_temporal_iou`` (the 6th column)."""

    def __init__(self, top_k: int, pgm_proposals_dir: str, pgm_features_dir: str,
                 proposal_ext: str = '.csv', feature_ext: str = '.npy'):
        if proposal_ext != '.csv':
            raise ValueError(f"LoadProposals: proposal_ext must be '.csv', got {proposal_ext!r}")
        if feature_ext != '.npy':
            raise ValueError(f"LoadProposals: feature_ext must be '.npy', got {feature_ext!r}")
        self.top_k = int(top_k)
        self.pgm_proposals_dir = str(pgm_proposals_dir)
        self.pgm_features_dir = str(pgm_features_dir)
        self.proposal_ext = proposal_ext
        self.feature_ext = feature_ext

    def __call__(self, results: dict) -> dict:
        name = results['video_name']
        proposal_path = os.path.join(self.pgm_proposals_dir, name + self.proposal_ext)
        proposals = _load_csv(proposal_path, 'proposal file')[:self.top_k]
        if proposals.shape[1] < 6:
            raise ValueError(f'proposal file {proposal_path} needs at least 6 columns (tmin, '
                             f'tmax, tmin_score, tmax_score, score, match_iou), got '
                             f'{proposals.shape[1]}')
        feature_path = os.path.join(self.pgm_features_dir, name + self.feature_ext)
        try:
            features = np.load(feature_path).astype(np.float32)
        except FileNotFoundError:
            raise FileNotFoundError(f'BSP feature file not found: {feature_path}') from None
        results['bsp_feature'] = features[:self.top_k]
        results['tmin'] = proposals[:, 0]
        results['tmax'] = proposals[:, 1]
        results['tmin_score'] = proposals[:, 2]
        results['tmax_score'] = proposals[:, 3]
        results['reference_temporal_iou'] = proposals[:, 5]
        return results
