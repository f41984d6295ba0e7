"""Random seeds, deterministic mode and the random-number-generator state of a run.

Reproducible training needs every generator (Python ``random``, NumPy's global
generator, torch's CPU and CUDA generators) seeded, and in deterministic mode also
the deterministic kernels of torch/cuDNN. ``rng_state_dict``/``load_rng_state`` turn
the generator states into plain tensors and numbers so that checkpoints holding them
still load with ``torch.load(weights_only=True)``.
"""
from __future__ import annotations

import os
import random
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from actionlab.engine.distributed import get_dist_info


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (CPU and all GPUs)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def set_random_seed(seed: int, deterministic: bool = False) -> None:
    """Seed every generator and set torch's kernel choice: deterministic kernels with
    ``deterministic``, the default (fast) kernels without it.

    Deterministic mode calls ``torch.use_deterministic_algorithms(True, warn_only=True)``
    (ops without a deterministic kernel warn instead of failing), turns cuDNN
    autotuning off and sets ``CUBLAS_WORKSPACE_CONFIG`` (needed by cuBLAS; it only
    takes effect if CUDA has not been initialised yet).
    """
    seed_everything(seed)
    if deterministic:
        os.environ.setdefault('CUBLAS_WORKSPACE_CONFIG', ':4096:8')
        torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
    torch.backends.cudnn.deterministic = deterministic


def init_random_seed(seed: int | None = None) -> int:
    """Return ``seed``, or draw a fresh one; in distributed runs every rank gets rank 0's draw."""
    if seed is not None:
        return int(seed)
    # fresh OS entropy: the global generators may already be seeded by the caller
    seed = int(np.random.default_rng().integers(2**31))
    _, world_size = get_dist_info()
    if world_size == 1:
        return seed
    device = 'cuda' if dist.get_backend() == 'nccl' else 'cpu'
    value = torch.tensor(seed, dtype=torch.int64, device=device)
    dist.broadcast(value, src=0)
    return int(value.item())


def derive_seed(seed: int, *keys: int) -> int:
    """A well-mixed 32-bit seed for ``(seed, *keys)``, e.g. ``derive_seed(seed, epoch)``.

    Different key tuples (also of different lengths) give unrelated seeds.
    """
    entropy = [int(k) % 2**64 for k in (seed, len(keys), *keys)]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def rng_state_dict() -> dict[str, Any]:
    """The state of every global generator as tensors and Python numbers."""
    py_version, py_state, py_gauss = random.getstate()
    _, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    return {
        'python': {'version': py_version, 'state': torch.tensor(py_state, dtype=torch.int64),
                   'gauss_next': py_gauss},
        'numpy': {'keys': torch.from_numpy(np_keys.astype(np.int64)), 'pos': int(np_pos),
                  'has_gauss': int(np_has_gauss), 'cached_gaussian': float(np_gauss)},
        'torch': torch.get_rng_state(),
        'cuda': torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def load_rng_state(state: dict[str, Any]) -> None:
    """Restore the generators from :func:`rng_state_dict`'s output.

    CUDA states are restored only when this machine has as many GPUs as the one
    that saved them.
    """
    py = state['python']
    random.setstate((py['version'], tuple(int(v) for v in py['state'].tolist()), py['gauss_next']))
    npy = state['numpy']
    np.random.set_state(('MT19937', npy['keys'].numpy().astype(np.uint32), npy['pos'],
                         npy['has_gauss'], npy['cached_gaussian']))
    torch.set_rng_state(state['torch'])
    cuda_states = state.get('cuda') or []
    if cuda_states and torch.cuda.is_available() and len(cuda_states) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda_states)
