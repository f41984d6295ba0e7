"""train_model with the real config, model, dataset and loader; single_gpu_test.

A tiny TSN (ResNet-18 with 8 base channels, 3 segments of 32x32) trains on eight
entries of the session's synthetic video (``synthetic_video`` in tests/conftest.py),
decoded by PyAV with random crops and flips, so the data workers' random streams
matter for the exact-resume test.
"""
import json
import logging
import os
import pickle

import numpy as np
import pytest
import torch

from actionlab.apis.test import single_gpu_test
from actionlab.apis.train import find_latest_checkpoint, train_model
from actionlab.config import Config
from actionlab.data.datasets import build_dataset
from actionlab.data.loader import build_dataloader
from actionlab.engine.checkpoint import read_checkpoint
from actionlab.engine.seeding import set_random_seed
from actionlab.models import build_model

NORM = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_bgr=False)
TRAIN_PIPELINE = [
    dict(type='PyAVInit'),
    dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=3),
    dict(type='PyAVDecode'),
    dict(type='Resize', scale=(-1, 40)),
    dict(type='RandomResizedCrop', area_range=(0.5, 1.0)),
    dict(type='Resize', scale=(32, 32), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='Normalize', **NORM),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='Collect', keys=['imgs', 'label'], meta_keys=[]),
    dict(type='ToTensor', keys=['imgs', 'label']),
]
TEST_PIPELINE = [
    dict(type='PyAVInit'),
    dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=3, test_mode=True),
    dict(type='PyAVDecode'),
    dict(type='Resize', scale=(-1, 32)),
    dict(type='CenterCrop', crop_size=32),
    dict(type='Normalize', **NORM),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='Collect', keys=['imgs', 'label'], meta_keys=[]),
    dict(type='ToTensor', keys=['imgs', 'label']),
]
MODEL = dict(
    type='Recognizer2D',
    backbone=dict(type='ResNet', depth=18, base_channels=8, pretrained=None, norm_eval=False),
    cls_head=dict(type='TSNHead', num_classes=2, in_channels=64, dropout_ratio=0.4, topk=(1,)),
    test_cfg=dict(average_clips='prob'))


@pytest.fixture
def make_cfg(tmp_path, synthetic_video):
    def make(work_dir, **overrides):
        ann = tmp_path / 'ann.txt'
        ann.write_text(''.join(f'{synthetic_video.path.name} {i % 2}\n' for i in range(8)))
        data_cfg = dict(type='VideoDataset', ann_file=str(ann), data_prefix=str(synthetic_video.path.parent))
        cfg = dict(
            model=MODEL,
            data=dict(videos_per_gpu=4, workers_per_gpu=0,
                      train=dict(data_cfg, pipeline=TRAIN_PIPELINE),
                      val=dict(data_cfg, pipeline=TEST_PIPELINE),
                      test=dict(data_cfg, pipeline=TEST_PIPELINE),
                      val_dataloader=dict(videos_per_gpu=2)),
            optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=1e-4,
                           constructor='TSMOptimizerConstructor', paramwise_cfg=dict(fc_lr5=True)),
            optimizer_config=dict(grad_clip=dict(max_norm=40, norm_type=2)),
            lr_config=dict(policy='step', step=[2], warmup='linear', warmup_iters=3),
            total_epochs=3,
            checkpoint_config=dict(interval=1),
            log_config=dict(interval=1, hooks=[dict(type='TextLoggerHook')]),
            evaluation=dict(interval=1, metrics=['top_k_accuracy', 'mean_class_accuracy'],
                            metric_options=dict(top_k_accuracy=dict(topk=(1,)))),
            workflow=[('train', 1)], seed=7, device='cpu', work_dir=str(work_dir),
            log_level='INFO', load_from=None, resume_from=None)
        cfg.update(overrides)
        return Config(cfg)
    return make


@pytest.fixture
def deterministic():
    before = torch.are_deterministic_algorithms_enabled()
    yield
    torch.use_deterministic_algorithms(before)


def run(cfg, **kwargs):
    set_random_seed(cfg.seed, deterministic=True)  # what `actionlab train --deterministic` does
    model = build_model(cfg.model)
    datasets = [build_dataset(cfg.data.train)]
    if len(cfg.workflow) == 2:
        datasets.append(build_dataset(dict(cfg.data.val, pipeline=TRAIN_PIPELINE)))
    return train_model(model, datasets, cfg, **kwargs)


