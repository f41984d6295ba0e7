"""Measures data-loading time and total time of every iteration."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

from actionlab.engine.hooks.base import HOOKS, Hook

if TYPE_CHECKING:
    from actionlab.engine.runner import Runner


@HOOKS.register_module()
class IterTimerHook(Hook):
    """Logs ``data_time`` (waiting for the batch) and ``time`` (the whole iteration), in seconds."""

    def before_epoch(self, runner: Runner) -> None:
        self._start = time.perf_counter()

    def before_iter(self, runner: Runner) -> None:
        runner.log_buffer.update({'data_time': time.perf_counter() - self._start})

    def after_iter(self, runner: Runner) -> None:
        runner.log_buffer.update({'time': time.perf_counter() - self._start})
        self._start = time.perf_counter()
