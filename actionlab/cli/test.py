"""``actionlab test CONFIG CHECKPOINT``: score a trained model on the config's test set.

One process: ``actionlab test CONFIG CKPT --eval top_k_accuracy``. Several GPUs or nodes:
``torchrun --nproc_per_node=N -m actionlab test CONFIG CKPT --launcher pytorch ...``
(each process scores its share; rank 0 gathers the results, writes and scores them).
"""
from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

AVERAGE_CLIPS = {'score': 'score', 'prob': 'prob', 'None': None}
OUT_ITEMS = ('filename', 'label', 'scores', 'features')


def add_parser(subparsers) -> None:
    from actionlab.config import DictAction

    p = subparsers.add_parser('test', help='test a checkpoint on the config\'s test set',
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config', help='config file')
    p.add_argument('checkpoint', help='checkpoint file')
    p.add_argument('--out', help='write the per-video results to this .pkl, .json or .yaml file '
                   '(default: the config\'s output_config.out, if any)')
    p.add_argument('--out-items', nargs='+', choices=OUT_ITEMS, metavar='ITEM',
                   help=f'write one record per video with these fields ({", ".join(OUT_ITEMS)}) '
                   'instead of the bare score list; features need --feature-extraction')
    p.add_argument('--eval', nargs='+', default=[], metavar='METRIC',
                   help='metrics, e.g. top_k_accuracy mean_class_accuracy')
    p.add_argument('--eval-options', nargs='+', action=DictAction, default={}, metavar='KEY=VALUE',
                   help='arguments of dataset.evaluate, e.g. metric_options.top_k_accuracy.topk="(1,3)"')
    p.add_argument('--average-clips', choices=sorted(AVERAGE_CLIPS),
                   help='how clip/crop scores are averaged (overrides model.test_cfg.average_clips)')
    p.add_argument('--fuse-conv-bn', action='store_true',
                   help='fold BatchNorm layers into the convolutions before them (faster, same scores)')
    p.add_argument('--optimize', action='store_true',
                   help='also run the convs channels-last and on oneDNN on the CPU (implies '
                   '--fuse-conv-bn; 2-3x faster on a CPU, same scores within float rounding)')
    p.add_argument('--feature-extraction', action='store_true',
                   help='output pooled backbone features instead of class scores')
    p.add_argument('--plot-confusion', metavar='IMAGE',
                   help='plot the confusion matrix to this image (needs matplotlib: the plot extra)')
    p.add_argument('--label-map', help='class names for the plot, one per line')
    p.add_argument('--device', default=None, help='cpu, cuda or cuda:N (default: cuda if available)')
    p.add_argument('--launcher', choices=('none', 'pytorch', 'slurm'), default='none',
                   help='how the processes were started (none: a single process)')
    p.add_argument('--local_rank', '--local-rank', type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument('--gpu-collect', action='store_true',
                   help='gather the results of all processes through the process group')
    p.add_argument('--tmpdir', help='shared folder for gathering results through files '
                   '(without --gpu-collect; default: a fresh folder under ./.dist_test)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default={}, metavar='KEY=VALUE',
                   help='override config keys')
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from actionlab.apis.inference import init_recognizer
    from actionlab.apis.test import RESULT_SUFFIXES, multi_gpu_test, single_gpu_test
    from actionlab.config import Config
    from actionlab.data.datasets import build_dataset
    from actionlab.data.loader import build_dataloader
    from actionlab.engine.distributed import get_dist_info, init_dist
    from actionlab.models.ops import fuse_conv_bn

    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    out = args.out or (cfg.get('output_config') or {}).get('out')
    if not args.eval and not out and not args.plot_confusion:
        raise SystemExit('actionlab test: give --eval METRIC..., --out FILE and/or --plot-confusion IMAGE')
    suffixes = ('.csv',) if cfg.data.test.get('type') == 'AVADataset' else RESULT_SUFFIXES
    if out and Path(out).suffix not in suffixes:
        raise SystemExit(f'actionlab test: --out must end in {", ".join(suffixes)}, got {out}')
    if args.out_items and not out:
        raise SystemExit('actionlab test: --out-items needs --out FILE')
    items = args.out_items or []
    if args.feature_extraction and (args.eval or args.plot_confusion or 'scores' in items):
        raise SystemExit('actionlab test: --feature-extraction outputs features, which cannot be scored '
                         '(drop --eval/--plot-confusion, and use the out item "features")')
    if 'features' in items and not args.feature_extraction:
        raise SystemExit('actionlab test: the out item "features" needs --feature-extraction')

    if args.average_clips is not None or args.feature_extraction:
        test_cfg = dict(cfg.model.get('test_cfg') or {})
        if args.average_clips is not None:
            test_cfg['average_clips'] = AVERAGE_CLIPS[args.average_clips]
        if args.feature_extraction:
            test_cfg['feature_extraction'] = True
        cfg.model.test_cfg = test_cfg

    distributed = args.launcher != 'none'
    if distributed:
        os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
        init_dist(args.launcher, **cfg.get('dist_params', {}))
    rank, _ = get_dist_info()
    device = _device(args.device, distributed)

    dataset = build_dataset(cfg.data.test, dict(test_mode=True))
    loader_cfg = dict(videos_per_gpu=cfg.data.get('videos_per_gpu', 1),
                      workers_per_gpu=cfg.data.get('workers_per_gpu', 0),
                      dist=distributed, shuffle=False, pin_memory=device.type == 'cuda')
    loader_cfg.update(cfg.data.get('test_dataloader', {}))
    loader = build_dataloader(dataset, **loader_cfg)

    # pretrained weights off, checkpoint loaded, on the device in eval mode; --optimize
    # folds the BatchNorms itself, so --fuse-conv-bn has nothing left to do then
    model = init_recognizer(cfg, args.checkpoint, device, optimize=args.optimize)
    if args.fuse_conv_bn and not args.optimize:
        model = fuse_conv_bn(model)

    if distributed:
        outputs = multi_gpu_test(model, loader, args.tmpdir, args.gpu_collect)
    else:
        outputs = single_gpu_test(model, loader)
    if rank != 0:
        return 0
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        dataset.dump_results(_records(outputs, dataset, items) if items else outputs, out)
        print(f'wrote {len(outputs)} results to {out}')
    report(outputs, dataset, cfg, args)
    return 0


def report(outputs: Sequence, dataset, cfg, args: argparse.Namespace) -> None:
    """Print the ``--eval`` metrics of ``outputs`` and draw the ``--plot-confusion`` plot."""
    from actionlab.apis.test import evaluate_kwargs

    if args.eval:
        metrics = dataset.evaluate(outputs, **evaluate_kwargs(cfg, args.eval, args.eval_options))
        for name, value in metrics.items():
            print(f'{name}: {value:.4f}')
    if args.plot_confusion:
        plot_confusion(outputs, dataset, args.plot_confusion, args.label_map)


def _device(name: str | None, distributed: bool):
    import torch

    if name:
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device('cuda', int(os.environ.get('LOCAL_RANK', 0)) if distributed else 0)
    return torch.device('cpu')


def _sample_name(info: Mapping) -> str:
    return str(info.get('filename') or info.get('frame_dir') or info.get('audio_path', ''))


def _records(outputs: Sequence, dataset, items: Sequence[str]) -> list[dict]:
    """One dict per video with the requested ``items``."""
    records = []
    for output, info in zip(outputs, dataset.video_infos):
        record = {}
        for item in items:
            if item == 'filename':
                record[item] = _sample_name(info)
            elif item == 'label':
                record[item] = info.get('label')
            else:  # scores, or features under --feature-extraction
                record[item] = output
        records.append(record)
    return records


def plot_confusion(outputs: Sequence, dataset, image: str, label_map: str | None) -> None:
    """Plot the confusion matrix of arg-max predictions against ``dataset``'s labels."""
    import numpy as np

    from actionlab.apis.inference import load_label_map
    from actionlab.visualization import plot_confusion_matrix

    labels = [info['label'] for info in dataset.video_infos]
    if any(isinstance(label, (list, tuple)) for label in labels):
        raise ValueError('--plot-confusion needs single-label annotations; '
                         f'{dataset.ann_file} is multi-label')
    preds = np.stack([np.asarray(o).reshape(-1) for o in outputs]).argmax(axis=1)
    names = load_label_map(label_map) if label_map else None
    path = plot_confusion_matrix(preds, np.asarray(labels, dtype=np.int64), image, class_names=names)
    print(f'confusion matrix plotted to {path}')
