"""The training loop: learning, val workflow, counters, resume, per-epoch seeding."""
import json
import random

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, DistributedSampler

from actionlab.engine.checkpoint import CheckpointError, save_checkpoint
from actionlab.engine.hooks import Hook
from actionlab.engine.runner import LogBuffer, OmniSourceRunner, Runner, to_channels_last, to_device
from actionlab.engine.seeding import set_random_seed


class Spy(Hook):
    """Records the loss of each training iteration and the counters at each stage."""

    def __init__(self):
        self.losses, self.stages = [], []

    def before_train_epoch(self, runner):
        self.stages.append(('before_train_epoch', runner.epoch, runner.iter))

    def after_train_iter(self, runner):
        self.losses.append(runner.outputs['log_vars']['loss'])
        self.stages.append(('after_train_iter', runner.epoch, runner.iter, runner.inner_iter))

    def before_val_epoch(self, runner):
        self.state = {k: v.clone() for k, v in runner.model.state_dict().items()}

    def after_val_epoch(self, runner):
        self.stages.append(('after_val_epoch', runner.epoch, runner.mode, runner.model.training))


@pytest.mark.parametrize('seed', [0, 1])
def test_short_training_learns(tmp_path, make_runner, make_loader, toy_dataset, seed):
    runner = make_runner(tmp_path, max_epochs=12, seed=seed)
    spy = Spy()
    runner.register_training_hooks(dict(policy='step', step=[9]), dict(grad_clip=dict(max_norm=10)))
    runner.register_hook(spy)
    runner.run([make_loader(toy_dataset(64))], [('train', 1)])
    first, last = np.mean(spy.losses[:8]), np.mean(spy.losses[-8:])
    assert last < first / 3, (first, last)
    assert (runner.epoch, runner.iter, runner.max_iters) == (12, 96, 96)
    runner.model.eval()
    data = toy_dataset(64)
    with torch.no_grad():
        acc = (runner.model(data.points, return_loss=False).argmax(1) == data.labels).float().mean()
    assert acc > 0.9


def test_counters_and_val_workflow_does_not_update(tmp_path, make_runner, make_loader, toy_dataset):
    runner = make_runner(tmp_path, max_epochs=2)
    spy = Spy()
    runner.register_training_hooks(None, {})
    runner.register_hook(spy)
    loaders = [make_loader(toy_dataset(16)), make_loader(toy_dataset(8, seed=3))]
    runner.run(loaders, [('train', 1), ('val', 1)])
    assert spy.stages[:3] == [('before_train_epoch', 0, 0), ('after_train_iter', 0, 0, 0),
                              ('after_train_iter', 0, 1, 1)]
    assert spy.stages[3] == ('after_val_epoch', 1, 'val', False)
    assert spy.stages[4] == ('before_train_epoch', 1, 2)
    assert spy.stages[-1] == ('after_val_epoch', 2, 'val', False)
    for key, value in runner.model.state_dict().items():  # the last (val) epoch changed nothing
        assert torch.equal(spy.state[key], value), key


def test_run_argument_errors(tmp_path, make_runner, make_loader):
    runner = make_runner(tmp_path)
    with pytest.raises(ValueError, match='2 phase.* but 1 data loader'):
        runner.run([make_loader()], [('train', 1), ('val', 1)])
    with pytest.raises(ValueError, match="no 'train' phase"):
        runner.run([make_loader()], [('val', 1)])
    with pytest.raises(ValueError, match="'train' or 'val'"):
        runner.run([make_loader()], [('test', 1)])
    with pytest.raises(ValueError, match='total_epochs'):
        Runner(runner.model, runner.optimizer).run([make_loader()], [['train', 1]])


