"""``actionlab train`` in real subprocesses: a run killed with SIGKILL while it writes a
checkpoint, then ``--auto-resume``, ends with exactly the weights of an uninterrupted run."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from actionlab.cli import main
from actionlab.engine.checkpoint import read_checkpoint

ROOT = Path(__file__).resolve().parents[2]
NORM = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_bgr=False)
PIPELINE = [
    dict(type='PyAVInit'), dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=2),
    dict(type='PyAVDecode'), dict(type='RandomResizedCrop', area_range=[0.5, 1.0]),
    dict(type='Resize', scale=[24, 24], keep_ratio=False), dict(type='Flip', flip_ratio=0.5),
    dict(type='Normalize', **NORM), dict(type='FormatShape', input_format='NCHW'),
    dict(type='Collect', keys=['imgs', 'label'], meta_keys=[]), dict(type='ToTensor', keys=['imgs', 'label'])]

# Registered in the training process through custom_imports: when epoch 2 is saved, the
# checkpoint writer puts a few bytes into its temporary file and the process is SIGKILLed.
KILLER = '''
import os
import signal

import torch

from actionlab.engine.hooks import HOOKS, Hook


@HOOKS.register_module()
class KillWhileSaving(Hook):
    def __init__(self, epoch):
        self.epoch = epoch

    def after_train_epoch(self, runner):
        if runner.epoch + 1 == self.epoch:
            def dying_save(obj, f, *args, **kwargs):
                f.write(b'the first bytes of a checkpoint')
                f.flush()
                os.kill(os.getpid(), signal.SIGKILL)
            torch.save = dying_save
'''


@pytest.fixture
def configs(tmp_path, synthetic_video):
    ann = tmp_path / 'train.txt'
    ann.write_text(''.join(f'{synthetic_video.path.name} {i % 2}\n' for i in range(8)))
    cfg = dict(
        model=dict(type='Recognizer2D',
                   backbone=dict(type='ResNet', depth=18, base_channels=8, pretrained=None),
                   cls_head=dict(type='TSNHead', num_classes=2, in_channels=64, dropout_ratio=0.5),
                   test_cfg=dict(average_clips='prob')),
        data=dict(videos_per_gpu=4, workers_per_gpu=0,
                  train=dict(type='VideoDataset', ann_file=str(ann), pipeline=PIPELINE,
                             data_prefix=str(synthetic_video.path.parent))),
        optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=1e-4),
        optimizer_config=dict(grad_clip=dict(max_norm=40)),
        lr_config=dict(policy='CosineAnnealing', min_lr=0, warmup='linear', warmup_iters=3),
        total_epochs=3, checkpoint_config=dict(interval=1),
        log_config=dict(interval=1, hooks=[dict(type='TextLoggerHook')]),
        device='cpu')
    (tmp_path / 'killer_hook.py').write_text(KILLER)
    plain, killing = tmp_path / 'tsn_tiny.json', tmp_path / 'tsn_tiny_killed.json'
    plain.write_text(json.dumps(cfg))
    killer = dict(type='KillWhileSaving', epoch=2, priority='HIGHEST')
    killing.write_text(json.dumps(dict(cfg, custom_imports=dict(imports=['killer_hook']),
                                       custom_hooks=[killer])))
    return plain, killing


def start(config: Path, work_dir: Path, *options: str) -> subprocess.Popen:
    """``actionlab train`` (seed 0, deterministic) in a new process; its log goes to ``<work_dir>.txt``."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(config.parent)]), OMP_NUM_THREADS='1')
    with open(f'{work_dir}.txt', 'a') as log:
        return subprocess.Popen([sys.executable, '-m', 'actionlab', 'train', str(config), '--work-dir',
                                 str(work_dir), '--seed', '0', '--deterministic', *options],
                                env=env, stdout=subprocess.DEVNULL, stderr=log)


def log_of(work_dir: Path) -> str:
    return Path(f'{work_dir}.txt').read_text()


def test_sigkill_while_saving_then_auto_resume(tmp_path, configs):
    plain, killing = configs
    work_dir = tmp_path / 'interrupted'
    straight, killed = start(plain, tmp_path / 'straight'), start(killing, work_dir)  # side by side
    assert straight.wait(timeout=300) == 0, log_of(tmp_path / 'straight')
    assert killed.wait(timeout=300) == -signal.SIGKILL, log_of(work_dir)

    # the kill hit the write of epoch_2.pth: its temporary file is cut short, the rest is intact
    leftovers = [p.name for p in work_dir.glob('.epoch_2.pth.*.tmp')]
    assert len(leftovers) == 1
    assert (work_dir / leftovers[0]).read_bytes() == b'the first bytes of a checkpoint'
    assert not (work_dir / 'epoch_2.pth').exists()
    assert os.readlink(work_dir / 'latest.pth') == 'epoch_1.pth'
    assert read_checkpoint(work_dir / 'latest.pth')['meta']['epoch'] == 1

    assert start(plain, work_dir, '--auto-resume').wait(timeout=300) == 0, log_of(work_dir)
    assert f'resuming from {work_dir / "latest.pth"}' in log_of(work_dir)
    expected = read_checkpoint(tmp_path / 'straight' / 'epoch_3.pth')
    final = read_checkpoint(work_dir / 'epoch_3.pth')
    assert final['meta']['iter'] == expected['meta']['iter'] == 6
    for key, value in expected['state_dict'].items():
        assert torch.equal(final['state_dict'][key], value), key
    for a, b in zip(expected['optimizer']['state'].values(), final['optimizer']['state'].values()):
        assert torch.equal(a['momentum_buffer'], b['momentum_buffer'])


def test_launcher_needs_the_launchers_environment(tmp_path, configs, monkeypatch, capsys):
    for key in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'):
        monkeypatch.delenv(key, raising=False)
    plain, _ = configs
    assert main(['train', str(plain), '--work-dir', str(tmp_path / 'w'), '--launcher', 'pytorch']) == 1
    assert ('error: ValueError: --launcher pytorch: environment variable(s) RANK, WORLD_SIZE, MASTER_ADDR, '
            'MASTER_PORT not set; start the processes with torchrun') in capsys.readouterr().err


def test_diff_seed_offsets_only_the_process_generators(tmp_path, configs, monkeypatch):
    """--diff-seed on rank 1: set_random_seed gets seed + 1, while cfg.seed (which seeds the
    DistributedSampler, whose permutation all ranks must share) and the meta keep the seed."""
    import actionlab.apis.train
    import actionlab.engine.distributed
    import actionlab.engine.seeding

    seeded, trained = [], []
    monkeypatch.setattr(actionlab.engine.distributed, 'get_dist_info', lambda: (1, 2))
    monkeypatch.setattr(actionlab.engine.seeding, 'set_random_seed',
                        lambda seed, deterministic=False: seeded.append(seed))
    monkeypatch.setattr(actionlab.apis.train, 'train_model',
                        lambda model, datasets, cfg, meta, **kwargs: trained.append((cfg.seed, meta['seed'])))
    plain, _ = configs
    assert main(['train', str(plain), '--work-dir', str(tmp_path / 'w'), '--seed', '5', '--diff-seed']) == 0
    assert seeded == [6] and trained == [(5, 5)]
    assert main(['train', str(plain), '--work-dir', str(tmp_path / 'w'), '--seed', '5']) == 0
    assert seeded == [6, 5] and trained == [(5, 5), (5, 5)]