def test_train_model_end_to_end(tmp_path, make_cfg, deterministic):
    work_dir = tmp_path / 'work'
    cfg = make_cfg(work_dir, total_epochs=2, workflow=[('train', 1), ('val', 1)],
                   evaluation=dict(interval=1, metrics=['top_k_accuracy', 'mean_class_accuracy'],
                                   metric_options=dict(top_k_accuracy=dict(topk=(1,))), save_best='auto'))
    runner = run(cfg, validate=True, test=dict(test_last=True, test_best=True), timestamp='20240102_030405',
                 meta=dict(exp_name='tiny_tsn.py'))

    names = sorted(p.name for p in work_dir.glob('*.pth'))
    best = [n for n in names if n.startswith('best_top1_acc_epoch_')]
    assert names == sorted(['epoch_1.pth', 'epoch_2.pth', 'latest.pth'] + best) and len(best) == 1
    assert os.readlink(work_dir / 'latest.pth') == 'epoch_2.pth'
    meta = read_checkpoint(work_dir / 'latest.pth')['meta']
    assert (meta['epoch'], meta['iter'], meta['seed'], meta['exp_name']) == (2, 4, 7, 'tiny_tsn.py')
    assert meta['config'] == cfg.pretty_text and meta['actionlab_version']
    assert runner.meta['hook_msgs']['best_ckpt'] == str(work_dir / best[0])

    records = [json.loads(line) for line in (work_dir / '20240102_030405.log.json').read_text().splitlines()]
    assert records[0]['seed'] == 7 and records[0]['config'] == cfg.pretty_text
    train = [r for r in records[1:] if r['mode'] == 'train']
    assert [(r['epoch'], r['iter']) for r in train] == [(1, 1), (1, 2), (2, 1), (2, 2)]
    # the lr follows the warmup: 0.05 * (0.1 + 0.9 * i / 3) for iterations 0, 1, 2, then 0.05
    assert [r['lr'] for r in train] == pytest.approx([0.005, 0.02, 0.035, 0.05])
    assert all({'loss_cls', 'loss', 'grad_norm', 'top1_acc', 'time', 'data_time'} <= set(r) for r in train)
    evals = [r for r in records[1:] if r['mode'] == 'val' and 'mean_class_accuracy' in r]
    assert [(r['epoch'], r['iter']) for r in evals] == [(1, 4), (2, 4)]  # 8 videos, 2 per batch
    val_losses = [r for r in records[1:] if r['mode'] == 'val' and 'loss' in r]
    assert [(r['epoch'], r['iter']) for r in val_losses] == [(1, 2), (2, 2)]

    text = (work_dir / '20240102_030405.log').read_text()
    assert 'Epoch [1][1/2]\tlr: 5.000e-03' in text and 'Epoch(val) [2][4]\ttop1_acc: ' in text
    assert 'Testing results of the last checkpoint' in text
    assert 'Testing results of the best checkpoint' in text
    for name in ('last', 'best'):
        with open(work_dir / f'{name}_pred.pkl', 'rb') as f:
            preds = pickle.load(f)
        assert len(preds) == 8 and all(p.shape == (2,) for p in preds)
        assert np.allclose([p.sum() for p in preds], 1, atol=1e-5)  # average_clips='prob'
    assert not any(isinstance(h, logging.FileHandler) for h in logging.getLogger('actionlab').handlers)


@pytest.mark.parametrize('workers', [0, 2])
def test_resume_reproduces_uninterrupted_training(tmp_path, make_cfg, deterministic, workers):
    data = dict(videos_per_gpu=4, workers_per_gpu=workers)

    def weights(name, epochs, resume_from=None):
        cfg = make_cfg(tmp_path / name, total_epochs=epochs, resume_from=resume_from, log_config=None)
        cfg.data.update(data)
        return run(cfg).model.state_dict()

    straight = weights('straight', 3)
    weights('stopped', 1)
    resumed = weights('stopped', 3, resume_from=str(tmp_path / 'stopped' / 'epoch_1.pth'))
    assert straight.keys() == resumed.keys()
    for key, value in straight.items():
        assert torch.equal(value, resumed[key]), key
    after_one = read_checkpoint(tmp_path / 'stopped' / 'epoch_1.pth')['state_dict']
    assert not torch.equal(straight['cls_head.fc_cls.weight'], after_one['cls_head.fc_cls.weight'])


