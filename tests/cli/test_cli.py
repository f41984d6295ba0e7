"""End-to-end runs of the ``actionlab`` command on a tiny synthetic dataset."""
from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from actionlab.cli import main

ROOT = Path(__file__).resolve().parents[2]
TSM_CONFIG = str(ROOT / 'configs/recognition/tsm/tsm_r18w16_1x1x8_20e_synthetic_rgb.py')


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp('synthetic')
    assert main(['data', 'synthetic', str(out), '--train-per-class', '2', '--val-per-class', '1',
                 '--seed', '3']) == 0
    return out


def _options(dataset: Path) -> list[str]:
    videos = str(dataset / 'videos')
    return ['--cfg-options', f'data.train.ann_file={dataset / "train.txt"}',
            f'data.val.ann_file={dataset / "val.txt"}', f'data.test.ann_file={dataset / "val.txt"}',
            f'data.train.data_prefix={videos}', f'data.val.data_prefix={videos}',
            f'data.test.data_prefix={videos}', 'total_epochs=2', 'evaluation.interval=1',
            'checkpoint_config.interval=1', 'data.videos_per_gpu=4', 'data.workers_per_gpu=0',
            'log_config.interval=1']


@pytest.fixture(scope='module')
def trained(dataset, tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('work')
    assert main(['train', TSM_CONFIG, '--work-dir', str(work_dir), '--validate', '--seed', '0',
                 '--deterministic', *_options(dataset)]) == 0
    return work_dir


def test_synthetic_dataset_layout(dataset):
    classes = (dataset / 'classes.txt').read_text().split()
    assert classes == ['move_left', 'move_right', 'rotate_clockwise', 'rotate_counterclockwise',
                       'grow', 'shrink']
    train = (dataset / 'train.txt').read_text().splitlines()
    assert len(train) == 12 and train[0] == 'train/000000.mp4 0' and train[7] == 'train/000007.mp4 1'
    assert all((dataset / 'videos' / line.split()[0]).stat().st_size > 1000 for line in train)


def test_train_writes_checkpoints_logs_and_config(trained):
    names = {p.name for p in trained.iterdir()}
    assert {'epoch_1.pth', 'epoch_2.pth', 'latest.pth',
            'tsm_r18w16_1x1x8_20e_synthetic_rgb.py'} <= names
    assert any(n.startswith('best_top1_acc_epoch_') for n in names)
    json_logs = list(trained.glob('*.log.json'))
    assert len(json_logs) == 1 and len(list(trained.glob('*.log'))) == 1
    records = [json.loads(line) for line in json_logs[0].read_text().splitlines()]
    train_iters = [r for r in records if r.get('mode') == 'train']
    vals = [r for r in records if r.get('mode') == 'val']
    assert len(train_iters) == 6  # 12 clips / 4 per batch = 3 iterations, logged every one, 2 epochs
    assert all(np.isfinite(r['loss']) and r['lr'] > 0 for r in train_iters)
    assert [r['epoch'] for r in vals] == [1, 2] and all(0 <= r['top1_acc'] <= 1 for r in vals)


def test_test_command_prints_metrics_and_writes_results(dataset, trained, tmp_path, capsys):
    out = tmp_path / 'results.pkl'
    assert main(['test', TSM_CONFIG, str(trained / 'latest.pth'), '--eval', 'top_k_accuracy',
                 'mean_class_accuracy', '--out', str(out), '--average-clips', 'prob',
                 *_options(dataset)]) == 0
    printed = capsys.readouterr().out
    assert 'top1_acc:' in printed and 'mean_class_accuracy:' in printed
    results = pickle.loads(out.read_bytes())
    assert len(results) == 6 and results[0].shape == (6,)
    np.testing.assert_allclose([r.sum() for r in results], 1.0, rtol=1e-5)  # 'prob' averages softmax
    top1 = float(printed.split('top1_acc:')[1].split()[0])
    labels = [int(line.split()[1]) for line in (dataset / 'val.txt').read_text().splitlines()]
    assert top1 == pytest.approx(np.mean([r.argmax() == lab for r, lab in zip(results, labels)]), abs=1e-4)


def test_infer_uses_label_map(dataset, trained, capsys):
    video = dataset / 'videos' / 'val' / '000002.mp4'
    assert main(['infer', TSM_CONFIG, str(trained / 'latest.pth'), str(video),
                 '--label-map', str(dataset / 'classes.txt'), '--top-k', '3']) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f'top-3 predictions for {video}:'
    names = [line.split(':')[0].strip() for line in lines[1:]]
    assert len(names) == 3 and set(names) <= set((dataset / 'classes.txt').read_text().split())
    scores = [float(line.split(':')[1]) for line in lines[1:]]
    assert scores == sorted(scores, reverse=True)


def test_resume_continues_from_checkpoint(dataset, trained, tmp_path):
    work_dir = tmp_path / 'resumed'
    assert main(['train', TSM_CONFIG, '--work-dir', str(work_dir), '--seed', '0', '--deterministic',
                 '--resume-from', str(trained / 'epoch_1.pth'), *_options(dataset)]) == 0
    # only epoch 2 was trained here
    assert sorted(p.name for p in work_dir.glob('epoch_*.pth')) == ['epoch_2.pth']


def test_print_config_applies_overrides(capsys):
    assert main(['print-config', TSM_CONFIG, '--cfg-options', 'model.backbone.depth=34']) == 0
    text = capsys.readouterr().out
    assert 'depth=34' in text and "type='ResNetTSM'" in text and 'total_epochs = 20' in text


def test_user_errors_are_one_message(tmp_path, capsys):
    bad = tmp_path / 'bad.py'
    bad.write_text("_base_ = ['missing_base.py']\n")
    assert main(['print-config', str(bad)]) == 1
    err = capsys.readouterr().err
    assert 'error: FileNotFoundError: base config' in err and 'missing_base.py' in err
    assert 'Traceback' not in err
    assert main(['train', TSM_CONFIG, '--work-dir', str(tmp_path / 'w'),
                 '--cfg-options', 'model.backbone.shift_dvi=4']) == 1
    err = capsys.readouterr().err
    assert "ResNetTSM got an unexpected argument 'shift_dvi'. Did you mean 'shift_div'?" in err


def test_out_of_range_label_is_caught_before_training(dataset, tmp_path, capsys):
    ann = tmp_path / 'train.txt'
    ann.write_text((dataset / 'train.txt').read_text().replace('000003.mp4 3', '000003.mp4 9'))
    options = _options(dataset)
    options[1] = f'data.train.ann_file={ann}'
    assert main(['train', TSM_CONFIG, '--work-dir', str(tmp_path / 'w'), *options]) == 1
    err = capsys.readouterr().err
    assert f'{ann}: label 9 of' in err and '000003.mp4 is out of range for a model with num_classes=6' in err



def _raise(error: BaseException):
    def run(args):
        raise error
    return run


def test_process_group_is_left_after_success_and_failure(tmp_path, monkeypatch, capsys):
    import torch.distributed as dist

    from actionlab.cli import print_config
    from actionlab.engine import distributed

    closed = []  # close_dist: a barrier, then leave

    def close_dist():
        closed.append(1)
        dist.destroy_process_group()

    monkeypatch.setattr(distributed, 'close_dist', close_dist)
    runs = [(None, 0), (ValueError('broken annotation file'), 1), (SystemExit('bad arguments'), None)]
    try:
        for i, (error, status) in enumerate(runs):
            # a one-process gloo group, as --launcher pytorch starts one
            dist.init_process_group('gloo', init_method=f'file://{tmp_path / f"store{i}"}', rank=0,
                                    world_size=1)
            if error is not None:
                monkeypatch.setattr(print_config, 'run', _raise(error))
            if status is None:
                with pytest.raises(SystemExit, match='bad arguments'):
                    main(['print-config', TSM_CONFIG])
            else:
                assert main(['print-config', TSM_CONFIG]) == status
            assert not dist.is_initialized()
            # success: close_dist (barrier + leave); failure: left without the barrier, as
            # another rank may be waiting in a different collective
            assert closed == [1]
        assert 'ValueError: broken annotation file' in capsys.readouterr().err
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
