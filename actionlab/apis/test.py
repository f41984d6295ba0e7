"""Running a model over a test/validation loader, on one process or on many.

``single_gpu_test`` scores a loader in one process. ``multi_gpu_test`` runs in every
process of a ``torch.distributed`` group (each with its share of the dataset, from a
``DistributedSampler`` without shuffling) and gathers the results on rank 0 in dataset
order, either through files in a shared folder (``collect_results_cpu``) or through the
process group itself (``collect_results_gpu``; with NCCL the bytes travel between GPUs,
with gloo on the CPU).
"""
from __future__ import annotations

import copy
import json
import os
import pickle
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import yaml
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from actionlab.engine.distributed import barrier, get_dist_info
from actionlab.engine.runner import to_device
from actionlab.models.builder import model_device

#: ``evaluation`` config keys that configure the evaluation hook, not ``dataset.evaluate``
EVAL_HOOK_KEYS = ('interval', 'tmpdir', 'start', 'gpu_collect', 'save_best', 'rule', 'by_epoch',
                  'broadcast_bn_buffers', 'greater_keys', 'less_keys')
#: file types of results files (as ``BaseDataset.dump_results`` writes them)
RESULT_SUFFIXES = ('.pkl', '.pickle', '.json', '.yaml', '.yml')

#: where ``collect_results_cpu`` makes its folder when given none (relative to the working
#: directory, which is shared between nodes in the usual cluster set-up; /tmp is not)
DEFAULT_TMPDIR_ROOT = '.dist_test'


def _run(model: nn.Module, data_loader: DataLoader, world_size: int, show: bool) -> list:
    """Per-sample outputs of ``model`` on this process's share of ``data_loader``."""
    model.eval()
    device = model_device(model)
    results: list = []
    with torch.inference_mode(), tqdm(total=len(data_loader.dataset), desc='test', unit='video',
                                      disable=not show) as bar:
        for batch in data_loader:
            batch = to_device(batch, device, non_blocking=device.type == 'cuda')
            outputs = model(**batch, return_loss=False)
            if isinstance(outputs, torch.Tensor):
                outputs = outputs.float().cpu().numpy()
            results.extend(outputs)
            # every process handles a batch of this size at the same time
            bar.update(min(len(outputs) * world_size, bar.total - bar.n))
    return results


def single_gpu_test(model: nn.Module, data_loader: DataLoader) -> list[np.ndarray]:
    """Class scores (or features) of every sample of ``data_loader``, in loader order.

    The model runs in eval mode on the device of its parameters, with
    ``model(**batch, return_loss=False)``; a progress bar counts the samples.
    """
    return _run(model, data_loader, world_size=1, show=get_dist_info()[0] == 0)


def multi_gpu_test(model: nn.Module, data_loader: DataLoader, tmpdir: str | os.PathLike | None = None,
                   gpu_collect: bool = False) -> list[np.ndarray] | None:
    """Score ``data_loader`` in every process of the distributed group; gather on rank 0.

    Each process runs its share (``data_loader`` must use a ``DistributedSampler``
    without shuffling, as ``build_dataloader(dist=True, shuffle=False)`` makes). The
    results are collected with :func:`collect_results_gpu` when ``gpu_collect``, else
    with :func:`collect_results_cpu` through ``tmpdir``. Returns the list of all results
    in dataset order on rank 0 and None on the other ranks. Without an initialised
    process group this is :func:`single_gpu_test`.
    """
    rank, world_size = get_dist_info()
    results = _run(model, data_loader, world_size=world_size, show=rank == 0)
    size = len(data_loader.dataset)
    if world_size == 1:
        return results[:size]
    if gpu_collect:
        return collect_results_gpu(results, size)
    return collect_results_cpu(results, size, tmpdir)


def _interleave(parts: Sequence[list], size: int) -> list:
    """Undo a ``DistributedSampler`` split: sample i went to rank ``i % world_size``.

    The sampler pads the index list to a multiple of the world size by repeating the
    first samples; taking ``size`` results drops those repeats.
    """
    def walk() -> Iterator[Any]:
        for i in range(max(len(p) for p in parts)):
            for part in parts:
                if i < len(part):
                    yield part[i]
    ordered = list(walk())[:size]
    if len(ordered) < size:
        raise RuntimeError(f'collected {len(ordered)} results from {len(parts)} processes, '
                           f'expected {size} (one per dataset sample)')
    return ordered


