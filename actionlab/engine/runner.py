"""The epoch-based training runner (mmcv 1.x ``EpochBasedRunner`` semantics).

The runner owns the loop; everything else (learning-rate schedule, optimizer step,
checkpoints, evaluation, logging) is a hook. One training iteration:

1. move the batch's tensors to the device;
2. ``outputs = model(**batch, return_loss=True)`` (under ``torch.autocast`` when
   mixed precision is on) and ``parse_losses(outputs)``;
3. hooks ``after_train_iter``: the optimizer hook checks the loss, back-propagates,
   clips and steps; logger hooks log; ...

``workflow=[('train', 1), ('val', 1)]`` alternates a training epoch with an epoch
that only computes the losses on a second loader (no gradients, no update).

With a ``seed``, every training epoch starts from generator states derived from
``(seed, epoch, rank)`` (Python, NumPy and torch generators, the loader's generator,
which shuffles and seeds the data workers, and ``sampler.set_epoch``), so an epoch
does not depend on what ran before it: resuming from ``epoch_k.pth`` reproduces an
uninterrupted run exactly, with deterministic kernels (see
:func:`actionlab.engine.seeding.set_random_seed`) and without ``persistent_workers``
(persistent workers keep their random streams from one epoch to the next). The
loaders that hooks draw training batches from (:meth:`Hook.epoch_loaders`, e.g.
PreciseBN's) get the same per-epoch treatment.

:class:`OmniSourceRunner` trains on several loaders at once (MMAction2's OmniSource).
"""
from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from actionlab.engine.checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_state_dict,
    read_checkpoint,
    resolve_checkpoint_path,
    save_checkpoint,
    state_dict_of,
    unwrap_model,
)
from actionlab.engine.distributed import get_dist_info
from actionlab.engine.hooks import (
    HOOKS,
    Hook,
    LoggerHook,
    OptimizerHook,
    Priority,
    build_lr_hook,
    build_momentum_hook,
    get_priority,
)
from actionlab.engine.seeding import derive_seed, load_rng_state, rng_state_dict, seed_everything
from actionlab.models.builder import model_device
from actionlab.models.recognizers.base import parse_losses
from actionlab.registry import BuildError
from actionlab.version import __version__


class LogBuffer:
    """Values logged during an epoch and their running averages (``output``)."""

    def __init__(self):
        self.val_history: OrderedDict[str, list[float]] = OrderedDict()
        self.n_history: OrderedDict[str, list[int]] = OrderedDict()
        self.output: OrderedDict[str, Any] = OrderedDict()
        self.ready = False

    def clear(self) -> None:
        self.val_history.clear()
        self.n_history.clear()
        self.clear_output()

    def clear_output(self) -> None:
        self.output.clear()
        self.ready = False

    def update(self, values: Mapping[str, float], count: int = 1) -> None:
        """Record ``values`` (each measured over ``count`` samples)."""
        for key, value in values.items():
            self.val_history.setdefault(key, []).append(value)
            self.n_history.setdefault(key, []).append(count)

    def average(self, n: int = 0) -> None:
        """Average the latest ``n`` records of every value (all of them when ``n`` is 0)."""
        for key in self.val_history:
            values = np.array(self.val_history[key][-n:])
            counts = np.array(self.n_history[key][-n:])
            self.output[key] = float(np.sum(values * counts) / np.sum(counts))
        self.ready = True


