"""LR schedules against mmcv 1.x's formulas, standalone and applied by the runner."""
import math

import pytest

from actionlab.engine.hooks import Hook
from actionlab.engine.lr_schedules import (
    LR_SCHEDULES,
    CosineAnnealingSchedule,
    FixedSchedule,
    StepSchedule,
    TrainProgress,
    Warmup,
    build_lr_schedule,
    policy_type,
)
from actionlab.registry import BuildError

BASE = 0.1


def at(epoch=0, it=0, epoch_len=10, max_epochs=10):
    return TrainProgress(epoch=epoch, iter=it, epoch_len=epoch_len, max_epochs=max_epochs)


def cosine(start, end, factor):
    return end + 0.5 * (start - end) * (math.cos(math.pi * factor) + 1)


def test_registry_and_policy_names():
    assert {'Step', 'CosineAnnealing', 'Fixed'} <= set(LR_SCHEDULES.keys())
    assert isinstance(build_lr_schedule(dict(policy='step', step=[2])), StepSchedule)
    assert isinstance(build_lr_schedule(dict(policy='fixed')), FixedSchedule)
    assert isinstance(build_lr_schedule(dict(policy='CosineAnnealing', min_lr=0)), CosineAnnealingSchedule)
    for policy in ('poly', 'exp', 'inv', 'CosineRestart', 'FlatCosineAnnealing', 'cyclic'):
        assert policy_type(policy) in LR_SCHEDULES
    with pytest.raises(BuildError, match='OneCycle'):
        build_lr_schedule(dict(policy='OneCycle', max_lr=0.1))
    with pytest.raises(BuildError, match='gamma'):
        build_lr_schedule(dict(policy='step', step=[2], gama=0.5))


@pytest.mark.parametrize('epoch, expected', [(0, 1), (1, 1), (2, 0.1), (3, 0.1), (4, 0.01), (9, 0.01)])
def test_step_milestones_by_epoch(epoch, expected):
    schedule = build_lr_schedule(dict(policy='step', step=[2, 4]))
    # the iteration does not matter when by_epoch=True
    for it in (epoch * 10, epoch * 10 + 7):
        assert schedule.get_lr(BASE, at(epoch, it)) == pytest.approx(BASE * expected, rel=1e-12)


def test_step_int_gamma_min_lr_and_by_iter():
    every3 = build_lr_schedule(dict(policy='step', step=3, gamma=0.5))
    assert [every3.get_lr(BASE, at(e)) for e in range(7)] == pytest.approx(
        [BASE, BASE, BASE, BASE / 2, BASE / 2, BASE / 2, BASE / 4])
    clipped = build_lr_schedule(dict(policy='step', step=[1, 2], min_lr=0.005))
    assert clipped.get_lr(BASE, at(1)) == pytest.approx(0.01)
    assert clipped.get_lr(BASE, at(2)) == 0.005
    by_iter = build_lr_schedule(dict(policy='step', step=[15, 25], by_epoch=False))
    assert by_iter.get_lr(BASE, at(epoch=1, it=14)) == BASE
    assert by_iter.get_lr(BASE, at(epoch=1, it=15)) == pytest.approx(BASE * 0.1)
    assert by_iter.get_lr(BASE, at(epoch=2, it=25)) == pytest.approx(BASE * 0.01)