def test_samplers_get_the_epoch(tmp_path, make_runner, toy_dataset):
    """A DistributedSampler shuffles differently each epoch because the runner calls set_epoch."""
    dataset = toy_dataset(16)
    sampler = DistributedSampler(dataset, num_replicas=1, rank=0, shuffle=True, seed=5)
    seen = []

    class RecordLabels(Hook):
        def before_train_iter(self, runner):
            seen.append(runner.epoch)

    runner = make_runner(tmp_path, max_epochs=3, seed=None)
    runner.register_training_hooks(None, {})
    runner.register_hook(RecordLabels())
    runner.run([DataLoader(dataset, batch_size=16, sampler=sampler)], [('train', 1)])
    assert sampler.epoch == 2 and seen == [0, 1, 2]
    orders = []
    for epoch in range(3):
        sampler.set_epoch(epoch)
        orders.append(list(sampler))
    assert orders[0] != orders[1] != orders[2]


def test_resume_restores_everything(tmp_path, make_runner, make_loader):
    runner = make_runner(tmp_path, max_epochs=2, meta=dict(seed=0))
    runner.register_training_hooks(dict(policy='fixed'), {}, dict(interval=1))
    runner.meta['hook_msgs'] = {'best_score': 0.5}
    runner.run([make_loader()], [('train', 1)])
    random.seed(7)
    np.random.seed(7)
    torch.manual_seed(7)
    runner.save_checkpoint(tmp_path, 'rng.pth', create_symlink=False)
    expected = random.random(), np.random.rand(), torch.rand(1)

    fresh = make_runner(tmp_path, seed=1)
    fresh.resume(tmp_path / 'rng.pth')
    assert (fresh.epoch, fresh.iter) == (3, 8)  # 'rng.pth' was saved after 2 epochs: meta says 3
    assert fresh.meta['hook_msgs']['best_score'] == 0.5
    assert (random.random(), np.random.rand(), torch.rand(1)) == expected
    assert fresh.optimizer.state_dict()['state'][0]['momentum_buffer'].equal(
        runner.optimizer.state_dict()['state'][0]['momentum_buffer'])
    for key, value in runner.model.state_dict().items():
        assert torch.equal(fresh.model.state_dict()[key], value)

    save_checkpoint(runner.model, tmp_path / 'weights_only.pth')
    with pytest.raises(CheckpointError, match='no epoch/iter .* use load_from'):
        fresh.resume(tmp_path / 'weights_only.pth')


def train_weights(work_dir, make_runner, make_loader, epochs, num_workers, resume_from=None):
    set_random_seed(123, deterministic=True)
    runner = make_runner(work_dir, max_epochs=4, seed=123)
    runner.register_training_hooks(dict(policy='step', step=[3], warmup='linear', warmup_iters=6), {},
                                   dict(interval=1))
    if resume_from:
        runner.resume(resume_from)
    runner.run([make_loader(num_workers=num_workers)], [('train', 1)], max_epochs=epochs)
    return runner.model.state_dict()


@pytest.mark.parametrize('num_workers', [0, 2])
def test_resume_is_exact(tmp_path, make_runner, make_loader, num_workers, deterministic):
    """4 epochs in one go == 2 epochs, stop, resume from epoch_2.pth, 2 more (bit for bit)."""
    straight = train_weights(tmp_path / 'a', make_runner, make_loader, 4, num_workers)
    train_weights(tmp_path / 'b', make_runner, make_loader, 2, num_workers)
    torch.manual_seed(999)  # a different process state before resuming must not matter
    resumed = train_weights(tmp_path / 'b', make_runner, make_loader, 4, num_workers,
                            resume_from=tmp_path / 'b' / 'epoch_2.pth')
    for key, value in straight.items():
        assert torch.equal(value, resumed[key]), key
    other = train_weights(tmp_path / 'c', make_runner, make_loader, 3, num_workers)
    assert not torch.equal(other['fc1.weight'], straight['fc1.weight'])


def test_log_buffer_weighted_average():
    buf = LogBuffer()
    buf.update({'loss': 1.0}, 2)
    buf.update({'loss': 4.0, 'acc': 0.5}, 1)
    buf.update({'loss': 2.0, 'acc': 1.0}, 1)
    buf.average(2)
    assert buf.output == {'loss': 3.0, 'acc': 0.75} and buf.ready
    buf.average()
    assert buf.output['loss'] == pytest.approx((2 + 4 + 2) / 4)
    buf.clear_output()
    assert not buf.output and not buf.ready and buf.val_history


