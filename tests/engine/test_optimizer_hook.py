"""The optimizer hook: gradient accumulation, the non-finite loss guard, mixed precision."""
import logging

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from actionlab.engine.checkpoint import read_checkpoint
from actionlab.engine.hooks import HOOKS, Fp16OptimizerHook, Hook, LoggerHook, OptimizerHook


class MLP(nn.Module):
    """Recognizer-like model without BatchNorm or dropout: batch size does not change the math."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.fc_cls = nn.Linear(16, 4)
        self.seen_dtypes = []

    def forward(self, imgs, label=None, return_loss=True, **kwargs):
        hidden = self.fc1(imgs)
        self.seen_dtypes.append(hidden.dtype)
        scores = self.fc_cls(F.relu(hidden))
        return {'loss_cls': F.cross_entropy(scores.float(), label)} if return_loss else scores


def train(tmp_path, make_runner, dataset, batch_size, optimizer_config, model=None, epochs=2, **kwargs):
    torch.manual_seed(0)
    runner = make_runner(tmp_path, model=model or MLP(), max_epochs=epochs, **kwargs)
    runner.register_training_hooks(dict(policy='fixed'), optimizer_config)
    runner.run([DataLoader(dataset, batch_size=batch_size, shuffle=False)], [('train', 1)])
    return runner


@pytest.mark.parametrize('num_samples, epochs', [(32, 2), (36, 1)])
def test_cumulative_iters_equal_a_larger_batch(tmp_path, make_runner, toy_dataset, num_samples, epochs):
    """Batches of 4 accumulated over 2 iterations == batches of 8. With 36 samples the last,
    lone batch of 4 is a window of its own, divided by 1, like the last batch of 8 that holds 4.
    (Windows are counted over the whole run, as in mmcv: with 9 iterations per epoch they
    would straddle epochs.)"""
    dataset = toy_dataset(num_samples)
    small = train(tmp_path / 'a', make_runner, dataset, 4, dict(cumulative_iters=2), epochs=epochs)
    large = train(tmp_path / 'b', make_runner, dataset, 8, {}, epochs=epochs)
    single = train(tmp_path / 'c', make_runner, dataset, 4, {}, epochs=epochs)
    for key, value in large.model.state_dict().items():
        torch.testing.assert_close(small.model.state_dict()[key], value, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(single.model.fc1.weight, large.model.fc1.weight, atol=1e-3)
    assert HOOKS.get('GradientCumulativeOptimizerHook') is OptimizerHook


def test_cumulative_iters_warn_about_batchnorm(tmp_path, make_runner, toy_dataset, tiny_model, caplog):
    with caplog.at_level(logging.WARNING):
        train(tmp_path, make_runner, toy_dataset(16), 4, dict(cumulative_iters=2))
    assert 'BatchNorm' not in caplog.text  # the MLP has none
    with caplog.at_level(logging.WARNING):
        train(tmp_path, make_runner, toy_dataset(16), 4, dict(cumulative_iters=2), model=tiny_model())
    assert "cumulative_iters=2 with BatchNorm: the BN statistics still come from single iterations' batches" \
        in caplog.text


class WeightLog(Hook):
    def __init__(self):
        self.weights = []

    def after_train_iter(self, runner):
        self.weights.append(runner.model.fc1.weight.detach().clone())


def test_skip_nonfinite_loss_keeps_the_weights(tmp_path, make_runner, make_loader, tiny_model, caplog):
    runner = make_runner(tmp_path, model=tiny_model(nan_at=2), max_epochs=1)
    runner.register_training_hooks(None, dict(skip_nonfinite_loss=True))
    log = WeightLog()
    runner.register_hook(log, 'LOWEST')
    with caplog.at_level(logging.WARNING):
        runner.run([make_loader()], [('train', 1)])
    assert torch.equal(log.weights[1], log.weights[2])  # iteration 3 (NaN) did not step
    assert not torch.equal(log.weights[2], log.weights[3]) and torch.isfinite(log.weights[3]).all()
    assert [h.skipped_steps for h in runner.hooks if isinstance(h, OptimizerHook)] == [1]
    assert 'the loss is nan at epoch 1, iteration 3/4 (iteration 3 overall): skipping' in caplog.text


def test_bf16_autocast_on_cpu(tmp_path, make_runner, toy_dataset, caplog):
    model = MLP()
    before = model.fc1.weight.detach().clone()
    with caplog.at_level(logging.INFO):
        runner = train(tmp_path, make_runner, toy_dataset(16), 8, Fp16OptimizerHook(loss_scale='dynamic'),
                       model=model, epochs=1)
    assert runner.autocast == dict(device_type='cpu', dtype=torch.bfloat16)
    assert set(model.seen_dtypes) == {torch.bfloat16}
    assert model.fc1.weight.dtype == torch.float32 and not torch.equal(model.fc1.weight, before)
    assert [h.scaler for h in runner.hooks if isinstance(h, OptimizerHook)] == [None]
    assert 'bfloat16 autocast on cpu, no loss scaling' in caplog.text


@pytest.mark.parametrize('loss_scale, final_scale', [
    (512.0, 512.0), ('dynamic', 2.0 ** 16), (dict(init_scale=64.0, growth_interval=1), 64.0 * 2 ** 4)])
def test_float16_loss_scaling(tmp_path, make_runner, toy_dataset, loss_scale, final_scale):
    hook = Fp16OptimizerHook(grad_clip=dict(max_norm=100.0), loss_scale=loss_scale, dtype='float16')
    runner = train(tmp_path, make_runner, toy_dataset(16), 4, hook, epochs=1)
    assert runner.autocast['dtype'] == torch.float16 and set(runner.model.seen_dtypes) == {torch.float16}
    # the logged gradient norm is of the unscaled gradients
    assert runner.log_buffer.val_history['grad_norm'][0] < 10

    runner.save_checkpoint(tmp_path, 'fp16.pth', create_symlink=False)
    state = read_checkpoint(tmp_path / 'fp16.pth')['meta']['fp16']['loss_scaler']
    assert state['scale'] == final_scale  # growth every step with growth_interval=1, 4 steps
    fresh_hook = Fp16OptimizerHook(loss_scale=loss_scale, dtype='float16')
    fresh = make_runner(tmp_path, model=MLP(), max_epochs=1)
    fresh.resume(tmp_path / 'fp16.pth')
    fresh.register_training_hooks(None, fresh_hook)
    fresh.call_hook('before_run')
    assert fresh_hook.scaler.get_scale() == final_scale


class RecordingLogger(LoggerHook):
    def __init__(self, interval):
        super().__init__(interval=interval)
        self.records = []

    def log(self, runner):
        self.records.append((runner.iter + 1, dict(runner.log_buffer.output)))


def test_loss_scaler_read_only_when_logged_or_saved(tmp_path, make_runner, toy_dataset, monkeypatch):
    """get_scale() and state_dict() wait for the GPU: the hook calls them only on the iterations
    a logger logs and when a checkpoint is written, not every step."""
    calls = []  # the hook's own calls (state_dict() calls get_scale() itself)
    get_scale, state_dict = torch.amp.GradScaler.get_scale, torch.amp.GradScaler.state_dict

    def counted_state_dict(self):
        calls.append('state_dict')
        monkeypatch.setattr(torch.amp.GradScaler, 'get_scale', get_scale)
        try:
            return state_dict(self)
        finally:
            monkeypatch.setattr(torch.amp.GradScaler, 'get_scale', counted_get_scale)

    def counted_get_scale(self):
        calls.append('get_scale')
        return get_scale(self)

    monkeypatch.setattr(torch.amp.GradScaler, 'get_scale', counted_get_scale)
    monkeypatch.setattr(torch.amp.GradScaler, 'state_dict', counted_state_dict)
    torch.manual_seed(0)
    runner = make_runner(tmp_path, model=MLP(), max_epochs=1)
    hook = Fp16OptimizerHook(loss_scale=dict(init_scale=64.0, growth_interval=1), dtype='float16')
    runner.register_training_hooks(None, hook, dict(interval=1))
    logger = RecordingLogger(interval=3)
    runner.register_hook(logger, 'VERY_LOW')
    runner.run([DataLoader(toy_dataset(24), batch_size=4, shuffle=False)], [('train', 1)])  # 6 steps
    # logged at iterations 3 and 6: the scale then, after 3 and 6 growth steps
    assert [(it, out['loss_scale']) for it, out in logger.records] == [(3, 64.0 * 2 ** 3), (6, 64.0 * 2 ** 6)]
    assert calls == ['get_scale', 'get_scale', 'state_dict']  # 2 logs, the epoch checkpoint
    assert 'fp16' not in runner.meta
    assert read_checkpoint(tmp_path / 'epoch_1.pth')['meta']['fp16']['loss_scaler']['scale'] == 64.0 * 2 ** 6


def test_optimizer_hook_argument_errors():
    with pytest.raises(ValueError, match='max_norm'):
        OptimizerHook(grad_clip=dict(norm_type=2))
    with pytest.raises(ValueError, match='cumulative_iters must be a positive int'):
        OptimizerHook(cumulative_iters=0)
    with pytest.raises(ValueError, match="loss_scale must be 'dynamic'"):
        Fp16OptimizerHook(loss_scale='auto')
    with pytest.raises(ValueError, match='fp16.dtype'):
        Fp16OptimizerHook(dtype='float8')


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')
def test_float16_with_grad_scaler_on_cuda(tmp_path, make_runner, toy_dataset):
    model = MLP().cuda()
    runner = make_runner(tmp_path, model=model, max_epochs=1)
    runner.register_training_hooks(None, Fp16OptimizerHook(loss_scale='dynamic'))
    loader = DataLoader(toy_dataset(16), batch_size=4, pin_memory=True)
    runner.run([loader], [('train', 1)])
    assert runner.autocast == dict(device_type='cuda', dtype=torch.float16)
    assert set(model.seen_dtypes) == {torch.float16}
    path = runner.save_checkpoint(tmp_path, 'fp16.pth', create_symlink=False)
    assert read_checkpoint(path)['meta']['fp16']['loss_scaler']['scale'] == 2.0 ** 16
    assert model.fc1.weight.dtype == torch.float32 and model.fc1.weight.is_cuda
