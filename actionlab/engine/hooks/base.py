"""The hook protocol of the training runner (mmcv 1.x's, which MMAction2 configs assume).

A hook is an object whose methods the runner calls at fixed points: before/after the
whole run, each train or val epoch, and each train or val iteration. Hooks run in
order of priority (lower value first; equal priorities in registration order).
"""
from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING

from actionlab.registry import Registry

if TYPE_CHECKING:
    from torch.utils.data import DataLoader

    from actionlab.engine.runner import Runner

HOOKS = Registry('hook')


class Priority(IntEnum):
    """Hook priorities; mmcv's names and values."""

    HIGHEST = 0
    VERY_HIGH = 10
    HIGH = 30
    ABOVE_NORMAL = 40
    NORMAL = 50
    BELOW_NORMAL = 60
    LOW = 70
    VERY_LOW = 90
    LOWEST = 100


def get_priority(priority: int | str | Priority) -> int:
    """The numeric value of a priority given as a name ('NORMAL'), a Priority or an int 0-100."""
    if isinstance(priority, str):
        try:
            return int(Priority[priority.upper()])
        except KeyError:
            raise ValueError(f'unknown hook priority {priority!r}; use one of '
                             f'{", ".join(p.name for p in Priority)} or an int 0-100') from None
    if isinstance(priority, int) and 0 <= int(priority) <= 100:
        return int(priority)
    raise ValueError(f'hook priority must be a name or an int 0-100, got {priority!r}')


class Hook:
    """Base class: every method does nothing; subclasses override the points they need.

    ``before_train_epoch``/``before_val_epoch`` default to ``before_epoch`` (and so
    on), so a hook that treats train and val alike overrides only the generic one.

    Besides the stages, the runner asks its hooks for :meth:`epoch_loaders` at the
    start of every training epoch, calls :meth:`before_save_checkpoint` whenever it
    writes a checkpoint and :meth:`owns_state_key` when it resumes.
    """

    #: the priority :meth:`Runner.register_hook` gives the hook when none is named
    default_priority: int | str | Priority = Priority.NORMAL

    STAGES = ('before_run', 'before_train_epoch', 'before_train_iter', 'after_train_iter',
              'after_train_epoch', 'before_val_epoch', 'before_val_iter', 'after_val_iter',
              'after_val_epoch', 'after_run')

    def before_run(self, runner: Runner) -> None:
        pass

    def after_run(self, runner: Runner) -> None:
        pass

    def before_epoch(self, runner: Runner) -> None:
        pass

    def after_epoch(self, runner: Runner) -> None:
        pass

    def before_iter(self, runner: Runner) -> None:
        pass

    def after_iter(self, runner: Runner) -> None:
        pass

    def before_train_epoch(self, runner: Runner) -> None:
        self.before_epoch(runner)

    def before_val_epoch(self, runner: Runner) -> None:
        self.before_epoch(runner)

    def after_train_epoch(self, runner: Runner) -> None:
        self.after_epoch(runner)

    def after_val_epoch(self, runner: Runner) -> None:
        self.after_epoch(runner)

    def before_train_iter(self, runner: Runner) -> None:
        self.before_iter(runner)

    def before_val_iter(self, runner: Runner) -> None:
        self.before_iter(runner)

    def after_train_iter(self, runner: Runner) -> None:
        self.after_iter(runner)

    def after_val_iter(self, runner: Runner) -> None:
        self.after_iter(runner)

    def epoch_loaders(self) -> list[DataLoader]:
        """Loaders (other than the runner's) that this hook draws training batches from:
        the runner gives them the sampler epoch and generator seeds of every training
        epoch, like its own (see :mod:`actionlab.engine.runner`)."""
        return []

    def before_save_checkpoint(self, runner: Runner, meta: dict) -> None:
        """Add this hook's state to the ``meta`` of a checkpoint about to be written."""

    def owns_state_key(self, key: str) -> bool:
        """Whether ``key`` of a resumed checkpoint's state dict is a buffer this hook adds
        to the model in ``before_run`` (so not yet there when :meth:`Runner.resume`
        loads the weights): the runner keeps such tensors in
        ``runner.resumed_extra_state`` for the hook instead of reporting them as
        unexpected keys."""
        return False

    @staticmethod
    def is_aux_step(runner: Runner) -> bool:
        """Whether the training step in progress is an auxiliary OmniSource step (one of
        the extra steps on other sources after a main iteration, at the same
        ``runner.iter``). Hooks that act every n iterations skip those steps, so they
        act once per iteration."""
        return bool(getattr(runner, 'step_source', ''))

    # Helpers for "every n" decisions; they look at the epoch/iteration in progress.
    @staticmethod
    def every_n_epochs(runner: Runner, n: int) -> bool:
        return n > 0 and (runner.epoch + 1) % n == 0

    @staticmethod
    def every_n_inner_iters(runner: Runner, n: int) -> bool:
        return n > 0 and (runner.inner_iter + 1) % n == 0

    @staticmethod
    def every_n_iters(runner: Runner, n: int) -> bool:
        return n > 0 and (runner.iter + 1) % n == 0

    @staticmethod
    def end_of_epoch(runner: Runner) -> bool:
        return runner.inner_iter + 1 == len(runner.data_loader)

    @staticmethod
    def is_last_epoch(runner: Runner) -> bool:
        return runner.epoch + 1 == runner.max_epochs

    @staticmethod
    def is_last_iter(runner: Runner) -> bool:
        return runner.iter + 1 == runner.max_iters

    def triggered_stages(self) -> list[str]:
        """The runner stages where this hook does something (for the hook-order log)."""
        generic = {'before_epoch': ('before_train_epoch', 'before_val_epoch'),
                   'after_epoch': ('after_train_epoch', 'after_val_epoch'),
                   'before_iter': ('before_train_iter', 'before_val_iter'),
                   'after_iter': ('after_train_iter', 'after_val_iter')}
        overridden = {name for cls in type(self).__mro__ if cls is not Hook
                      for name in vars(cls) if name in self.STAGES or name in generic}
        stages = set(overridden & set(self.STAGES))
        for name, specific in generic.items():
            if name in overridden:
                stages.update(specific)
        return [s for s in self.STAGES if s in stages]
