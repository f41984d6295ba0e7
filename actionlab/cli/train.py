"""``actionlab train CONFIG``: train a model as the config describes.

On one device: ``actionlab train CONFIG``. On many GPUs or nodes, one process per GPU
(gloo on CPU-only machines)::

    torchrun --nproc_per_node=8 -m actionlab train CONFIG --launcher pytorch
    srun -N2 --ntasks-per-node=8 --gres=gpu:8 python -m actionlab train CONFIG --launcher slurm
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path


def add_parser(subparsers) -> None:
    from actionlab.config import DictAction

    p = subparsers.add_parser('train', help='train a model from a config file',
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config', help='config file (.py, .json or .yaml)')
    p.add_argument('--work-dir', help='where logs and checkpoints go '
                   '(default: the config\'s work_dir, else ./work_dirs/<config name>)')
    p.add_argument('--resume-from', help='checkpoint to resume from (weights, optimizer, epoch)')
    p.add_argument('--auto-resume', action='store_true',
                   help='resume from the latest checkpoint in the work_dir, if there is one')
    p.add_argument('--validate', action='store_true',
                   help='evaluate on data.val every evaluation.interval epochs')
    p.add_argument('--test-last', action='store_true',
                   help='test the final checkpoint on data.test after training')
    p.add_argument('--test-best', action='store_true',
                   help='test the best checkpoint (needs --validate) on data.test after training')
    p.add_argument('--seed', type=int, default=None, help='random seed (default: drawn at random)')
    p.add_argument('--diff-seed', action='store_true',
                   help='seed the generators of each distributed process with seed + rank (the '
                   'samplers keep the shared seed, so the processes still split one permutation)')
    p.add_argument('--deterministic', action='store_true',
                   help='use deterministic algorithms (reproducible, slower)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                   metavar='KEY=VALUE', help='override config keys, e.g. total_epochs=5 '
                   'data.videos_per_gpu=4 "workflow=[(train,1),(val,1)]"')
    p.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'], default='none',
                   help='how the processes of distributed training were started')
    p.add_argument('--local_rank', '--local-rank', type=int, default=None,
                   help='set by older torch.distributed launchers (torchrun uses LOCAL_RANK)')
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from actionlab.apis.train import train_model
    from actionlab.config import Config
    from actionlab.data.datasets import build_dataset
    from actionlab.engine.distributed import get_dist_info, init_dist, is_main_process
    from actionlab.engine.logging import get_logger
    from actionlab.engine.seeding import init_random_seed, set_random_seed
    from actionlab.models import build_model
    from actionlab.version import __version__

    if args.local_rank is not None:
        os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    if args.work_dir:
        cfg.work_dir = args.work_dir
    elif not cfg.get('work_dir'):
        cfg.work_dir = str(Path('work_dirs') / Path(args.config).stem)
    if args.resume_from:
        cfg.resume_from = args.resume_from
    if args.auto_resume:
        cfg.auto_resume = True

    distributed = args.launcher != 'none'
    if distributed:
        init_dist(args.launcher, **cfg.get('dist_params', {}))
    rank, world_size = get_dist_info()

    work_dir = Path(cfg.work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    if is_main_process():
        cfg.dump(work_dir / Path(args.config).with_suffix('.py').name)

    timestamp = time.strftime('%Y%m%d_%H%M%S', time.localtime())
    logger = get_logger(log_file=work_dir / f'{timestamp}.log', log_level=cfg.get('log_level', 'INFO'))
    logger.info('actionlab %s, config %s, distributed: %s (%d processes)\n%s', __version__, args.config,
                distributed, world_size, cfg.pretty_text)

    seed = init_random_seed(args.seed)
    # --diff-seed: only this process's generators get their own seed; cfg.seed seeds the
    # DistributedSampler, whose permutation must be the same on every rank (each rank
    # takes its share of it), and train_model derives per-rank worker seeds from it
    process_seed = seed + rank if args.diff_seed else seed
    set_random_seed(process_seed, deterministic=args.deterministic)
    logger.info('seed %d%s, deterministic %s', seed,
                f' (+ rank {rank}: {process_seed})' if args.diff_seed else '', args.deterministic)
    cfg.seed = seed

    model = build_model(cfg.model)
    if cfg.get('omnisource'):
        if not isinstance(cfg.data.train, (list, tuple)):
            raise ValueError('omnisource=True needs data.train to be a list of datasets (one per source)')
        datasets = [build_dataset(source) for source in cfg.data.train]
    else:
        datasets = [build_dataset(cfg.data.train)]
    if len(cfg.get('workflow', [('train', 1)])) == 2:
        if cfg.get('omnisource'):
            raise ValueError("omnisource training supports only workflow=[('train', n)]; use --validate")
        # the val workflow reports losses, so it needs labels and the train pipeline's outputs
        val_cfg = cfg.data.val.copy()
        val_cfg.pipeline = cfg.data.train.pipeline
        datasets.append(build_dataset(val_cfg))
    meta = dict(actionlab_version=__version__, config=cfg.pretty_text, seed=seed,
                exp_name=Path(args.config).name)
    train_model(model, datasets, cfg, distributed=distributed, validate=args.validate,
                test=dict(test_last=args.test_last, test_best=args.test_best), timestamp=timestamp, meta=meta)
    return 0
