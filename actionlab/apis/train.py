"""Training from a config: ``train_model`` (MMAction2's ``mmaction.apis.train_model``)."""
from __future__ import annotations

import logging
import os
import pickle
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import Dataset

from actionlab.apis.test import single_gpu_test
from actionlab.config import Config
from actionlab.data.datasets import build_dataset
from actionlab.data.loader import build_dataloader
from actionlab.engine.distributed import is_main_process
from actionlab.engine.hooks import EvalHook
from actionlab.engine.logging import get_logger, logging_to_file
from actionlab.engine.optimizers import build_optimizer
from actionlab.engine.runner import Runner
from actionlab.version import __version__

# config features of MMAction2 0.24.1 that ActionLab does not offer yet
_UNSUPPORTED = {'fp16': 'mixed-precision training', 'precise_bn': 'PreciseBN',
                'omnisource': 'OmniSource training', 'multigrid': 'multigrid training',
                'module_hooks': 'module hooks'}

# evaluation keys that configure the EvalHook rather than dataset.evaluate
_EVAL_HOOK_KEYS = ('interval', 'tmpdir', 'start', 'gpu_collect', 'save_best', 'rule', 'by_epoch',
                   'broadcast_bn_buffers')


def train_model(model: nn.Module, dataset: Dataset | Sequence[Dataset], cfg: Config | Mapping,
                distributed: bool = False, validate: bool = False, test: Mapping | None = None,
                timestamp: str | None = None, meta: dict | None = None) -> Runner:
    """Train ``model`` on ``dataset`` as ``cfg`` says; returns the finished runner.

    ``dataset`` is one dataset per ``cfg.workflow`` phase (a single dataset for the
    default ``[('train', 1)]``). The config provides ``data`` (``videos_per_gpu``,
    ``workers_per_gpu``, ``persistent_workers``, ``train_dataloader``/
    ``val_dataloader``/``test_dataloader`` overrides, and ``val``/``test`` datasets),
    ``optimizer``, ``optimizer_config``, ``lr_config``, ``checkpoint_config``,
    ``log_config``, ``evaluation``, ``custom_hooks``, ``total_epochs``, ``workflow``,
    ``work_dir``, ``seed``, ``resume_from`` (weights, optimizer, epoch: continue) and
    ``load_from`` (weights only: fine-tune), and ``device`` (default: CUDA when
    available).

    With ``validate``, ``cfg.data.val`` is evaluated every ``evaluation.interval``
    epochs. ``test=dict(test_last=True, test_best=True)`` evaluates the final and the
    best checkpoint on ``cfg.data.test`` afterwards (``<work_dir>/{last,best}_pred.pkl``).
    ``timestamp`` names the log files; ``meta`` is stored in every checkpoint.
    """
    cfg = cfg if isinstance(cfg, Config) else Config(cfg)
    test = {'test_last': False, 'test_best': False, **(test or {})}
    for key, feature in _UNSUPPORTED.items():
        if cfg.get(key):
            raise NotImplementedError(f'{feature} (config key {key!r}) is not supported by ActionLab yet; '
                                      'remove the key from the config')
    if validate and distributed:
        raise NotImplementedError('evaluation during distributed training is not supported yet; '
                                  'train without --validate and test the checkpoints afterwards')
    if not cfg.get('work_dir'):
        raise ValueError('cfg.work_dir is not set: give the folder for checkpoints and logs')
    max_epochs = cfg.get('total_epochs') or (cfg.get('runner') or {}).get('max_epochs')
    if not max_epochs:
        raise ValueError('cfg.total_epochs is not set: give the number of training epochs')

    datasets = dataset if isinstance(dataset, (list, tuple)) else [dataset]
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
        data = cfg.data
        loader_setting = dict(videos_per_gpu=data.get('videos_per_gpu', 1),
                              workers_per_gpu=data.get('workers_per_gpu', 1),
                              persistent_workers=data.get('persistent_workers', False),
                              dist=distributed, pin_memory=device.type == 'cuda')
        train_setting = {**loader_setting, 'seed': cfg.get('seed'), **data.get('train_dataloader', {})}
        train_loaders = [build_dataloader(ds, **train_setting) for ds in datasets]

        runner = _build_runner(model, cfg, distributed, device, timestamp, meta, logger, max_epochs)
        if validate:
            val_dataset = build_dataset(data.val, dict(test_mode=True))
            val_loader = build_dataloader(val_dataset, **{**loader_setting, 'shuffle': False,
                                                          **data.get('val_dataloader', {})})
            runner.register_hook(EvalHook(val_loader, **cfg.get('evaluation', {})), 'LOW')
        if cfg.get('resume_from'):
            runner.resume(cfg.resume_from)
        elif cfg.get('load_from'):
            runner.load_checkpoint(cfg.load_from)

        runner.run(train_loaders, cfg.get('workflow', [('train', 1)]), max_epochs)
        if test['test_last'] or test['test_best']:
            _test_checkpoints(runner, cfg, test, loader_setting)
    return runner


