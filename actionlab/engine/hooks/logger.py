"""Logger hooks: periodic training/validation logs (``log_config``).

:class:`TextLoggerHook` writes mmcv's formats, so MMAction2's log tools read them:
human-readable lines through the ``actionlab`` logger (console and ``<timestamp>.log``)
and one JSON object per logged iteration or validation in ``<timestamp>.log.json``::

    {"mode": "train", "epoch": 1, "iter": 20, "lr": 0.01, "memory": 0, "data_time": 0.01,
     "loss_cls": 2.1, "top1_acc": 0.3, "loss": 2.1, "time": 0.2}
    {"mode": "val", "epoch": 1, "iter": 30, "lr": 0.01, "top1_acc": 0.4, ...}

The first line of the JSON log holds the run's meta data (config text, seed, ...).
"""
from __future__ import annotations

import datetime
import os
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from actionlab.engine.distributed import is_main_process
from actionlab.engine.hooks.base import HOOKS, Hook
from actionlab.engine.logging import JsonLinesWriter

if TYPE_CHECKING:
    from actionlab.engine.runner import Runner


class LoggerHook(Hook):
    """Base class: averages the logged values over ``interval`` iterations and calls :meth:`log`.

    Args:
        interval: log every this many iterations.
        ignore_last: skip the incomplete last interval of an epoch.
        reset_flag: clear the averaged values after logging (the last logger hook
            always does, so that all logger hooks see the same values).
        by_epoch: count ``interval`` within the epoch (True) or over the whole run.
    """

    def __init__(self, interval: int = 10, ignore_last: bool = True, reset_flag: bool = False,
                 by_epoch: bool = True):
        self.interval = interval
        self.ignore_last = ignore_last
        self.reset_flag = reset_flag
        self.by_epoch = by_epoch

    def log(self, runner: Runner) -> Any:
        raise NotImplementedError

    def before_run(self, runner: Runner) -> None:
        for hook in reversed(runner.hooks):
            if isinstance(hook, LoggerHook):
                hook.reset_flag = True
                break

    def before_epoch(self, runner: Runner) -> None:
        runner.log_buffer.clear()

    def after_train_iter(self, runner: Runner) -> None:
        if self.by_epoch:
            due = self.every_n_inner_iters(runner, self.interval)
        else:
            due = self.every_n_iters(runner, self.interval)
        if due or (self.end_of_epoch(runner) and not self.ignore_last):
            runner.log_buffer.average(self.interval)
        self._log_if_ready(runner)

    def after_train_epoch(self, runner: Runner) -> None:
        self._log_if_ready(runner)

    def after_val_epoch(self, runner: Runner) -> None:
        runner.log_buffer.average()
        self._log_if_ready(runner)

    def _log_if_ready(self, runner: Runner) -> None:
        if runner.log_buffer.ready:
            self.log(runner)
            if self.reset_flag:
                runner.log_buffer.clear_output()

    @staticmethod
    def get_mode(runner: Runner) -> str:
        if runner.mode == 'train':
            # evaluation results logged after a train epoch carry no iteration time
            return 'train' if 'time' in runner.log_buffer.output else 'val'
        return 'val'

    @staticmethod
    def get_epoch(runner: Runner) -> int:
        # a val epoch runs after the train epoch has been counted
        return runner.epoch + 1 if runner.mode == 'train' else runner.epoch

    def get_iter(self, runner: Runner, inner_iter: bool = False) -> int:
        return (runner.inner_iter if self.by_epoch and inner_iter else runner.iter) + 1


@HOOKS.register_module()
class TextLoggerHook(LoggerHook):
    """Human-readable log lines plus the ``<timestamp>.log.json`` JSON-lines log (see module doc).

    Args:
        by_epoch, interval, ignore_last, reset_flag: see :class:`LoggerHook`.
        interval_exp_name: print the experiment name every this many iterations.
        out_dir: folder of the JSON log (default: the runner's ``work_dir``).
    """

    def __init__(self, by_epoch: bool = True, interval: int = 10, ignore_last: bool = True,
                 reset_flag: bool = False, interval_exp_name: int = 1000,
                 out_dir: str | os.PathLike | None = None):
        super().__init__(interval, ignore_last, reset_flag, by_epoch)
        self.interval_exp_name = interval_exp_name
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.json_log: JsonLinesWriter | None = None

    def before_run(self, runner: Runner) -> None:
        super().before_run(runner)
        self.start_iter = runner.iter
        self.time_sec_tot = 0.0
        out_dir = self.out_dir or runner.work_dir
        if out_dir is not None and is_main_process():
            self.json_log = JsonLinesWriter(Path(out_dir) / f'{runner.timestamp}.log.json')
            if runner.meta:
                self.json_log.write(runner.meta)

    def log(self, runner: Runner) -> OrderedDict:
        output = runner.log_buffer.output
        cur_iter = output.pop('eval_iter_num') if 'eval_iter_num' in output \
            else self.get_iter(runner, inner_iter=True)
        record = OrderedDict(mode=self.get_mode(runner), epoch=self.get_epoch(runner), iter=cur_iter)
        record['lr'] = runner.current_lr()[0]
        if 'time' in output:
            record['memory'] = _max_memory_mb(runner)
        record.update(output)
        self._log_text(record, runner)
        if self.json_log is not None:
            self.json_log.write(record)
        return record

    def _log_text(self, record: OrderedDict, runner: Runner) -> None:
        exp_name = (runner.meta or {}).get('exp_name')
        if exp_name and (self.every_n_iters(runner, self.interval_exp_name)
                         or (self.by_epoch and self.end_of_epoch(runner))):
            runner.logger.info('Exp name: %s', exp_name)
        if record['mode'] == 'train':
            if self.by_epoch:
                line = f'Epoch [{record["epoch"]}][{record["iter"]}/{len(runner.data_loader)}]\t'
            else:
                line = f'Iter [{record["iter"]}/{runner.max_iters}]\t'
            line += f'lr: {record["lr"]:.3e}, '
            if 'time' in record:
                self.time_sec_tot += record['time'] * self.interval
                time_sec_avg = self.time_sec_tot / (runner.iter - self.start_iter + 1)
                eta_sec = time_sec_avg * (runner.max_iters - runner.iter - 1)
                line += (f'eta: {datetime.timedelta(seconds=int(eta_sec))}, '
                         f'time: {record["time"]:.3f}, data_time: {record["data_time"]:.3f}, '
                         f'memory: {record["memory"]}, ')
        elif self.by_epoch:
            line = f'Epoch({record["mode"]}) [{record["epoch"]}][{record["iter"]}]\t'
        else:
            line = f'Iter({record["mode"]}) [{record["iter"]}]\t'
        shown = ('mode', 'epoch', 'iter', 'lr', 'time', 'data_time', 'memory')
        line += ', '.join(f'{name}: {value:.4f}' if isinstance(value, float) else f'{name}: {value}'
                          for name, value in record.items() if name not in shown)
        runner.logger.info(line)


def _max_memory_mb(runner: Runner) -> int:
    """Peak CUDA memory of the runner's device in MiB (0 on CPU)."""
    device = runner.device
    if device.type != 'cuda' or not torch.cuda.is_available():
        return 0
    return int(torch.cuda.max_memory_allocated(device) // (1024 * 1024))
