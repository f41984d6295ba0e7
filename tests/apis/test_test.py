"""single_gpu_test / multi_gpu_test and result collection (2 gloo processes on the CPU),
results files and the evaluate arguments of the test tool."""
from __future__ import annotations

import pickle
import socket

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from actionlab.apis.test import (
    collect_results_cpu,
    collect_results_gpu,
    evaluate_kwargs,
    load_results,
    load_scores,
    multi_gpu_test,
    single_gpu_test,
)
from actionlab.data.datasets.base import BaseDataset
from actionlab.data.loader import build_dataloader


class Indexed(torch.utils.data.Dataset):
    """Sample i is a 1x2 'clip' holding i."""

    def __init__(self, size: int):
        self.size = size

    def __len__(self):
        return self.size

    def __getitem__(self, idx):
        return dict(imgs=torch.full((1, 2), float(idx)), label=idx)


class Echo(nn.Module):
    """'Scores' (i, 10 i) for sample i, so the order of the results is visible."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor([1., 10.]))

    def forward(self, imgs, label=None, return_loss=True):
        assert not return_loss
        return imgs[:, 0] * self.scale


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _worker(rank: int, world_size: int, port: int, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank,
                            world_size=world_size)
    try:
        loader = build_dataloader(Indexed(7), videos_per_gpu=2, workers_per_gpu=0, dist=True, shuffle=False)
        found = {
            'files': multi_gpu_test(Echo(), loader, tmpdir=f'{out_dir}/shared', gpu_collect=False),
            'group': multi_gpu_test(Echo(), loader, gpu_collect=True),
            'default_tmpdir': collect_results_cpu([rank], 2),
        }
        with open(f'{out_dir}/rank{rank}.pkl', 'wb') as f:
            pickle.dump(found, f)
    finally:
        dist.destroy_process_group()


def test_multi_gpu_test_gathers_every_rank_in_dataset_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default tmpdir goes under ./.dist_test
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2)
    with open(tmp_path / 'rank0.pkl', 'rb') as f:
        rank0 = pickle.load(f)
    with open(tmp_path / 'rank1.pkl', 'rb') as f:
        rank1 = pickle.load(f)
    expected = [np.array([i, 10. * i], np.float32) for i in range(7)]  # padding sample dropped
    for how in ('files', 'group'):
        assert len(rank0[how]) == 7
        np.testing.assert_array_equal(np.stack(rank0[how]), np.stack(expected))
        assert rank1[how] is None
    assert rank0['default_tmpdir'] == [0, 1] and rank1['default_tmpdir'] is None
    # the given folder stays (emptied); the default one is removed, ./.dist_test with it
    assert list((tmp_path / 'shared').iterdir()) == []
    assert not (tmp_path / '.dist_test').exists()


def test_single_process_paths():
    loader = build_dataloader(Indexed(5), videos_per_gpu=2, workers_per_gpu=0, shuffle=False)
    results = single_gpu_test(Echo(), loader)
    np.testing.assert_array_equal(np.stack(results), [[i, 10 * i] for i in range(5)])
    assert all(isinstance(r, np.ndarray) for r in results)
    np.testing.assert_array_equal(np.stack(multi_gpu_test(Echo(), loader)), np.stack(results))
    assert collect_results_gpu([1, 2, 3], 2) == [1, 2]


def test_default_tmpdir_root_is_removed_only_when_empty(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert collect_results_cpu([3, 4, 5], 2) == [3, 4]
    assert not (tmp_path / '.dist_test').exists()
    # another job's folder in ./.dist_test: it stays, and so does ./.dist_test
    (tmp_path / '.dist_test' / 'other_job').mkdir(parents=True)
    assert collect_results_cpu([7], 1) == [7]
    assert [p.name for p in (tmp_path / '.dist_test').iterdir()] == ['other_job']


def test_collect_results_cpu_reports_missing_parts(tmp_path):
    with pytest.raises(RuntimeError, match='collected 2 results from 1 processes, expected 3'):
        collect_results_cpu([0, 1], 3, tmp_path)


@pytest.mark.parametrize('suffix', ['.pkl', '.json', '.yaml'])
def test_load_results_reads_what_datasets_dump(tmp_path, suffix):
    results = [np.array([0.25, 0.75], np.float32), np.array([1., 0.], np.float32)]
    BaseDataset.dump_results(results, tmp_path / f'r{suffix}')
    loaded = load_results(tmp_path / f'r{suffix}')
    assert len(loaded) == 2 and all(isinstance(r, np.ndarray) for r in loaded)
    np.testing.assert_array_equal(np.stack(loaded), np.stack(results))
    BaseDataset.dump_results([dict(filename='a.mp4', label=1, scores=results[0])], tmp_path / f'rec{suffix}')
    loaded = load_results(tmp_path / f'rec{suffix}')
    assert loaded[0]['filename'] == 'a.mp4' and loaded[0]['label'] == 1
    np.testing.assert_array_equal(loaded[0]['scores'], results[0])


@pytest.mark.parametrize('suffix', ['.pkl', '.json'])
def test_load_scores_takes_bare_scores_and_records(tmp_path, suffix):
    scores = [np.array([0.25, 0.75], np.float32), np.array([1., 0.], np.float32)]
    BaseDataset.dump_results(scores, tmp_path / f'bare{suffix}')
    np.testing.assert_array_equal(np.stack(load_scores(tmp_path / f'bare{suffix}')), np.stack(scores))
    records = [dict(filename=f'{i}.mp4', label=i, scores=s) for i, s in enumerate(scores)]
    BaseDataset.dump_results(records, tmp_path / f'records{suffix}')
    np.testing.assert_array_equal(np.stack(load_scores(tmp_path / f'records{suffix}')), np.stack(scores))
    BaseDataset.dump_results([dict(filename='a.mp4', label=0)], tmp_path / f'noscores{suffix}')
    with pytest.raises(ValueError,
                       match=r'noscores\.\w+ holds records without "scores" \(fields: filename, label\)'):
        load_scores(tmp_path / f'noscores{suffix}')
    BaseDataset.dump_results([], tmp_path / f'empty{suffix}')
    with pytest.raises(ValueError, match=r'empty\.\w+ holds no results'):
        load_scores(tmp_path / f'empty{suffix}')


def test_results_file_errors(tmp_path):
    with pytest.raises(ValueError, match='the extension must be one of .pkl, .pickle, .json, .yaml, .yml'):
        load_results(tmp_path / 'r.csv')
    with pytest.raises(FileNotFoundError, match='results file not found: .*missing.pkl'):
        load_results(tmp_path / 'missing.pkl')
    (tmp_path / 'bad.json').write_text('{"a": 1}')
    with pytest.raises(ValueError, match='must hold a list'):
        load_results(tmp_path / 'bad.json')
    (tmp_path / 'broken.pkl').write_bytes(b'not a pickle')
    with pytest.raises(ValueError, match='cannot be read'):
        load_results(tmp_path / 'broken.pkl')


def test_evaluate_kwargs():
    cfg = dict(evaluation=dict(interval=5, save_best='auto', metrics=['top_k_accuracy'],
                               metric_options=dict(top_k_accuracy=dict(topk=(1, 5)))))
    assert evaluate_kwargs(cfg) == dict(metrics=['top_k_accuracy'],
                                        metric_options=dict(top_k_accuracy=dict(topk=(1, 5))))
    kwargs = evaluate_kwargs(cfg, ['mean_class_accuracy'], {'metric_options.top_k_accuracy.topk': (1, 3)})
    assert kwargs == dict(metrics=['mean_class_accuracy'],
                          metric_options=dict(top_k_accuracy=dict(topk=(1, 3))))
    # eval_config (MMAction2's test-time key) comes after evaluation
    assert evaluate_kwargs(dict(cfg, eval_config=dict(metrics='mean_class_accuracy')))['metrics'] == \
        'mean_class_accuracy'
