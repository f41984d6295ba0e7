"""The optimizer step of each training iteration: back-propagation, gradient
accumulation, clipping, mixed precision and the non-finite loss guard.

``optimizer_config`` builds :class:`OptimizerHook` (or the ``type`` it names);
``fp16 = dict(...)`` in a config turns it into :class:`Fp16OptimizerHook`::

    optimizer_config = dict(grad_clip=dict(max_norm=40, norm_type=2))
    optimizer_config = dict(grad_clip=None, cumulative_iters=4)   # 4 iterations per step
    optimizer_config = dict(grad_clip=None, skip_nonfinite_loss=True)
    fp16 = dict(loss_scale='dynamic')   # float16 + GradScaler on GPU, bfloat16 on CPU

mmcv's names ``GradientCumulativeOptimizerHook`` and
``GradientCumulativeFp16OptimizerHook`` are the same hooks with ``cumulative_iters``.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch
from torch.nn.modules.batchnorm import _BatchNorm

from actionlab.engine.hooks.base import HOOKS, Hook
from actionlab.engine.hooks.logger import LoggerHook

if TYPE_CHECKING:
    from actionlab.engine.runner import Runner

logger = logging.getLogger(__name__)


@HOOKS.register_module()
class OptimizerHook(Hook):
    """Back-propagate ``runner.outputs['loss']``; every ``cumulative_iters`` iterations
    clip and step, then drop the gradients (``zero_grad(set_to_none=True)``).

    Args:
        grad_clip: None or the arguments of ``torch.nn.utils.clip_grad_norm_``
            (MMAction2 configs use ``dict(max_norm=40, norm_type=2)``); the total
            gradient norm before clipping is logged as ``grad_norm``.
        cumulative_iters: accumulate the gradients of this many iterations per
            optimizer step (a larger effective batch). Each loss is divided by
            ``cumulative_iters`` (the last, shorter group at the end of training by
            its own length), so the step sees the mean gradient. Windows are counted
            over the whole run, as in mmcv.
        skip_nonfinite_loss: when a loss is NaN or infinite, skip the optimizer step
            of its window (the gradients are dropped, the weights stay) and log a
            warning, instead of stopping with :class:`FloatingPointError`. The
            forward pass that produced the loss has already run in training mode,
            so BatchNorm layers have already folded its batch statistics (possibly
            NaN or infinite) into their running mean and variance: the weights are
            kept, the running statistics are not. Evaluate with care after a skip
            (PreciseBN, ``precise_bn``, recomputes the statistics), or resume from the
            last checkpoint.
    """

    def __init__(self, grad_clip: Mapping | None = None, cumulative_iters: int = 1,
                 skip_nonfinite_loss: bool = False):
        if grad_clip is not None and 'max_norm' not in grad_clip:
            raise ValueError(f'optimizer_config.grad_clip needs max_norm, got {dict(grad_clip)!r}')
        if not isinstance(cumulative_iters, int) or cumulative_iters < 1:
            raise ValueError(f'optimizer_config.cumulative_iters must be a positive int, '
                             f'got {cumulative_iters!r}')
        self.grad_clip = dict(grad_clip) if grad_clip is not None else None
        self.cumulative_iters = cumulative_iters
        self.skip_nonfinite_loss = bool(skip_nonfinite_loss)
        self.skipped_steps = 0
        self._window_has_nonfinite = False

    def before_run(self, runner: Runner) -> None:
        runner.optimizer.zero_grad(set_to_none=True)
        if self.cumulative_iters > 1:
            if runner.iter % self.cumulative_iters:
                runner.logger.warning(
                    'resuming at iteration %d, which is not a multiple of cumulative_iters=%d: the '
                    'gradients accumulated before the checkpoint are lost',
                    runner.iter, self.cumulative_iters)
            if any(isinstance(m, _BatchNorm) for m in runner.model.modules()):
                runner.logger.warning('cumulative_iters=%d with BatchNorm: the BN statistics still come '
                                      'from single iterations\' batches', self.cumulative_iters)

    def after_train_iter(self, runner: Runner) -> None:
        loss = runner.outputs['loss']
        self._check_loss(runner)
        divisor = self._loss_divisor(runner)
        self.backward(runner, loss / divisor if divisor > 1 else loss)
        if not self._is_step_iter(runner):
            return
        if self._window_has_nonfinite:
            self._window_has_nonfinite = False
            self.skipped_steps += 1
        else:
            self.step(runner)
        runner.optimizer.zero_grad(set_to_none=True)

    def _check_loss(self, runner: Runner) -> None:
        # log_vars['loss'] is a Python float, averaged over the processes, so every
        # process of a distributed run takes the same decision
        value = runner.outputs['log_vars']['loss']
        if math.isfinite(value):
            return
        where = (f'epoch {runner.epoch + 1}, iteration {runner.inner_iter + 1}/{len(runner.data_loader)} '
                 f'(iteration {runner.iter + 1} overall)')
        if not self.skip_nonfinite_loss:
            raise FloatingPointError(
                f'the loss is {value} at {where}; loss terms: {runner.outputs["log_vars"]}. Try a lower '
                'learning rate or optimizer_config.grad_clip, and check the data (or set '
                'optimizer_config.skip_nonfinite_loss=True to skip such steps).')
        runner.logger.warning('the loss is %s at %s: skipping this optimizer step', value, where)
        self._window_has_nonfinite = True

    def _loss_divisor(self, runner: Runner) -> int:
        n = self.cumulative_iters
        if n == 1:
            return 1
        last_full = (runner.max_iters // n) * n
        return n if runner.iter < last_full else runner.max_iters - last_full

    def _is_step_iter(self, runner: Runner) -> bool:
        return self.every_n_iters(runner, self.cumulative_iters) or self.is_last_iter(runner)

    def backward(self, runner: Runner, loss: torch.Tensor) -> None:
        loss.backward()

    def step(self, runner: Runner) -> None:
        """Clip (if configured) and apply the accumulated gradients."""
        self.clip_grads(runner)
        runner.optimizer.step()

    def clip_grads(self, runner: Runner) -> None:
        if self.grad_clip is None:
            return
        params = [p for p in runner.model.parameters() if p.requires_grad and p.grad is not None]
        if params:
            grad_norm = torch.nn.utils.clip_grad_norm_(params, **self.grad_clip)
            runner.log_buffer.update({'grad_norm': float(grad_norm)}, runner.outputs['num_samples'])

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(grad_clip={self.grad_clip!r}, '
                f'cumulative_iters={self.cumulative_iters}, skip_nonfinite_loss={self.skip_nonfinite_loss})')


HOOKS.register_module(name='GradientCumulativeOptimizerHook', module=OptimizerHook)

_DTYPES = {'float16': torch.float16, 'fp16': torch.float16, 'half': torch.float16,
           'bfloat16': torch.bfloat16, 'bf16': torch.bfloat16}


@HOOKS.register_module()
class Fp16OptimizerHook(OptimizerHook):
    """:class:`OptimizerHook` with mixed precision (the config's ``fp16 = dict(...)``).

    The forward pass runs under ``torch.autocast`` (the runner reads
    ``runner.autocast``); weights, gradients and the optimizer stay float32. With
    float16 the loss is scaled by a ``torch.amp.GradScaler`` so small gradients
    survive, and steps whose gradients overflow are skipped; bfloat16 has float32's
    range and needs no scaling.

    Args:
        grad_clip, cumulative_iters, skip_nonfinite_loss: see :class:`OptimizerHook`.
        loss_scale: ``'dynamic'`` (grow/shrink the scale as overflows allow), a number
            (a fixed scale) or a dict of ``GradScaler`` arguments (``init_scale``,
            ``growth_interval``, ...). mmcv's default, 512, is a fixed scale.
        dtype: ``'float16'``, ``'bfloat16'`` or None for float16 on GPU and bfloat16
            on CPU (where float16 kernels are slow).
        distributed, coalesce, bucket_size_mb: mmcv's gradient all-reduce options,
            accepted so that MMAction2 configs load; DDP reduces the gradients here.

    The scaler state is written into every checkpoint's ``meta['fp16']['loss_scaler']``
    (mmcv's place; read only when a checkpoint is saved, as it costs a GPU sync) and
    restored on resume. The current scale is logged as ``loss_scale`` on the
    iterations a logger hook logs.
    """

    def __init__(self, grad_clip: Mapping | None = None, cumulative_iters: int = 1,
                 skip_nonfinite_loss: bool = False, loss_scale: float | str | Mapping = 512.0,
                 dtype: str | None = None, distributed: bool = True, coalesce: bool = True,
                 bucket_size_mb: int = -1):
        super().__init__(grad_clip, cumulative_iters, skip_nonfinite_loss)
        if not (loss_scale == 'dynamic' or isinstance(loss_scale, (int, float, Mapping))):
            raise ValueError(f"fp16.loss_scale must be 'dynamic', a number or a dict of GradScaler "
                             f'arguments, got {loss_scale!r}')
        if dtype is not None and dtype not in _DTYPES:
            raise ValueError(f'fp16.dtype must be one of {", ".join(_DTYPES)} or None, got {dtype!r}')
        self.loss_scale = loss_scale
        self.dtype = _DTYPES[dtype] if dtype is not None else None
        self.scaler: torch.amp.GradScaler | None = None
        self._fixed_scale: float | None = None

    def before_run(self, runner: Runner) -> None:
        super().before_run(runner)
        device_type = runner.device.type
        dtype = self.dtype or (torch.float16 if device_type == 'cuda' else torch.bfloat16)
        runner.autocast = dict(device_type=device_type, dtype=dtype)
        if dtype != torch.float16:
            runner.logger.info('mixed precision: %s autocast on %s, no loss scaling', dtype, device_type)
            return
        kwargs: dict[str, Any] = {}
        if isinstance(self.loss_scale, Mapping):
            kwargs = dict(self.loss_scale)
        elif self.loss_scale != 'dynamic':
            self._fixed_scale = float(self.loss_scale)
            kwargs = dict(init_scale=self._fixed_scale)
        self.scaler = torch.amp.GradScaler(device_type, **kwargs)
        state = runner.meta.get('fp16', {}).get('loss_scaler')
        if state:
            self.scaler.load_state_dict(state)
        runner.logger.info('mixed precision: float16 autocast on %s, loss scale %s',
                           device_type, self.loss_scale)

    def backward(self, runner: Runner, loss: torch.Tensor) -> None:
        if self.scaler is None:
            loss.backward()
        else:
            self.scaler.scale(loss).backward()

    def step(self, runner: Runner) -> None:
        if self.scaler is None:
            super().step(runner)
            return
        if self.grad_clip is not None:
            self.scaler.unscale_(runner.optimizer)  # clip the true gradients
        self.clip_grads(runner)
        self.scaler.step(runner.optimizer)
        self.scaler.update(self._fixed_scale)

    def after_train_iter(self, runner: Runner) -> None:
        super().after_train_iter(runner)
        # get_scale() waits for the GPU: read it only when a logger is about to log it
        if self.scaler is not None and any(isinstance(hook, LoggerHook) and hook.is_log_iter(runner)
                                           for hook in runner.hooks):
            runner.log_buffer.output['loss_scale'] = self.scaler.get_scale()

    def before_save_checkpoint(self, runner: Runner, meta: dict) -> None:
        if self.scaler is not None:
            meta['fp16'] = {**meta.get('fp16', {}), 'loss_scaler': self.scaler.state_dict()}


HOOKS.register_module(name='GradientCumulativeFp16OptimizerHook', module=Fp16OptimizerHook)
