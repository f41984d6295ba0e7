"""PreciseBN: the BN statistics become the plain average of per-batch statistics."""
import pytest
import torch
from torch.utils.data import DataLoader, DistributedSampler

from actionlab.engine.hooks import PreciseBNHook, update_bn_stats


def test_update_bn_stats_averages_batch_statistics(toy_dataset, tiny_model):
    torch.manual_seed(0)
    model = tiny_model()
    model.bn.momentum = 0.1
    loader = DataLoader(toy_dataset(40), batch_size=8, shuffle=False)
    with torch.no_grad():
        hidden = [model.fc1(batch['imgs']) for batch in list(loader)[:3]]
    update_bn_stats(model, loader, num_iters=3)
    torch.testing.assert_close(model.bn.running_mean, torch.stack([h.mean(0) for h in hidden]).mean(0))
    torch.testing.assert_close(model.bn.running_var, torch.stack([h.var(0) for h in hidden]).mean(0))
    assert model.bn.momentum == 0.1 and model.training
    with pytest.raises(ValueError, match='num_iters=6 is more than the 5 batches'):
        update_bn_stats(model, loader, num_iters=6)


def test_precise_bn_hook_runs_every_interval(tmp_path, make_runner, make_loader, toy_dataset):
    calls = []
    runner = make_runner(tmp_path, max_epochs=4)
    runner.register_training_hooks(None, {})
    hook = PreciseBNHook(make_loader(toy_dataset(16), shuffle=False), num_iters=2, interval=2)
    runner.register_hook(hook, 'HIGHEST')

    original = runner.model.bn.forward
    runner.model.bn.forward = lambda x: (calls.append(runner.epoch), original(x))[1]
    runner.run([make_loader()], [('train', 1)])
    # 4 training iterations per epoch, plus 2 PreciseBN batches after epochs 2 and 4
    assert calls.count(1) == 4 + 2 and calls.count(3) == 4 + 2 and calls.count(0) == 4
    with pytest.raises(TypeError, match='DataLoader'):
        PreciseBNHook([1, 2])


def test_precise_bn_loader_gets_each_epoch(tmp_path, make_runner, make_loader, toy_dataset):
    """The PreciseBN loader's DistributedSampler gets set_epoch like the training loader's, so each
    epoch's update averages over other batches."""
    class RecordingSampler(DistributedSampler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.orders = []

        def __iter__(self):
            order = list(super().__iter__())
            self.orders.append((self.epoch, order))
            return iter(order)

    sampler = RecordingSampler(toy_dataset(16), num_replicas=1, rank=0, shuffle=True, seed=3)
    runner = make_runner(tmp_path, max_epochs=3)
    runner.register_training_hooks(None, {})
    loader = DataLoader(toy_dataset(16), batch_size=4, sampler=sampler)
    runner.register_hook(PreciseBNHook(loader, num_iters=2), 'HIGHEST')
    runner.run([make_loader()], [('train', 1)])
    assert [epoch for epoch, _ in sampler.orders] == [0, 1, 2]
    assert sampler.orders[0][1] != sampler.orders[1][1] != sampler.orders[2][1]
