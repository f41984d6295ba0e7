"""``build_dataloader``: batches, samplers, worker seeding and the collate function."""
from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from torch.utils.data import DistributedSampler as _TorchDistributedSampler

from .transforms.formatting import DataContainer


def collate(batch: Sequence):
    """Merge samples into a batch. A sample dict is collated key by key; in each field,
    tensors and arrays of one shape are stacked into a tensor, equally long lists are
    collated position by position (``Collect(nested=True)``), :class:`DataContainer`
    fields with ``stack=False`` (``ToDataContainer``) become a list of the samples' values,
    and anything else (meta dicts such as ``img_metas``, numbers, strings, arrays of
    different shapes) stays a list.
    """
    if isinstance(batch[0], Mapping):
        return {key: _collate_field([sample[key] for sample in batch]) for key in batch[0]}
    return _collate_field(list(batch))


def _collate_field(values: list):
    first = values[0]
    if isinstance(first, DataContainer):
        data = [v.data for v in values]
        return _collate_field(data) if first.stack else data
    if isinstance(first, (torch.Tensor, np.ndarray)):
        if all(type(v) is type(first) and v.shape == first.shape for v in values):
            if isinstance(first, np.ndarray):
                values = [torch.from_numpy(v) for v in values]
            return _stack(values)
        return values
    if isinstance(first, (list, tuple)) and all(
            isinstance(v, (list, tuple)) and len(v) == len(first) for v in values):
        return [_collate_field(list(items)) for items in zip(*values)]
    return values


def _stack(tensors: list[torch.Tensor]) -> torch.Tensor:
    """``torch.stack(tensors)``; in a DataLoader worker straight into shared memory, which
    saves the copy that sending the batch to the main process would make (60 MB per
    TSN 25x3-crop test clip)."""
    out = None
    if torch.utils.data.get_worker_info() is not None and tensors[0].device.type == 'cpu':
        first = tensors[0]
        storage = torch.UntypedStorage._new_shared(len(tensors) * first.nbytes)
        out = torch.empty(0, dtype=first.dtype).set_(storage).view(len(tensors), *first.shape)
    return torch.stack(tensors, out=out)


class DistributedSampler(_TorchDistributedSampler):
    """torch's DistributedSampler with MMAction2's signature: the shuffle of epoch ``e``
    is ``randperm`` seeded with ``seed + e`` (call ``set_epoch``), the index list is
    padded by repeating its start to a multiple of ``num_replicas``, and rank ``r`` takes
    every ``num_replicas``-th index from ``r``. ``seed=None`` means 0."""

    def __init__(self, dataset: Dataset, num_replicas: int | None = None,
                 rank: int | None = None, shuffle: bool = True, seed: int | None = 0):
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle,
                         seed=seed or 0)


