"""Logger hooks: periodic training/validation logs (``log_config``).

:class:`TextLoggerHook` writes mmcv's formats, so MMAction2's log tools read them:
human-readable lines through the ``actionlab`` logger (console and ``<timestamp>.log``)
and one JSON object per logged iteration or validation in ``<timestamp>.log.json``::

    {"mode": "train", "epoch": 1, "iter": 20, "lr": 0.01, "memory": 0, "data_time": 0.01,
     "loss_cls": 2.1, "top1_acc": 0.3, "loss": 2.1, "time": 0.2}
    {"mode": "val", "epoch": 1, "iter": 30, "lr": 0.01, "top1_acc": 0.4, ...}

The first line of the JSON log holds the run's meta data (config text, seed, ...).
``memory`` is the peak GPU memory in MiB on a GPU and the peak resident memory of
the process on a CPU (0 where the platform cannot tell, e.g. Windows).

:class:`TensorboardLoggerHook` (needs the ``tensorboard`` package) and
:class:`WandbLoggerHook` (needs ``wandb``) send the same values to those tools, as
``train/loss_cls``, ``val/top1_acc``, ``learning_rate``, ``momentum``.
"""
from __future__ import annotations

import datetime
import importlib
import os
import sys
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

    def is_log_iter(self, runner: Runner) -> bool:
        """Whether this hook logs after the training step that just ran."""
        if self.is_aux_step(runner):
            return False  # an auxiliary OmniSource step: its values go out with the next main iteration's
        if self.by_epoch:
            due = self.every_n_inner_iters(runner, self.interval)
        else:
            due = self.every_n_iters(runner, self.interval)
        return due or (self.end_of_epoch(runner) and not self.ignore_last)

    def after_train_iter(self, runner: Runner) -> None:
        if self.is_aux_step(runner):
            return
        if self.is_log_iter(runner):
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

    def get_loggable_tags(self, runner: Runner, allow_text: bool = False,
                          tags_to_skip: tuple[str, ...] = ('time', 'data_time')) -> dict[str, Any]:
        """The logged values as ``{'<mode>/<name>': value}`` plus ``learning_rate`` and
        ``momentum`` (of the first parameter group), for the dashboards."""
        mode = self.get_mode(runner)
        tags: dict[str, Any] = {}
        for name, value in runner.log_buffer.output.items():
            if name in tags_to_skip or (isinstance(value, str) and not allow_text):
                continue
            if isinstance(value, (int, float, str)):
                tags[f'{mode}/{name}'] = value
        group = runner.optimizer.param_groups[0]
        tags['learning_rate'] = group['lr']
        if 'momentum' in group or 'betas' in group:
            tags['momentum'] = group['momentum'] if 'momentum' in group else group['betas'][0]
        return tags


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
    """Peak CUDA memory of the runner's device in MiB; on a CPU the peak resident memory
    of the process (0 where the ``resource`` module is missing, as on Windows)."""
    device = runner.device
    if device.type != 'cuda' or not torch.cuda.is_available():
        return _max_rss_mb()
    return int(torch.cuda.max_memory_allocated(device) // (1024 * 1024))


def _max_rss_mb() -> int:
    """Peak resident memory of this process in MiB (0 where it cannot be read)."""
    try:
        import resource
    except ImportError:  # Windows
        return 0
    # ru_maxrss is in bytes on macOS, in KiB on Linux and the BSDs
    unit = 1 if sys.platform == 'darwin' else 1024
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit // (1024 * 1024))


def _import_extra(module: str, hook: str, extra: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(f'{hook} needs the {extra!r} package, which is not installed: '
                          f'pip install "actionlab[{extra}]" (or remove {hook} from log_config.hooks)') from e


@HOOKS.register_module()
class TensorboardLoggerHook(LoggerHook):
    """Write the logged values as TensorBoard scalars (``tensorboard --logdir work_dir/tf_logs``).

    Args:
        log_dir: event-file folder (default ``<work_dir>/tf_logs``).
        interval, ignore_last, reset_flag, by_epoch: see :class:`LoggerHook`.
    """

    def __init__(self, log_dir: str | os.PathLike | None = None, interval: int = 10,
                 ignore_last: bool = True, reset_flag: bool = False, by_epoch: bool = True):
        super().__init__(interval, ignore_last, reset_flag, by_epoch)
        _import_extra('tensorboard', 'TensorboardLoggerHook', 'tensorboard')
        self.log_dir = Path(log_dir) if log_dir is not None else None
        self.writer = None

    def before_run(self, runner: Runner) -> None:
        super().before_run(runner)
        if not is_main_process():
            return
        from torch.utils.tensorboard import SummaryWriter

        self.log_dir = self.log_dir or Path(runner.work_dir) / 'tf_logs'
        self.writer = SummaryWriter(str(self.log_dir))

    def log(self, runner: Runner) -> None:
        if self.writer is None:
            return
        step = self.get_iter(runner)
        for tag, value in self.get_loggable_tags(runner, allow_text=True).items():
            if isinstance(value, str):
                self.writer.add_text(tag, value, step)
            else:
                self.writer.add_scalar(tag, value, step)

    def after_run(self, runner: Runner) -> None:
        if self.writer is not None:
            self.writer.close()


@HOOKS.register_module()
class WandbLoggerHook(LoggerHook):
    """Send the logged values to Weights & Biases.

    Args:
        init_kwargs: arguments of ``wandb.init`` (project, name, config, ...).
        commit: passed to ``wandb.log``.
        with_step: log at the iteration as wandb's step (else as a ``global_step`` value).
        log_artifact: upload the work_dir's files ending in ``out_suffix`` at the end.
        out_suffix: which files :attr:`log_artifact` uploads.
        interval, ignore_last, reset_flag, by_epoch: see :class:`LoggerHook`.
    """

    def __init__(self, init_kwargs: dict | None = None, interval: int = 10, ignore_last: bool = True,
                 reset_flag: bool = False, commit: bool = True, by_epoch: bool = True,
                 with_step: bool = True, log_artifact: bool = True,
                 out_suffix: str | tuple[str, ...] = ('.log.json', '.log', '.py')):
        super().__init__(interval, ignore_last, reset_flag, by_epoch)
        self.wandb = _import_extra('wandb', 'WandbLoggerHook', 'wandb')
        self.init_kwargs = dict(init_kwargs or {})
        self.commit = commit
        self.with_step = with_step
        self.log_artifact = log_artifact
        self.out_suffix = (out_suffix,) if isinstance(out_suffix, str) else tuple(out_suffix)

    def before_run(self, runner: Runner) -> None:
        super().before_run(runner)
        if is_main_process():
            self.wandb.init(**self.init_kwargs)

    def log(self, runner: Runner) -> None:
        if not is_main_process():
            return
        tags = self.get_loggable_tags(runner)
        if not tags:
            return
        if self.with_step:
            self.wandb.log(tags, step=self.get_iter(runner), commit=self.commit)
        else:
            self.wandb.log({**tags, 'global_step': self.get_iter(runner)}, commit=self.commit)

    def after_run(self, runner: Runner) -> None:
        if not is_main_process():
            return
        if self.log_artifact and runner.work_dir is not None:
            artifact = self.wandb.Artifact(name='artifacts', type='model')
            for path in sorted(Path(runner.work_dir).rglob('*')):
                if path.is_file() and path.name.endswith(self.out_suffix):
                    artifact.add_file(str(path))
            self.wandb.log_artifact(artifact)
        self.wandb.finish()
