"""Distributed training: starting the process group, rank and world size.

Training on several GPUs or nodes goes through ``torch.distributed`` with one process
per GPU (or per CPU worker), started by ``torchrun`` or by SLURM's ``srun``; a process
that never initialised a process group is rank 0 of a world of size 1.

:func:`init_dist` turns the launcher's environment into a process group:

* ``'pytorch'``: ``torchrun`` has set ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
  ``MASTER_ADDR`` and ``MASTER_PORT``;
* ``'slurm'``: ``srun`` has set ``SLURM_PROCID``, ``SLURM_NTASKS``, ``SLURM_LOCALID``
  and ``SLURM_NODELIST``; the first node of the list is the master, the port is
  ``port=`` or ``MASTER_PORT`` (default 29500).

The backend is NCCL when CUDA is available and gloo otherwise (so the same command
runs on CPU machines, where NCCL does not exist).
"""
from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from datetime import timedelta

import torch
import torch.distributed as dist

logger = logging.getLogger(__name__)

LAUNCHERS = ('none', 'pytorch', 'slurm')
DEFAULT_PORT = 29500


def get_dist_info() -> tuple[int, int]:
    """``(rank, world_size)`` of this process; ``(0, 1)`` outside distributed training."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main_process() -> bool:
    """True on rank 0, the process that writes checkpoints and logs."""
    return get_dist_info()[0] == 0


def is_distributed() -> bool:
    """Whether a process group with more than one process is running."""
    return get_dist_info()[1] > 1


def barrier() -> None:
    """Wait until every process gets here (nothing to wait for in a single process)."""
    if is_distributed():
        dist.barrier()


def close_dist() -> None:
    """Leave the process group (after a barrier, so that the processes leave together).

    Called at the end of a distributed command: a process that exits while the others
    still use the group can make its communication threads abort the process
    ("terminate called without an active exception") and fail the whole job.
    """
    if dist.is_available() and dist.is_initialized():
        barrier()
        dist.destroy_process_group()


def init_dist(launcher: str, backend: str | None = None, **kwargs) -> tuple[int, int]:
    """Join the process group described by the environment of ``launcher``.

    Args:
        launcher: ``'pytorch'`` (torchrun) or ``'slurm'`` (srun); see the module doc.
        backend: ``'nccl'``, ``'gloo'`` or None for NCCL with CUDA and gloo without.
            NCCL asked for on a machine without CUDA (e.g. MMAction2's
            ``dist_params = dict(backend='nccl')`` on a CPU) falls back to gloo.
        **kwargs: ``port`` (slurm only), ``timeout`` (seconds); other keys go to
            ``torch.distributed.init_process_group``.

    Returns ``(rank, world_size)``. Each process uses the GPU of its local rank.
    """
    if launcher == 'pytorch':
        env = dict(os.environ)
    elif launcher == 'slurm':
        env = {**os.environ, **slurm_environment(os.environ, kwargs.pop('port', None))}
        os.environ.update({k: env[k] for k in ('MASTER_ADDR', 'MASTER_PORT', 'WORLD_SIZE',
                                               'RANK', 'LOCAL_RANK')})
    else:
        raise ValueError(f"launcher must be 'pytorch' or 'slurm', got {launcher!r}")
    kwargs.pop('port', None)
    missing = [k for k in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT') if k not in env]
    if missing:
        raise ValueError(f'--launcher {launcher}: environment variable(s) {", ".join(missing)} not set; '
                           'start the processes with torchrun (or srun for --launcher slurm)')
    backend = _choose_backend(backend)
    local_rank = int(env.get('LOCAL_RANK', 0))
    if backend == 'nccl':
        torch.cuda.set_device(local_rank % torch.cuda.device_count())
    if 'timeout' in kwargs and not isinstance(kwargs['timeout'], timedelta):
        kwargs['timeout'] = timedelta(seconds=float(kwargs['timeout']))
    dist.init_process_group(backend=backend, init_method='env://', rank=int(env['RANK']),
                            world_size=int(env['WORLD_SIZE']), **kwargs)
    rank, world_size = get_dist_info()
    logger.info('process %d of %d (local rank %d) joined the %s process group at %s:%s',
                rank, world_size, local_rank, backend, env['MASTER_ADDR'], env['MASTER_PORT'])
    return rank, world_size


def _choose_backend(backend: str | None) -> str:
    has_cuda = torch.cuda.is_available()
    if backend is None:
        return 'nccl' if has_cuda else 'gloo'
    if backend == 'nccl' and not has_cuda:
        logger.warning('dist backend nccl needs CUDA, which this machine lacks: using gloo')
        return 'gloo'
    return backend


def slurm_environment(env: Mapping[str, str], port: int | str | None = None) -> dict[str, str]:
    """The torch.distributed variables (``MASTER_ADDR``, ``MASTER_PORT``, ``WORLD_SIZE``,
    ``RANK``, ``LOCAL_RANK``) of a task started by ``srun``, from its SLURM variables.

    ``port`` wins over ``MASTER_PORT``, which wins over 29500; an existing
    ``MASTER_ADDR`` wins over the first node of ``SLURM_NODELIST``.
    """
    missing = [k for k in ('SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_NODELIST') if k not in env]
    if missing:
        raise ValueError(f'--launcher slurm: environment variable(s) {", ".join(missing)} not set; '
                           'start the processes with srun')
    rank = int(env['SLURM_PROCID'])
    if 'SLURM_LOCALID' in env:
        local_rank = int(env['SLURM_LOCALID'])
    else:  # older SLURM: tasks are spread over the GPUs of each node in order
        local_rank = rank % max(torch.cuda.device_count(), 1)
    return {
        'MASTER_ADDR': env.get('MASTER_ADDR') or first_slurm_host(env['SLURM_NODELIST']),
        'MASTER_PORT': str(port if port is not None else env.get('MASTER_PORT', DEFAULT_PORT)),
        'WORLD_SIZE': str(int(env['SLURM_NTASKS'])),
        'RANK': str(rank),
        'LOCAL_RANK': str(local_rank),
    }


def first_slurm_host(nodelist: str) -> str:
    """The first host name of a SLURM node list, e.g. ``'gpu[07-09,12],cpu3'`` -> ``'gpu07'``.

    (What ``scontrol show hostnames`` prints first, without needing scontrol.)
    """
    depth, end = 0, len(nodelist)
    for i, ch in enumerate(nodelist):
        depth += {'[': 1, ']': -1}.get(ch, 0)
        if ch == ',' and depth == 0:
            end = i
            break
    first = nodelist[:end].strip()
    # each bracket group contributes its first item, and of a range its lower end
    host = re.sub(r'\[([^\]]*)\]', lambda m: re.split(r'[,-]', m.group(1))[0], first)
    if not host or '[' in host or ']' in host:
        raise ValueError(f'cannot read the first host of SLURM_NODELIST={nodelist!r}')
    return host
