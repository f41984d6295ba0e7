"""``actionlab test``, ``eval-metric`` and ``report-accuracy`` end to end on synthetic clips
with a random-weight TSM."""
from __future__ import annotations

import json
import os
import pickle
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from actionlab.cli import main
from actionlab.config import Config
from actionlab.data.synthetic import make_synthetic_dataset
from actionlab.engine.checkpoint import save_checkpoint
from actionlab.evaluation import mean_class_accuracy, softmax, top_k_accuracy
from actionlab.models import build_model

ROOT = Path(__file__).resolve().parents[2]
CONFIG = str(ROOT / 'configs/recognition/tsm/tsm_r18w16_1x1x8_20e_synthetic_rgb.py')


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    """(options pointing the config's test set at 6 synthetic clips, checkpoint, dataset folder)."""
    root = tmp_path_factory.mktemp('test_tool')
    make_synthetic_dataset(root / 'data', num_train_per_class=0, num_val_per_class=1, seed=1)
    torch.manual_seed(0)
    checkpoint = save_checkpoint(build_model(Config.fromfile(CONFIG).model), root / 'tsm.pth')
    options = ['--cfg-options', f'data.test.ann_file={root / "data/val.txt"}',
               f'data.test.data_prefix={root / "data/videos"}', 'data.workers_per_gpu=0',
               'data.test_dataloader.videos_per_gpu=4']
    return options, str(checkpoint), root / 'data'


def _labels(data: Path) -> list[int]:
    return [int(line.split()[1]) for line in (data / 'val.txt').read_text().splitlines()]


def _printed(text: str, name: str) -> float:
    return float(text.split(f'{name}:')[1].split()[0])


def test_test_eval_out_and_fused_conv_bn(setup, tmp_path, capsys):
    options, checkpoint, data = setup
    assert main(['test', CONFIG, checkpoint, '--eval', 'top_k_accuracy', 'mean_class_accuracy',
                 '--eval-options', 'metric_options.top_k_accuracy.topk=(1,3)', '--average-clips', 'score',
                 '--out', str(tmp_path / 'scores.pkl'), *options]) == 0
    printed = capsys.readouterr().out
    scores = pickle.loads((tmp_path / 'scores.pkl').read_bytes())
    assert len(scores) == 6 and scores[0].shape == (6,)
    assert not np.allclose([s.sum() for s in scores], 1)  # raw scores, not probabilities
    labels = _labels(data)
    assert _printed(printed, 'top1_acc') == pytest.approx(top_k_accuracy(scores, labels, (1,))[0], abs=1e-4)
    assert _printed(printed, 'top3_acc') == pytest.approx(top_k_accuracy(scores, labels, (3,))[0], abs=1e-4)
    assert _printed(printed, 'mean_class_accuracy') == pytest.approx(mean_class_accuracy(scores, labels),
                                                                      abs=1e-4)
    # folding the BatchNorms into the convs changes nothing but the speed
    assert main(['test', CONFIG, checkpoint, '--fuse-conv-bn', '--average-clips', 'score',
                 '--out', str(tmp_path / 'fused.json'), *options]) == 0
    fused = json.loads((tmp_path / 'fused.json').read_text())
    np.testing.assert_allclose(fused, np.stack(scores), rtol=1e-4, atol=1e-5)
    # ... and neither do channels-last and the oneDNN layers
    assert main(['test', CONFIG, checkpoint, '--optimize', '--average-clips', 'score',
                 '--out', str(tmp_path / 'optimized.json'), *options]) == 0
    optimized = json.loads((tmp_path / 'optimized.json').read_text())
    np.testing.assert_allclose(optimized, np.stack(scores), rtol=1e-4, atol=1e-5)


def test_test_feature_extraction_with_out_items(setup, tmp_path):
    options, checkpoint, data = setup
    out = tmp_path / 'features.pkl'
    assert main(['test', CONFIG, checkpoint, '--feature-extraction', '--out', str(out),
                 '--out-items', 'filename', 'label', 'features', *options]) == 0
    records = pickle.loads(out.read_bytes())
    assert [Path(r['filename']).name for r in records] == [f'{i:06d}.mp4' for i in range(6)]
    assert [r['label'] for r in records] == _labels(data)
    # features: the backbone's 128 channels, pooled over positions and segments (after a ReLU)
    assert all(r['features'].shape == (128,) and (r['features'] >= 0).all() for r in records)
    assert len({r['features'].tobytes() for r in records}) == 6


