"""build_dataloader: batching, collate, worker seeding."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset, DistributedSampler

from actionlab.data.loader import build_dataloader, collate


class RandomDraws(Dataset):
    """Each sample: its index, the worker it ran in, and draws from the three RNGs."""

    def __len__(self):
        return 8

    def __getitem__(self, idx):
        info = torch.utils.data.get_worker_info()
        return dict(idx=idx, worker=-1 if info is None else info.id,
                    draws=np.array([np.random.rand(), random.random(), torch.rand(1).item()]))


def test_collate_stacks_arrays_and_keeps_meta_as_lists():
    batch = [dict(imgs=np.full((2, 3), i, np.uint8), label=torch.tensor([i]),
                  img_metas=dict(filename=f'{i}.mp4', img_shape=(4, 4)), ragged=np.zeros(i + 1),
                  nested=[torch.ones(2) * i], name=f'n{i}') for i in range(3)]
    out = collate(batch)
    assert out['imgs'].shape == (3, 2, 3) and out['imgs'].dtype == torch.uint8
    assert out['imgs'][2].tolist() == [[2, 2, 2]] * 2
    assert out['label'].tolist() == [[0], [1], [2]]
    assert out['img_metas'] == [dict(filename=f'{i}.mp4', img_shape=(4, 4)) for i in range(3)]
    assert [a.shape for a in out['ragged']] == [(1,), (2,), (3,)]
    assert len(out['nested']) == 1 and out['nested'][0].shape == (3, 2)
    assert out['name'] == ['n0', 'n1', 'n2']


def test_batches_and_drop_last():
    loader = build_dataloader(RandomDraws(), videos_per_gpu=3, workers_per_gpu=0,
                              shuffle=False)
    assert [b['idx'] for b in loader] == [[0, 1, 2], [3, 4, 5], [6, 7]]
    loader = build_dataloader(RandomDraws(), videos_per_gpu=3, workers_per_gpu=0, num_gpus=2,
                              drop_last=True)
    assert loader.batch_size == 6 and len(loader) == 1


def _epoch(loader):
    return sorted((int(i), int(w), tuple(d.tolist())) for b in loader
                  for i, w, d in zip(b['idx'], b['worker'], b['draws']))


def test_worker_seeding_is_reproducible_and_differs_per_worker():
    def make():
        return build_dataloader(RandomDraws(), videos_per_gpu=2, workers_per_gpu=2, seed=42)

    first, second = _epoch(make()), _epoch(make())
    assert first == second  # same seed, same shuffling and same draws in each worker
    assert {w for _, w, _ in first} == {0, 1}
    draws = [d for _, _, d in first]
    assert len(set(draws)) == len(draws)  # no two samples (and so no two workers) repeat
    loader = make()
    assert _epoch(loader) != _epoch(loader)  # a new epoch draws new worker seeds
    other = build_dataloader(RandomDraws(), videos_per_gpu=2, workers_per_gpu=2, seed=43)
    assert _epoch(other) != first
    order = [b['idx'] for b in build_dataloader(RandomDraws(), 8, 0, seed=1)]
    assert order == [b['idx'] for b in build_dataloader(RandomDraws(), 8, 0, seed=1)]
    assert sorted(order[0]) == list(range(8))


def test_distributed_needs_an_initialised_process_group():
    with pytest.raises(RuntimeError, match='torch.distributed'):
        build_dataloader(RandomDraws(), 2, 0, dist=True)


def test_distributed_sampler_splits_by_rank(tmp_path):
    torch.distributed.init_process_group('gloo', init_method=f'file://{tmp_path}/pg', rank=0,
                                         world_size=1)
    try:
        loader = build_dataloader(RandomDraws(), 4, 0, dist=True, seed=3)
        assert isinstance(loader.sampler, DistributedSampler) and loader.batch_size == 4
        assert loader.sampler.seed == 3 and loader.sampler.shuffle
        assert sorted(i for b in loader for i in b['idx']) == list(range(8))
    finally:
        torch.distributed.destroy_process_group()