def test_to_device_keeps_non_tensors():
    batch = {'imgs': torch.ones(2), 'meta': [{'name': 'a', 'arr': np.zeros(1)}],
             'pair': (torch.zeros(1), 'x')}
    moved = to_device(batch, torch.device('meta'))
    assert moved['imgs'].device.type == 'meta' and moved['pair'][0].device.type == 'meta'
    assert moved['meta'][0]['name'] == 'a' and isinstance(moved['meta'][0]['arr'], np.ndarray)
    assert moved['pair'][1] == 'x'


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')
def test_training_on_cuda(tmp_path, make_runner, make_loader, tiny_model):
    runner = make_runner(tmp_path, model=tiny_model().cuda(), max_epochs=2, timestamp='cuda')
    assert runner.device.type == 'cuda'
    runner.register_training_hooks(dict(policy='fixed'), {}, dict(interval=1),
                                   dict(interval=2, hooks=[dict(type='TextLoggerHook')]))
    runner.run([make_loader(pin_memory=True)], [('train', 1)])
    records = [json.loads(line) for line in (tmp_path / 'cuda.log.json').read_text().splitlines()]
    assert all(r['memory'] > 0 for r in records if r.get('mode') == 'train')
    fresh = make_runner(tmp_path, model=tiny_model().cuda())
    fresh.resume(tmp_path / 'latest.pth')
    for key, value in runner.model.state_dict().items():
        assert torch.equal(fresh.model.state_dict()[key], value)
    assert fresh.optimizer.state_dict()['state'][0]['momentum_buffer'].is_cuda


def test_omnisource_runner_interleaves_auxiliary_batches(tmp_path, make_loader, toy_dataset, tiny_model):
    """Main loader: 4 batches of 8; auxiliary: 3 batches of 2, 3 of them after every 2nd main
    iteration (train_ratio [2, 3]): per epoch 4 + 2 x 3 steps, the auxiliary loader cycling."""
    torch.manual_seed(0)
    model = tiny_model()
    runner = OmniSourceRunner(model, torch.optim.SGD(model.parameters(), lr=0.1), work_dir=tmp_path,
                              max_epochs=2, seed=0, train_ratio=[2, 3])
    steps = []

    class Steps(Hook):
        def after_train_iter(self, runner):
            steps.append((runner.iter, runner.outputs['num_samples']))

    runner.register_training_hooks(None, {})
    runner.register_hook(Steps())
    runner.run([make_loader(batch_size=8), make_loader(toy_dataset(6), batch_size=2)], [('train', 1)])
    epoch = [(0, 8), (0, 2), (0, 2), (0, 2), (1, 8), (2, 8), (2, 2), (2, 2), (2, 2), (3, 8)]
    assert steps == epoch + [(it + 4, n) for it, n in epoch]
    assert (runner.epoch, runner.iter, runner.max_iters) == (2, 8, 8)
    assert {'loss_cls/aux0', 'top1_acc/aux0', 'loss/aux0', 'loss_cls'} <= set(runner.log_buffer.val_history)
    with pytest.raises(ValueError, match=r"only workflow=\[\('train', n\)\]"):
        runner.run([make_loader(), make_loader()], [('train', 1), ('val', 1)])
    bad = OmniSourceRunner(model, runner.optimizer, max_epochs=1, train_ratio=[1])
    with pytest.raises(ValueError, match='train_ratio must give a positive int for each of the 2'):
        bad.run([make_loader(), make_loader()], [('train', 1)])


