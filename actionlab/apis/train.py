"""Training from a config: ``train_model`` (MMAction2's ``mmaction.apis.train_model``)."""
from __future__ import annotations

import inspect
import logging
import os
import pickle
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import Dataset

from actionlab.apis.test import EVAL_HOOK_KEYS, evaluate_kwargs, multi_gpu_test
from actionlab.config import Config
from actionlab.data.datasets import build_dataset
from actionlab.data.loader import build_dataloader
from actionlab.engine.distributed import is_distributed, is_main_process
from actionlab.engine.hooks import DistEvalHook, EvalHook, Fp16OptimizerHook, PreciseBNHook
from actionlab.engine.logging import get_logger, logging_to_file
from actionlab.engine.optimizers import build_optimizer
from actionlab.engine.runner import OmniSourceRunner, Runner, to_channels_last
from actionlab.models import retain_freed_memory
from actionlab.models.module_hooks import register_module_hooks
from actionlab.version import __version__

# config features of MMAction2 0.24.1 that ActionLab does not offer yet
_UNSUPPORTED = {'multigrid': 'multigrid training'}

# evaluation-hook keys that only the distributed evaluation hook takes (tmpdir, gpu_collect,
# broadcast_bn_buffers): dropped for the single-process EvalHook
_DIST_EVAL_KEYS = tuple(k for k in EVAL_HOOK_KEYS if k not in inspect.signature(EvalHook).parameters)

# optimizer_config types that the fp16 config turns into Fp16OptimizerHook
_FP16_COMPATIBLE = ('OptimizerHook', 'Fp16OptimizerHook', 'GradientCumulativeOptimizerHook',
                    'GradientCumulativeFp16OptimizerHook')


def train_model(model: nn.Module, dataset: Dataset | Sequence[Dataset], cfg: Config | Mapping,
                distributed: bool = False, validate: bool = False, test: Mapping | None = None,
                timestamp: str | None = None, meta: dict | None = None) -> Runner:
    """Train ``model`` on ``dataset`` as ``cfg`` says; returns the finished runner.

    ``dataset`` is one dataset per ``cfg.workflow`` phase (a single dataset for the
    default ``[('train', 1)]``), or with ``omnisource=True`` one per training source.

    Config keys read (MMAction2's): ``data`` (``videos_per_gpu``, ``workers_per_gpu``,
    ``persistent_workers``, ``train_dataloader``/``val_dataloader``/``test_dataloader``
    overrides, ``val``/``test``/``train`` datasets, ``train_ratio`` and
    ``omni_videos_per_gpu`` for OmniSource), ``optimizer``, ``optimizer_config``,
    ``fp16``, ``lr_config``, ``momentum_config``, ``checkpoint_config``,
    ``log_config``, ``evaluation``, ``precise_bn``, ``custom_hooks``, ``module_hooks``,
    ``total_epochs``, ``workflow``, ``work_dir``, ``seed``, ``resume_from``,
    ``auto_resume``, ``load_from``, ``find_unused_parameters``, ``cudnn_benchmark``.
    ActionLab's own: ``device`` (default: CUDA when available), ``sync_bn`` (convert
    BatchNorm to SyncBatchNorm in distributed GPU training) and ``channels_last``
    (default True: weights and activations in the channels-last layout).

    With ``distributed``, the model is wrapped in DistributedDataParallel and every
    loader gets a ``DistributedSampler``; the process group must be initialised
    (:func:`actionlab.engine.distributed.init_dist`). With ``validate``,
    ``cfg.data.val`` is evaluated every ``evaluation.interval`` epochs (on all
    processes, gathered on rank 0, when distributed). ``test=dict(test_last=True,
    test_best=True)`` evaluates the final and the best checkpoint on ``cfg.data.test``
    afterwards (``<work_dir>/{last,best}_pred.pkl``). ``timestamp`` names the log
    files; ``meta`` is stored in every checkpoint.
    """
    cfg = cfg if isinstance(cfg, Config) else Config(cfg)
    test = {'test_last': False, 'test_best': False, **(test or {})}
    for key, feature in _UNSUPPORTED.items():
        if cfg.get(key):
            raise NotImplementedError(f'{feature} (config key {key!r}) is not supported by ActionLab yet; '
                                      'remove the key from the config')
    if not cfg.get('work_dir'):
        raise ValueError('cfg.work_dir is not set: give the folder for checkpoints and logs')
    max_epochs = cfg.get('total_epochs') or (cfg.get('runner') or {}).get('max_epochs')
    if not max_epochs:
        raise ValueError('cfg.total_epochs is not set: give the number of training epochs')
    if distributed and not (dist.is_available() and dist.is_initialized()):
        raise RuntimeError('train_model(distributed=True) needs an initialised process group: '
                           'start with torchrun and call actionlab.engine.distributed.init_dist')

    if cfg.get('module_hooks'):
        register_module_hooks(model, cfg.module_hooks)
    datasets = list(dataset) if isinstance(dataset, (list, tuple)) else [dataset]
    num_classes = getattr(getattr(model, 'cls_head', None), 'num_classes', None)
    if num_classes is not None:
        for ds in datasets:
            if hasattr(ds, 'check_num_classes'):
                ds.check_num_classes(num_classes)

    work_dir = Path(cfg.work_dir)
    timestamp = timestamp or time.strftime('%Y%m%d_%H%M%S', time.localtime())
    logger = get_logger(log_level=cfg.get('log_level', 'INFO'))
    with logging_to_file(logger, work_dir / f'{timestamp}.log'):
        if cfg.get('cudnn_benchmark'):
            torch.backends.cudnn.benchmark = True
        device = _device(cfg, distributed)
        if device.type == 'cpu':  # keep the step's large activations in the heap between steps
            retain_freed_memory()
        data = cfg.data
        loader_setting = dict(videos_per_gpu=data.get('videos_per_gpu', 1),
                              workers_per_gpu=data.get('workers_per_gpu', 1),
                              persistent_workers=data.get('persistent_workers', False),
                              dist=distributed, pin_memory=device.type == 'cuda')
        train_setting = {**loader_setting, 'seed': cfg.get('seed'), **data.get('train_dataloader', {})}
        train_loaders = _train_loaders(cfg, datasets, train_setting)

        runner = _build_runner(model, cfg, distributed, device, timestamp, meta, logger, max_epochs)
        if cfg.get('precise_bn'):
            precise_loader = build_dataloader(build_dataset(data.train), **{**train_setting,
                                                                            'workers_per_gpu': 0})
            runner.register_hook(PreciseBNHook(precise_loader, **cfg.precise_bn), 'HIGHEST')
        if validate:
            runner.register_hook(_eval_hook(cfg, distributed, loader_setting), 'LOW')

        resume_from = cfg.get('resume_from')
        if resume_from is None and cfg.get('auto_resume'):
            latest = [find_latest_checkpoint(work_dir)]
            if is_distributed():  # every process resumes from the checkpoint rank 0 found
                dist.broadcast_object_list(latest, src=0)
            resume_from = latest[0]
            logger.info('auto_resume: %s', f'resuming from {resume_from}' if resume_from
                        else f'no checkpoint in {work_dir}, starting afresh')
        if resume_from:
            runner.resume(resume_from)
        elif cfg.get('load_from'):
            runner.load_checkpoint(cfg.load_from)

        workflow = cfg.get('workflow', [('train', 1)])
        runner.run(train_loaders, workflow, max_epochs)
        if test['test_last'] or test['test_best']:
            _test_checkpoints(runner, cfg, test, loader_setting)
    return runner


