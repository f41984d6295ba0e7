"""``actionlab analyze-logs`` on a JSON log written by hand."""
from __future__ import annotations

import importlib.util
import json
import sys

import numpy as np
import pytest

from actionlab.cli import main
from actionlab.cli.analyze_logs import curve, train_time_stats
from actionlab.engine.logging import read_json_log

TIMES = {1: [0.9, 0.2, 0.4], 2: [0.8, 0.1, 0.3]}  # first of each epoch: worker start-up


@pytest.fixture
def log_file(tmp_path):
    lines = [{'config': 'cfg text', 'seed': 0}]
    for epoch, times in TIMES.items():
        for i, t in enumerate(times, start=1):
            lines.append({'mode': 'train', 'epoch': epoch, 'iter': 10 * i, 'lr': 0.1,
                          'loss': 3.0 / (epoch * i), 'time': t, 'data_time': 0.01})
        lines.append({'mode': 'val', 'epoch': epoch, 'iter': 5, 'lr': 0.1, 'top1_acc': 0.25 * epoch})
    path = tmp_path / '20240101_000000.log.json'
    path.write_text('\n'.join(json.dumps(line) for line in lines) + '\n')
    return path


def test_cal_train_time(log_file, capsys):
    stats = train_time_stats(read_json_log(log_file))
    assert stats['slowest_epoch'] == 1 and stats['slowest_time'] == pytest.approx(0.3)
    assert stats['fastest_epoch'] == 2 and stats['fastest_time'] == pytest.approx(0.2)
    assert stats['std_over_epochs'] == pytest.approx(0.05)
    assert stats['average_iter_time'] == pytest.approx(0.25)
    assert train_time_stats(read_json_log(log_file), include_outliers=True)['average_iter_time'] == \
        pytest.approx(np.mean(TIMES[1] + TIMES[2]))
    assert main(['analyze-logs', 'cal-train-time', str(log_file), '--include-outliers']) == 0
    out = capsys.readouterr().out
    assert f'-----Analyze train time of {log_file}-----' in out
    assert 'slowest epoch 1, average time is 0.5000' in out and 'average iter time: 0.4500 s/iter' in out


def test_curve_positions(log_file):
    records = read_json_log(log_file)
    xs, ys = curve(records, 'loss')  # 30 iterations per epoch (the last logged one in epoch 1)
    assert xs.tolist() == [10, 20, 30, 40, 50, 60]
    assert ys.tolist() == pytest.approx([3, 1.5, 1, 1.5, 0.75, 0.5])
    xs, ys = curve(records, 'top1_acc')
    assert xs.tolist() == [30, 60] and ys.tolist() == [0.25, 0.5]


def test_errors(log_file, tmp_path, capsys, monkeypatch):
    bad = tmp_path / 'bad.log.json'
    bad.write_text('{"epoch": 1}\nnot json\n')
    assert main(['analyze-logs', 'cal-train-time', str(bad)]) == 1
    assert f'{bad}:2: not a JSON log line' in capsys.readouterr().err
    only_val = tmp_path / 'val.log.json'
    only_val.write_text(json.dumps({'mode': 'val', 'epoch': 1, 'iter': 1, 'top1_acc': 0.5}) + '\n')
    assert main(['analyze-logs', 'cal-train-time', str(only_val)]) == 1
    assert 'no training iteration times' in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, 'matplotlib', None)  # as if the plot extra were missing
    assert main(['analyze-logs', 'plot-curve', str(log_file), '--out', str(tmp_path / 'c.png')]) == 1
    assert 'plotting needs matplotlib: pip install "actionlab[plot]"' in capsys.readouterr().err


@pytest.mark.skipif(importlib.util.find_spec('matplotlib') is None,
                    reason='needs matplotlib (the plot extra)')
def test_plot_curve_writes_an_image(log_file, tmp_path, capsys):
    out = tmp_path / 'curve.png'
    assert main(['analyze-logs', 'plot_curve', str(log_file), '--keys', 'loss', 'top1_acc', '--out', str(out),
                 '--title', 'tiny run']) == 0
    assert out.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n' and out.stat().st_size > 5000
    assert main(['analyze-logs', 'plot-curve', str(log_file), '--keys', 'top5_acc', '--out', str(out)]) == 1
    assert "has no logged value 'top5_acc'" in capsys.readouterr().err