def _device(cfg: Config, distributed: bool) -> torch.device:
    if cfg.get('device'):
        return torch.device(cfg.device)
    if torch.cuda.is_available():
        return torch.device('cuda', int(os.environ.get('LOCAL_RANK', 0)) if distributed else 0)
    return torch.device('cpu')


def _build_runner(model: nn.Module, cfg: Config, distributed: bool, device: torch.device, timestamp: str,
                  meta: dict | None, logger: logging.Logger, max_epochs: int) -> Runner:
    """The model on its device (DDP-wrapped when distributed), its optimizer, and a runner
    with the hooks of ``lr_config``, ``optimizer_config``, ``checkpoint_config``,
    ``log_config`` and ``custom_hooks``."""
    model = model.to(device)
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
    runner = Runner(model, optimizer, work_dir=cfg.work_dir, logger=logger, meta=meta,
                    max_epochs=max_epochs, seed=cfg.get('seed'), device=device, timestamp=timestamp)
    runner.register_training_hooks(cfg.get('lr_config'), cfg.get('optimizer_config', {}),
                                   cfg.get('checkpoint_config'), cfg.get('log_config'),
                                   cfg.get('momentum_config'), custom_hooks_config=cfg.get('custom_hooks'))
    return runner


def _test_checkpoints(runner: Runner, cfg: Config, test: Mapping, loader_setting: dict) -> None:
    """Evaluate the last and/or best checkpoint on ``cfg.data.test`` (MMAction2's ``--test-*``)."""
    checkpoints: list[tuple[str, str | None]] = []
    if test['test_last']:
        checkpoints.append(('last', None))
    if test['test_best']:
        best = runner.meta.get('hook_msgs', {}).get('best_ckpt')
        if best is None:
            runner.logger.warning('test_best is set, but no best checkpoint was saved '
                                  '(train with validation and evaluation.save_best)')
        else:
            checkpoints.append(('best', best))
    if not checkpoints:
        return
    data = cfg.data
    test_dataset = build_dataset(data.test, dict(test_mode=True))
    test_loader = build_dataloader(test_dataset, **{**loader_setting, 'shuffle': False,
                                                    **data.get('test_dataloader', {})})
    eval_cfg = {k: v for k, v in cfg.get('evaluation', {}).items() if k not in _EVAL_HOOK_KEYS}
    for name, checkpoint in checkpoints:
        if checkpoint is not None:
            runner.load_checkpoint(checkpoint)
        outputs = single_gpu_test(runner.model, test_loader)
        if not is_main_process():
            continue
        with open(Path(cfg.work_dir) / f'{name}_pred.pkl', 'wb') as f:
            pickle.dump(outputs, f)
        results = test_dataset.evaluate(outputs, logger=runner.logger, **eval_cfg)
        runner.logger.info('Testing results of the %s checkpoint', name)
        for metric, value in results.items():
            runner.logger.info('%s: %.04f', metric, value)