class ClassSpecificDistributedSampler(_TorchDistributedSampler):
    """Sample by class with the probabilities ``dataset.class_prob`` ({label: weight},
    from ``sample_by_class``/``power`` or PoseDataset's ``class_prob``); single-label
    datasets, also inside a RepeatDataset.

    ``dynamic_length=True``: each epoch takes every sample of class k ``floor(w_k *
    times)`` times plus a random ``frac(w_k * times)`` share of them (so the epoch length
    follows the weights); ``False``: ``len(dataset)`` draws with replacement, sample i
    having probability ``w_label(i) / count_label(i)``. Draws use a generator seeded with
    ``seed + epoch`` (call ``set_epoch``), so every rank sees the same permutation and
    takes its ``rank``-th share.
    """

    def __init__(self, dataset: Dataset, num_replicas: int | None = None,
                 rank: int | None = None, dynamic_length: bool = True, shuffle: bool = True,
                 seed: int | None = 0):
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle,
                         seed=seed or 0)
        base, self.times = _unrepeat(dataset)
        if not hasattr(base, 'class_prob'):
            raise ValueError(f'ClassSpecificDistributedSampler needs a dataset with '
                             f'class_prob (set sample_by_class=True), got {type(base).__name__}')
        self.class_prob = base.class_prob
        self.dynamic_length = dynamic_length
        self.class_indices = defaultdict(list)
        for i, info in enumerate(base.video_infos):
            if isinstance(info['label'], (list, tuple)):
                raise ValueError('ClassSpecificDistributedSampler needs single-label samples')
            self.class_indices[info['label']].append(i)
        self.labels = [info['label'] for info in base.video_infos]
        if dynamic_length:
            self._resize(self._epoch_length())

    def _epoch_length(self) -> int:
        return sum(int(prob * self.times) * len(self.class_indices[k])
                   + int((prob * self.times) % 1 * len(self.class_indices[k]))
                   for k, prob in self.class_prob.items())

    def _resize(self, num_indices: int) -> None:
        self.num_samples = math.ceil(num_indices / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def __iter__(self):
        g = torch.Generator()
        g.manual_seed(self.seed + self.epoch)
        if self.dynamic_length:
            indices = []
            for k, prob in self.class_prob.items():
                members = self.class_indices[k]
                weight = prob * self.times
                indices += members * int(weight)
                extra = int(weight % 1 * len(members))
                indices += [members[j] for j in torch.randperm(len(members), generator=g)[:extra]]
            if self.shuffle:
                indices = [indices[j] for j in torch.randperm(len(indices), generator=g)]
            self._resize(len(indices))
        else:
            probs = torch.tensor([self.class_prob[lab] / len(self.class_indices[lab])
                                  for lab in self.labels], dtype=torch.float64)
            indices = torch.multinomial(probs, self.total_size, replacement=True,
                                        generator=g).tolist()
        if not indices:
            raise ValueError('ClassSpecificDistributedSampler: the class weights select no '
                             'sample in this epoch')
        indices += (indices * math.ceil(self.total_size / len(indices)))[:self.total_size - len(indices)]
        return iter(indices[self.rank:self.total_size:self.num_replicas])


def _unrepeat(dataset: Dataset) -> tuple[Dataset, int]:
    """(the wrapped dataset, repeat count) of a RepeatDataset; (dataset, 1) otherwise."""
    if type(dataset).__name__ == 'RepeatDataset':
        return dataset.dataset, dataset.times
    return dataset, 1


def build_dataloader(dataset: Dataset, videos_per_gpu: int, workers_per_gpu: int,
                     num_gpus: int = 1, dist: bool = False, shuffle: bool = True,
                     seed: int | None = None, drop_last: bool = False,
                     pin_memory: bool = False, persistent_workers: bool = False,
                     **kwargs) -> DataLoader:
    """A DataLoader for ``dataset`` with MMAction2's arguments.

    ``dist=True``: one process per GPU; a :class:`DistributedSampler` (rank and world size
    from ``torch.distributed``, shuffled with ``seed``; call ``loader.sampler.set_epoch``
    each epoch) and ``videos_per_gpu`` samples per batch. Otherwise batches of
    ``num_gpus * videos_per_gpu`` with ``num_gpus * workers_per_gpu`` workers. A training
    dataset built with ``sample_by_class=True`` is sampled by a
    :class:`ClassSpecificDistributedSampler` (its ``dynamic_length``), with or without
    ``dist`` (MMAction2 does so under ``dist=True`` only; ActionLab also class-samples
    single-process training). A ``test_mode`` dataset is never resampled: evaluation sees
    every sample once, in order. Other ``kwargs`` go to ``DataLoader``; ``pin_memory``
    speeds up copies to a GPU, ``persistent_workers`` keeps the worker processes between
    epochs.

    Seeding: torch seeds torch, NumPy and ``random`` in every worker with the loader
    generator's base seed + the worker id. With a ``seed`` that generator is seeded from
    (seed, rank), so shuffling and augmentations are reproducible, differ between workers
    and ranks, and still change from epoch to epoch (each epoch draws a new base seed).
    """
    rank, world_size = 0, 1
    if dist:
        if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
            raise RuntimeError('build_dataloader(dist=True) needs torch.distributed to be '
                               'initialised (run under torchrun)')
        rank, world_size = torch.distributed.get_rank(), torch.distributed.get_world_size()
        batch_size, num_workers = videos_per_gpu, workers_per_gpu
    else:
        batch_size, num_workers = num_gpus * videos_per_gpu, num_gpus * workers_per_gpu
    sampler = None
    base = _unrepeat(dataset)[0]
    if getattr(base, 'sample_by_class', False) and not getattr(base, 'test_mode', False):
        sampler = ClassSpecificDistributedSampler(
            dataset, world_size, rank, shuffle=shuffle, seed=seed,
            dynamic_length=getattr(base, 'dynamic_length', True))
    elif dist:
        sampler = DistributedSampler(dataset, world_size, rank, shuffle=shuffle, seed=seed)
    generator = None
    if seed is not None:
        generator = torch.Generator()
        generator.manual_seed(int(np.random.SeedSequence([seed, rank]).generate_state(1)[0]))
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler,
                      shuffle=shuffle and sampler is None, num_workers=num_workers,
                      collate_fn=collate, pin_memory=pin_memory, drop_last=drop_last,
                      generator=generator,
                      persistent_workers=persistent_workers and num_workers > 0, **kwargs)


__all__ = ['build_dataloader', 'collate', 'DistributedSampler', 'ClassSpecificDistributedSampler']
