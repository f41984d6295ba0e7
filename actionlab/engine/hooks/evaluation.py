"""Evaluation on the validation set during training (``evaluation`` config, ``--validate``)."""
from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch.distributed as dist
from torch.nn.modules.batchnorm import _BatchNorm
from torch.utils.data import DataLoader

from actionlab.engine.distributed import get_dist_info
from actionlab.engine.hooks.base import HOOKS, Hook

if TYPE_CHECKING:
    from actionlab.engine.runner import Runner


@HOOKS.register_module()
class EvalHook(Hook):
    """Run the model on ``dataloader`` every ``interval`` epochs and call ``dataset.evaluate``.

    The results are logged (a ``mode: val`` record in the JSON log) and, with
    ``save_best``, the best checkpoint so far is kept as ``best_<metric>_epoch_N.pth``
    (the previous best file is removed; the score and path live in
    ``runner.meta['hook_msgs']`` and so survive a resume).

    Args:
        dataloader: loader over the validation set; its dataset has ``evaluate``.
        start: first epoch to evaluate at (then every ``interval``); with ``start``
            at or below the epoch training resumes from, also evaluate before training.
        interval: evaluation period in epochs (iterations with ``by_epoch=False``).
        by_epoch: count in epochs or iterations.
        save_best: metric that decides the best checkpoint; ``'auto'`` takes the
            first metric ``evaluate`` returns, ``None`` keeps no best checkpoint.
        rule: ``'greater'`` or ``'less'``; inferred from the metric name when None
            (names containing acc, top, AR@, auc, precision, mAP@ or Recall@ are
            better when greater, names containing loss when less).
        test_fn: ``test_fn(model, dataloader) -> list`` producing the results
            (default: :func:`actionlab.apis.test.single_gpu_test`).
        **eval_kwargs: passed to ``dataset.evaluate`` (e.g. ``metrics``, ``metric_options``).
    """

    greater_keys = ('acc', 'top', 'AR@', 'auc', 'precision', 'mAP@', 'Recall@')
    less_keys = ('loss',)
    rule_map = {'greater': lambda x, y: x > y, 'less': lambda x, y: x < y}
    init_value_map = {'greater': -math.inf, 'less': math.inf}

    def __init__(self, dataloader: DataLoader, start: int | None = None, interval: int = 1,
                 by_epoch: bool = True, save_best: str | None = 'auto', rule: str | None = None,
                 test_fn: Callable[[Any, DataLoader], list] | None = None,
                 greater_keys: Sequence[str] | None = None, less_keys: Sequence[str] | None = None,
                 **eval_kwargs):
        if 'key_indicator' in eval_kwargs:
            raise ValueError("evaluation.key_indicator was renamed: use evaluation.save_best instead")
        if not isinstance(dataloader, DataLoader):
            raise TypeError(f'EvalHook needs a torch DataLoader, got {type(dataloader).__name__}')
        if interval <= 0:
            raise ValueError(f'evaluation.interval must be positive, got {interval}')
        if start is not None and start < 0:
            raise ValueError(f'evaluation.start must be >= 0, got {start}')
        if save_best is not None and not isinstance(save_best, str):
            raise TypeError(f'evaluation.save_best must be a metric name, "auto" or None, got {save_best!r}')
        if rule is not None and rule not in self.rule_map:
            raise ValueError(f"evaluation.rule must be 'greater', 'less' or None, got {rule!r}")
        self.dataloader = dataloader
        self.start = start
        self.interval = interval
        self.by_epoch = by_epoch
        self.save_best = save_best
        self.rule = rule
        self.test_fn = test_fn
        self.eval_kwargs = eval_kwargs
        if greater_keys is not None:
            self.greater_keys = tuple(greater_keys)
        if less_keys is not None:
            self.less_keys = tuple(less_keys)
        self.key_indicator: str | None = None
        if save_best not in (None, 'auto'):
            self._init_rule(save_best)
        self.best_ckpt_path: Path | None = None
        self._initial = True

    def _init_rule(self, key_indicator: str) -> None:
        if self.rule is None:
            key = key_indicator.lower()
            greater = [k.lower() for k in self.greater_keys]
            less = [k.lower() for k in self.less_keys]
            if key in greater:
                self.rule = 'greater'
            elif key in less:
                self.rule = 'less'
            elif any(k in key for k in greater):
                self.rule = 'greater'
            elif any(k in key for k in less):
                self.rule = 'less'
            else:
                raise ValueError(f"cannot tell whether a greater or smaller {key_indicator!r} is better; "
                                 "set evaluation.rule to 'greater' or 'less'")
        self.key_indicator = key_indicator

    def before_run(self, runner: Runner) -> None:
        if self.save_best is not None:
            best = runner.meta.setdefault('hook_msgs', {}).get('best_ckpt')
            self.best_ckpt_path = Path(best) if best else None

    def before_train_epoch(self, runner: Runner) -> None:
        if self.by_epoch and self._initial:
            if self.start is not None and runner.epoch >= self.start:
                self._do_evaluate(runner)
            self._initial = False

    def before_train_iter(self, runner: Runner) -> None:
        if not self.by_epoch and self._initial:
            if self.start is not None and runner.iter >= self.start:
                self._do_evaluate(runner)
            self._initial = False

    def after_train_epoch(self, runner: Runner) -> None:
        if self.by_epoch and self._should_evaluate(runner):
            self._do_evaluate(runner)

    def after_train_iter(self, runner: Runner) -> None:
        if not self.by_epoch and not self.is_aux_step(runner) and self._should_evaluate(runner):
            self._do_evaluate(runner)

    def _should_evaluate(self, runner: Runner) -> bool:
        current = runner.epoch if self.by_epoch else runner.iter
        if self.start is None:
            return (current + 1) % self.interval == 0
        return current + 1 >= self.start and (current + 1 - self.start) % self.interval == 0

    def _results(self, runner: Runner) -> list | None:
        """The model's outputs on the validation loader (None on ranks that only helped)."""
        test_fn = self.test_fn
        if test_fn is None:
            # imported here: actionlab.apis imports the engine, not the other way round
            from actionlab.apis.test import single_gpu_test
            test_fn = single_gpu_test
        return test_fn(runner.model, self.dataloader)

    def _do_evaluate(self, runner: Runner) -> None:
        was_training = runner.model.training
        results = self._results(runner)
        runner.model.train(was_training)
        if results is None:
            return
        metrics = self.dataloader.dataset.evaluate(results, logger=runner.logger, **self.eval_kwargs)
        runner.log_buffer.output['eval_iter_num'] = len(self.dataloader)
        runner.log_buffer.output.update(metrics)
        runner.log_buffer.ready = True
        if self.save_best is not None:
            self._save_best(runner, metrics)

    def _save_best(self, runner: Runner, metrics: dict) -> None:
        if not metrics:
            runner.logger.warning('dataset.evaluate returned no metrics; no best checkpoint saved')
            return
        if self.key_indicator is None:  # save_best='auto': the first metric
            self._init_rule(next(iter(metrics)))
        if self.key_indicator not in metrics:
            raise KeyError(f'evaluation.save_best={self.key_indicator!r} is not among the metrics '
                           f'dataset.evaluate returned: {", ".join(metrics)}')
        score = float(metrics[self.key_indicator])
        hook_msgs = runner.meta.setdefault('hook_msgs', {})
        if not self.rule_map[self.rule](score, hook_msgs.get('best_score', self.init_value_map[self.rule])):
            return
        hook_msgs['best_score'] = score
        if self.best_ckpt_path is not None and self.best_ckpt_path.is_file():
            self.best_ckpt_path.unlink()
        current = f'epoch_{runner.epoch + 1}' if self.by_epoch else f'iter_{runner.iter + 1}'
        name = f'best_{self.key_indicator}_{current}.pth'
        self.best_ckpt_path = Path(runner.work_dir) / name
        hook_msgs['best_ckpt'] = str(self.best_ckpt_path)
        runner.save_checkpoint(runner.work_dir, name, create_symlink=False)
        runner.logger.info('Now best checkpoint is saved as %s. Best %s is %.4f at %s.',
                           name, self.key_indicator, score, current.replace('_', ' '))