def to_device(data: Any, device: torch.device, non_blocking: bool = False) -> Any:
    """``data`` with every tensor inside dicts, lists and tuples moved to ``device``."""
    if isinstance(data, torch.Tensor):
        return data.to(device, non_blocking=non_blocking)
    if isinstance(data, Mapping):
        return {k: to_device(v, device, non_blocking) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return type(data)(to_device(v, device, non_blocking) for v in data)
    return data


def to_channels_last(model: nn.Module) -> nn.Module:
    """Store ``model``'s 4-D weights channels-last (NHWC) and 5-D ones channels-last-3d
    (NDHWC), in place, and return it.

    Convolutions then run on the layout oneDNN (CPU) and cuDNN (tensor cores) are
    fastest with, without reordering their input and output every call: the output of
    a convolution takes the layout of its weight, so activations, gradients and the
    optimizer state follow. The numbers are the same up to float rounding.
    """
    for tensor in [*model.parameters(), *model.buffers()]:
        if tensor.dim() == 4:
            tensor.data = tensor.data.contiguous(memory_format=torch.channels_last)
        elif tensor.dim() == 5:
            tensor.data = tensor.data.contiguous(memory_format=torch.channels_last_3d)
    return model


def _batch_size(batch: Mapping) -> int:
    value = batch['imgs'] if 'imgs' in batch else next(iter(batch.values()))
    return value.shape[0] if isinstance(value, torch.Tensor) else len(value)


class Runner:
    """Epoch-based training loop driven by hooks.

    Args:
        model: the model (possibly DDP-wrapped); ``model(**batch, return_loss=True)``
            returns a dict of losses and metrics.
        optimizer: its optimizer (stepped by the optimizer hook).
        work_dir: where checkpoints and logs go.
        logger: logger for progress messages (default: this module's).
        meta: extra data stored in every checkpoint (config text, seed, ...).
        max_epochs: number of training epochs (may also be given to :meth:`run`).
        seed: seed of the per-epoch generator states (see module doc); None leaves
            the generators alone.
        device: where batches go (default: the model's device).
        timestamp: names the log files (default: now).
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer | None = None,
                 work_dir: str | os.PathLike | None = None, logger: logging.Logger | None = None,
                 meta: dict | None = None, max_epochs: int | None = None, seed: int | None = None,
                 device: str | torch.device | None = None, timestamp: str | None = None):
        self.model = model
        self.optimizer = optimizer
        self.work_dir = Path(work_dir) if work_dir is not None else None
        if self.work_dir is not None:
            self.work_dir.mkdir(parents=True, exist_ok=True)
        self.logger = logger or logging.getLogger(__name__)
        self.meta: dict[str, Any] = dict(meta or {})
        self.seed = seed
        self.device = torch.device(device) if device is not None else model_device(model)
        self.timestamp = timestamp or time.strftime('%Y%m%d_%H%M%S', time.localtime())
        self.rank, self.world_size = get_dist_info()
        self.mode: str | None = None
        self.data_loader: DataLoader | None = None
        self.log_buffer = LogBuffer()
        self.outputs: dict[str, Any] = {}
        self.step_source = ''  # set by train_step while an auxiliary OmniSource step runs
        #: ``torch.autocast`` arguments for the forward pass (set by the fp16 optimizer hook)
        self.autocast: dict[str, Any] | None = None
        #: the checkpoint file :meth:`resume` continued from, if any
        self.resumed_from: Path | None = None
        #: the tensors of the resumed checkpoint's state dict that the model did not take
        #: (e.g. the ``ema_*`` buffers EMAHook adds in ``before_run``), for the hooks
        self.resumed_extra_state: dict[str, torch.Tensor] = {}
        self._hooks: list[Hook] = []
        self._epoch = 0
        self._iter = 0
        self._inner_iter = 0
        self._max_epochs = max_epochs
        self._max_iters: int | None = None

    @property
    def hooks(self) -> list[Hook]:
        """The registered hooks in the order they run."""
        return self._hooks

    @property
    def epoch(self) -> int:
        """Completed training epochs (the 0-based index of the epoch in progress)."""
        return self._epoch

    @property
    def iter(self) -> int:
        """Completed training iterations over the whole run."""
        return self._iter

    @property
    def inner_iter(self) -> int:
        """Index of the iteration in progress within its epoch."""
        return self._inner_iter

    @property
    def max_epochs(self) -> int | None:
        return self._max_epochs

    @property
    def max_iters(self) -> int | None:
        return self._max_iters

    def current_lr(self) -> list[float]:
        """The learning rate of every parameter group."""
        if self.optimizer is None:
            raise RuntimeError('the runner has no optimizer, so there is no learning rate')
        return [group['lr'] for group in self.optimizer.param_groups]

    # ----------------------------------------------------------------- hooks
    def register_hook(self, hook: Hook, priority: int | str | Priority | None = None) -> None:
        """Add ``hook``; it runs after hooks of higher (numerically lower) or equal priority.
        Without a ``priority`` the hook's ``default_priority`` (NORMAL for most hooks)."""
        if not isinstance(hook, Hook):
            raise TypeError(f'hooks must derive from actionlab.engine.hooks.Hook, got {type(hook).__name__}')
        hook.priority = get_priority(hook.default_priority if priority is None else priority)
        index = len(self._hooks)
        while index > 0 and self._hooks[index - 1].priority > hook.priority:
            index -= 1
        self._hooks.insert(index, hook)

    def register_hook_from_cfg(self, cfg: Mapping, default_priority: int | str | None = None) -> Hook:
        """Build a hook from ``dict(type=..., priority=..., **args)`` and register it (without
        a ``priority``: ``default_priority``, else the hook's own default)."""
        cfg = dict(cfg)
        priority = cfg.pop('priority', default_priority)
        hook = HOOKS.build(cfg)
        self.register_hook(hook, priority)
        return hook

    def register_training_hooks(self, lr_config: Mapping | Hook | None,
                                optimizer_config: Mapping | Hook | None = None,
                                checkpoint_config: Mapping | Hook | None = None,
                                log_config: Mapping | None = None,
                                momentum_config: Mapping | None = None,
                                timer_config: Mapping | Hook | None = None,
                                custom_hooks_config: Sequence[Mapping | Hook] | None = None) -> None:
        """Register the default hooks from the usual config sections, with mmcv's priorities:
        LR (VERY_HIGH), momentum (HIGH), optimizer (ABOVE_NORMAL), checkpoint (NORMAL),
        timer (LOW), loggers (VERY_LOW), custom hooks (their ``priority``, default the hook
        class's ``default_priority``: NORMAL, or 49 for EMAHook, as mmdet configures it)."""
        if lr_config is not None:
            hook = lr_config if isinstance(lr_config, Hook) else build_lr_hook(lr_config)
            self.register_hook(hook, 'VERY_HIGH')
        if momentum_config is not None:
            hook = (momentum_config if isinstance(momentum_config, Hook)
                    else build_momentum_hook(momentum_config))
            self.register_hook(hook, 'HIGH')
        self._register_default(optimizer_config, 'OptimizerHook', 'ABOVE_NORMAL')
        self._register_default(checkpoint_config, 'CheckpointHook', 'NORMAL')
        self._register_default(timer_config if timer_config is not None else {}, 'IterTimerHook', 'LOW')
        if log_config is not None:
            self._register_logger_hooks(log_config)
        for item in custom_hooks_config or []:
            if isinstance(item, Hook):
                self.register_hook(item)
            else:
                self.register_hook_from_cfg(item)

    def _register_default(self, cfg: Mapping | Hook | None, hook_type: str, priority: str) -> None:
        if cfg is None:
            return
        if isinstance(cfg, Hook):
            self.register_hook(cfg, priority)
            return
        cfg = dict(cfg)
        cfg.setdefault('type', hook_type)
        self.register_hook(HOOKS.build(cfg), priority)

    def _register_logger_hooks(self, log_config: Mapping) -> None:
        if 'interval' not in log_config:
            raise BuildError(f'log_config needs an interval: {dict(log_config)!r}')
        for info in log_config.get('hooks', []):
            info = dict(info)
            priority = info.pop('priority', 'VERY_LOW')
            name = info.get('type')
            if name not in HOOKS or not issubclass(HOOKS.get(name), LoggerHook):
                available = [k for k in HOOKS.keys() if isinstance(HOOKS.get(k), type)
                             and issubclass(HOOKS.get(k), LoggerHook)]
                raise BuildError(f"log_config.hooks: '{name}' is not a logger hook of ActionLab "
                                 f"(available: {', '.join(available)})")
            self.register_hook(HOOKS.build(info, interval=log_config['interval']), priority)

    def call_hook(self, stage: str) -> None:
        for hook in self._hooks:
            getattr(hook, stage)(self)

    def get_hook_info(self) -> str:
        """Which hooks run at each stage, in order (logged at the start of :meth:`run`)."""
        lines = []
        for stage in Hook.STAGES:
            names = [f'({_priority_name(h.priority):<12}) {type(h).__name__}'
                     for h in self._hooks if stage in h.triggered_stages()]
            if names:
                lines.append(f'{stage}:\n' + '\n'.join(names) + '\n' + '-' * 20)
        return '\n'.join(lines)

    # ------------------------------------------------------------------ loop
    def run(self, data_loaders: Sequence[DataLoader], workflow: Sequence[Sequence],
            max_epochs: int | None = None) -> None:
        """Run ``workflow`` (e.g. ``[('train', 1), ('val', 1)]``) until ``max_epochs`` training
        epochs are done; ``data_loaders[i]`` feeds phase ``i``."""
        workflow = [(str(mode), int(epochs)) for mode, epochs in workflow]
        if len(data_loaders) != len(workflow):
            raise ValueError(f'workflow {workflow} has {len(workflow)} phase(s) but {len(data_loaders)} '
                             'data loader(s) were given; give one dataset per phase')
        for mode, epochs in workflow:
            if mode not in ('train', 'val'):
                raise ValueError(f"workflow phases must be 'train' or 'val', got {mode!r}")
            if epochs < 1:
                raise ValueError(f'workflow phase {mode!r} must run at least 1 epoch, got {epochs}')
        if 'train' not in [mode for mode, _ in workflow]:
            raise ValueError(f"workflow {workflow} has no 'train' phase")
        if max_epochs is not None:
            self._max_epochs = max_epochs
        if self._max_epochs is None:
            raise ValueError('the number of training epochs is not set (total_epochs)')
        train_loader = data_loaders[[mode for mode, _ in workflow].index('train')]
        self._max_iters = self._max_epochs * self._epoch_len(train_loader)

        self.logger.info('Start running, host: %s, work_dir: %s', socket.gethostname(), self.work_dir)
        self.logger.info('Hooks will be executed in the following order:\n%s', self.get_hook_info())
        self.logger.info('workflow: %s, max: %d epochs', workflow, self._max_epochs)
        self.call_hook('before_run')
        while self.epoch < self._max_epochs:
            for (mode, epochs), loader in zip(workflow, data_loaders, strict=True):
                for _ in range(epochs):
                    if mode == 'train' and self.epoch >= self._max_epochs:
                        break
                    if mode == 'train':
                        self.train(loader)
                    else:
                        self.val(loader)
        self.call_hook('after_run')

    @staticmethod
    def _epoch_len(train_loader: DataLoader) -> int:
        """Iterations in a training epoch over ``train_loader``."""
        return len(train_loader)

    def train(self, data_loader: DataLoader) -> None:
        """One training epoch."""
        self._train_epoch(data_loader, [data_loader])

    def _train_epoch(self, main: DataLoader, loaders: Sequence[DataLoader]) -> None:
        """One pass over ``main`` (``loaders`` are all the loaders the epoch draws from)."""
        self.model.train()
        self.mode = 'train'
        self.data_loader = main
        self._max_iters = self._max_epochs * len(main)
        self._start_epoch([*loaders, *(loader for hook in self._hooks for loader in hook.epoch_loaders())])
        self.call_hook('before_train_epoch')
        for i, batch in enumerate(main):
            self._inner_iter = i
            self.train_step(batch)
            self._extra_steps()
            self._iter += 1
        self.call_hook('after_train_epoch')
        self._epoch += 1

    def train_step(self, batch: Mapping, source: str = '') -> None:
        """One training step on ``batch``, with the iteration hooks around it; ``source``
        (non-empty for an auxiliary OmniSource step) is ``step_source`` while they run."""
        self.step_source = source
        try:
            self.call_hook('before_train_iter')
            self.run_iter(batch, source=source)
            self.call_hook('after_train_iter')
        finally:
            self.step_source = ''

    def _extra_steps(self) -> None:
        """Steps on other batches after each main iteration (none here; see OmniSourceRunner)."""

    @torch.no_grad()
    def val(self, data_loader: DataLoader) -> None:
        """One epoch computing the losses on ``data_loader`` without updating the model."""
        self.model.eval()
        self.mode = 'val'
        self.data_loader = data_loader
        self._start_epoch([data_loader])
        self.call_hook('before_val_epoch')
        for i, batch in enumerate(data_loader):
            self._inner_iter = i
            self.call_hook('before_val_iter')
            self.run_iter(batch)
            self.call_hook('after_val_iter')
        self.call_hook('after_val_epoch')

    def run_iter(self, batch: Mapping, source: str = '') -> None:
        """Forward one batch and record its losses in ``outputs`` and the log buffer
        (the logged names get ``source`` appended, e.g. ``loss_cls/aux0``)."""
        batch = to_device(batch, self.device, non_blocking=self.device.type == 'cuda')
        autocast = torch.autocast(**self.autocast) if self.autocast else contextlib.nullcontext()
        with autocast:
            outputs = self.model(**batch, return_loss=True)
        loss, log_vars = parse_losses(outputs)
        num_samples = _batch_size(batch)
        self.log_buffer.update({name + source: value for name, value in log_vars.items()}, num_samples)
        self.outputs = {'loss': loss, 'log_vars': log_vars, 'num_samples': num_samples, 'source': source}

    def _start_epoch(self, data_loaders: Sequence[DataLoader]) -> None:
        """Give the epoch its own generator states (see module doc) and tell samplers the epoch."""
        if self.seed is not None:
            # separate streams for the process's generators and each loader's (which
            # shuffles and seeds the workers); all differ between ranks like the loader's
            # own seeding
            seed_everything(derive_seed(self.seed, self.epoch, self.rank, 0))
        for index, data_loader in enumerate(data_loaders):
            samplers = {id(s): s for s in (getattr(data_loader, 'sampler', None),
                                            getattr(getattr(data_loader, 'batch_sampler', None), 'sampler',
                                                    None))
                        if s is not None}
            for sampler in samplers.values():
                if hasattr(sampler, 'set_epoch'):
                    sampler.set_epoch(self.epoch)
            if self.seed is None:
                continue
            loader_seed = derive_seed(self.seed, self.epoch, self.rank, 1 + index)
            for generator in [getattr(data_loader, 'generator', None)] + \
                    [getattr(s, 'generator', None) for s in samplers.values()]:
                if isinstance(generator, torch.Generator):
                    generator.manual_seed(loader_seed)

    # ----------------------------------------------------------- checkpoints
    def save_checkpoint(self, out_dir: str | os.PathLike, filename_tmpl: str = 'epoch_{}.pth',
                        save_optimizer: bool = True, meta: dict | None = None,
                        create_symlink: bool = True) -> Path:
        """Save the model (and optimizer, generator states) as ``filename_tmpl.format(epoch + 1)``.

        The meta data holds the runner's ``meta`` plus ``epoch`` (completed epochs),
        ``iter``, ``max_epochs``, ``actionlab_version`` and ``time``, and what the hooks
        add in :meth:`Hook.before_save_checkpoint`. With
        ``create_symlink``, ``latest.pth`` is atomically re-pointed at the new file
        (a copy where the file system has no symlinks).
        """
        merged = dict(meta or {})
        merged.update(self.meta)
        merged.update(epoch=self.epoch + 1, iter=self.iter, max_epochs=self.max_epochs,
                      actionlab_version=__version__, time=time.asctime())
        for hook in self._hooks:  # e.g. the fp16 loss scaler's state
            hook.before_save_checkpoint(self, merged)
        path = Path(out_dir) / filename_tmpl.format(self.epoch + 1)
        save_checkpoint(self.model, path, optimizer=self.optimizer if save_optimizer else None,
                        meta=merged, rng_state=rng_state_dict())
        if create_symlink:
            _point_latest_at(path)
        return path

    def load_checkpoint(self, filename: str | os.PathLike, map_location: str | torch.device = 'cpu',
                        strict: bool = False) -> dict:
        """Load a checkpoint's weights into the model (``load_from``) and return the checkpoint."""
        self.logger.info('load checkpoint from %s', filename)
        return load_checkpoint(self.model, filename, map_location=map_location, strict=strict,
                               logger=self.logger)

    def resume(self, checkpoint: str | os.PathLike, resume_optimizer: bool = True,
               map_location: str | torch.device = 'cpu') -> None:
        """Continue from a checkpoint saved by :meth:`save_checkpoint` (``resume_from``):
        weights, optimizer state, epoch/iteration counters, hook messages, generator states.

        State-dict tensors the model has no place for are kept in
        :attr:`resumed_extra_state` for the hooks (EMAHook's ``ema_*`` buffers); those a
        registered hook claims (:meth:`Hook.owns_state_key`) are not reported as
        unexpected keys."""
        path = resolve_checkpoint_path(checkpoint)
        ckpt = read_checkpoint(path, map_location)
        meta = ckpt.get('meta') or {}
        if 'epoch' not in meta or 'iter' not in meta:
            raise CheckpointError(f'{checkpoint} has no epoch/iter in its meta, so training cannot resume '
                                  'from it; use load_from to start from its weights instead')
        self.logger.info('resume from %s', checkpoint)
        self.resumed_from = path
        state = state_dict_of(ckpt)
        own = unwrap_model(self.model).state_dict().keys()
        self.resumed_extra_state = {k: v for k, v in state.items() if k not in own}
        claimed = {k for k in self.resumed_extra_state if any(h.owns_state_key(k) for h in self._hooks)}
        load_state_dict(self.model, {k: v for k, v in state.items() if k not in claimed}, log=self.logger)
        self._epoch = int(meta['epoch'])
        self._iter = int(meta['iter'])
        self.meta.setdefault('hook_msgs', {}).update(meta.get('hook_msgs', {}))
        if 'fp16' in meta:  # the loss scaler's state (see Fp16OptimizerHook)
            self.meta['fp16'] = meta['fp16']
        if resume_optimizer and self.optimizer is not None and 'optimizer' in ckpt:
            try:
                self.optimizer.load_state_dict(ckpt['optimizer'])
            except ValueError as e:
                raise CheckpointError(f'the optimizer state in {checkpoint} does not fit this '
                                      f'optimizer: {e}') from e
        if 'rng_state' in ckpt:
            load_rng_state(ckpt['rng_state'])
        self.logger.info('resumed epoch %d, iter %d', self.epoch, self.iter)


def _cycle(loader: DataLoader) -> Iterator:
    """The batches of ``loader`` over and over (a new pass whenever one ends)."""
    while True:
        yield from loader


class OmniSourceRunner(Runner):
    """Training on a main loader plus auxiliary ones (OmniSource; Duan et al., "Omni-sourced
    Webly-supervised Learning for Video Recognition", ECCV 2020).

    An epoch is one pass over ``data_loaders[0]``. After each main iteration whose index
    is a multiple of ``train_ratio[0]``, auxiliary loader ``i`` contributes
    ``train_ratio[i + 1]`` batches, each a training step of its own: the iteration hooks
    (optimizer step included) run for it as for the main batch, at the same iteration
    count. Hooks that act every n iterations (logging, evaluation, checkpoints, EMA)
    skip the auxiliary steps (:meth:`Hook.is_aux_step`), so they act once per
    iteration. Auxiliary loaders start over when they run out. Their losses are logged
    with a ``/aux{i}`` suffix (``loss_cls/aux0``), in the log line of the next main
    iteration. Only ``workflow=[('train', n)]`` is supported, as in MMAction2, and
    gradient accumulation (``cumulative_iters > 1``) is not: its windows count
    iterations, and every auxiliary step would step the optimizer of its window again.

    Args:
        train_ratio: one int per loader (default all 1); see above.
        Other arguments: see :class:`Runner`.
    """

    def __init__(self, *args, train_ratio: Sequence[int] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.train_ratio = [int(r) for r in train_ratio] if train_ratio is not None else None
        self._aux_batches: list[Iterator] = []

    def run(self, data_loaders: Sequence[DataLoader], workflow: Sequence[Sequence],
            max_epochs: int | None = None) -> None:
        """Train on all of ``data_loaders`` (main first) until ``max_epochs`` epochs are done."""
        workflow = [(str(mode), int(epochs)) for mode, epochs in workflow]
        if len(workflow) != 1 or workflow[0][0] != 'train':
            raise ValueError(f"OmniSource training supports only workflow=[('train', n)], got {workflow}")
        ratio = self.train_ratio or [1] * len(data_loaders)
        if len(ratio) != len(data_loaders) or any(r < 1 for r in ratio):
            raise ValueError(f'data.train_ratio must give a positive int for each of the '
                             f'{len(data_loaders)} training datasets, got {ratio}')
        accumulating = [h.cumulative_iters for h in self._hooks
                        if isinstance(h, OptimizerHook) and h.cumulative_iters > 1]
        if accumulating:
            raise ValueError(f'optimizer_config.cumulative_iters={accumulating[0]} cannot be combined with '
                             'omnisource=True: the auxiliary steps would step the optimizer with partial '
                             'windows; set cumulative_iters=1 (or use larger omni_videos_per_gpu)')
        self.train_ratio = ratio
        super().run([list(data_loaders)], workflow, max_epochs)

    @staticmethod
    def _epoch_len(train_loader: Sequence[DataLoader]) -> int:
        return len(train_loader[0])

    def train(self, data_loaders: Sequence[DataLoader]) -> None:
        """One epoch over the main loader, interleaved with auxiliary batches."""
        self._aux_batches = [_cycle(loader) for loader in data_loaders[1:]]
        self._train_epoch(data_loaders[0], data_loaders)

    def _extra_steps(self) -> None:
        if self._iter % self.train_ratio[0]:
            return
        for index, (batches, times) in enumerate(zip(self._aux_batches, self.train_ratio[1:], strict=True)):
            for _ in range(times):
                self.train_step(next(batches), source=f'/aux{index}')


def _priority_name(priority: int) -> str:
    try:
        return Priority(priority).name
    except ValueError:
        return str(priority)


def _point_latest_at(path: Path) -> None:
    """Atomically make ``latest.pth`` next to ``path`` refer to it."""
    latest = path.parent / 'latest.pth'
    tmp = path.parent / f'.latest.pth.{os.getpid()}.tmp'
    tmp.unlink(missing_ok=True)
    try:
        os.symlink(path.name, tmp)
    except OSError:  # file systems (and Windows accounts) without symlinks
        shutil.copyfile(path, tmp)
    os.replace(tmp, latest)
