"""``actionlab train CONFIG``: train a model as the config describes."""
from __future__ import annotations

import argparse
import time
from pathlib import Path


def add_parser(subparsers) -> None:
    from actionlab.config import DictAction

    p = subparsers.add_parser('train', help='train a model from a config file',
                              description=__doc__)
    p.add_argument('config', help='config file (.py, .json or .yaml)')
    p.add_argument('--work-dir', help='where logs and checkpoints go '
                   '(default: the config\'s work_dir, else ./work_dirs/<config name>)')
    p.add_argument('--resume-from', help='checkpoint to resume from (weights, optimizer, epoch)')
    p.add_argument('--validate', action='store_true',
                   help='evaluate on data.val every evaluation.interval epochs')
    p.add_argument('--seed', type=int, default=None, help='random seed (default: drawn at random)')
    p.add_argument('--deterministic', action='store_true',
                   help='use deterministic algorithms (reproducible, slower)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                   metavar='KEY=VALUE', help='override config keys, e.g. total_epochs=5 '
                   'data.videos_per_gpu=4 "workflow=[(train,1),(val,1)]"')
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from actionlab.apis.train import train_model
    from actionlab.config import Config
    from actionlab.data.datasets import build_dataset
    from actionlab.engine.logging import get_logger
    from actionlab.engine.seeding import init_random_seed, set_random_seed
    from actionlab.models import build_model
    from actionlab.version import __version__

    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    if args.work_dir:
        cfg.work_dir = args.work_dir
    elif not cfg.get('work_dir'):
        cfg.work_dir = str(Path('work_dirs') / Path(args.config).stem)
    if args.resume_from:
        cfg.resume_from = args.resume_from
    work_dir = Path(cfg.work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    cfg.dump(work_dir / Path(args.config).with_suffix('.py').name)

    timestamp = time.strftime('%Y%m%d_%H%M%S', time.localtime())
    logger = get_logger(log_file=work_dir / f'{timestamp}.log', log_level=cfg.get('log_level', 'INFO'))
    logger.info('actionlab %s, config %s\n%s', __version__, args.config, cfg.pretty_text)

    seed = init_random_seed(args.seed)
    set_random_seed(seed, deterministic=args.deterministic)
    logger.info('seed %d, deterministic %s', seed, args.deterministic)
    cfg.seed = seed

    model = build_model(cfg.model)
    datasets = [build_dataset(cfg.data.train)]
    if len(cfg.get('workflow', [('train', 1)])) == 2:
        # the val workflow reports losses, so it needs labels and the train pipeline's outputs
        val_cfg = cfg.data.val.copy()
        val_cfg.pipeline = cfg.data.train.pipeline
        datasets.append(build_dataset(val_cfg))
    meta = dict(actionlab_version=__version__, config=cfg.pretty_text, seed=seed,
                exp_name=Path(args.config).name)
    train_model(model, datasets, cfg, validate=args.validate, timestamp=timestamp, meta=meta)
    return 0