def test_cosine_by_epoch_and_by_iter():
    ratio = build_lr_schedule(dict(policy='CosineAnnealing', min_lr_ratio=0.01))
    for epoch in range(10):
        assert ratio.get_lr(BASE, at(epoch, epoch * 10 + 3)) == pytest.approx(
            cosine(BASE, BASE * 0.01, epoch / 10), rel=1e-12)
    absolute = build_lr_schedule(dict(policy='CosineAnnealing', min_lr=1e-4, by_epoch=False))
    for it in (0, 1, 37, 99):
        expected = cosine(BASE, 1e-4, it / 100)
        assert absolute.get_lr(BASE, at(it // 10, it)) == pytest.approx(expected, rel=1e-12)
    assert absolute.get_lr(BASE, at(0, 0)) == pytest.approx(BASE)


def test_fixed():
    schedule = build_lr_schedule(dict(policy='fixed'))
    assert {schedule.get_lr(BASE, at(e, e * 10)) for e in range(10)} == {BASE}


@pytest.mark.parametrize('kind', ['linear', 'constant', 'exp'])
@pytest.mark.parametrize('by_epoch', [True, False])
def test_warmup_by_iteration(kind, by_epoch):
    schedule = build_lr_schedule(dict(policy='step', step=[1], by_epoch=by_epoch, warmup=kind,
                                      warmup_iters=15, warmup_ratio=0.2))
    for it in range(30):
        epoch = it // 10
        regular = BASE * (0.1 if (epoch if by_epoch else it) >= 1 else 1)
        if it >= 15:
            expected = regular
        elif kind == 'linear':
            expected = regular * (0.2 + 0.8 * it / 15)
        elif kind == 'constant':
            expected = regular * 0.2
        else:
            expected = regular * 0.2 ** (1 - it / 15)
        assert schedule.get_lr(BASE, at(epoch, it)) == pytest.approx(expected, rel=1e-12), it


def test_warmup_by_epoch_counts_epochs():
    schedule = build_lr_schedule(dict(policy='fixed', warmup='linear', warmup_iters=2,
                                      warmup_by_epoch=True, warmup_ratio=0.1))
    lrs = [schedule.get_lr(BASE, at(it // 5, it, epoch_len=5)) for it in range(12)]
    assert lrs[:10] == pytest.approx([BASE * (0.1 + 0.9 * i / 10) for i in range(10)])
    assert lrs[10:] == [BASE, BASE]


@pytest.mark.parametrize('cfg, match', [
    (dict(policy='fixed', warmup='cosine', warmup_iters=5), "'constant', 'linear' or 'exp'"),
    (dict(policy='fixed', warmup='linear'), 'warmup_iters'),
    (dict(policy='fixed', warmup='linear', warmup_iters=5, warmup_ratio=0), 'warmup_ratio'),
    (dict(policy='CosineAnnealing'), 'exactly one of min_lr and min_lr_ratio'),
    (dict(policy='CosineAnnealing', min_lr=0, min_lr_ratio=0.1), 'exactly one'),
    (dict(policy='step', step=[0, 3]), 'positive'),
    (dict(policy='step', step='3'), 'int or a list'),
])
def test_invalid_configs(cfg, match):
    with pytest.raises((ValueError, TypeError), match=match):
        build_lr_schedule(cfg)


def test_schedule_is_pure_and_tuple_steps():
    schedule = StepSchedule(step=(2, 4), warmup=Warmup('linear', iters=3))
    first = [schedule.get_lr(BASE, at(e, e * 10)) for e in range(6)]
    assert [schedule.get_lr(BASE, at(e, e * 10)) for e in range(6)] == first
    assert schedule.step == [2, 4]


@pytest.mark.parametrize('by_epoch', [True, False])
def test_poly_exp_inv(by_epoch):
    poly = build_lr_schedule(dict(policy='poly', power=0.9, min_lr=1e-4, by_epoch=by_epoch))
    exp = build_lr_schedule(dict(policy='exp', gamma=0.9, by_epoch=by_epoch))
    inv = build_lr_schedule(dict(policy='inv', gamma=0.01, power=0.75, by_epoch=by_epoch))
    for it in (0, 9, 10, 55, 99):
        progress, total = (it // 10, 10) if by_epoch else (it, 100)
        p = at(it // 10, it)
        assert poly.get_lr(BASE, p) == pytest.approx((BASE - 1e-4) * (1 - progress / total) ** 0.9 + 1e-4,
                                                      rel=1e-12)
        assert exp.get_lr(BASE, p) == pytest.approx(BASE * 0.9 ** progress, rel=1e-12)
        assert inv.get_lr(BASE, p) == pytest.approx(BASE * (1 + 0.01 * progress) ** -0.75, rel=1e-12)
    assert poly.get_lr(BASE, at(0, 0)) == pytest.approx(BASE)


def test_cosine_restart():
    schedule = build_lr_schedule(dict(policy='CosineRestart', periods=[4, 6], restart_weights=[1, 0.5],
                                      min_lr_ratio=0.1))
    lrs = [schedule.get_lr(BASE, at(e)) for e in range(10)]
    target = BASE * 0.1
    expected = [cosine(BASE, target, e / 4) for e in range(4)]
    expected += [target + 0.25 * (BASE - target) * (math.cos(math.pi * (e - 4) / 6) + 1)
                 for e in range(4, 10)]
    assert lrs == pytest.approx(expected, rel=1e-12)
    assert lrs[4] == pytest.approx(target + 0.5 * (BASE - target))  # restarts at half the height
    with pytest.raises(ValueError, match='beyond the CosineRestart periods'):
        schedule.get_lr(BASE, at(10, 100, max_epochs=12))
    with pytest.raises(ValueError, match='same length'):
        build_lr_schedule(dict(policy='CosineRestart', periods=[4, 6], min_lr=0))


def test_flat_cosine():
    schedule = build_lr_schedule(dict(policy='FlatCosineAnnealing', start_percent=0.6, min_lr=0.001))
    lrs = [schedule.get_lr(BASE, at(e)) for e in range(10)]
    assert lrs[:7] == [BASE] * 7
    assert lrs[7:] == pytest.approx([cosine(BASE, 0.001, (e - 6) / 4) for e in range(7, 10)], rel=1e-12)


@pytest.mark.parametrize('strategy', ['cos', 'linear'])
def test_cyclic_two_cycles_with_gamma(strategy):
    """100 iterations, 2 cycles of 50: 20 up to 10x, 30 down to 1e-4x; cycle 2 peaks at 1 + 0.5 * 9."""
    schedule = build_lr_schedule(dict(policy='cyclic', target_ratio=[10, 1e-4], cyclic_times=2,
                                      step_ratio_up=0.4, anneal_strategy=strategy, gamma=0.5, by_epoch=False))

    def anneal(start, end, f):
        return cosine(start, end, f) if strategy == 'cos' else start + (end - start) * f

    for it in range(100):
        cycle, i = divmod(it, 50)
        peak = 10 if cycle == 0 else 1 - 0.5 + 10 * 0.5
        if i < 20:
            expected = anneal(BASE, BASE * peak, i / 20)
        else:
            expected = anneal(BASE * peak, BASE * 1e-4, (i - 20) / 30)
        assert schedule.get_lr(BASE, at(it // 10, it)) == pytest.approx(expected, rel=1e-12), it
    single = build_lr_schedule(dict(policy='cyclic', target_ratio=5.0, by_epoch=False))
    assert single.target_ratio == (5.0, 5e-5)
    with pytest.raises(ValueError, match='by_epoch=False'):
        build_lr_schedule(dict(policy='cyclic', by_epoch=True))


class RecordLr(Hook):
    def __init__(self):
        self.lrs = []

    def after_train_iter(self, runner):
        self.lrs.append([g['lr'] for g in runner.optimizer.param_groups])


@pytest.mark.parametrize('by_epoch', [True, False])
def test_runner_applies_schedule_to_every_group(tmp_path, make_runner, make_loader, by_epoch):
    """Per-iteration lrs seen by the model match mmcv's LrUpdaterHook for two groups (1x, 10x)."""
    runner = make_runner(tmp_path, max_epochs=3)
    model = runner.model
    runner.optimizer = type(runner.optimizer)([
        {'params': model.fc1.parameters()}, {'params': model.fc_cls.parameters(), 'lr': 1.0}],
        lr=0.1, momentum=0.9)
    lr_config = dict(policy='step', step=[2] if by_epoch else [7], by_epoch=by_epoch,
                     warmup='linear', warmup_iters=6, warmup_ratio=0.1)
    recorder = RecordLr()
    runner.register_training_hooks(lr_config, optimizer_config={})
    runner.register_hook(recorder, 'LOWEST')
    runner.run([make_loader(batch_size=8)], [('train', 1)])  # 32 samples -> 4 iterations/epoch
    assert len(recorder.lrs) == 12
    for it, lrs in enumerate(recorder.lrs):
        for base, lr in zip((0.1, 1.0), lrs):
            progress = (it // 4) if by_epoch else it
            regular = base * (0.1 if progress >= (2 if by_epoch else 7) else 1)
            expected = regular * (1 - (1 - it / 6) * 0.9) if it < 6 else regular
            assert lr == pytest.approx(expected, rel=1e-12), (it, lrs)
    assert [g['initial_lr'] for g in runner.optimizer.param_groups] == [0.1, 1.0]
