"""``actionlab analyze-logs``: curves and timing from ``*.log.json`` training logs.

    actionlab analyze-logs plot-curve LOG.json [LOG2.json ...] --keys loss top1_acc --out curve.png
    actionlab analyze-logs cal-train-time LOG.json [--include-outliers]

(MMAction2's ``tools/analysis/analyze_logs.py``; ``plot_curve``/``cal_train_time`` work too.)
"""
from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import numpy as np


def add_parser(subparsers) -> None:
    p = subparsers.add_parser('analyze-logs', help='plot curves or time training from JSON logs',
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    tasks = p.add_subparsers(dest='task', metavar='TASK', required=True)

    plot = tasks.add_parser('plot-curve', aliases=['plot_curve'],
                            help='plot logged values against iterations')
    plot.add_argument('json_logs', nargs='+', help='JSON logs (<timestamp>.log.json)')
    plot.add_argument('--keys', nargs='+', default=['top1_acc'],
                      help='logged values to plot, one panel each (default: top1_acc)')
    plot.add_argument('--legend', nargs='+', help='a name per log (default: the file names)')
    plot.add_argument('--title', help='title of the figure')
    plot.add_argument('--out', required=True, help='image file to write (.png, .pdf, .svg, ...)')
    plot.set_defaults(func=run_plot_curve)

    timing = tasks.add_parser('cal-train-time', aliases=['cal_train_time'],
                              help='average time per training iteration')
    timing.add_argument('json_logs', nargs='+', help='JSON logs (<timestamp>.log.json)')
    timing.add_argument('--include-outliers', action='store_true',
                        help='also count the first logged iteration of each epoch (slow: data '
                             'workers starting)')
    timing.set_defaults(func=run_cal_train_time)


def _by_epoch(records: list[dict]) -> dict[int, list[dict]]:
    epochs: dict[int, list[dict]] = defaultdict(list)
    for record in records:
        epochs[int(record['epoch'])].append(record)
    return dict(sorted(epochs.items()))


def train_time_stats(records: list[dict], include_outliers: bool = False) -> dict[str, float | int]:
    """Per-epoch averages of the training records' ``time``: the slowest and fastest
    epoch (1-based) and their averages, the standard deviation of the epoch averages
    and the average over all counted iterations. The first record of each epoch is left
    out unless ``include_outliers``."""
    per_epoch = {}
    for epoch, items in _by_epoch(records).items():
        times = [r['time'] for r in items if r.get('mode') == 'train' and 'time' in r]
        times = times if include_outliers else times[1:]
        if times:
            per_epoch[epoch] = times
    if not per_epoch:
        raise ValueError('the log has no training iteration times to average (one logged iteration '
                         'per epoch is left out as an outlier; try --include-outliers)')
    epochs = list(per_epoch)
    means = np.array([np.mean(per_epoch[e]) for e in epochs])
    return dict(slowest_epoch=epochs[int(means.argmax())], slowest_time=float(means.max()),
                fastest_epoch=epochs[int(means.argmin())], fastest_time=float(means.min()),
                std_over_epochs=float(means.std()),
                average_iter_time=float(np.mean(np.concatenate([per_epoch[e] for e in epochs]))))


def curve(records: list[dict], key: str) -> tuple[np.ndarray, np.ndarray]:
    """``(iterations, values)`` of ``key`` over a run: training records at their global
    iteration, validation records at the end of their epoch."""
    first = min((r['epoch'] for r in records), default=1)
    train_iters = [r['iter'] for r in records if r.get('mode') == 'train' and r['epoch'] == first]
    epoch_len = max(train_iters, default=1)
    xs, ys = [], []
    for record in records:
        if key not in record:
            continue
        if record.get('mode') == 'val':
            xs.append(record['epoch'] * epoch_len)
        else:
            xs.append((record['epoch'] - 1) * epoch_len + record['iter'])
        ys.append(record[key])
    return np.asarray(xs), np.asarray(ys, dtype=float)


def plot_curves(logs: dict[str, list[dict]], keys: list[str], out: str | Path,
                title: str | None = None) -> Path:
    """Plot ``keys`` of every log (``{legend: records}``), one panel per key, to ``out``."""
    from actionlab.visualization.confusion import matplotlib_figure

    Figure, FigureCanvasAgg = matplotlib_figure()
    fig = Figure(figsize=(8, 3 * len(keys)))
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(keys), 1, squeeze=False)[:, 0]
    for ax, key in zip(axes, keys):
        for name, records in logs.items():
            xs, ys = curve(records, key)
            if not len(xs):
                raise KeyError(f'{name} has no logged value {key!r}; it logs: '
                               f'{", ".join(sorted({k for r in records for k in r}))}')
            ax.plot(xs, ys, label=name, linewidth=1, marker='o' if len(xs) < 30 else None, markersize=3)
        ax.set(xlabel='iteration', ylabel=key)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    return out


def run_plot_curve(args: argparse.Namespace) -> int:
    from actionlab.engine.logging import read_json_log

    legend = args.legend or [Path(p).name for p in args.json_logs]
    if len(legend) != len(args.json_logs):
        raise ValueError(f'--legend gives {len(legend)} names for {len(args.json_logs)} logs')
    out = plot_curves({name: read_json_log(path) for name, path in zip(legend, args.json_logs)},
                      args.keys, args.out, args.title)
    print(f'wrote {out}')
    return 0


def run_cal_train_time(args: argparse.Namespace) -> int:
    from actionlab.engine.logging import read_json_log

    for path in args.json_logs:
        stats = train_time_stats(read_json_log(path), args.include_outliers)
        print(f'-----Analyze train time of {path}-----')
        print(f'slowest epoch {stats["slowest_epoch"]}, average time is {stats["slowest_time"]:.4f}')
        print(f'fastest epoch {stats["fastest_epoch"]}, average time is {stats["fastest_time"]:.4f}')
        print(f'time std over epochs is {stats["std_over_epochs"]:.4f}')
        print(f'average iter time: {stats["average_iter_time"]:.4f} s/iter')
        print()
    return 0
