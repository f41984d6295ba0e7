"""``actionlab report-accuracy --scores A.pkl B.pkl --datalist LIST``: fuse score files.

The fused score of a video is ``sum_i coefficient_i * score_i`` over the files (e.g. the
RGB and optical-flow streams of a two-stream network), optionally after a softmax of each;
prints its mean class accuracy and top-k accuracies against the labels of ``--datalist``
(an annotation file: the last field of each line is the label).
"""
from __future__ import annotations

import argparse


def add_parser(subparsers) -> None:
    p = subparsers.add_parser('report-accuracy', help='fuse score files and report their accuracy',
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--scores', nargs='+', required=True, metavar='FILE',
                   help='results files (.pkl or .json) of the same videos, in the same order '
                   '(score lists, or records with "scores" from actionlab test --out-items)')
    p.add_argument('--coefficients', nargs='+', type=float, default=None, metavar='C',
                   help='one weight per score file (default: 1 each)')
    p.add_argument('--datalist', required=True, help='annotation file with the labels')
    p.add_argument('--apply-softmax', action='store_true', help='softmax each score vector first')
    p.add_argument('--top-k', nargs='+', type=int, default=[1, 5], metavar='K',
                   help='top-k accuracies to report (default: 1 5)')
    p.add_argument('--plot-confusion', metavar='IMAGE',
                   help='plot the confusion matrix of the fused scores (needs matplotlib)')
    p.add_argument('--label-map', help='class names for the plot, one per line')
    p.set_defaults(func=run)


def read_datalist_labels(path: str) -> list[int]:
    """The label of every non-blank line of an annotation list (its last field)."""
    from pathlib import Path

    labels = []
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            labels.append(int(line.split()[-1]))
        except ValueError:
            raise ValueError(f'{path}:{number}: the last field {line.split()[-1]!r} is not an '
                             'integer label') from None
    return labels


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from actionlab.apis.test import load_scores
    from actionlab.evaluation import get_weighted_score, mean_class_accuracy, softmax, top_k_accuracy

    coefficients = args.coefficients or [1.0] * len(args.scores)
    if len(coefficients) != len(args.scores):
        raise SystemExit(f'actionlab report-accuracy: {len(args.scores)} score files but '
                         f'{len(coefficients)} coefficients')
    score_lists = []
    for path in args.scores:
        scores = np.stack([np.asarray(s, dtype=np.float64).reshape(-1) for s in load_scores(path)])
        score_lists.append(softmax(scores, dim=1) if args.apply_softmax else scores)
    labels = read_datalist_labels(args.datalist)
    for path, scores in zip(args.scores, score_lists):
        if len(scores) != len(labels):
            raise ValueError(f'{path} has {len(scores)} results but {args.datalist} lists '
                             f'{len(labels)} videos')
    fused = get_weighted_score(score_lists, coefficients)
    print(f'Mean Class Accuracy: {mean_class_accuracy(fused, labels):.04f}')
    for k, acc in zip(args.top_k, top_k_accuracy(fused, labels, args.top_k)):
        print(f'Top {k} Accuracy: {acc:.04f}')
    if args.plot_confusion:
        from actionlab.apis.inference import load_label_map
        from actionlab.visualization import plot_confusion_matrix

        names = load_label_map(args.label_map) if args.label_map else None
        path = plot_confusion_matrix(np.argmax(fused, axis=1), np.asarray(labels, dtype=np.int64),
                                     args.plot_confusion, class_names=names)
        print(f'confusion matrix plotted to {path}')
    return 0