def find_latest_checkpoint(work_dir: str | os.PathLike) -> Path | None:
    """The checkpoint to resume from in ``work_dir``: ``latest.pth`` if there is one,
    else the ``epoch_N.pth``/``iter_N.pth`` with the largest N (None if there is none)."""
    folder = Path(work_dir)
    if (folder / 'latest.pth').exists():
        return folder / 'latest.pth'
    numbered = [(int(m.group(1)), path) for path in folder.glob('*.pth')
                if (m := re.fullmatch(r'(?:epoch|iter)_(\d+)\.pth', path.name))]
    return max(numbered)[1] if numbered else None


def _device(cfg: Config, distributed: bool) -> torch.device:
    """``cfg.device``, else the GPU (in distributed training the one ``init_dist`` made
    current, which is not ``LOCAL_RANK`` when each process sees only its own GPU), else
    the CPU."""
    if cfg.get('device'):
        return torch.device(cfg.device)
    if torch.cuda.is_available():
        return torch.device('cuda', torch.cuda.current_device() if distributed else 0)
    return torch.device('cpu')


def _train_loaders(cfg: Config, datasets: list[Dataset], setting: dict) -> list:
    """One loader per dataset; with OmniSource, each with its ``omni_videos_per_gpu``."""
    per_source = cfg.data.get('omni_videos_per_gpu') if cfg.get('omnisource') else None
    if per_source is None:
        return [build_dataloader(ds, **setting) for ds in datasets]
    if len(per_source) != len(datasets):
        raise ValueError(f'data.omni_videos_per_gpu has {len(per_source)} entries for '
                         f'{len(datasets)} training datasets')
    return [build_dataloader(ds, **{**setting, 'videos_per_gpu': n}) for ds, n in zip(datasets, per_source)]


