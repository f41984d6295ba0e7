"""EMAHook: the averages against a hand computation, the epoch-end swap, resuming."""
import logging
import os

import pytest
import torch

from actionlab.engine.checkpoint import cache_dir, read_checkpoint
from actionlab.engine.hooks import EMAHook, Hook


class ParamLog(Hook):
    def __init__(self):
        self.params = []

    def after_train_iter(self, runner):
        self.params.append({n: p.detach().clone() for n, p in runner.model.named_parameters()})


def test_ema_values_and_swap(tmp_path, make_runner, make_loader):
    runner = make_runner(tmp_path, max_epochs=2)
    initial = {n: p.detach().clone() for n, p in runner.model.named_parameters()}
    runner.register_training_hooks(None, {})
    runner.register_hook(EMAHook(momentum=0.3, interval=2, warm_up=3), 'NORMAL')
    log = ParamLog()
    runner.register_hook(log, 'LOWEST')
    runner.run([make_loader()], [('train', 1)])  # 8 iterations

    momentum = 0.3 ** 2  # mmcv: momentum ** interval
    expected = dict(initial)
    for it, params in enumerate(log.params):
        if it % 2 == 0:
            m = min(momentum, (1 + it) / (3 + it))
            expected = {n: (1 - m) * expected[n] + m * params[n] for n in expected}
    for name, param in runner.model.named_parameters():  # swapped in after the last epoch
        torch.testing.assert_close(param.detach(), expected[name])
        raw = getattr(runner.model, 'ema_' + name.replace('.', '_'))
        torch.testing.assert_close(raw, log.params[-1][name])
    assert runner.meta['hook_msgs']['ema_swapped'] is True


@pytest.mark.parametrize('priority', ['NORMAL', 49])  # checkpoint written before / after the swap
def test_ema_resume_is_exact(tmp_path, make_runner, make_loader, deterministic, priority):
    def train(work_dir, epochs, resume=None):
        runner = make_runner(work_dir, max_epochs=3, seed=5)
        runner.register_training_hooks(None, {}, dict(interval=1))
        runner.register_hook(EMAHook(momentum=0.1, warm_up=2), priority)
        if resume:
            runner.resume(resume)
        runner.run([make_loader()], [('train', 1)], max_epochs=epochs)
        return runner.model.state_dict()

    straight = train(tmp_path / 'a', 3)
    train(tmp_path / 'b', 1)
    saved = read_checkpoint(tmp_path / 'b' / 'epoch_1.pth')
    assert 'ema_fc1_weight' in saved['state_dict']
    assert saved['meta']['hook_msgs']['ema_swapped'] is (priority == 49)
    resumed = train(tmp_path / 'b', 3, resume=tmp_path / 'b' / 'epoch_1.pth')
    for key, value in straight.items():
        assert torch.equal(value, resumed[key]), key


def test_ema_argument_errors():
    with pytest.raises(ValueError, match='momentum must be in'):
        EMAHook(momentum=1.5)
    with pytest.raises(ValueError, match='interval'):
        EMAHook(interval=0)


def test_ema_default_priority_puts_the_averages_in_the_epoch_checkpoint(tmp_path, make_runner, make_loader):
    """Without a priority in custom_hooks, EMAHook (49) swaps before CheckpointHook (NORMAL) writes:
    the checkpoint's weights are the averages, its ema_* buffers the raw weights."""
    runner = make_runner(tmp_path, max_epochs=1)
    runner.register_training_hooks(None, {}, dict(interval=1),
                                   custom_hooks_config=[dict(type='EMAHook', momentum=0.01, warm_up=1)])
    log = ParamLog()
    runner.register_hook(log, 'LOWEST')
    assert [type(h).__name__ for h in runner.hooks][:3] == ['OptimizerHook', 'EMAHook', 'CheckpointHook']
    assert runner.hooks[1].priority == 49
    runner.run([make_loader()], [('train', 1)])
    saved = read_checkpoint(tmp_path / 'epoch_1.pth')
    assert saved['meta']['hook_msgs']['ema_swapped'] is True
    raw = log.params[-1]['fc1.weight']
    assert torch.equal(saved['state_dict']['ema_fc1_weight'], raw)
    assert torch.equal(saved['state_dict']['fc1.weight'], runner.model.fc1.weight.detach())
    assert not torch.equal(saved['state_dict']['fc1.weight'], raw)


def test_ema_resume_from_a_url_reads_the_checkpoint_once(tmp_path, make_runner, make_loader, monkeypatch,
                                                         caplog):
    """A URL name resolves to the cached file; the EMA buffers come from the checkpoint the runner
    read (no second read, no 'unexpected keys' warning for them)."""
    monkeypatch.setenv('ACTIONLAB_HOME', str(tmp_path / 'home'))
    first = make_runner(tmp_path / 'a', max_epochs=1)
    first.register_training_hooks(None, {}, dict(interval=1), custom_hooks_config=[dict(type='EMAHook')])
    first.run([make_loader()], [('train', 1)])
    cached = cache_dir() / 'run1.pth'
    cached.parent.mkdir(parents=True)
    os.replace(tmp_path / 'a' / 'epoch_1.pth', cached)
    saved = read_checkpoint(cached)['state_dict']

    loads = []
    original_load = torch.load
    monkeypatch.setattr(torch, 'load', lambda *a, **k: (loads.append(a[0]), original_load(*a, **k))[1])
    second = make_runner(tmp_path / 'b', max_epochs=1)
    second.register_training_hooks(None, {}, None, custom_hooks_config=[dict(type='EMAHook')])
    with caplog.at_level(logging.WARNING):
        second.resume('https://example.org/ckpts/run1.pth')
        second.run([make_loader()], [('train', 1)])  # training is over: before_run, no epoch
    assert second.resumed_from == cached
    assert len(loads) == 1
    assert 'unexpected keys' not in caplog.text and 'no EMA buffers' not in caplog.text
    for name in ('fc1_weight', 'bn_bias', 'fc_cls_weight'):
        assert torch.equal(getattr(second.model, f'ema_{name}'), saved[f'ema_{name}'])
    assert second.resumed_extra_state == {}  # handed over to the buffers
