"""Hook ordering, checkpoint/eval/optimizer/logger hooks driven by a real Runner."""
import json
import logging
import os
import re
import resource
import sys

import pytest
import torch
from torch.utils.data import DataLoader

from actionlab.engine.checkpoint import read_checkpoint
from actionlab.engine.hooks import (
    CheckpointHook,
    EvalHook,
    Hook,
    IterTimerHook,
    LrUpdaterHook,
    OptimizerHook,
    Priority,
    TextLoggerHook,
    get_priority,
)
from actionlab.registry import BuildError


class Named(Hook):
    def __init__(self, name):
        self.name = name


def test_priorities_order_hooks_stably(tmp_path, make_runner):
    runner = make_runner(tmp_path)
    for name, priority in [('a', 'NORMAL'), ('b', 'HIGHEST'), ('c', 'NORMAL'), ('d', 75),
                           ('e', Priority.VERY_HIGH), ('f', 'lowest'), ('g', 0)]:
        runner.register_hook(Named(name), priority)
    assert [h.name for h in runner.hooks] == ['b', 'g', 'e', 'a', 'c', 'd', 'f']
    assert get_priority('ABOVE_NORMAL') == 40
    with pytest.raises(ValueError, match='unknown hook priority'):
        get_priority('URGENT')
    with pytest.raises(ValueError, match='0-100'):
        get_priority(101)


def test_register_training_hooks_uses_mmcv_priorities(tmp_path, make_runner):
    runner = make_runner(tmp_path)
    runner.register_training_hooks(
        dict(policy='step', step=[1]), dict(grad_clip=None), dict(interval=1),
        dict(interval=5, hooks=[dict(type='TextLoggerHook')]),
        custom_hooks_config=[dict(type='IterTimerHook', priority='HIGHEST')])
    assert [type(h) for h in runner.hooks] == [IterTimerHook, LrUpdaterHook, OptimizerHook, CheckpointHook,
                                              IterTimerHook, TextLoggerHook]
    assert [h.priority for h in runner.hooks] == [0, 10, 40, 50, 70, 90]
    assert runner.hooks[-1].interval == 5
    info = runner.get_hook_info()
    assert 'before_train_iter:\n(HIGHEST     ) IterTimerHook\n(VERY_HIGH   ) LrUpdaterHook' in info
    assert 'after_train_epoch:' in info and 'CheckpointHook' in info


def test_unavailable_hooks_are_clear_errors(tmp_path, make_runner):
    runner = make_runner(tmp_path)
    with pytest.raises(BuildError, match="'MlflowLoggerHook' is not a logger hook of ActionLab "
                                         r"\(available: TensorboardLoggerHook, TextLoggerHook, "
                                         r"WandbLoggerHook\)"):
        runner.register_training_hooks(None, log_config=dict(
            interval=1, hooks=[dict(type='TextLoggerHook'), dict(type='MlflowLoggerHook')]))
    with pytest.raises(BuildError, match="'CheckpointHook' is not a logger hook"):
        runner.register_training_hooks(None, log_config=dict(interval=1, hooks=[dict(type='CheckpointHook')]))
    with pytest.raises(BuildError, match='OneCycle.* available policies: CosineAnnealing, CosineRestart, '
                                         'Cyclic, Exp, Fixed, FlatCosineAnnealing, Inv, Poly, Step'):
        runner.register_training_hooks(dict(policy='OneCycle'))