@HOOKS.register_module()
class DistEvalHook(EvalHook):
    """:class:`EvalHook` for distributed training: every process scores its share of the
    validation set (``multi_gpu_test``), rank 0 gathers the results, evaluates, logs and
    keeps the best checkpoint.

    Args:
        dataloader: a loader with a ``DistributedSampler`` that does not shuffle
            (``build_dataloader(dataset, ..., dist=True, shuffle=False)``).
        tmpdir: folder shared by all processes for gathering results through files
            (default ``<work_dir>/.eval_hook``); unused with ``gpu_collect``.
        gpu_collect: gather the results through the process group instead of files.
        broadcast_bn_buffers: copy rank 0's BN statistics to every process first
            (DDP does not keep them in sync), so all processes evaluate the same model.
        Other arguments: see :class:`EvalHook`.
    """

    def __init__(self, dataloader: DataLoader, start: int | None = None, interval: int = 1,
                 by_epoch: bool = True, save_best: str | None = 'auto', rule: str | None = None,
                 broadcast_bn_buffers: bool = True, tmpdir: str | os.PathLike | None = None,
                 gpu_collect: bool = False, **kwargs):
        super().__init__(dataloader, start=start, interval=interval, by_epoch=by_epoch,
                         save_best=save_best, rule=rule, **kwargs)
        self.broadcast_bn_buffers = broadcast_bn_buffers
        self.tmpdir = tmpdir
        self.gpu_collect = gpu_collect

    def _results(self, runner: Runner) -> list | None:
        from actionlab.apis.test import multi_gpu_test

        rank, world_size = get_dist_info()
        if self.broadcast_bn_buffers and world_size > 1:
            for module in runner.model.modules():
                if isinstance(module, _BatchNorm) and module.track_running_stats:
                    dist.broadcast(module.running_mean, 0)
                    dist.broadcast(module.running_var, 0)
        tmpdir = self.tmpdir if self.tmpdir is not None else Path(runner.work_dir) / '.eval_hook'
        results = multi_gpu_test(runner.model, self.dataloader, tmpdir=tmpdir, gpu_collect=self.gpu_collect)
        return results if rank == 0 else None
