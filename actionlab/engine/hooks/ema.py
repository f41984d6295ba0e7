"""Exponential moving average of the weights (mmcv's ``EMAHook``)::

    custom_hooks = [dict(type='EMAHook', momentum=0.0002, interval=1, warm_up=100)]

The averages live in buffers of the model named ``ema_<parameter name with . -> _>``
(mmcv's names, so its EMA checkpoints load). After every training epoch the averaged
weights are swapped into the model, so evaluation and the epoch's checkpoint use
them (the checkpoint keeps the raw weights in the buffers, to resume training); they
are swapped back before the next epoch trains.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

import torch

from actionlab.engine.checkpoint import read_checkpoint, state_dict_of, unwrap_model
from actionlab.engine.hooks.base import HOOKS, Hook

if TYPE_CHECKING:
    from actionlab.engine.runner import Runner


@HOOKS.register_module()
class EMAHook(Hook):
    """Keep ``ema = (1 - m) * ema + m * weight`` after every ``interval`` iterations.

    Args:
        momentum: the weight ``m`` of the newest value (mmcv's convention: small,
            e.g. 0.0002); with ``interval > 1`` it becomes ``momentum ** interval``.
        interval: update every this many iterations.
        warm_up: early on, ``m`` is ``(1 + iter) / (warm_up + iter)`` when that is
            larger, so the average forgets the random initial weights quickly.
        resume_from: a checkpoint to resume training from (mmcv's option; the usual
            ``resume_from``/``--auto-resume`` restore the averages as well).

    Whether a checkpoint was written with the averages swapped in is recorded in
    ``runner.meta['hook_msgs']['ema_swapped']``, so resuming works whatever the order
    of this hook and the checkpoint hook.
    """

    def __init__(self, momentum: float = 0.0002, interval: int = 1, warm_up: int = 100,
                 resume_from: str | os.PathLike | None = None):
        if not isinstance(interval, int) or interval < 1:
            raise ValueError(f'EMAHook interval must be a positive int, got {interval!r}')
        if not 0 < momentum < 1:
            raise ValueError(f'EMAHook momentum must be in (0, 1), got {momentum!r}')
        self.momentum = momentum ** interval
        self.interval = interval
        self.warm_up = warm_up
        self.resume_from = resume_from
        self._pairs: list[tuple[torch.Tensor, torch.Tensor]] = []

    def before_run(self, runner: Runner) -> None:
        model = unwrap_model(runner.model)
        names = []
        for name, param in model.named_parameters():
            buffer_name = f"ema_{name.replace('.', '_')}"
            if not hasattr(model, buffer_name):
                model.register_buffer(buffer_name, param.detach().clone())
            names.append((name, buffer_name))
        buffers = dict(model.named_buffers())
        params = dict(model.named_parameters())
        self._pairs = [(params[name], buffers[buffer_name]) for name, buffer_name in names]
        if self.resume_from is not None and runner.resumed_from is None:
            runner.resume(self.resume_from)
        runner.meta.setdefault('hook_msgs', {}).setdefault('ema_swapped', False)
        if runner.resumed_from is not None:  # the buffers did not exist when the model was loaded
            saved = state_dict_of(read_checkpoint(runner.resumed_from))
            missing = [b for _, b in names if b not in saved]
            if missing:
                runner.logger.warning('%s has no EMA buffers (%s, ...): the average starts from the '
                                      'loaded weights', runner.resumed_from, missing[0])
            with torch.no_grad():
                for _, buffer_name in names:
                    if buffer_name in saved:
                        buffers[buffer_name].copy_(saved[buffer_name])

    @torch.no_grad()
    def after_train_iter(self, runner: Runner) -> None:
        step = runner.iter
        if step % self.interval:
            return
        momentum = min(self.momentum, (1 + step) / (self.warm_up + step))
        for param, average in self._pairs:
            average.mul_(1 - momentum).add_(param.detach(), alpha=momentum)

    def after_train_epoch(self, runner: Runner) -> None:
        self._swap(runner, swapped=True)

    def before_train_epoch(self, runner: Runner) -> None:
        if runner.meta.get('hook_msgs', {}).get('ema_swapped'):
            self._swap(runner, swapped=False)

    @torch.no_grad()
    def _swap(self, runner: Runner, swapped: bool) -> None:
        for param, average in self._pairs:
            raw = param.detach().clone()
            param.copy_(average)
            average.copy_(raw)
        runner.meta.setdefault('hook_msgs', {})['ema_swapped'] = swapped