def test_checkpoint_hook_files_latest_and_max_keep(tmp_path, make_runner, make_loader):
    runner = make_runner(tmp_path, max_epochs=4, meta=dict(config='cfg text', seed=0))
    runner.register_training_hooks(None, {}, dict(interval=1, max_keep_ckpts=2))
    runner.run([make_loader()], [('train', 1)])
    assert sorted(p.name for p in tmp_path.glob('*.pth')) == ['epoch_3.pth', 'epoch_4.pth', 'latest.pth']
    latest = tmp_path / 'latest.pth'
    assert latest.is_symlink() and os.readlink(latest) == 'epoch_4.pth'
    ckpt = read_checkpoint(latest)
    meta = ckpt['meta']
    assert (meta['epoch'], meta['iter'], meta['max_epochs']) == (4, 16, 4)
    assert (meta['seed'], meta['config']) == (0, 'cfg text')
    assert {'actionlab_version', 'time'} <= set(meta)
    assert meta['hook_msgs']['last_ckpt'] == str(tmp_path / 'epoch_3.pth')  # set after the previous save
    assert set(ckpt) == {'meta', 'state_dict', 'optimizer', 'rng_state'}
    for key, value in runner.model.state_dict().items():
        assert torch.equal(ckpt['state_dict'][key], value)
    # loads under the strictest torch.load, without ActionLab's allow-list
    plain = torch.load(latest, weights_only=True)
    assert plain['meta']['epoch'] == 4 and plain['rng_state']['torch'].dtype == torch.uint8


def test_checkpoint_interval_save_last_and_no_optimizer(tmp_path, make_runner, make_loader):
    runner = make_runner(tmp_path, max_epochs=3)
    runner.register_training_hooks(None, {}, dict(interval=2, save_optimizer=False))
    runner.run([make_loader()], [('train', 1)])
    assert sorted(p.name for p in tmp_path.glob('*.pth')) == ['epoch_2.pth', 'epoch_3.pth', 'latest.pth']
    assert 'optimizer' not in read_checkpoint(tmp_path / 'epoch_2.pth')


def test_checkpoint_by_iteration(tmp_path, make_runner, make_loader):
    runner = make_runner(tmp_path, max_epochs=2)
    runner.register_training_hooks(None, {}, dict(interval=3, by_epoch=False, max_keep_ckpts=1))
    # 8 iterations: saves 3, 6 (removing 3) and the last, 8 (which, as in mmcv, only looks
    # for iter_5 to remove: the off-interval last save keeps the previous periodic one)
    runner.run([make_loader()], [('train', 1)])
    assert sorted(p.name for p in tmp_path.glob('*.pth')) == ['iter_6.pth', 'iter_8.pth', 'latest.pth']
    assert read_checkpoint(tmp_path / 'latest.pth')['meta']['iter'] == 7  # mmcv: saved before the count moves


def test_latest_falls_back_to_a_copy_without_symlinks(tmp_path, make_runner, make_loader, monkeypatch):
    def no_symlinks(*args, **kwargs):
        raise OSError('symlinks not supported')

    monkeypatch.setattr(os, 'symlink', no_symlinks)
    runner = make_runner(tmp_path, max_epochs=2)
    runner.register_training_hooks(None, {}, dict(interval=1))
    runner.run([make_loader()], [('train', 1)])
    latest = tmp_path / 'latest.pth'
    assert not latest.is_symlink() and latest.read_bytes() == (tmp_path / 'epoch_2.pth').read_bytes()
    assert not list(tmp_path.glob('.latest*'))


def test_eval_hook_keeps_only_the_best_checkpoint(tmp_path, make_runner, make_loader, toy_dataset):
    val_set = toy_dataset(8, seed=1, scripted_metrics=[
        {'top1_acc': 0.5, 'mean_class_accuracy': 0.1}, {'top1_acc': 0.8, 'mean_class_accuracy': 0.1},
        {'top1_acc': 0.6, 'mean_class_accuracy': 0.9}])
    runner = make_runner(tmp_path, max_epochs=3)
    runner.register_training_hooks(None, {})
    hook = EvalHook(make_loader(val_set, shuffle=False), metrics=['top_k_accuracy'], metric_options={'k': 1})
    runner.register_hook(hook, 'LOW')
    runner.run([make_loader()], [('train', 1)])
    assert [p.name for p in tmp_path.glob('*.pth')] == ['best_top1_acc_epoch_2.pth']
    assert hook.rule == 'greater'
    assert runner.meta['hook_msgs']['best_score'] == 0.8
    assert runner.meta['hook_msgs']['best_ckpt'] == str(tmp_path / 'best_top1_acc_epoch_2.pth')
    call = dict(metrics=['top_k_accuracy'], metric_options={'k': 1}, num_results=8)
    assert val_set.evaluate_calls == [call] * 3
    assert runner.model.training  # evaluation switched the model back


