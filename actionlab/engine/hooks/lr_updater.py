"""Applies a learning-rate schedule to the optimizer during training."""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from actionlab.engine.hooks.base import HOOKS, Hook
from actionlab.engine.lr_schedules import (
    LR_SCHEDULES,
    LrSchedule,
    TrainProgress,
    build_lr_schedule,
    policy_type,
)
from actionlab.registry import BuildError

if TYPE_CHECKING:
    from actionlab.engine.runner import Runner


class ScheduleHook(Hook):
    """Base of the hooks that set an optimizer value from a schedule before every training
    epoch and iteration (:meth:`apply`, given where training stands)."""

    def before_train_epoch(self, runner: Runner) -> None:
        self.apply(runner, self.progress(runner))

    def before_train_iter(self, runner: Runner) -> None:
        self.apply(runner, self.progress(runner))

    @staticmethod
    def progress(runner: Runner) -> TrainProgress:
        return TrainProgress(epoch=runner.epoch, iter=runner.iter, epoch_len=len(runner.data_loader),
                             max_epochs=runner.max_epochs)

    def apply(self, runner: Runner, progress: TrainProgress) -> None:
        raise NotImplementedError


@HOOKS.register_module()
class LrUpdaterHook(ScheduleHook):
    """Sets each parameter group's lr to ``schedule.get_lr(initial_lr, progress)``.

    The base rate of a group is its ``initial_lr`` (recorded from ``lr`` the first
    time; a resumed optimizer brings its own), so parameter groups with different
    rates (e.g. TSM's 5x/10x head) keep their ratios throughout.
    """

    def __init__(self, schedule: LrSchedule):
        self.schedule = schedule
        self.base_lrs: list[float] = []

    def before_run(self, runner: Runner) -> None:
        for group in runner.optimizer.param_groups:
            group.setdefault('initial_lr', group['lr'])
        self.base_lrs = [group['initial_lr'] for group in runner.optimizer.param_groups]

    def apply(self, runner: Runner, progress: TrainProgress) -> None:
        for group, base_lr in zip(runner.optimizer.param_groups, self.base_lrs, strict=True):
            group['lr'] = self.schedule.get_lr(base_lr, progress)

    def __repr__(self) -> str:
        return f'LrUpdaterHook({self.schedule!r})'


def build_lr_hook(lr_config: Mapping) -> Hook:
    """The hook for an mmcv-style ``lr_config`` (``policy`` plus the schedule's arguments).

    A policy that is not a registered schedule may name a hook registered as
    ``<Policy>LrUpdaterHook`` (how MMAction2 users add custom policies).
    """
    if 'policy' not in lr_config:
        raise BuildError(f"lr_config has no 'policy' key: {dict(lr_config)!r}")
    name = policy_type(lr_config['policy'])
    if name in LR_SCHEDULES:
        return LrUpdaterHook(build_lr_schedule(lr_config))
    if f'{name}LrUpdaterHook' in HOOKS:
        args = {k: v for k, v in lr_config.items() if k != 'policy'}
        return HOOKS.build(dict(type=f'{name}LrUpdaterHook', **args))
    raise BuildError(f"lr_config.policy {lr_config['policy']!r} is not available; "
                     f"available policies: {', '.join(LR_SCHEDULES.keys())}")
