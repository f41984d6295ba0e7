"""``actionlab data ...``: dataset tools.

``actionlab data synthetic OUT_DIR`` writes the built-in synthetic video dataset
(real mp4 clips whose classes differ only by the direction of motion) used by the
quick start and the tests.
"""
from __future__ import annotations

import argparse


def add_parser(subparsers) -> None:
    p = subparsers.add_parser('data', help='dataset tools (synthetic dataset, ...)',
                              description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    tools = p.add_subparsers(dest='data_command', metavar='TOOL', required=True)
    s = tools.add_parser('synthetic', help='write the synthetic video dataset')
    s.add_argument('out_dir', help='output folder (videos/, train.txt, val.txt, classes.txt)')
    s.add_argument('--train-per-class', type=int, default=None,
                   help='training clips per class (default: the generator\'s default)')
    s.add_argument('--val-per-class', type=int, default=None,
                   help='validation clips per class (default: the generator\'s default)')
    s.add_argument('--seed', type=int, default=0, help='random seed (same seed, same dataset)')
    s.set_defaults(func=run_synthetic)


def run_synthetic(args: argparse.Namespace) -> int:
    from actionlab.data.synthetic import make_synthetic_dataset

    kwargs = {}
    if args.train_per_class is not None:
        kwargs['num_train_per_class'] = args.train_per_class
    if args.val_per_class is not None:
        kwargs['num_val_per_class'] = args.val_per_class
    info = make_synthetic_dataset(args.out_dir, seed=args.seed, **kwargs)
    print(f'synthetic dataset written to {args.out_dir}: {info}')
    return 0
