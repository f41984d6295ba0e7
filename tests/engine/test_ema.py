"""EMAHook: the averages against a hand computation, the epoch-end swap, resuming."""
import pytest
import torch

from actionlab.engine.checkpoint import read_checkpoint
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
