"""Localization transforms: feature CSVs, normalised segment targets, PGM proposals."""
from __future__ import annotations

import numpy as np
import pytest

from actionlab.data.transforms import (
    GenerateLocalizationLabels,
    LoadLocalizationFeature,
    LoadProposals,
)


def test_load_localization_feature_transposes_the_csv(tmp_path):
    table = np.arange(12, dtype=np.float32).reshape(4, 3)  # 4 positions, 3 channels
    np.savetxt(tmp_path / 'v_a.csv', table, delimiter=',', header='f0,f1,f2', comments='')
    out = LoadLocalizationFeature()(dict(video_name='v_a', data_prefix=str(tmp_path)))
    assert out['raw_feature'].shape == (3, 4) and np.array_equal(out['raw_feature'], table.T)
    with pytest.raises(FileNotFoundError, match='feature file not found'):
        LoadLocalizationFeature()(dict(video_name='v_b', data_prefix=str(tmp_path)))
    (tmp_path / 'v_c.csv').write_text('h\nx,y\n')
    with pytest.raises(ValueError, match='not a numeric CSV'):
        LoadLocalizationFeature()(dict(video_name='v_c', data_prefix=str(tmp_path)))
    with pytest.raises(ValueError, match="raw_feature_ext must be '.csv'"):
        LoadLocalizationFeature('.npy')


def test_generate_localization_labels_normalises_to_the_featured_span():
    results = dict(duration_frame=100, duration_second=10., feature_frame=80,
                   annotations=[dict(segment=[2., 4.], label='a'), dict(segment=[6., 9.], label='b')])
    out = GenerateLocalizationLabels()(results)
    # 80 of 100 frames are featured: 8 s; 9 s is past the end -> clipped to 1
    assert np.allclose(out['gt_bbox'], [[0.25, 0.5], [0.75, 1.0]])
    out = GenerateLocalizationLabels()(dict(results, annotations=[]))
    assert out['gt_bbox'].shape == (0, 2)


def test_load_proposals_top_k_columns(tmp_path):
    rows = np.array([[0.1, 0.3, 0.9, 0.8, 0.7, 0.66, 5],
                     [0.2, 0.5, 0.4, 0.3, 0.2, 0.11, 5],
                     [0.0, 0.9, 0.1, 0.1, 0.1, 0.01, 5]], dtype=np.float32)
    (tmp_path / 'props').mkdir()
    (tmp_path / 'feats').mkdir()
    np.savetxt(tmp_path / 'props' / 'v_a.csv', rows, delimiter=',',
               header='tmin,tmax,tmin_score,tmax_score,score,match_iou,match_ioa', comments='')
    np.save(tmp_path / 'feats' / 'v_a.npy', np.arange(3 * 4, dtype=np.float64).reshape(3, 4))
    out = LoadProposals(top_k=2, pgm_proposals_dir=str(tmp_path / 'props'),
                        pgm_features_dir=str(tmp_path / 'feats'))(dict(video_name='v_a'))
    assert out['tmin'].tolist() == pytest.approx([0.1, 0.2])
    assert out['tmax'].tolist() == pytest.approx([0.3, 0.5])
    assert out['tmin_score'].tolist() == pytest.approx([0.9, 0.4])
    assert out['tmax_score'].tolist() == pytest.approx([0.8, 0.3])
    assert out['reference_temporal_iou'].tolist() == pytest.approx([0.66, 0.11])
    assert out['bsp_feature'].shape == (2, 4) and out['bsp_feature'].dtype == np.float32
    with pytest.raises(FileNotFoundError, match='BSP feature file not found'):
        LoadProposals(1, str(tmp_path / 'props'), str(tmp_path))(dict(video_name='v_a'))