def test_load_from_starts_a_new_run_from_the_weights(tmp_path, make_cfg, deterministic):
    first = run(make_cfg(tmp_path / 'a', total_epochs=1))
    cfg = make_cfg(tmp_path / 'b', total_epochs=1, load_from=str(tmp_path / 'a' / 'epoch_1.pth'),
                   optimizer=dict(type='SGD', lr=0.0), optimizer_config=dict(grad_clip=None))
    second = run(cfg)
    assert (second.epoch, second.iter) == (1, 2)
    loaded = first.model.state_dict()
    for key, value in second.model.state_dict().items():
        if key.endswith('weight') and 'bn' not in key:  # lr 0: the loaded weights stay as they were
            assert torch.equal(value, loaded[key]), key


def test_config_errors(tmp_path, make_cfg):
    model = build_model(MODEL)
    with pytest.raises(NotImplementedError, match=r"multigrid training \(config key 'multigrid'\)"):
        train_model(model, [], make_cfg(tmp_path, multigrid=dict(long_cycle=True)))
    with pytest.raises(ValueError, match='total_epochs'):
        train_model(model, [], make_cfg(tmp_path, total_epochs=None))
    with pytest.raises(RuntimeError, match='needs an initialised process group'):
        train_model(model, [], make_cfg(tmp_path), distributed=True)
    cfg = make_cfg(tmp_path, fp16=dict(loss_scale=512.0), optimizer_config=dict(type='MyOptimizerHook'))
    with pytest.raises(ValueError, match="fp16 cannot be combined with optimizer_config.type='MyOptimizer"):
        run(cfg)


def test_mixed_precision_precise_bn_and_channels_last(tmp_path, make_cfg, deterministic, caplog):
    cfg = make_cfg(tmp_path / 'amp', total_epochs=1, fp16=dict(loss_scale='dynamic'),
                   precise_bn=dict(num_iters=2, interval=1))
    with caplog.at_level(logging.INFO):
        runner = run(cfg)
    assert runner.autocast == dict(device_type='cpu', dtype=torch.bfloat16)
    assert 'mixed precision: torch.bfloat16 autocast on cpu, no loss scaling' in caplog.text
    assert 'PreciseBN: updated the statistics of 20 BN layers from 2 batches' in caplog.text
    hooks = [type(h).__name__ for h in runner.hooks]
    assert hooks[0] == 'PreciseBNHook' and 'Fp16OptimizerHook' in hooks
    conv = runner.model.backbone.conv1.conv.weight
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    assert conv.dtype == torch.float32
    plain = run(make_cfg(tmp_path / 'plain', total_epochs=1, channels_last=False))
    assert plain.model.backbone.conv1.conv.weight.is_contiguous()


def test_auto_resume_continues_from_latest(tmp_path, make_cfg, deterministic, caplog):
    work_dir = tmp_path / 'work'
    run(make_cfg(work_dir, total_epochs=1, log_config=None))
    with caplog.at_level(logging.INFO):
        resumed = run(make_cfg(work_dir, total_epochs=2, auto_resume=True, log_config=None))
    assert f'auto_resume: resuming from {work_dir / "latest.pth"}' in caplog.text
    assert (resumed.epoch, resumed.iter) == (2, 4)
    straight = run(make_cfg(tmp_path / 'straight', total_epochs=2, auto_resume=True, log_config=None))
    for key, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key


def test_find_latest_checkpoint(tmp_path):
    assert find_latest_checkpoint(tmp_path) is None
    for name in ('epoch_2.pth', 'epoch_10.pth', 'iter_3.pth', 'best_top1_acc_epoch_12.pth', 'epoch_x.pth'):
        (tmp_path / name).touch()
    assert find_latest_checkpoint(tmp_path) == tmp_path / 'epoch_10.pth'
    (tmp_path / 'latest.pth').symlink_to('epoch_2.pth')
    assert find_latest_checkpoint(tmp_path) == tmp_path / 'latest.pth'


def test_omnisource_training(tmp_path, make_cfg, deterministic):
    cfg = make_cfg(tmp_path, total_epochs=1, omnisource=True)
    cfg.data.update(train_ratio=[1, 2], omni_videos_per_gpu=[4, 2])
    set_random_seed(cfg.seed, deterministic=True)
    datasets = [build_dataset(cfg.data.train), build_dataset(cfg.data.train)]
    runner = train_model(build_model(cfg.model), datasets, cfg, timestamp='omni')
    assert type(runner).__name__ == 'OmniSourceRunner' and runner.iter == 2
    records = [json.loads(line) for line in (tmp_path / 'omni.log.json').read_text().splitlines()[1:]]
    # one record per main iteration; the auxiliary steps' losses show up from the second on
    train = [r for r in records if r['mode'] == 'train']
    assert [r['iter'] for r in train] == [1, 2] and 'loss_cls/aux0' not in train[0]
    assert {'loss_cls', 'loss_cls/aux0', 'top1_acc/aux0'} <= set(train[1])


