"""Momentum schedules (``momentum_config``): mmcv's momentum updater hooks.

The momentum (SGD's ``momentum``, Adam's ``betas[0]``) follows one of the LR
schedules of :mod:`actionlab.engine.lr_schedules`, with mmcv's momentum keys and
defaults::

    momentum_config = dict(policy='cyclic', target_ratio=(0.85 / 0.95, 1),
                           cyclic_times=1, step_ratio_up=0.4)

``step`` decays by ``gamma=0.5`` by default and floors at ``min_momentum``;
``CosineAnnealing`` anneals to ``min_momentum`` or ``base * min_momentum_ratio``;
``cyclic`` moves opposite to a cyclic LR when given the ratios above. A warmup
(``warmup``, ``warmup_iters``, ``warmup_ratio=0.9``, ``warmup_by_epoch``, read as
in ``lr_config``) divides the momentum by the LR warmup's factor, so it starts high
and settles.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from actionlab.engine.hooks.base import HOOKS, Hook
from actionlab.engine.hooks.lr_updater import ScheduleHook
from actionlab.engine.lr_schedules import LrSchedule, TrainProgress, Warmup, build_lr_schedule, policy_type
from actionlab.registry import BuildError

if TYPE_CHECKING:
    from actionlab.engine.runner import Runner

# momentum_config keys that differ from lr_config's, and mmcv's momentum defaults
_RENAMED = {'min_momentum': 'min_lr', 'min_momentum_ratio': 'min_lr_ratio'}
_DEFAULTS = {'Step': {'gamma': 0.5}, 'Cyclic': {'target_ratio': (0.85 / 0.95, 1)}}
_POLICIES = ('Step', 'CosineAnnealing', 'Cyclic')


@HOOKS.register_module()
class MomentumUpdaterHook(ScheduleHook):
    """Sets each parameter group's momentum to ``schedule`` of its ``initial_momentum``.

    ``initial_momentum`` is recorded from the group the first time (a resumed
    optimizer brings its own). ``warmup``, if given, divides the scheduled value by
    its factor.
    """

    def __init__(self, schedule: LrSchedule, warmup: Warmup | None = None):
        self.schedule = schedule
        self.warmup = warmup
        self.base_momentum: list[float] = []

    def before_run(self, runner: Runner) -> None:
        for group in runner.optimizer.param_groups:
            if 'momentum' in group:
                group.setdefault('initial_momentum', group['momentum'])
            elif 'betas' in group:
                group.setdefault('initial_momentum', group['betas'][0])
            else:
                raise ValueError(f'momentum_config: {type(runner.optimizer).__name__} has neither '
                                 'momentum nor betas to schedule')
        self.base_momentum = [group['initial_momentum'] for group in runner.optimizer.param_groups]

    def apply(self, runner: Runner, progress: TrainProgress) -> None:
        divisor = self.warmup.factor(progress) if self.warmup is not None else 1.0
        for group, base in zip(runner.optimizer.param_groups, self.base_momentum, strict=True):
            value = self.schedule.regular_lr(base, progress) / divisor
            if 'momentum' in group:
                group['momentum'] = value
            else:
                group['betas'] = (value, *tuple(group['betas'])[1:])

    def __repr__(self) -> str:
        return f'MomentumUpdaterHook({self.schedule!r}, warmup={self.warmup!r})'


def build_momentum_hook(momentum_config: Mapping) -> Hook:
    """The hook for an mmcv-style ``momentum_config`` (``policy`` plus its arguments).

    A policy that is not built in may name a hook registered as
    ``<Policy>MomentumUpdaterHook``.
    """
    cfg = dict(momentum_config)
    if 'policy' not in cfg:
        raise BuildError(f"momentum_config has no 'policy' key: {cfg!r}")
    name = policy_type(cfg['policy'])
    if name not in _POLICIES:
        if f'{name}MomentumUpdaterHook' in HOOKS:
            args = {k: v for k, v in cfg.items() if k != 'policy'}
            return HOOKS.build(dict(type=f'{name}MomentumUpdaterHook', **args))
        raise BuildError(f"momentum_config.policy {cfg['policy']!r} is not available; "
                         f"available policies: {', '.join(_POLICIES)}")
    for key, value in _DEFAULTS.get(name, {}).items():
        cfg.setdefault(key, value)
    schedule = build_lr_schedule(cfg, section='momentum_config', renamed=_RENAMED, warmup_ratio=0.9)
    # the momentum is divided by the warmup factor (MomentumUpdaterHook.apply), not multiplied
    return MomentumUpdaterHook(schedule, schedule.warmup)
