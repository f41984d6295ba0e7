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

Policies (``progress`` is the epoch or iteration, ``max_progress`` their total):

============  ===========================================================================
Fixed         ``base_lr``
Step          ``base_lr * gamma ** (milestones passed)``, at least ``min_lr``
Exp           ``base_lr * gamma ** progress``
Poly          ``(base_lr - min_lr) * (1 - progress / max_progress) ** power + min_lr``
Inv           ``base_lr * (1 + gamma * progress) ** -power``
CosineAnnealing  cosine from ``base_lr`` to ``min_lr`` (or ``base_lr * min_lr_ratio``)
FlatCosineAnnealing  ``base_lr`` for ``start_percent`` of training, then cosine
CosineRestart cosine over each of ``periods``, restarting at ``restart_weights[i] * base_lr``
Cyclic        per iteration: up from ``base_lr`` to ``base_lr * target_ratio[0]``, then
              down to ``base_lr * target_ratio[1]``, ``cyclic_times`` times
============  ===========================================================================

The schedules are also used for momentum (``momentum_config``, see
:mod:`actionlab.engine.hooks.momentum_updater`): they map any base value.
"""
from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Iterator, Mapping, Sequence
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

    def factor(self, progress: TrainProgress) -> float:
        """The multiplier at ``progress`` (1 once the warmup is over)."""
        n = self.length(progress.epoch_len)
        i = progress.iter
        if i >= n:
            return 1.0
        if self.kind == 'constant':
            return self.ratio
        if self.kind == 'linear':
            return 1 - (1 - i / n) * (1 - self.ratio)
        return self.ratio ** (1 - i / n)

    def apply(self, lr: float, progress: TrainProgress) -> float:
        """``lr`` scaled by :meth:`factor`."""
        return lr * self.factor(progress)


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


class _AnnealToMinSchedule(LrSchedule):
    """Base of the schedules that anneal to ``min_lr`` or ``base_lr * min_lr_ratio``
    (exactly one of them given)."""

    def __init__(self, min_lr: float | None, min_lr_ratio: float | None, by_epoch: bool,
                 warmup: Warmup | None, policy: str):
        super().__init__(by_epoch, warmup)
        if (min_lr is None) == (min_lr_ratio is None):
            raise ValueError(f'lr_config for {policy} needs exactly one of min_lr and min_lr_ratio, '
                             f'got min_lr={min_lr!r}, min_lr_ratio={min_lr_ratio!r}')
        self.min_lr = min_lr
        self.min_lr_ratio = min_lr_ratio

    def target(self, base_lr: float) -> float:
        """The value annealed to."""
        return base_lr * self.min_lr_ratio if self.min_lr_ratio is not None else self.min_lr


@LR_SCHEDULES.register_module(name='CosineAnnealing')
class CosineAnnealingSchedule(_AnnealToMinSchedule):
    """Cosine decay from the base rate to ``min_lr`` (or ``base_lr * min_lr_ratio``) over training."""

    def __init__(self, min_lr: float | None = None, min_lr_ratio: float | None = None,
                 by_epoch: bool = True, warmup: Warmup | None = None):
        super().__init__(min_lr, min_lr_ratio, by_epoch, warmup, 'CosineAnnealing')

    def regular_lr(self, base_lr: float, progress: TrainProgress) -> float:
        current, total = self._position(progress)
        return annealing_cos(base_lr, self.target(base_lr), current / total)


@LR_SCHEDULES.register_module(name='FlatCosineAnnealing')
class FlatCosineAnnealingSchedule(CosineAnnealingSchedule):
    """The base rate for the first ``start_percent`` of training, then cosine decay to
    ``min_lr`` (or ``base_lr * min_lr_ratio``) over the rest."""

    def __init__(self, start_percent: float = 0.75, min_lr: float | None = None,
                 min_lr_ratio: float | None = None, by_epoch: bool = True, warmup: Warmup | None = None):
        super().__init__(min_lr, min_lr_ratio, by_epoch, warmup)
        if not 0 <= start_percent <= 1:
            raise ValueError(f'lr_config.start_percent must be in [0, 1], got {start_percent!r}')
        self.start_percent = start_percent

    def regular_lr(self, base_lr: float, progress: TrainProgress) -> float:
        current, total = self._position(progress)
        start = round(total * self.start_percent)
        if current <= start:
            return base_lr
        return annealing_cos(base_lr, self.target(base_lr), (current - start) / (total - start))


@LR_SCHEDULES.register_module(name='CosineRestart')
class CosineRestartSchedule(_AnnealToMinSchedule):
    """Cosine annealing restarted after each of ``periods`` (epochs or iterations).

    Period ``i`` anneals from ``restart_weights[i] * base_lr`` (plus the target's
    complement) to ``min_lr`` (or ``base_lr * min_lr_ratio``); training must not
    outlast ``sum(periods)``.
    """

    def __init__(self, periods: Sequence[int], restart_weights: Sequence[float] = (1,),
                 min_lr: float | None = None, min_lr_ratio: float | None = None,
                 by_epoch: bool = True, warmup: Warmup | None = None):
        super().__init__(min_lr, min_lr_ratio, by_epoch, warmup, 'CosineRestart')
        self.periods = [int(p) for p in periods]
        self.restart_weights = [float(w) for w in restart_weights]
        if len(self.periods) != len(self.restart_weights):
            raise ValueError(f'lr_config.periods {self.periods} and restart_weights {self.restart_weights} '
                             'must have the same length')
        if not all(p > 0 for p in self.periods):
            raise ValueError(f'lr_config.periods must be positive, got {self.periods}')

    def regular_lr(self, base_lr: float, progress: TrainProgress) -> float:
        current, _ = self._position(progress)
        target = self.target(base_lr)
        start = 0
        for period, weight in zip(self.periods, self.restart_weights, strict=True):
            if current < start + period:
                return annealing_cos(base_lr, target, (current - start) / period, weight)
            start += period
        raise ValueError(f'{"epoch" if self.by_epoch else "iteration"} {current} is beyond the '
                         f'CosineRestart periods {self.periods} (they add up to {start})')


@LR_SCHEDULES.register_module(name='Poly')
class PolySchedule(LrSchedule):
    """Polynomial decay from the base rate to ``min_lr`` at the end of training."""

    def __init__(self, power: float = 1.0, min_lr: float = 0.0, by_epoch: bool = True,
                 warmup: Warmup | None = None):
        super().__init__(by_epoch, warmup)
        self.power = power
        self.min_lr = min_lr

    def regular_lr(self, base_lr: float, progress: TrainProgress) -> float:
        current, total = self._position(progress)
        return (base_lr - self.min_lr) * (1 - current / total) ** self.power + self.min_lr


@LR_SCHEDULES.register_module(name='Exp')
class ExpSchedule(LrSchedule):
    """Multiply by ``gamma`` every epoch (or iteration)."""

    def __init__(self, gamma: float, by_epoch: bool = True, warmup: Warmup | None = None):
        super().__init__(by_epoch, warmup)
        self.gamma = gamma

    def regular_lr(self, base_lr: float, progress: TrainProgress) -> float:
        return base_lr * self.gamma ** self._position(progress)[0]


@LR_SCHEDULES.register_module(name='Inv')
class InvSchedule(LrSchedule):
    """Inverse decay, ``base_lr * (1 + gamma * progress) ** -power``."""

    def __init__(self, gamma: float, power: float = 1.0, by_epoch: bool = True,
                 warmup: Warmup | None = None):
        super().__init__(by_epoch, warmup)
        self.gamma = gamma
        self.power = power

    def regular_lr(self, base_lr: float, progress: TrainProgress) -> float:
        return base_lr * (1 + self.gamma * self._position(progress)[0]) ** (-self.power)


def annealing_linear(start: float, end: float, factor: float) -> float:
    """Linear interpolation from ``start`` (factor 0) to ``end`` (factor 1)."""
    return start + (end - start) * factor


@LR_SCHEDULES.register_module(name='Cyclic')
class CyclicSchedule(LrSchedule):
    """Cyclical rates (Smith, 2017; the 1cycle of super-convergence with ``cyclic_times=1``).

    Training is split into ``cyclic_times`` cycles of ``max_iters // cyclic_times``
    iterations. Each cycle rises from ``base_lr`` to ``base_lr * target_ratio[0]`` over
    its first ``step_ratio_up`` part and falls to ``base_lr * target_ratio[1]`` over the
    rest, by cosine or linear annealing. With ``gamma < 1`` cycle ``c`` reaches only
    ``gamma ** c`` of the way to the peak. Per iteration only (``by_epoch=False``).

    Args:
        target_ratio: ``(peak, end)`` ratios; a single number ``r`` means ``(r, r / 1e5)``.
    """

    def __init__(self, by_epoch: bool = False, target_ratio: float | Sequence[float] = (10, 1e-4),
                 cyclic_times: int = 1, step_ratio_up: float = 0.4, anneal_strategy: str = 'cos',
                 gamma: float = 1.0, warmup: Warmup | None = None):
        if by_epoch:
            raise ValueError('lr_config: the Cyclic policy works per iteration; set by_epoch=False')
        super().__init__(False, warmup)
        self.target_ratio = _ratio_pair(target_ratio, 'target_ratio')
        if not 0 <= step_ratio_up < 1:
            raise ValueError(f'step_ratio_up must be in [0, 1), got {step_ratio_up!r}')
        if not 0 < gamma <= 1:
            raise ValueError(f'gamma must be in (0, 1], got {gamma!r}')
        if anneal_strategy not in ('cos', 'linear'):
            raise ValueError(f"anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
        if int(cyclic_times) < 1:
            raise ValueError(f'cyclic_times must be a positive int, got {cyclic_times!r}')
        self.cyclic_times = int(cyclic_times)
        self.step_ratio_up = step_ratio_up
        self.anneal_strategy = anneal_strategy
        self.gamma = gamma

    def regular_lr(self, base_lr: float, progress: TrainProgress) -> float:
        cycle_len = max(progress.max_iters // self.cyclic_times, 1)
        up_len = int(self.step_ratio_up * cycle_len)
        cycle, it = divmod(progress.iter, cycle_len)
        # cycle c only climbs gamma**c of the way from 1 to the peak ratio
        scale = self.gamma ** cycle
        peak = 1 - scale + self.target_ratio[0] * scale
        if it < up_len:
            start, end, factor = 1.0, peak, it / up_len
        else:
            start, end, factor = peak, self.target_ratio[1], (it - up_len) / (cycle_len - up_len)
        if self.anneal_strategy == 'cos':
            return annealing_cos(base_lr * start, base_lr * end, factor)
        return annealing_linear(base_lr * start, base_lr * end, factor)


def _ratio_pair(value: float | Sequence[float], key: str) -> tuple[float, float]:
    """mmcv's reading of a cyclic ``target_ratio``: r -> (r, r / 1e5), (r,) likewise, (a, b)."""
    if isinstance(value, (int, float)):
        return float(value), float(value) / 1e5
    values = [float(v) for v in value]
    if len(values) == 1:
        return values[0], values[0] / 1e5
    if len(values) != 2:
        raise ValueError(f'{key} must be a number or a pair of numbers, got {value!r}')
    return values[0], values[1]


