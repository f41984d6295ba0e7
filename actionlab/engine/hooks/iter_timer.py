"""Measures data-loading time and total time of every iteration."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

from actionlab.engine.hooks.base import HOOKS, Hook

if TYPE_CHECKING:
    from actionlab.engine.runner import Runner


@HOOKS.register_module()
class IterTimerHook(Hook):
    """Logs ``data_time`` (waiting for the batch) and ``time`` (the whole iteration), in seconds.

    With OmniSource an iteration is its main step and the auxiliary steps after it: one
    ``time`` per iteration, covering them all, so that averages and the ETA count
    iterations (the auxiliary steps' time lands in the next main step's entry).
    """

    def before_epoch(self, runner: Runner) -> None:
        self._iter_start = self._step_end = time.perf_counter()

    def before_iter(self, runner: Runner) -> None:
        if not self.is_aux_step(runner):
            runner.log_buffer.update({'data_time': time.perf_counter() - self._step_end})

    def after_iter(self, runner: Runner) -> None:
        self._step_end = time.perf_counter()
        if not self.is_aux_step(runner):
            runner.log_buffer.update({'time': self._step_end - self._iter_start})
            self._iter_start = self._step_end
