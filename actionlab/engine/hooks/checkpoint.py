"""Saving checkpoints during training (``checkpoint_config``)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.distributed as dist

from actionlab.engine.distributed import get_dist_info
from actionlab.engine.hooks.base import HOOKS, Hook

if TYPE_CHECKING:
    from actionlab.engine.runner import Runner


@HOOKS.register_module()
class CheckpointHook(Hook):
    """Save ``epoch_N.pth`` every ``interval`` epochs (``iter_N.pth`` every ``interval``
    iterations with ``by_epoch=False``) and point ``latest.pth`` at it.

    Args:
        interval: save period; -1 saves only the last one (with ``save_last``).
        by_epoch: count ``interval`` in epochs (True) or iterations.
        save_optimizer: also store the optimizer state (needed to resume).
        out_dir: folder for the files (default: the runner's ``work_dir``).
        max_keep_ckpts: keep only the newest this many periodic checkpoints (-1: all).
        save_last: always save at the end of training, whatever the interval.
        sync_buffer: in distributed training, average buffers (BN statistics) over
            the processes before saving.
        filename_tmpl: file name pattern, ``{}`` standing for the epoch/iteration.
        create_symlink: update ``latest.pth``.
    """

    def __init__(self, interval: int = -1, by_epoch: bool = True, save_optimizer: bool = True,
                 out_dir: str | os.PathLike | None = None, max_keep_ckpts: int = -1,
                 save_last: bool = True, sync_buffer: bool = False, filename_tmpl: str | None = None,
                 create_symlink: bool = True):
        self.interval = interval
        self.by_epoch = by_epoch
        self.save_optimizer = save_optimizer
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.max_keep_ckpts = max_keep_ckpts
        self.save_last = save_last
        self.sync_buffer = sync_buffer
        self.filename_tmpl = filename_tmpl or ('epoch_{}.pth' if by_epoch else 'iter_{}.pth')
        self.create_symlink = create_symlink

    def before_run(self, runner: Runner) -> None:
        if self.out_dir is None:
            if runner.work_dir is None:
                raise ValueError('CheckpointHook needs out_dir or a runner with a work_dir')
            self.out_dir = runner.work_dir

    def after_train_epoch(self, runner: Runner) -> None:
        if self.by_epoch and (self.every_n_epochs(runner, self.interval)
                              or (self.save_last and self.is_last_epoch(runner))):
            runner.logger.info('Saving checkpoint at %d epochs', runner.epoch + 1)
            self._save(runner, runner.epoch + 1)

    def after_train_iter(self, runner: Runner) -> None:
        if self.by_epoch or self.is_aux_step(runner):
            return
        if self.every_n_iters(runner, self.interval) or (self.save_last and self.is_last_iter(runner)):
            runner.logger.info('Saving checkpoint at %d iterations', runner.iter + 1)
            self._save(runner, runner.iter + 1)

    def _save(self, runner: Runner, number: int) -> None:
        rank, world_size = get_dist_info()
        if self.sync_buffer and world_size > 1:
            for buf in runner.model.buffers():
                if torch.is_floating_point(buf):
                    dist.all_reduce(buf.div_(world_size))
        if rank != 0:
            return
        path = runner.save_checkpoint(self.out_dir, self.filename_tmpl.format(number),
                                      save_optimizer=self.save_optimizer,
                                      create_symlink=self.create_symlink)
        runner.meta.setdefault('hook_msgs', {})['last_ckpt'] = str(path)
        if self.max_keep_ckpts > 0:
            step = self.interval if self.interval > 0 else 1
            for old in range(number - self.max_keep_ckpts * step, 0, -step):
                old_path = self.out_dir / self.filename_tmpl.format(old)
                if not old_path.is_file():
                    break
                old_path.unlink()
