"""``actionlab eval-metric CONFIG RESULTS_FILE --eval METRIC...``: score a saved results file.

The results file is what ``actionlab test --out`` (or MMAction2's test tool) wrote: one
score vector per video of the config's test set, in dataset order (a .pkl, .json or .yaml list;
records from ``--out-items`` are scored by their ``scores`` field).
"""
from __future__ import annotations

import argparse


def add_parser(subparsers) -> None:
    from actionlab.config import DictAction

    p = subparsers.add_parser('eval-metric', help='score a saved results file',
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config', help='config file (its data.test names the annotations)')
    p.add_argument('results', help='results file (.pkl, .json or .yaml) from actionlab test --out')
    p.add_argument('--eval', nargs='+', default=[], metavar='METRIC',
                   help='metrics, e.g. top_k_accuracy mean_class_accuracy')
    p.add_argument('--eval-options', nargs='+', action=DictAction, default={}, metavar='KEY=VALUE',
                   help='arguments of dataset.evaluate, e.g. metric_options.top_k_accuracy.topk="(1,3)"')
    p.add_argument('--plot-confusion', metavar='IMAGE',
                   help='plot the confusion matrix to this image (needs matplotlib: the plot extra)')
    p.add_argument('--label-map', help='class names for the plot, one per line')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default={}, metavar='KEY=VALUE',
                   help='override config keys')
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from actionlab.apis.test import load_scores
    from actionlab.cli.test import report
    from actionlab.config import Config
    from actionlab.data.datasets import build_dataset

    if not args.eval and not args.plot_confusion:
        raise SystemExit('actionlab eval-metric: give --eval METRIC... and/or --plot-confusion IMAGE')
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    results = load_scores(args.results)
    report(results, build_dataset(cfg.data.test, dict(test_mode=True)), cfg, args)
    return 0