def collect_results_cpu(result_part: list, size: int, tmpdir: str | os.PathLike | None = None
                        ) -> list | None:
    """Gather every process's ``result_part`` on rank 0 through files in ``tmpdir``.

    Each rank pickles its part to ``tmpdir/part_<rank>.pkl``; after a barrier rank 0
    reads them all, orders the results as the dataset (see :func:`multi_gpu_test`) and
    deletes the part files. ``tmpdir`` must be visible to every process (on several
    nodes: a shared filesystem). Without one, rank 0 makes a fresh folder under
    ``./.dist_test`` and removes it afterwards (and ``./.dist_test`` too when nothing
    else is left in it). Returns the ``size`` ordered results on rank 0, None elsewhere.
    """
    rank, world_size = get_dist_info()
    made_here = tmpdir is None
    if made_here:
        name = [None]
        if rank == 0:
            Path(DEFAULT_TMPDIR_ROOT).mkdir(parents=True, exist_ok=True)
            name = [tempfile.mkdtemp(dir=DEFAULT_TMPDIR_ROOT)]
        if world_size > 1:
            dist.broadcast_object_list(name, src=0)
        tmpdir = name[0]
    folder = Path(tmpdir)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / f'part_{rank}.pkl').open('wb') as f:
        pickle.dump(result_part, f)
    barrier()
    ordered = None
    if rank == 0:
        parts = []
        for i in range(world_size):
            part_file = folder / f'part_{i}.pkl'
            try:
                with part_file.open('rb') as f:
                    parts.append(pickle.load(f))
            except FileNotFoundError:
                raise FileNotFoundError(f'collect_results_cpu: {part_file} of rank {i} is missing; '
                                        f'is {folder} shared by all processes?') from None
        for i in range(world_size):
            (folder / f'part_{i}.pkl').unlink()
        if made_here:
            shutil.rmtree(folder, ignore_errors=True)
        ordered = _interleave(parts, size)
    # no rank may write the next round's part files before rank 0 has read this round's
    barrier()
    if made_here and rank == 0:
        try:  # only when empty: another job may be collecting in it
            Path(DEFAULT_TMPDIR_ROOT).rmdir()
        except OSError:
            pass
    return ordered


def collect_results_gpu(result_part: list, size: int) -> list | None:
    """Gather every process's ``result_part`` on rank 0 through the process group.

    The parts are pickled and exchanged with ``all_gather_object`` (over NCCL the bytes
    move between GPUs, so each process must have set its CUDA device, as ``init_dist``
    does; over gloo on the CPU). Returns the ``size`` results in dataset order on rank
    0, None elsewhere.
    """
    rank, world_size = get_dist_info()
    if world_size == 1:
        return _interleave([result_part], size)
    parts: list = [None] * world_size
    dist.all_gather_object(parts, result_part)
    return _interleave(parts, size) if rank == 0 else None


def evaluate_kwargs(cfg: Mapping, metrics: Sequence[str] | None = None,
                    options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Keyword arguments for ``dataset.evaluate`` from a config: its ``evaluation`` dict
    without the hook's own keys (interval, save_best, ...), then ``eval_config``, then
    ``metrics`` (when given) and ``options`` (``{'metric_options.top_k_accuracy.topk':
    [1, 3]}``-style dotted keys address nested dicts)."""
    from actionlab.config import Config

    kwargs = {k: copy.deepcopy(v) for k, v in (cfg.get('evaluation') or {}).items()
              if k not in EVAL_HOOK_KEYS}
    merged = Config(dict(kwargs, **copy.deepcopy(dict(cfg.get('eval_config') or {}))))
    if metrics:
        merged.merge_from_dict({'metrics': list(metrics)})
    if options:
        merged.merge_from_dict(dict(options))
    return merged.to_dict()


def load_results(path: str | os.PathLike) -> list:
    """Read a results file written by ``dataset.dump_results`` (``actionlab test --out``) or
    MMAction2's test tool: a list with one entry per sample (.pkl/.pickle, .json or
    .yaml/.yml; in the text formats, lists of numbers become float32 arrays)."""
    path = Path(path)
    if path.suffix not in RESULT_SUFFIXES:
        raise ValueError(f'results file {path}: the extension must be one of {", ".join(RESULT_SUFFIXES)}')
    try:
        if path.suffix in ('.pkl', '.pickle'):
            with path.open('rb') as f:
                results = pickle.load(f)
        elif path.suffix == '.json':
            results = json.loads(path.read_text())
        else:
            results = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f'results file not found: {path}') from None
    except (json.JSONDecodeError, yaml.YAMLError, pickle.UnpicklingError, EOFError) as e:
        raise ValueError(f'results file {path} cannot be read: {e}') from None
    if not isinstance(results, list):
        raise ValueError(f'results file {path} must hold a list (one entry per sample), '
                         f'got {type(results).__name__}')
    if path.suffix not in ('.pkl', '.pickle'):
        results = [{k: _array(v) for k, v in r.items()} if isinstance(r, dict) else _array(r)
                   for r in results]
    return results


def load_scores(path: str | os.PathLike) -> list:
    """The per-sample score arrays of a results file (see :func:`load_results`): the
    entries of a bare score list, or the ``scores`` field of the records that
    ``actionlab test --out-items`` writes. A ValueError naming the file when it holds
    no scores (no entries, or records without ``scores``)."""
    results = load_results(path)
    if not results:
        raise ValueError(f'results file {path} holds no results')
    if not any(isinstance(r, dict) for r in results):
        return results
    bad = next((r for r in results if not isinstance(r, dict) or 'scores' not in r), None)
    if bad is not None:
        fields = ', '.join(map(str, bad)) if isinstance(bad, dict) else type(bad).__name__
        raise ValueError(f'results file {path} holds records without "scores" (fields: {fields}); '
                         'write them with actionlab test --out-items ... scores')
    return [r['scores'] for r in results]


def _array(value):
    return np.asarray(value, dtype=np.float32) if isinstance(value, list) else value
