"""Learning-rate schedules: mmcv's ``lr_config`` policies as pure functions.

A schedule maps ``(base_lr, progress)`` to a learning rate, where ``progress`` says
which epoch and iteration is about to run. Nothing else is read or changed, so the
value at any point of training can be computed (and tested) directly; the LR hook
(:class:`actionlab.engine.hooks.LrUpdaterHook`) just applies it to every parameter
group before each iteration.

Config keys are mmcv 1.x's, e.g.::

    lr_config = dict(policy='step', step=[40, 80], gamma=0.1,
                     warmup='linear', warmup_iters=500, warmup_ratio=0.1)

``policy`` names a registered schedule: lower-case names are capitalised (``'step'``
-> ``'Step'``), names with capitals are used as they are (``'CosineAnnealing'``).
``by_epoch`` (default True) makes the schedule advance per epoch instead of per
iteration; the warmup always advances per iteration, over ``warmup_iters``
iterations (or epochs with ``warmup_by_epoch=True``), scaling the regular value.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from actionlab.registry import BuildError, Registry

LR_SCHEDULES = Registry('lr schedule')

WARMUP_KEYS = ('warmup', 'warmup_iters', 'warmup_ratio', 'warmup_by_epoch')


@dataclass(frozen=True)
class TrainProgress:
    """Where training stands: the epoch and global iteration about to run (both from 0)."""

    epoch: int
    iter: int
    epoch_len: int
    max_epochs: int

    @property
    def max_iters(self) -> int:
        return self.max_epochs * self.epoch_len


@dataclass(frozen=True)
class Warmup:
    """Scales the learning rate during the first ``iters`` iterations (epochs if ``by_epoch``).

    At iteration ``i < n`` the regular rate is multiplied by ``ratio`` ('constant'),
    by ``1 - (1 - i/n) * (1 - ratio)`` ('linear') or by ``ratio ** (1 - i/n)`` ('exp').
    """

    kind: str
    iters: int
    ratio: float = 0.1
    by_epoch: bool = False

    def __post_init__(self):
        if self.kind not in ('constant', 'linear', 'exp'):
            raise ValueError(f"lr_config.warmup must be 'constant', 'linear' or 'exp', got {self.kind!r}")
        if not self.iters > 0:
            raise ValueError(f'lr_config.warmup_iters must be a positive number, got {self.iters!r}')
        if not 0 < self.ratio <= 1:
            raise ValueError(f'lr_config.warmup_ratio must be in (0, 1], got {self.ratio!r}')

    def length(self, epoch_len: int) -> int:
        """Number of warmup iterations."""
        return self.iters * epoch_len if self.by_epoch else self.iters

    def apply(self, lr: float, progress: TrainProgress) -> float:
        n = self.length(progress.epoch_len)
        i = progress.iter
        if i >= n:
            return lr
        if self.kind == 'constant':
            return lr * self.ratio
        if self.kind == 'linear':
            k = (1 - i / n) * (1 - self.ratio)
            return lr * (1 - k)
        return lr * self.ratio ** (1 - i / n)


class LrSchedule:
    """Base class: subclasses give the regular (post-warmup) rate in :meth:`regular_lr`."""

    def __init__(self, by_epoch: bool = True, warmup: Warmup | None = None):
        self.by_epoch = bool(by_epoch)
        self.warmup = warmup

    def regular_lr(self, base_lr: float, progress: TrainProgress) -> float:
        raise NotImplementedError

    def get_lr(self, base_lr: float, progress: TrainProgress) -> float:
        """The learning rate for the iteration ``progress`` describes."""
        lr = self.regular_lr(base_lr, progress)
        return lr if self.warmup is None else self.warmup.apply(lr, progress)

    def _position(self, progress: TrainProgress) -> tuple[int, int]:
        """(current step, total steps) counted in epochs or iterations as ``by_epoch`` says."""
        if self.by_epoch:
            return progress.epoch, progress.max_epochs
        return progress.iter, progress.max_iters

    def __repr__(self) -> str:
        args = ', '.join(f'{k}={v!r}' for k, v in vars(self).items())
        return f'{type(self).__name__}({args})'


@LR_SCHEDULES.register_module(name='Fixed')
class FixedSchedule(LrSchedule):
    """The base learning rate throughout (after the optional warmup)."""

    def regular_lr(self, base_lr: float, progress: TrainProgress) -> float:
        return base_lr


@LR_SCHEDULES.register_module(name='Step')
class StepSchedule(LrSchedule):
    """Multiply by ``gamma`` at each of the ``step`` epochs (or iterations), never below ``min_lr``.

    ``step`` is either a list of milestones or an int ``s`` meaning every ``s`` epochs.
    """

    def __init__(self, step: int | Sequence[int], gamma: float = 0.1, min_lr: float | None = None,
                 by_epoch: bool = True, warmup: Warmup | None = None):
        super().__init__(by_epoch, warmup)
        if isinstance(step, int) and not isinstance(step, bool):
            if step <= 0:
                raise ValueError(f'lr_config.step must be positive, got {step}')
        elif isinstance(step, Sequence) and not isinstance(step, str):
            step = list(step)
            if not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in step):
                raise ValueError(f'lr_config.step must be a list of positive ints, got {step}')
        else:
            raise TypeError(f'lr_config.step must be an int or a list of ints, got {step!r}')
        self.step = step
        self.gamma = gamma
        self.min_lr = min_lr

    def regular_lr(self, base_lr: float, progress: TrainProgress) -> float:
        current, _ = self._position(progress)
        if isinstance(self.step, int):
            exp = current // self.step
        else:
            exp = next((i for i, s in enumerate(self.step) if current < s), len(self.step))
        lr = base_lr * self.gamma ** exp
        return lr if self.min_lr is None else max(lr, self.min_lr)


def annealing_cos(start: float, end: float, factor: float, weight: float = 1.0) -> float:
    """Cosine interpolation from ``start`` (factor 0) to ``end`` (factor 1)."""
    cos_out = math.cos(math.pi * factor) + 1
    return end + 0.5 * weight * (start - end) * cos_out


@LR_SCHEDULES.register_module(name='CosineAnnealing')
class CosineAnnealingSchedule(LrSchedule):
    """Cosine decay from the base rate to ``min_lr`` (or ``base_lr * min_lr_ratio``) over training."""

    def __init__(self, min_lr: float | None = None, min_lr_ratio: float | None = None,
                 by_epoch: bool = True, warmup: Warmup | None = None):
        super().__init__(by_epoch, warmup)
        if (min_lr is None) == (min_lr_ratio is None):
            raise ValueError('lr_config for CosineAnnealing needs exactly one of min_lr and min_lr_ratio, '
                             f'got min_lr={min_lr!r}, min_lr_ratio={min_lr_ratio!r}')
        self.min_lr = min_lr
        self.min_lr_ratio = min_lr_ratio

    def regular_lr(self, base_lr: float, progress: TrainProgress) -> float:
        current, total = self._position(progress)
        target = base_lr * self.min_lr_ratio if self.min_lr_ratio is not None else self.min_lr
        return annealing_cos(base_lr, target, current / total)


def policy_type(policy: str) -> str:
    """The registered name for an ``lr_config.policy`` value (mmcv's capitalisation rule)."""
    return policy.title() if policy == policy.lower() else policy


def build_lr_schedule(lr_config: Mapping) -> LrSchedule:
    """Build the schedule an mmcv-style ``lr_config`` dict describes."""
    cfg = dict(lr_config)
    if 'policy' not in cfg:
        raise BuildError(f"lr_config has no 'policy' key: {cfg!r}")
    name = policy_type(cfg.pop('policy'))
    warmup_args = {k: cfg.pop(k) for k in WARMUP_KEYS if k in cfg}
    kind = warmup_args.pop('warmup', None)
    if kind is not None:
        cfg['warmup'] = Warmup(kind, iters=warmup_args.get('warmup_iters', 0),
                               ratio=warmup_args.get('warmup_ratio', 0.1),
                               by_epoch=warmup_args.get('warmup_by_epoch', False))
    return LR_SCHEDULES.build(dict(type=name, **cfg))
