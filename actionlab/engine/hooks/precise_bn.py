"""Precise BatchNorm statistics (``precise_bn = dict(num_iters=200, interval=1)``).

During training the BN running statistics are an exponential average over batches
seen with ever-changing weights. PreciseBN recomputes them with the weights fixed:
the plain average of the per-batch mean and variance over ``num_iters`` training
batches (Wu & Johnson, "Rethinking 'Batch' in BatchNorm", 2021; PySlowFast's
``update_bn_stats``).
"""
from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.utils.data import DataLoader

from actionlab.engine.checkpoint import unwrap_model
from actionlab.engine.distributed import get_dist_info
from actionlab.engine.hooks.base import HOOKS, Hook

if TYPE_CHECKING:
    from actionlab.engine.runner import Runner

logger = logging.getLogger(__name__)


@torch.no_grad()
def update_bn_stats(model: nn.Module, data_loader: DataLoader, num_iters: int = 200,
                    log: logging.Logger | None = None, autocast: dict | None = None) -> None:
    """Set the running mean/variance of ``model``'s training-mode BN layers to the average
    of their batch statistics over the first ``num_iters`` batches of ``data_loader``.

    The model runs as ``model(**batch, return_loss=False)`` in training mode; other
    buffers and the weights do not change. In distributed training the averages are
    also averaged over the processes.
    """
    log = log or logger
    if len(data_loader) < num_iters:
        raise ValueError(f'precise_bn.num_iters={num_iters} is more than the {len(data_loader)} batches '
                         'of the training loader')
    model.train()
    layers = [m for m in unwrap_model(model).modules() if m.training and isinstance(m, _BatchNorm)]
    if not layers:
        log.warning('PreciseBN: the model has no BatchNorm layer in training mode')
        return
    momenta = [bn.momentum for bn in layers]
    means = [torch.zeros_like(bn.running_mean) for bn in layers]
    variances = [torch.zeros_like(bn.running_var) for bn in layers]
    for bn in layers:
        bn.momentum = 1.0  # the running values become the batch's own statistics
    device = next(model.parameters()).device
    from actionlab.engine.runner import to_device  # imported here: the runner imports the hooks

    try:
        for i, batch in enumerate(data_loader):
            if i == num_iters:
                break
            with torch.autocast(**autocast) if autocast else contextlib.nullcontext():
                model(**to_device(batch, device), return_loss=False)
            for bn, mean, var in zip(layers, means, variances, strict=True):
                mean += (bn.running_mean - mean) / (i + 1)
                var += (bn.running_var - var) / (i + 1)
    finally:
        for bn, momentum in zip(layers, momenta, strict=True):
            bn.momentum = momentum
    _, world_size = get_dist_info()
    for bn, mean, var in zip(layers, means, variances, strict=True):
        if world_size > 1:
            dist.all_reduce(mean.div_(world_size))
            dist.all_reduce(var.div_(world_size))
        bn.running_mean.copy_(mean)
        bn.running_var.copy_(var)
    log.info('PreciseBN: updated the statistics of %d BN layers from %d batches', len(layers), num_iters)


@HOOKS.register_module()
class PreciseBNHook(Hook):
    """Run :func:`update_bn_stats` every ``interval`` epochs, before the checkpoint and
    the evaluation of the epoch (register it with HIGHEST priority, as ``train_model`` does).

    The runner prepares ``dataloader`` for every training epoch like its own loaders
    (:meth:`epoch_loaders`): its sampler gets ``set_epoch`` and its generator the
    epoch's seed, so each update averages over other batches.

    Args:
        dataloader: loader over the training set (MMAction2 uses a second one, without workers).
        num_iters: batches to average over.
        interval: epochs between updates.
    """

    def __init__(self, dataloader: DataLoader, num_iters: int = 200, interval: int = 1):
        if not isinstance(dataloader, DataLoader):
            raise TypeError(f'PreciseBNHook needs a torch DataLoader, got {type(dataloader).__name__}')
        if num_iters < 1 or interval < 1:
            raise ValueError(f'precise_bn: num_iters and interval must be positive, got '
                             f'num_iters={num_iters}, interval={interval}')
        self.dataloader = dataloader
        self.num_iters = num_iters
        self.interval = interval

    def epoch_loaders(self) -> list[DataLoader]:
        return [self.dataloader]

    def after_train_epoch(self, runner: Runner) -> None:
        if self.every_n_epochs(runner, self.interval):
            runner.logger.info('running PreciseBN for %d iterations', self.num_iters)
            update_bn_stats(runner.model, self.dataloader, self.num_iters, runner.logger, runner.autocast)