def test_eval_hook_rule_start_interval_and_less_is_better(tmp_path, make_runner, make_loader, toy_dataset):
    val_set = toy_dataset(8, scripted_metrics=[{'val_loss': 3.0}, {'val_loss': 1.0}, {'val_loss': 2.0}])
    runner = make_runner(tmp_path, max_epochs=6)
    runner.register_training_hooks(None, {})
    hook = EvalHook(make_loader(val_set, shuffle=False), start=2, interval=2, save_best='val_loss')
    runner.register_hook(hook, 'LOW')
    runner.run([make_loader()], [('train', 1)])
    assert hook.rule == 'less'
    assert len(val_set.evaluate_calls) == 3  # after epochs 2, 4, 6
    assert [p.name for p in tmp_path.glob('*.pth')] == ['best_val_loss_epoch_4.pth']
    with pytest.raises(ValueError, match="greater or smaller 'f1' is better"):
        EvalHook(make_loader(val_set), save_best='f1')
    with pytest.raises(ValueError, match='save_best'):
        EvalHook(make_loader(val_set), key_indicator='top1_acc')
    with pytest.raises(TypeError, match='DataLoader'):
        EvalHook(val_set)


def test_eval_hook_without_save_best_and_unknown_metric(tmp_path, make_runner, make_loader, toy_dataset):
    runner = make_runner(tmp_path, max_epochs=1)
    runner.register_training_hooks(None, {})
    runner.register_hook(EvalHook(make_loader(toy_dataset(8), shuffle=False), save_best=None), 'LOW')
    runner.run([make_loader()], [('train', 1)])
    assert not list(tmp_path.glob('*.pth'))
    runner = make_runner(tmp_path, max_epochs=1)
    runner.register_training_hooks(None, {})
    runner.register_hook(EvalHook(make_loader(toy_dataset(8), shuffle=False), save_best='top5_acc'), 'LOW')
    with pytest.raises(KeyError, match="save_best='top5_acc' is not among the metrics .*top1_acc"):
        runner.run([make_loader()], [('train', 1)])


def test_grad_clip_bounds_the_update(tmp_path, make_runner, make_loader):
    """One SGD step (no momentum) moves the weights by lr * clipped gradient."""
    def one_step(grad_clip):
        runner = make_runner(tmp_path, max_epochs=1)
        runner.optimizer = torch.optim.SGD(runner.model.parameters(), lr=1.0)
        before = [p.detach().clone() for p in runner.model.parameters()]
        runner.register_training_hooks(None, dict(grad_clip=grad_clip))
        loader = DataLoader(list(make_loader().dataset)[:8], batch_size=8)
        runner.run([loader], [('train', 1)])
        step = torch.cat([(b - p.detach()).flatten() for b, p in zip(before, runner.model.parameters())])
        return step.norm().item(), runner.log_buffer.val_history.get('grad_norm')

    free_norm, no_log = one_step(None)
    clipped_norm, logged = one_step(dict(max_norm=0.05, norm_type=2))
    assert no_log is None
    assert free_norm > 0.05 * 2
    assert clipped_norm == pytest.approx(0.05, rel=1e-4)
    assert logged[0] == pytest.approx(free_norm, rel=1e-4)  # the norm before clipping is logged


def test_nan_loss_stops_training_with_position(tmp_path, make_runner, make_loader, tiny_model):
    runner = make_runner(tmp_path, model=tiny_model(nan_at=6), max_epochs=3)
    runner.register_training_hooks(None, {})
    message = r'loss is nan at epoch 2, iteration 3/4 \(iteration 7 overall\)'
    with pytest.raises(FloatingPointError, match=message):
        runner.run([make_loader()], [('train', 1)])


