"""The dataset registry, ``build_dataset`` and the dataset wrappers."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from torch.utils.data import ConcatDataset as _TorchConcatDataset
from torch.utils.data import Dataset

from actionlab.registry import Registry

DATASETS = Registry('dataset')


def build_dataset(cfg: Mapping | Sequence[Mapping], default_args: dict | None = None) -> Dataset:
    """Build a dataset from its config; ``default_args`` (e.g. ``dict(test_mode=True)``) fill
    in arguments the config does not give. A list of configs is concatenated."""
    if isinstance(cfg, Sequence) and not isinstance(cfg, str):
        return ConcatDataset(list(cfg), default_args=default_args)
    if isinstance(cfg, Mapping) and cfg.get('type') in ('RepeatDataset', 'ConcatDataset'):
        return DATASETS.build(cfg, default_args=default_args)
    return DATASETS.build(cfg, **(default_args or {}))


def _built(dataset: Mapping | Dataset, default_args: dict | None) -> Dataset:
    return build_dataset(dataset, default_args) if isinstance(dataset, Mapping) else dataset


@DATASETS.register_module()
class RepeatDataset(Dataset):
    """``dataset`` (a config or a dataset) repeated ``times`` times, e.g. to make short
    epochs longer; index ``i`` is sample ``i % len(dataset)``."""

    def __init__(self, dataset: Mapping | Dataset, times: int, test_mode: bool = False,
                 default_args: dict | None = None):
        self.dataset = _built(dataset, default_args)
        self.times = int(times)
        self.test_mode = test_mode
        self._len = len(self.dataset)

    def __len__(self) -> int:
        return self.times * self._len

    def __getitem__(self, idx: int):
        return self.dataset[idx % self._len]


@DATASETS.register_module()
class ConcatDataset(_TorchConcatDataset):
    """The samples of several datasets (configs or datasets), one after the other."""

    def __init__(self, datasets: Sequence[Mapping | Dataset], test_mode: bool = False,
                 default_args: dict | None = None):
        super().__init__([_built(d, default_args) for d in datasets])
        self.test_mode = test_mode
