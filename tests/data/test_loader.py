"""build_dataloader: batching, collate, worker seeding."""
from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

from actionlab.data.datasets import RepeatDataset, VideoDataset
from actionlab.data.loader import (
    ClassSpecificDistributedSampler,
    DistributedSampler,
    build_dataloader,
    collate,
)


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


@pytest.fixture
def unbalanced(tmp_path):
    """Six samples of class 0 (indices 0-5) and two of class 1 (6, 7), balanced by class."""
    ann = tmp_path / 'ann.txt'
    ann.write_text(''.join(f'v{i}.mp4 {int(i >= 6)}\n' for i in range(8)))
    return lambda **kw: VideoDataset(ann, pipeline=[], sample_by_class=True, power=0., **kw)


def test_class_specific_sampler_fixed_length_draws_by_class_weight(unbalanced):
    dataset = unbalanced()
    assert dataset.class_prob == {0: 0.5, 1: 0.5}
    sampler = ClassSpecificDistributedSampler(dataset, num_replicas=1, rank=0,
                                              dynamic_length=False, seed=5)
    sampler.set_epoch(2)
    g = torch.Generator()
    g.manual_seed(7)  # seed + epoch
    probs = torch.tensor([0.5 / 6] * 6 + [0.5 / 2] * 2, dtype=torch.float64)
    assert list(sampler) == torch.multinomial(probs, 8, replacement=True, generator=g).tolist()
    assert len(sampler) == 8
    sampler = ClassSpecificDistributedSampler(dataset, 1, 0, dynamic_length=False, seed=0)
    draws = [i for epoch in range(200) for i in (sampler.set_epoch(epoch) or list(sampler))]
    share = sum(i >= 6 for i in draws) / len(draws)
    assert abs(share - 0.5) < 0.05  # class 1 drawn as often as class 0


def test_class_specific_sampler_dynamic_length_with_repeat(unbalanced):
    dataset = RepeatDataset(unbalanced(), times=4)  # weight 0.5 * 4 = 2 copies per class
    samplers = [ClassSpecificDistributedSampler(dataset, num_replicas=2, rank=r, seed=1)
                for r in (0, 1)]
    assert len(samplers[0]) == 8
    parts = [list(s) for s in samplers]
    assert Counter(parts[0] + parts[1]) == Counter({i: 2 for i in range(8)})
    assert parts[0] == list(samplers[0])  # same epoch, same order
    dataset = unbalanced()  # weight 0.5: half of each class's samples, drawn at random
    indices = list(ClassSpecificDistributedSampler(dataset, 1, 0, seed=3))
    assert len(indices) == 4 and sum(i >= 6 for i in indices) == 1
    assert len(set(indices)) == 4 and all(0 <= i < 8 for i in indices)


def test_class_specific_sampler_needs_class_prob():
    with pytest.raises(ValueError, match='class_prob'):
        ClassSpecificDistributedSampler(RandomDraws(), 1, 0)


def test_distributed_sampler_seed_and_epoch():
    sampler = DistributedSampler(RandomDraws(), num_replicas=3, rank=1, seed=None)
    sampler.set_epoch(4)
    order = torch.randperm(8, generator=torch.Generator().manual_seed(4)).tolist()
    padded = order + order[:1]  # 9 = 3 ranks x 3
    assert list(sampler) == padded[1::3]


def test_build_dataloader_samples_by_class(unbalanced):
    loader = build_dataloader(unbalanced(), videos_per_gpu=2, workers_per_gpu=0, seed=0)
    assert isinstance(loader.sampler, ClassSpecificDistributedSampler)
    assert not loader.sampler.dynamic_length and len(loader) == 4
    labels = [lab for batch in loader for lab in batch['label']]
    assert len(labels) == 8 and set(labels) <= {0, 1}
    loader = build_dataloader(RandomDraws(), 2, 1, pin_memory=True, persistent_workers=True)
    assert loader.pin_memory and loader.persistent_workers


def test_build_dataloader_never_resamples_a_test_set(unbalanced):
    test_set = unbalanced(test_mode=True)
    loader = build_dataloader(test_set, videos_per_gpu=2, workers_per_gpu=0, shuffle=False)
    assert not isinstance(loader.sampler, ClassSpecificDistributedSampler)
    assert list(loader.sampler) == list(range(8))  # every sample once, in order
    labels = [lab for batch in loader for lab in batch['label']]
    assert labels == [0] * 6 + [1] * 2
    loader = build_dataloader(RepeatDataset(test_set, times=2), 2, 0, shuffle=False)
    assert list(loader.sampler) == list(range(16))
