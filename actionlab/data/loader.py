"""``build_dataloader``: batches, samplers, worker seeding and the collate function."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler


def collate(batch: Sequence):
    """Merge samples into a batch. A sample dict is collated key by key; in each field,
    tensors and arrays of one shape are stacked into a tensor, equally long lists are
    collated position by position (``Collect(nested=True)``), and anything else (meta
    dicts such as ``img_metas``, numbers, strings, arrays of different shapes) stays a list.
    """
    if isinstance(batch[0], Mapping):
        return {key: _collate_field([sample[key] for sample in batch]) for key in batch[0]}
    return _collate_field(list(batch))


def _collate_field(values: list):
    first = values[0]
    if isinstance(first, (torch.Tensor, np.ndarray)):
        if all(type(v) is type(first) and v.shape == first.shape for v in values):
            if isinstance(first, np.ndarray):
                return torch.from_numpy(np.stack(values))
            return torch.stack(values)
        return values
    if isinstance(first, (list, tuple)) and all(
            isinstance(v, (list, tuple)) and len(v) == len(first) for v in values):
        return [_collate_field(list(items)) for items in zip(*values)]
    return values


def build_dataloader(dataset: Dataset, videos_per_gpu: int, workers_per_gpu: int,
                     num_gpus: int = 1, dist: bool = False, shuffle: bool = True,
                     seed: int | None = None, drop_last: bool = False,
                     pin_memory: bool = False, persistent_workers: bool = False,
                     **kwargs) -> DataLoader:
    """A DataLoader for ``dataset`` with MMAction2's arguments.

    ``dist=True``: one process per GPU; a :class:`DistributedSampler` (rank and world size
    from ``torch.distributed``, shuffled with ``seed``; call ``loader.sampler.set_epoch``
    each epoch) and ``videos_per_gpu`` samples per batch. Otherwise batches of
    ``num_gpus * videos_per_gpu`` with ``num_gpus * workers_per_gpu`` workers. Other
    ``kwargs`` go to ``DataLoader``.

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
        sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank,
                                     shuffle=shuffle, seed=seed or 0)
        shuffle = False
        batch_size, num_workers = videos_per_gpu, workers_per_gpu
    else:
        sampler = None
        batch_size, num_workers = num_gpus * videos_per_gpu, num_gpus * workers_per_gpu
    generator = None
    if seed is not None:
        generator = torch.Generator()
        generator.manual_seed(int(np.random.SeedSequence([seed, rank]).generate_state(1)[0]))
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, shuffle=shuffle,
                      num_workers=num_workers, collate_fn=collate, pin_memory=pin_memory,
                      drop_last=drop_last, generator=generator,
                      persistent_workers=persistent_workers and num_workers > 0, **kwargs)


__all__ = ['build_dataloader', 'collate']
