"""Exponential moving average of the weights (mmcv's ``EMAHook``)::

    custom_hooks = [dict(type='EMAHook', momentum=0.0002, interval=1, warm_up=100)]

The averages live in buffers of the model named ``ema_<parameter name with . -> _>``
(mmcv's names, so its EMA checkpoints load). After every training epoch the averaged
weights are swapped into the model, so evaluation and the epoch's checkpoint use
them (the checkpoint keeps the raw weights in the buffers, to resume training); they
are swapped back before the next epoch trains.

For the epoch's checkpoint to hold the averages, the swap must run before the
checkpoint hook (NORMAL priority). mmcv's hook, at the NORMAL priority custom hooks get
by default, runs after it, which is why mmdet configures ``priority=49``; this hook
has 49 as its default priority, so without a ``priority`` in the config the epoch
checkpoints hold the EMA weights (and the raw ones in the ``ema_*`` buffers). With
an explicit ``priority='NORMAL'`` they hold the raw weights (and the averages in the
buffers), as with mmcv's default. Checkpoints written in the middle of an epoch
(``checkpoint_config.by_epoch=False``) hold the raw weights either way.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

import torch

from actionlab.engine.checkpoint import unwrap_model
from actionlab.engine.hooks.base import HOOKS, Hook, Priority

if TYPE_CHECKING:
    from actionlab.engine.runner import Runner


@HOOKS.register_module()
class EMAHook(Hook):
    """Keep ``ema = (1 - m) * ema + m * weight`` after every ``interval`` iterations.

    Args:
        momentum: the weight ``m`` of the newest value (mmcv's convention: small,
            e.g. 0.0002); with ``interval > 1`` it becomes ``momentum ** interval``.
        interval: update every this many iterations (OmniSource's auxiliary steps do
            not count: the average is updated after the main step).
        warm_up: ``m`` is at most ``(1 + iter) / (warm_up + iter)`` (mmcv's
            ``min(momentum, ...)``), which limits it only early on and only when
            ``momentum`` is large: with the default momentum the bound never binds.
        resume_from: a checkpoint to resume training from (mmcv's option; the usual
            ``resume_from``/``--auto-resume`` restore the averages as well).

    Default priority 49, right before the checkpoint hook (see the module doc).
    Whether a checkpoint was written with the averages swapped in is recorded in
    ``runner.meta['hook_msgs']['ema_swapped']``, so resuming works whatever the order
    of this hook and the checkpoint hook.
    """

    default_priority = Priority.NORMAL - 1

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
        self._params: list[torch.Tensor] = []
        self._averages: list[torch.Tensor] = []

    @staticmethod
    def owns_state_key(key: str) -> bool:
        return key.startswith('ema_')

    def before_run(self, runner: Runner) -> None:
        model = unwrap_model(runner.model)
        resumed_before = runner.resumed_from is not None
        names, created = [], []
        for name, param in model.named_parameters():
            buffer_name = f"ema_{name.replace('.', '_')}"
            if not hasattr(model, buffer_name):
                model.register_buffer(buffer_name, param.detach().clone())
                created.append(buffer_name)
            names.append((name, buffer_name))
        buffers = dict(model.named_buffers())
        params = dict(model.named_parameters())
        self._params = [params[name] for name, _ in names]
        self._averages = [buffers[buffer_name] for _, buffer_name in names]
        runner.meta.setdefault('hook_msgs', {}).setdefault('ema_swapped', False)
        if self.resume_from is not None and not resumed_before:
            runner.resume(self.resume_from)  # the buffers exist now: they are loaded with the weights
        elif resumed_before and created:
            # the buffers did not exist when the model was loaded: the runner kept their values
            saved = runner.resumed_extra_state
            missing = [b for b in created if b not in saved]
            if missing:
                runner.logger.warning('%s has no EMA buffers (%s, ...): the average starts from the '
                                      'loaded weights', runner.resumed_from, missing[0])
            with torch.no_grad():
                for buffer_name in created:
                    if buffer_name in saved:
                        buffers[buffer_name].copy_(saved.pop(buffer_name))

    @torch.no_grad()
    def after_train_iter(self, runner: Runner) -> None:
        step = runner.iter
        if step % self.interval or self.is_aux_step(runner):
            return
        momentum = min(self.momentum, (1 + step) / (self.warm_up + step))
        torch._foreach_lerp_(self._averages, self._params, momentum)

    def after_train_epoch(self, runner: Runner) -> None:
        self._swap(runner, swapped=True)

    def before_train_epoch(self, runner: Runner) -> None:
        if runner.meta.get('hook_msgs', {}).get('ema_swapped'):
            self._swap(runner, swapped=False)

    def _swap(self, runner: Runner, swapped: bool) -> None:
        """Exchange the weights and the averages (their storages; nothing is copied)."""
        for param, average in zip(self._params, self._averages, strict=True):
            param.data, average.data = average.data, param.data
        runner.meta.setdefault('hook_msgs', {})['ema_swapped'] = swapped