def policy_type(policy: str) -> str:
    """The registered name for an ``lr_config.policy`` value (mmcv's capitalisation rule)."""
    return policy.title() if policy == policy.lower() else policy


def build_lr_schedule(lr_config: Mapping, section: str = 'lr_config',
                      renamed: Mapping[str, str] | None = None, warmup_ratio: float = 0.1) -> LrSchedule:
    """Build the schedule an mmcv-style ``lr_config`` dict describes.

    The warmup keys (``warmup``, ``warmup_iters``, ``warmup_ratio`` with default
    ``warmup_ratio``, ``warmup_by_epoch``) become the schedule's :class:`Warmup`.
    Other config sections that use the schedules (``momentum_config``) give their
    name as ``section`` and their own key names as ``renamed`` (``{'min_momentum':
    'min_lr'}``): the config must use those names, and error messages name the
    section and its keys.
    """
    renamed = dict(renamed or {})
    cfg = dict(lr_config)
    if 'policy' not in cfg:
        raise BuildError(f"{section} has no 'policy' key: {cfg!r}")
    for ours, theirs in renamed.items():
        if theirs in cfg:
            raise BuildError(f'{section} has no key {theirs!r}; did you mean {ours!r}?')
    with _errors_name(section, renamed):
        name = policy_type(cfg.pop('policy'))
        cfg = {renamed.get(k, k): v for k, v in cfg.items()}
        warmup_args = {k: cfg.pop(k) for k in WARMUP_KEYS if k in cfg}
        kind = warmup_args.pop('warmup', None)
        if kind is not None:
            cfg['warmup'] = Warmup(kind, iters=warmup_args.get('warmup_iters', 0),
                                   ratio=warmup_args.get('warmup_ratio', warmup_ratio),
                                   by_epoch=warmup_args.get('warmup_by_epoch', False))
        return LR_SCHEDULES.build(dict(type=name, **cfg))


@contextlib.contextmanager
def _errors_name(section: str, renamed: Mapping[str, str]) -> Iterator[None]:
    """Rewrite the messages of errors raised inside (which speak of ``lr_config`` and its
    keys) to name ``section`` and its keys (``renamed``: {section key: lr_config key})."""
    try:
        yield
    except (ValueError, TypeError) as e:
        if (section == 'lr_config' and not renamed) or not e.args or not isinstance(e.args[0], str):
            raise
        message = re.sub(r'\blr_config\b', section, e.args[0])
        for ours, theirs in renamed.items():
            message = re.sub(rf'\b{re.escape(theirs)}\b', ours, message)
        e.args = (message, *e.args[1:])
        raise