def _build_runner(model: nn.Module, cfg: Config, distributed: bool, device: torch.device, timestamp: str,
                  meta: dict | None, logger: logging.Logger, max_epochs: int) -> Runner:
    """The model on its device (DDP-wrapped when distributed), its optimizer, and a runner
    with the hooks of ``lr_config``, ``momentum_config``, ``optimizer_config``/``fp16``,
    ``checkpoint_config``, ``log_config`` and ``custom_hooks``."""
    if cfg.get('sync_bn') and distributed:
        if device.type == 'cuda':
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        else:
            logger.warning('sync_bn: SyncBatchNorm needs GPUs; keeping per-process BatchNorm on %s', device)
    model = model.to(device)
    if cfg.get('channels_last', True):
        to_channels_last(model)
    if distributed:
        model = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == 'cuda' else None,
            broadcast_buffers=False, find_unused_parameters=cfg.get('find_unused_parameters', False))
    optimizer = build_optimizer(model, cfg.optimizer)

    meta = dict(meta or {})
    meta.setdefault('actionlab_version', __version__)
    meta.setdefault('config', cfg.pretty_text)
    meta.setdefault('seed', cfg.get('seed'))
    if cfg.filename:
        meta.setdefault('exp_name', Path(cfg.filename).name)
    runner_type = Runner
    runner_args = {}
    if cfg.get('omnisource'):
        runner_type = OmniSourceRunner
        runner_args = dict(train_ratio=cfg.data.get('train_ratio'))
    runner = runner_type(model, optimizer, work_dir=cfg.work_dir, logger=logger, meta=meta,
                         max_epochs=max_epochs, seed=cfg.get('seed'), device=device, timestamp=timestamp,
                         **runner_args)
    runner.register_training_hooks(cfg.get('lr_config'), _optimizer_hook_config(cfg),
                                   cfg.get('checkpoint_config'), cfg.get('log_config'),
                                   cfg.get('momentum_config'), custom_hooks_config=cfg.get('custom_hooks'))
    return runner


def _optimizer_hook_config(cfg: Config) -> dict | Fp16OptimizerHook:
    """``optimizer_config``, or with ``fp16`` the mixed-precision hook built from both."""
    optimizer_config = dict(cfg.get('optimizer_config') or {})
    fp16 = cfg.get('fp16')
    if fp16 is None:
        return optimizer_config
    hook_type = optimizer_config.pop('type', 'OptimizerHook')
    if hook_type not in _FP16_COMPATIBLE:
        raise ValueError(f'fp16 cannot be combined with optimizer_config.type={hook_type!r}; '
                         f'use one of {", ".join(_FP16_COMPATIBLE)}')
    return Fp16OptimizerHook(**optimizer_config, **dict(fp16))


def _eval_hook(cfg: Config, distributed: bool, loader_setting: dict) -> EvalHook:
    """The (distributed) evaluation hook over ``cfg.data.val``."""
    val_dataset = build_dataset(cfg.data.val, dict(test_mode=True))
    val_loader = build_dataloader(val_dataset, **{**loader_setting, 'shuffle': False,
                                                  **cfg.data.get('val_dataloader', {})})
    eval_cfg = dict(cfg.get('evaluation', {}))
    if distributed:
        return DistEvalHook(val_loader, **eval_cfg)
    for key in _DIST_EVAL_KEYS:
        eval_cfg.pop(key, None)
    return EvalHook(val_loader, **eval_cfg)


def _test_checkpoints(runner: Runner, cfg: Config, test: Mapping, loader_setting: dict) -> None:
    """Evaluate the last and/or best checkpoint on ``cfg.data.test`` (MMAction2's ``--test-*``)."""
    checkpoints: list[tuple[str, str | None]] = []
    if test['test_last']:
        checkpoints.append(('last', None))
    if test['test_best']:
        best = [runner.meta.get('hook_msgs', {}).get('best_ckpt')]
        if is_distributed():  # only rank 0 evaluated and knows the best checkpoint
            dist.broadcast_object_list(best, src=0)
        if best[0] is None:
            runner.logger.warning('test_best is set, but no best checkpoint was saved '
                                  '(train with validation and evaluation.save_best)')
        else:
            checkpoints.append(('best', best[0]))
    if not checkpoints:
        return
    data = cfg.data
    test_dataset = build_dataset(data.test, dict(test_mode=True))
    test_loader = build_dataloader(test_dataset, **{**loader_setting, 'shuffle': False,
                                                    **data.get('test_dataloader', {})})
    evaluation = cfg.get('evaluation', {})
    eval_cfg = evaluate_kwargs(cfg)
    tmpdir = evaluation.get('tmpdir', Path(cfg.work_dir) / 'tmp')
    for name, checkpoint in checkpoints:
        if checkpoint is not None:
            runner.load_checkpoint(checkpoint)
        outputs = multi_gpu_test(runner.model, test_loader, tmpdir=tmpdir,
                                 gpu_collect=evaluation.get('gpu_collect', False))
        if not is_main_process():
            continue
        with open(Path(cfg.work_dir) / f'{name}_pred.pkl', 'wb') as f:
            pickle.dump(outputs, f)
        results = test_dataset.evaluate(outputs, logger=runner.logger, **eval_cfg)
        runner.logger.info('Testing results of the %s checkpoint', name)
        for metric, value in results.items():
            runner.logger.info('%s: %.04f', metric, value)