def test_test_argument_errors(setup, capsys):
    options, checkpoint, _ = setup
    for extra, message in ((['--out', 'x.csv'], '--out must end in .pkl, .pickle, .json'),
                           ([], 'give --eval METRIC..., --out FILE and/or --plot-confusion'),
                           (['--feature-extraction', '--eval', 'top_k_accuracy'], 'cannot be scored'),
                           (['--out', 'x.pkl', '--out-items', 'features'], 'needs --feature-extraction')):
        with pytest.raises(SystemExit, match=message):
            main(['test', CONFIG, checkpoint, *extra, *options])


def test_eval_metric_and_report_accuracy(setup, tmp_path, capsys):
    options, checkpoint, data = setup
    rng = np.random.default_rng(0)
    rgb = [rng.normal(size=6).astype(np.float32) for _ in range(6)]
    flow = [rng.normal(size=6).astype(np.float32) for _ in range(6)]
    (tmp_path / 'rgb.pkl').write_bytes(pickle.dumps(rgb))
    (tmp_path / 'flow.json').write_text(json.dumps([f.tolist() for f in flow]))
    labels = _labels(data)

    assert main(['eval-metric', CONFIG, str(tmp_path / 'rgb.pkl'), '--eval', 'top_k_accuracy',
                 'mean_class_accuracy', *options]) == 0
    printed = capsys.readouterr().out
    top1, top5 = top_k_accuracy(rgb, labels, (1, 5))
    assert _printed(printed, 'top1_acc') == pytest.approx(top1, abs=1e-4)
    assert _printed(printed, 'top5_acc') == pytest.approx(top5, abs=1e-4)
    assert _printed(printed, 'mean_class_accuracy') == pytest.approx(mean_class_accuracy(rgb, labels),
                                                                      abs=1e-4)

    assert main(['report-accuracy', '--scores', str(tmp_path / 'rgb.pkl'), str(tmp_path / 'flow.json'),
                 '--coefficients', '1', '0.5', '--datalist', str(data / 'val.txt'), '--apply-softmax']) == 0
    printed = capsys.readouterr().out
    fused = softmax(np.stack(rgb)) + 0.5 * softmax(np.stack(flow))
    assert _printed(printed, 'Mean Class Accuracy') == pytest.approx(mean_class_accuracy(fused, labels),
                                                                      abs=1e-4)
    top1, top5 = top_k_accuracy(fused, labels, (1, 5))
    assert _printed(printed, 'Top 1 Accuracy') == pytest.approx(top1, abs=1e-4)
    assert _printed(printed, 'Top 5 Accuracy') == pytest.approx(top5, abs=1e-4)
    with pytest.raises(SystemExit, match='2 score files but 1 coefficients'):
        main(['report-accuracy', '--scores', str(tmp_path / 'rgb.pkl'), str(tmp_path / 'rgb.pkl'),
              '--coefficients', '1', '--datalist', str(data / 'val.txt')])