def test_to_channels_last_keeps_the_function():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Flatten(0),
                                torch.nn.Unflatten(0, (1, 4, 6, 6)), torch.nn.Conv3d(1, 2, (1, 3, 3)))
    x = torch.randn(1, 3, 8, 8)
    expected = model(x)
    assert to_channels_last(model) is model
    assert model[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert not model[0].weight.is_contiguous()
    assert model[4].weight.is_contiguous(memory_format=torch.channels_last_3d)
    assert model[1].weight.is_contiguous()  # 1-D tensors have one layout
    torch.testing.assert_close(model(x), expected, rtol=1e-5, atol=1e-6)


def test_omnisource_iteration_hooks_act_once_per_iteration(tmp_path, make_loader, toy_dataset, tiny_model):
    """With train_ratio [1, 2] every iteration runs 1 + 2 steps at the same runner.iter; the
    iteration-based evaluation, checkpoint and EMA hooks act once per due iteration."""
    from actionlab.engine.hooks import CheckpointHook, EMAHook, EvalHook

    torch.manual_seed(0)
    model = tiny_model()
    runner = OmniSourceRunner(model, torch.optim.SGD(model.parameters(), lr=0.1), work_dir=tmp_path,
                              max_epochs=1, seed=0, train_ratio=[1, 2])
    evaluated, saved, averaged = [], [], []

    def test_fn(model, loader):
        evaluated.append(runner.iter)
        return [torch.zeros(4) for _ in range(len(loader.dataset))]

    class CountingEMA(EMAHook):
        def after_train_iter(self, runner):
            before = runner.model.ema_fc1_weight.clone()
            super().after_train_iter(runner)
            if not torch.equal(before, runner.model.ema_fc1_weight):
                averaged.append(runner.iter)

    runner.register_training_hooks(None, {})
    runner.register_hook(EvalHook(make_loader(toy_dataset(8), batch_size=4), by_epoch=False, interval=2,
                                  save_best=None, test_fn=test_fn), 'LOW')
    runner.register_hook(CheckpointHook(interval=2, by_epoch=False))
    runner.register_hook(CountingEMA(momentum=0.5, interval=2, warm_up=1))
    original_save = runner.save_checkpoint
    runner.save_checkpoint = lambda *a, **k: (saved.append(runner.iter), original_save(*a, **k))[1]
    runner.run([make_loader(toy_dataset(16), batch_size=4), make_loader(toy_dataset(8), batch_size=2)],
               [('train', 1)])  # 4 iterations of 3 steps
    assert evaluated == [1, 3]
    assert saved == [1, 3]
    assert averaged == [0, 2]
    assert sorted(p.name for p in tmp_path.glob('iter_*.pth')) == ['iter_2.pth', 'iter_4.pth']
    assert runner.step_source == ''


def test_omnisource_iteration_time_covers_the_auxiliary_steps(tmp_path, make_loader, toy_dataset, tiny_model):
    """One ``time`` and ``data_time`` per iteration (not per step), so the ETA counts
    iterations; an auxiliary step's time is part of an iteration's."""
    import time

    from actionlab.engine.hooks import Hook

    model = tiny_model()
    runner = OmniSourceRunner(model, torch.optim.SGD(model.parameters(), lr=0.1), max_epochs=1,
                              seed=0, train_ratio=[1, 2])
    times = []

    class SlowAux(Hook):  # each auxiliary step takes 20 ms more
        def after_train_iter(self, runner):
            if self.is_aux_step(runner):
                time.sleep(0.02)

    class Record(Hook):
        def after_train_iter(self, runner):
            if not self.is_aux_step(runner):
                times.append(list(runner.log_buffer.val_history['time']))

    runner.register_training_hooks(None, {})
    runner.register_hook(SlowAux(), 'HIGH')
    runner.register_hook(Record(), 'LOWEST')
    runner.run([make_loader(toy_dataset(16), batch_size=4), make_loader(toy_dataset(8), batch_size=2)],
               [('train', 1)])
    assert [len(t) for t in times] == [1, 2, 3, 4]  # one entry per main step
    assert len(runner.log_buffer.val_history['data_time']) == 4
    assert all(t >= 0.04 for t in times[-1][1:])  # iterations after the first include 2 aux steps


def test_omnisource_rejects_gradient_accumulation(tmp_path, make_loader, tiny_model):
    model = tiny_model()
    runner = OmniSourceRunner(model, torch.optim.SGD(model.parameters(), lr=0.1), max_epochs=1)
    runner.register_training_hooks(None, dict(cumulative_iters=2))
    with pytest.raises(ValueError, match=r'optimizer_config.cumulative_iters=2 cannot be combined with '
                                         r'omnisource=True'):
        runner.run([make_loader(), make_loader()], [('train', 1)])
    assert runner.iter == 0
