"""The optimizer step of each training iteration, with optional gradient clipping."""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import torch

from actionlab.engine.hooks.base import HOOKS, Hook

if TYPE_CHECKING:
    from actionlab.engine.runner import Runner


@HOOKS.register_module()
class OptimizerHook(Hook):
    """Zero the gradients, back-propagate ``runner.outputs['loss']``, clip, step.

    ``grad_clip`` is ``None`` or the arguments of ``torch.nn.utils.clip_grad_norm_``
    (MMAction2 configs use ``dict(max_norm=40, norm_type=2)``); the total gradient
    norm before clipping is logged as ``grad_norm``.
    """

    def __init__(self, grad_clip: Mapping | None = None):
        if grad_clip is not None and 'max_norm' not in grad_clip:
            raise ValueError(f'optimizer_config.grad_clip needs max_norm, got {dict(grad_clip)!r}')
        self.grad_clip = dict(grad_clip) if grad_clip is not None else None

    def after_train_iter(self, runner: Runner) -> None:
        runner.optimizer.zero_grad(set_to_none=True)
        runner.outputs['loss'].backward()
        if self.grad_clip is not None:
            params = [p for p in runner.model.parameters() if p.requires_grad and p.grad is not None]
            if params:
                grad_norm = torch.nn.utils.clip_grad_norm_(params, **self.grad_clip)
                runner.log_buffer.update({'grad_norm': float(grad_norm)}, runner.outputs['num_samples'])
        runner.optimizer.step()

    def __repr__(self) -> str:
        return f'OptimizerHook(grad_clip={self.grad_clip!r})'