def test_text_and_json_logs(tmp_path, make_runner, make_loader, toy_dataset):
    logger = logging.getLogger('actionlab.test_text_and_json_logs')
    logger.setLevel(logging.INFO)
    handler = logging.FileHandler(tmp_path / 'run.log')
    logger.addHandler(handler)
    try:
        runner = make_runner(tmp_path, max_epochs=2, logger=logger, timestamp='20240101_000000',
                             meta=dict(seed=0, exp_name='toy.py'))
        runner.register_training_hooks(dict(policy='fixed'), {}, None,
                                       dict(interval=2, hooks=[dict(type='TextLoggerHook')]))
        runner.register_hook(EvalHook(make_loader(toy_dataset(8), shuffle=False), save_best=None), 'LOW')
        runner.run([make_loader(), make_loader(toy_dataset(16, seed=2))], [('train', 1), ('val', 1)])
    finally:
        logger.removeHandler(handler)
        handler.close()

    records = [json.loads(line) for line in (tmp_path / '20240101_000000.log.json').read_text().splitlines()]
    assert records[0] == {'seed': 0, 'exp_name': 'toy.py'}
    modes = [(r['mode'], r['epoch'], r['iter']) for r in records[1:]]
    # 4 train iterations per epoch logged every 2; EvalHook after each train epoch (iter = len(val loader));
    # the val workflow epoch (2 iterations of 8)
    assert modes == [('train', 1, 2), ('train', 1, 4), ('val', 1, 1), ('val', 1, 2),
                     ('train', 2, 2), ('train', 2, 4), ('val', 2, 1), ('val', 2, 2)]
    train = records[1]
    assert list(train) == ['mode', 'epoch', 'iter', 'lr', 'memory', 'data_time', 'loss_cls', 'top1_acc',
                           'loss', 'time']
    # on a CPU, memory is the peak resident memory of the process in MiB
    assert train['lr'] == 0.1
    assert 0 < train['memory'] <= resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert train['loss'] == pytest.approx(train['loss_cls'])
    assert set(records[3]) == {'mode', 'epoch', 'iter', 'lr', 'top1_acc'}  # EvalHook metrics
    assert {'loss_cls', 'top1_acc', 'loss', 'time', 'data_time'} <= set(records[4])  # val workflow losses

    lines = (tmp_path / 'run.log').read_text().splitlines()
    train_lines = [line for line in lines if line.startswith('Epoch [')]
    assert re.fullmatch(r'Epoch \[1\]\[2/4\]\tlr: 1\.000e-01, eta: 0:00:\d\d, time: \d\.\d{3}, '
                        r'data_time: \d\.\d{3}, memory: \d+, loss_cls: (\d\.\d{4}), top1_acc: \d\.\d{4}, '
                        r'loss: \d\.\d{4}', train_lines[0])
    assert f'loss_cls: {train["loss_cls"]:.4f}' in train_lines[0]
    assert f'Epoch(val) [1][1]\ttop1_acc: {records[3]["top1_acc"]:.4f}' in lines
    assert 'Exp name: toy.py' in lines


@pytest.mark.parametrize('platform, maxrss, expected', [
    ('linux', 300 * 1024, 300),  # KiB
    ('darwin', 300 * 1024 * 1024, 300),  # bytes
    ('win32', None, 0),  # no resource module
])
def test_cpu_memory_by_platform(monkeypatch, platform, maxrss, expected):
    from types import SimpleNamespace

    from actionlab.engine.hooks import logger as logger_module

    monkeypatch.setattr(sys, 'platform', platform)
    fake = None if maxrss is None else SimpleNamespace(
        RUSAGE_SELF=0, getrusage=lambda who: SimpleNamespace(ru_maxrss=maxrss))
    monkeypatch.setitem(sys.modules, 'resource', fake)  # None: `import resource` raises ImportError
    runner = SimpleNamespace(device=torch.device('cpu'))
    assert logger_module._max_memory_mb(runner) == expected