def test_records_from_out_items_are_scored_by_both_commands(setup, tmp_path, capsys):
    options, _, data = setup
    labels = _labels(data)
    rng = np.random.default_rng(1)
    scores = [rng.normal(size=6).astype(np.float32) for _ in labels]
    records = [dict(filename=f'{i:06d}.mp4', label=label, scores=s)
               for i, (label, s) in enumerate(zip(labels, scores))]
    (tmp_path / 'records.pkl').write_bytes(pickle.dumps(records))
    assert main(['report-accuracy', '--scores', str(tmp_path / 'records.pkl'), '--datalist',
                 str(data / 'val.txt'), '--top-k', '1', '3']) == 0
    printed = capsys.readouterr().out
    assert _printed(printed, 'Mean Class Accuracy') == pytest.approx(mean_class_accuracy(scores, labels),
                                                                      abs=1e-4)
    assert _printed(printed, 'Top 3 Accuracy') == pytest.approx(top_k_accuracy(scores, labels, (3,))[0],
                                                                 abs=1e-4)
    assert main(['eval-metric', CONFIG, str(tmp_path / 'records.pkl'), '--eval', 'top_k_accuracy',
                 *options]) == 0
    assert _printed(capsys.readouterr().out, 'top1_acc') == pytest.approx(
        top_k_accuracy(scores, labels, (1,))[0], abs=1e-4)
    # records without scores: one message naming the file, from both commands
    (tmp_path / 'names.pkl').write_bytes(pickle.dumps([dict(filename=r['filename']) for r in records]))
    for command in (['report-accuracy', '--scores', str(tmp_path / 'names.pkl'), '--datalist',
                     str(data / 'val.txt')],
                    ['eval-metric', CONFIG, str(tmp_path / 'names.pkl'), '--eval', 'top_k_accuracy',
                     *options]):
        assert main(command) == 1
        err = capsys.readouterr().err
        assert f'results file {tmp_path / "names.pkl"} holds records without "scores"' in err
        assert 'Traceback' not in err


def test_fuse_conv_bn_with_optimize_folds_once(setup, tmp_path, monkeypatch):
    import sys

    options, checkpoint, _ = setup
    module = sys.modules['actionlab.models.ops.fuse_conv_bn']
    folds = []
    fold = module._fuse_children

    def counting(model, *args, **kwargs):
        if type(model).__name__ == 'Recognizer2D':  # a whole-model fold, not its recursion
            folds.append(1)
        return fold(model, *args, **kwargs)

    monkeypatch.setattr(module, '_fuse_children', counting)
    outs = {}
    for flags in (['--fuse-conv-bn'], ['--optimize'], ['--fuse-conv-bn', '--optimize']):
        folds.clear()
        out = tmp_path / f'{"_".join(flags)}.pkl'
        assert main(['test', CONFIG, checkpoint, *flags, '--out', str(out), *options]) == 0
        assert folds == [1], flags
        outs[tuple(flags)] = np.stack(pickle.loads(out.read_bytes()))
    np.testing.assert_allclose(outs[('--fuse-conv-bn', '--optimize')], outs[('--fuse-conv-bn',)],
                               rtol=1e-4, atol=1e-5)


def test_confusion_plots(setup, tmp_path):
    pytest.importorskip('matplotlib', reason='plotting needs matplotlib (the plot extra)')
    options, checkpoint, data = setup
    assert main(['test', CONFIG, checkpoint, '--plot-confusion', str(tmp_path / 'test.png'),
                 '--out', str(tmp_path / 'r.pkl'), '--label-map', str(data / 'classes.txt'), *options]) == 0
    assert main(['eval-metric', CONFIG, str(tmp_path / 'r.pkl'), '--plot-confusion',
                 str(tmp_path / 'eval.png'), *options]) == 0
    assert main(['report-accuracy', '--scores', str(tmp_path / 'r.pkl'), '--datalist', str(data / 'val.txt'),
                 '--plot-confusion', str(tmp_path / 'fused.png')]) == 0
    for name in ('test.png', 'eval.png', 'fused.png'):
        assert (tmp_path / name).read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_test_under_torchrun_gathers_all_ranks(setup, tmp_path):
    """Two gloo processes started by torchrun score 3 clips each; rank 0 writes all 6."""
    options, checkpoint, _ = setup
    single, multi = tmp_path / 'single.pkl', tmp_path / 'multi.pkl'
    assert main(['test', CONFIG, checkpoint, '--out', str(single), *options]) == 0
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1')
    for collect in (['--gpu-collect'], ['--tmpdir', str(tmp_path / 'parts')]):
        done = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2',
                               '--master_port', str(port), '-m', 'actionlab', 'test', CONFIG, checkpoint,
                               '--launcher', 'pytorch', '--out', str(multi), *collect, *options],
                              env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        assert done.stdout.count('wrote 6 results') == 1  # rank 0 only
        np.testing.assert_allclose(np.stack(pickle.loads(multi.read_bytes())),
                                   np.stack(pickle.loads(single.read_bytes())), rtol=1e-5, atol=1e-6)
