"""Seeding, deterministic mode, generator-state round trips, rank info."""
import random

import numpy as np
import torch

from actionlab.engine.distributed import get_dist_info, is_main_process
from actionlab.engine.seeding import (
    derive_seed,
    init_random_seed,
    load_rng_state,
    rng_state_dict,
    set_random_seed,
)


def draws():
    return random.random(), float(np.random.rand()), float(torch.rand(1))


def test_set_random_seed_reproduces_all_generators(deterministic):
    set_random_seed(3)
    first = draws()
    assert not torch.are_deterministic_algorithms_enabled()
    set_random_seed(3, deterministic=True)
    assert draws() == first
    assert torch.are_deterministic_algorithms_enabled()
    assert torch.is_deterministic_algorithms_warn_only_enabled()
    assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
    set_random_seed(4)
    assert draws() != first


def test_rng_state_round_trip_survives_weights_only_save(tmp_path):
    set_random_seed(0)
    random.gauss(0, 1)  # leaves a cached gaussian in Python's state
    np.random.randn()
    state = rng_state_dict()
    expected = draws() + (random.gauss(0, 1), float(np.random.randn()))
    torch.save(state, tmp_path / 'rng.pth')
    set_random_seed(99)
    load_rng_state(torch.load(tmp_path / 'rng.pth', weights_only=True))
    assert draws() + (random.gauss(0, 1), float(np.random.randn())) == expected


def test_init_and_derive_seed():
    assert init_random_seed(5) == 5
    set_random_seed(0)
    drawn = {init_random_seed() for _ in range(3)}
    assert len(drawn) == 3 and all(0 <= s < 2**31 for s in drawn)  # fresh entropy, not the seeded state
    seeds = {derive_seed(0, epoch) for epoch in range(100)} | {derive_seed(1, 0)}
    assert len(seeds) == 101 and all(0 <= s < 2**32 for s in seeds)
    assert derive_seed(0, 5) == derive_seed(0, 5)
    assert len({derive_seed(0, 5), derive_seed(0, 5, 0), derive_seed(0, 5, 0, 0)}) == 3


def test_single_process_dist_info():
    assert get_dist_info() == (0, 1)
    assert is_main_process()
