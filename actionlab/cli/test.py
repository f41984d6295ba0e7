"""``actionlab test CONFIG CHECKPOINT``: score a trained model on the config's test set."""
from __future__ import annotations

import argparse
import json
import pickle
from pathlib import Path

AVERAGE_CLIPS = {'score': 'score', 'prob': 'prob', 'None': None}


def add_parser(subparsers) -> None:
    from actionlab.config import DictAction

    p = subparsers.add_parser('test', help='test a checkpoint on the config\'s test set',
                              description=__doc__)
    p.add_argument('config', help='config file')
    p.add_argument('checkpoint', help='checkpoint file')
    p.add_argument('--eval', nargs='+', default=[], metavar='METRIC',
                   help='metrics, e.g. top_k_accuracy mean_class_accuracy')
    p.add_argument('--out', help='write the per-video scores to this .pkl or .json file')
    p.add_argument('--average-clips', choices=sorted(AVERAGE_CLIPS),
                   help='how clip/crop scores are averaged (overrides model.test_cfg.average_clips)')
    p.add_argument('--device', default=None, help='cpu, cuda or cuda:N (default: cuda if available)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default={}, metavar='KEY=VALUE',
                   help='override config keys')
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from actionlab.apis.test import single_gpu_test
    from actionlab.config import Config
    from actionlab.data.datasets import build_dataset
    from actionlab.data.loader import build_dataloader
    from actionlab.engine.checkpoint import load_checkpoint
    from actionlab.models import build_model

    if not args.eval and not args.out:
        raise SystemExit('actionlab test: give --eval METRIC... and/or --out FILE')
    if args.out and Path(args.out).suffix not in ('.pkl', '.pickle', '.json'):
        raise SystemExit(f'actionlab test: --out must end in .pkl or .json, got {args.out}')

    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    if args.average_clips is not None:
        cfg.model.setdefault('test_cfg', {})
        cfg.model.test_cfg = dict(cfg.model.test_cfg or {}, average_clips=AVERAGE_CLIPS[args.average_clips])
    cfg.model.backbone.pretrained = None  # the checkpoint provides every weight

    dataset = build_dataset(cfg.data.test, dict(test_mode=True))
    loader_cfg = dict(videos_per_gpu=cfg.data.get('videos_per_gpu', 1),
                      workers_per_gpu=cfg.data.get('workers_per_gpu', 0))
    loader_cfg.update(cfg.data.get('test_dataloader', {}))
    loader = build_dataloader(dataset, dist=False, shuffle=False, **loader_cfg)

    device = torch.device(args.device or ('cuda' if torch.cuda.is_available() else 'cpu'))
    model = build_model(cfg.model)
    load_checkpoint(model, args.checkpoint, map_location='cpu')
    model.to(device).eval()

    outputs = single_gpu_test(model, loader)
    if args.out:
        _dump(outputs, Path(args.out))
        print(f'wrote {len(outputs)} results to {args.out}')
    if args.eval:
        eval_cfg = {k: v for k, v in cfg.get('evaluation', {}).items()
                    if k not in ('interval', 'start', 'save_best', 'rule', 'by_epoch', 'metrics')}
        metrics = dataset.evaluate(outputs, metrics=args.eval, **eval_cfg)
        for name, value in metrics.items():
            print(f'{name}: {value:.4f}')
    return 0


def _dump(outputs, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == '.json':
        path.write_text(json.dumps([o.tolist() for o in outputs]))
    else:
        with path.open('wb') as f:
            pickle.dump(outputs, f)