def test_single_gpu_test_returns_scores_in_dataset_order(make_cfg, tmp_path):
    cfg = make_cfg(tmp_path)
    dataset = build_dataset(cfg.data.test, dict(test_mode=True))
    loader = build_dataloader(dataset, videos_per_gpu=3, workers_per_gpu=0, shuffle=False)
    torch.manual_seed(0)
    model = build_model(cfg.model)
    results = single_gpu_test(model, loader)
    assert len(results) == 8 and all(isinstance(r, np.ndarray) and r.shape == (2,) for r in results)
    assert not model.training
    with torch.no_grad():
        expected = model(dataset[5]['imgs'][None], return_loss=False)[0].numpy()
    np.testing.assert_allclose(results[5], expected, rtol=1e-5, atol=1e-6)
    assert np.allclose(results[0], results[7])  # the same clip, deterministic test pipeline


def test_distributed_device_is_the_current_gpu(monkeypatch):
    """srun --gpus-per-task=1: each process sees one GPU, made current by init_dist
    (LOCAL_RANK % device_count == 0); LOCAL_RANK itself is not a valid ordinal there."""
    from actionlab.apis.train import _device

    monkeypatch.setenv('LOCAL_RANK', '3')
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 1)
    monkeypatch.setattr(torch.cuda, 'current_device', lambda: 0)
    assert _device(Config(dict()), distributed=True) == torch.device('cuda', 0)
    assert _device(Config(dict()), distributed=False) == torch.device('cuda', 0)
    assert _device(Config(dict(device='cpu')), distributed=True) == torch.device('cpu')


def test_dist_eval_keys_are_the_hook_keys_only_dist_eval_takes():
    from actionlab.apis.train import _DIST_EVAL_KEYS

    assert _DIST_EVAL_KEYS == ('tmpdir', 'gpu_collect', 'broadcast_bn_buffers')


def test_auto_resume_takes_rank_zeros_choice(tmp_path, make_cfg, deterministic, monkeypatch):
    """Distributed: every process resumes from the checkpoint rank 0 found, even where its own
    view of the work_dir differs (here: empty)."""
    import actionlab.apis.train as train_module

    run(make_cfg(tmp_path / 'rank0', total_epochs=1, log_config=None))
    rank0_choice = find_latest_checkpoint(tmp_path / 'rank0')
    broadcasts = []

    def broadcast_object_list(objects, src=0):
        broadcasts.append((list(objects), src))
        objects[0] = rank0_choice

    monkeypatch.setattr(train_module, 'is_distributed', lambda: True)
    monkeypatch.setattr(torch.distributed, 'broadcast_object_list', broadcast_object_list)
    runner = run(make_cfg(tmp_path / 'rank1', total_epochs=1, auto_resume=True, log_config=None))
    assert broadcasts == [([None], 0)]
    assert runner.resumed_from == rank0_choice
    assert (runner.epoch, runner.iter) == (1, 2)


def test_module_hooks_normalize_uint8_batches_in_the_model(tmp_path, make_cfg):
    hook = dict(type='GPUNormalize', hooked_module='backbone', hook_pos='forward_pre',
                input_format='NCHW', mean=NORM['mean'], std=NORM['std'])
    plain = make_cfg(tmp_path / 'plain', total_epochs=1)
    hooked = make_cfg(tmp_path / 'hooked', total_epochs=1, module_hooks=[hook])
    uint8_pipeline = [step for step in TRAIN_PIPELINE if step['type'] != 'Normalize']
    hooked.data.train.pipeline = uint8_pipeline
    assert build_dataset(hooked.data.train)[0]['imgs'].dtype == torch.uint8
    # the same batches, normalised in the pipeline or by the hook, train to the same weights
    runs = [run(cfg) for cfg in (plain, hooked)]
    assert len(runs[1].model.backbone._forward_pre_hooks) == 1
    for (name, a), b in zip(runs[0].model.state_dict().items(), runs[1].model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=name)


def test_cpu_training_keeps_freed_memory_for_reuse(tmp_path, make_cfg, monkeypatch):
    import actionlab.apis.train as train_api

    calls = []
    monkeypatch.setattr(train_api, 'retain_freed_memory', lambda: calls.append(True) or True)
    run(make_cfg(tmp_path, total_epochs=1))
    assert calls == [True]
