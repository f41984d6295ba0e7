"""Momentum schedules (momentum_config) applied by the runner, against mmcv's formulas."""
import math
import re

import pytest
import torch

from actionlab.engine.hooks import Hook, MomentumUpdaterHook, build_momentum_hook
from actionlab.registry import BuildError


class RecordMomentum(Hook):
    def __init__(self):
        self.values = []

    def after_train_iter(self, runner):
        group = runner.optimizer.param_groups[0]
        self.values.append(group['momentum'] if 'momentum' in group else group['betas'][0])


def run(tmp_path, make_runner, make_loader, momentum_config, lr_config=None, optimizer=None, epochs=3):
    runner = make_runner(tmp_path, max_epochs=epochs)
    if optimizer is not None:
        runner.optimizer = optimizer(runner.model.parameters())
    recorder = RecordMomentum()
    runner.register_training_hooks(lr_config, {}, momentum_config=momentum_config)
    runner.register_hook(recorder, 'LOWEST')
    runner.run([make_loader(batch_size=8)], [('train', 1)])  # 4 iterations per epoch
    return runner, recorder.values


def cos(start, end, f):
    return end + 0.5 * (start - end) * (math.cos(math.pi * f) + 1)


def test_cyclic_momentum_mirrors_cyclic_lr(tmp_path, make_runner, make_loader):
    """12 iterations, one cycle: up phase int(0.4 * 12) = 4 iterations, momentum falls from
    0.9 to 0.9 * 0.85/0.95 while the lr climbs, then returns to 0.9."""
    runner, values = run(tmp_path, make_runner, make_loader,
                         dict(policy='cyclic', target_ratio=(0.85 / 0.95, 1), cyclic_times=1,
                              step_ratio_up=0.4),
                         lr_config=dict(policy='cyclic', target_ratio=(10, 1e-4), by_epoch=False))
    low = 0.9 * 0.85 / 0.95
    expected = [cos(0.9, low, i / 4) for i in range(4)] + [cos(low, 0.9, (i - 4) / 8) for i in range(4, 12)]
    assert values == pytest.approx(expected, rel=1e-12)
    assert [type(h).__name__ for h in runner.hooks[:2]] == ['LrUpdaterHook', 'MomentumUpdaterHook']
    assert runner.hooks[1].priority == 30  # HIGH, after the lr


def test_step_and_cosine_momentum_by_epoch(tmp_path, make_runner, make_loader):
    _, values = run(tmp_path, make_runner, make_loader, dict(policy='step', step=[1, 2], min_momentum=0.3))
    assert values == pytest.approx([0.9] * 4 + [0.45] * 4 + [0.3] * 4)  # gamma 0.5, floored
    _, values = run(tmp_path, make_runner, make_loader,
                    dict(policy='CosineAnnealing', min_momentum_ratio=0.5))
    assert values == pytest.approx([cos(0.9, 0.45, e / 3) for e in range(3) for _ in range(4)])


def test_adam_betas_and_warmup(tmp_path, make_runner, make_loader):
    adam = lambda params: torch.optim.Adam(params, lr=1e-3, betas=(0.8, 0.99))  # noqa: E731
    runner, values = run(tmp_path, make_runner, make_loader, dict(policy='step', step=[2]), optimizer=adam)
    assert values == pytest.approx([0.8] * 8 + [0.4] * 4)
    assert runner.optimizer.param_groups[0]['betas'][1] == 0.99
    assert runner.optimizer.param_groups[0]['initial_momentum'] == 0.8
    # a warmup divides the momentum by the lr warmup's factor: 0.45 / (1 - (1 - i/4) * 0.5)
    _, values = run(tmp_path, make_runner, make_loader,
                    dict(policy='step', step=[2], warmup='linear', warmup_iters=4, warmup_ratio=0.5),
                    optimizer=lambda params: torch.optim.SGD(params, lr=0.1, momentum=0.45))
    assert values == pytest.approx([0.45 / (1 - (1 - i / 4) * 0.5) for i in range(4)] + [0.45] * 4
                                   + [0.225] * 4)


def test_momentum_config_errors(tmp_path, make_runner, make_loader):
    with pytest.raises(BuildError, match="'OneCycle' is not available; available policies: Step"):
        build_momentum_hook(dict(policy='OneCycle'))
    with pytest.raises(BuildError, match="no 'policy'"):
        build_momentum_hook(dict(step=[1]))
    assert isinstance(build_momentum_hook(dict(policy='step', step=2)), MomentumUpdaterHook)
    rmsprop = lambda params: torch.optim.Adagrad(params, lr=0.1)  # noqa: E731
    with pytest.raises(ValueError, match='Adagrad has neither momentum nor betas'):
        run(tmp_path, make_runner, make_loader, dict(policy='step', step=[1]), optimizer=rmsprop)


@pytest.mark.parametrize('cfg, error, match', [
    (dict(policy='CosineAnnealing'), ValueError,
     'momentum_config for CosineAnnealing needs exactly one of min_momentum and min_momentum_ratio, '
     'got min_momentum=None, min_momentum_ratio=None'),
    (dict(policy='step', step=[1], warmup='linear'), ValueError,
     'momentum_config.warmup_iters must be a positive number'),
    (dict(policy='cyclic', by_epoch=True), ValueError,
     'momentum_config: the Cyclic policy works per iteration'),
    (dict(policy='step', step=[1], min_lr=0.1), BuildError,
     "momentum_config has no key 'min_lr'; did you mean 'min_momentum'"),
    (dict(policy='CosineAnnealing', min_lr_ratio=0.1), BuildError,
     "momentum_config has no key 'min_lr_ratio'; did you mean 'min_momentum_ratio'"),
    (dict(policy='step', step=[1], gama=0.1), BuildError, 'Valid arguments: step, gamma, min_momentum,'),
])
def test_momentum_config_errors_name_its_keys(cfg, error, match):
    with pytest.raises(error, match=re.escape(match)):
        build_momentum_hook(cfg)


def test_momentum_warmup_by_epoch(tmp_path, make_runner, make_loader):
    """warmup_by_epoch counts warmup_iters in epochs, as in lr_config: 1 epoch = 4 iterations."""
    _, values = run(tmp_path, make_runner, make_loader,
                    dict(policy='step', step=[2], warmup='linear', warmup_iters=1, warmup_by_epoch=True,
                         warmup_ratio=0.5),
                    optimizer=lambda params: torch.optim.SGD(params, lr=0.1, momentum=0.45))
    assert values == pytest.approx([0.45 / (1 - (1 - i / 4) * 0.5) for i in range(4)] + [0.45] * 4
                                   + [0.225] * 4)
