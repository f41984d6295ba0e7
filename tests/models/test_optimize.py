"""optimize_for_inference, the oneDNN layers and retain_freed_memory: faster, same outputs."""
from __future__ import annotations

import copy
import resource

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from actionlab.models import build_model, optimize_for_inference, retain_freed_memory
from actionlab.models.ops.onednn import (
    OneDNNConv2d,
    OneDNNConv3d,
    OneDNNLinear,
    OneDNNMultiheadAttention,
    onednn_available,
    use_onednn_layers,
)
from actionlab.models.optimize import convs_to_channels_last

needs_onednn = pytest.mark.skipif(not onednn_available(), reason='this PyTorch build has no oneDNN')

SCORES = dict(average_clips='score')
TINY_RESNET = dict(depth=18, base_channels=8, pretrained=None, norm_eval=False)
NON_LOCAL = dict(sub_sample=True, use_scale=False, norm_cfg=dict(type='BN3d'), mode='embedded_gaussian')

MODELS = {
    'tsn': (dict(type='Recognizer2D', backbone=dict(type='ResNet', **TINY_RESNET),
                 cls_head=dict(type='TSNHead', num_classes=5, in_channels=64), test_cfg=SCORES),
            (2, 3, 3, 32, 32)),
    # non-local blocks mix Conv3d into a 2D network
    'tsm_nl': (dict(type='Recognizer2D',
                    backbone=dict(type='ResNetTSM', num_segments=4, non_local_cfg=NON_LOCAL,
                                  non_local=((0, 0), (1, 0), (0, 0), (0, 0)), **TINY_RESNET),
                    cls_head=dict(type='TSMHead', num_classes=5, in_channels=64, num_segments=4),
                    test_cfg=SCORES),
               (2, 4, 3, 32, 32)),
    'i3d': (dict(type='Recognizer3D',
                 backbone=dict(type='ResNet3d', conv1_kernel=(5, 7, 7), conv1_stride_t=2, pool1_stride_t=2,
                               non_local=(0, 1, 0, 0), non_local_cfg=NON_LOCAL, **TINY_RESNET),
                 cls_head=dict(type='I3DHead', num_classes=5, in_channels=64), test_cfg=SCORES),
            (2, 1, 3, 8, 32, 32)),
    'slowfast': (dict(type='Recognizer3D',
                      backbone=dict(type='ResNet3dSlowFast', pretrained=None, resample_rate=4,
                                    speed_ratio=4, channel_ratio=4,
                                    slow_pathway=dict(type='resnet3d', depth=18, pretrained=None,
                                                      lateral=True, base_channels=16,
                                                      conv1_kernel=(1, 7, 7), inflate=(0, 0, 1, 1)),
                                    fast_pathway=dict(type='resnet3d', depth=18, pretrained=None,
                                                      lateral=False, base_channels=4,
                                                      conv1_kernel=(5, 7, 7))),
                      cls_head=dict(type='SlowFastHead', num_classes=5, in_channels=160),
                      test_cfg=SCORES),
                 (2, 1, 3, 8, 32, 32)),
    'x3d': (dict(type='Recognizer3D', backbone=dict(type='X3D', gamma_w=0.5, gamma_b=2.25, gamma_d=1),
                 cls_head=dict(type='X3DHead', num_classes=5, in_channels=288), test_cfg=SCORES),
            (2, 1, 3, 5, 32, 32)),
    'timesformer': (dict(type='Recognizer3D',
                         backbone=dict(type='TimeSformer', num_frames=3, img_size=32, patch_size=16,
                                       embed_dims=32, num_heads=2, num_transformer_layers=2),
                         cls_head=dict(type='TimeSformerHead', num_classes=5, in_channels=32),
                         test_cfg=SCORES),
                    (2, 1, 3, 3, 32, 32)),
}


def _build(name: str) -> tuple[nn.Module, torch.Tensor]:
    """A small model with non-trivial BatchNorm statistics and non-zero residual branches."""
    cfg, shape = MODELS[name]
    torch.manual_seed(0)
    model = build_model(copy.deepcopy(cfg))
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.copy_(torch.rand(m.num_features, generator=gen) - 0.5)
                m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
                m.bias.copy_(torch.rand(m.num_features, generator=gen) - 0.5)
            elif isinstance(m, nn.Linear) and m.weight.abs().max() == 0:  # zero-initialised temporal_fc
                m.weight.normal_(std=0.2, generator=gen)
    return model.eval(), torch.randn(shape, generator=gen)


def _relative_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    return ((actual - expected).abs().max() / expected.abs().max()).item()


@pytest.mark.parametrize('name', sorted(MODELS))
def test_optimised_models_give_the_plain_scores(name):
    model, x = _build(name)
    with torch.no_grad():
        expected = model(x, return_loss=False)
    optimised = optimize_for_inference(copy.deepcopy(model))
    with torch.inference_mode():
        scores = optimised(x, return_loss=False)
    assert scores.shape == expected.shape == (x.shape[0], 5)
    assert _relative_error(scores, expected) < 1e-4
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in optimised.modules())
    layer_types = {type(m) for m in optimised.modules()}
    if onednn_available():
        assert not layer_types & {nn.Conv2d, nn.Conv3d, nn.Linear, nn.MultiheadAttention}
    convs = [m for m in optimised.modules() if isinstance(m, (nn.Conv2d, nn.Conv3d))]
    assert convs and all(m.weight.is_contiguous(memory_format=torch.channels_last if m.weight.dim() == 4
                                                else torch.channels_last_3d) for m in convs)


def test_optimised_model_keeps_computing_with_gradients():
    # Grad-CAM runs an eval model with gradients: the stock paths serve it
    model, x = _build('tsm_nl')
    optimised = optimize_for_inference(copy.deepcopy(model))
    x.requires_grad_(True)
    scores = optimised(x, return_loss=False)
    scores[:, 0].sum().backward()
    x_ref = x.detach().clone().requires_grad_(True)
    model(x_ref, return_loss=False)[:, 0].sum().backward()
    # rounding moves some max-pool argmaxes between near-equal inputs (folding the BNs alone
    # does), so the gradients agree as a whole rather than element by element
    assert x_ref.grad.norm() > 0
    assert ((x.grad - x_ref.grad).norm() / x_ref.grad.norm()).item() < 1e-2


def test_options_and_errors():
    model, x = _build('i3d')
    kept = optimize_for_inference(copy.deepcopy(model).train(), channels_last=False, fuse_conv_bn=False,
                                  onednn=False)
    assert not kept.training
    assert sum(isinstance(m, nn.BatchNorm3d) for m in kept.modules()) == \
        sum(isinstance(m, nn.BatchNorm3d) for m in model.modules())
    assert all(type(m) is not OneDNNConv3d and m.weight.is_contiguous()
               for m in kept.modules() if isinstance(m, nn.Conv3d))
    with pytest.raises(ValueError, match='channels_last'):
        optimize_for_inference(model, channels_last='yes')
    # a second call changes nothing
    once = optimize_for_inference(copy.deepcopy(model))
    twice = optimize_for_inference(copy.deepcopy(once))
    with torch.inference_mode():
        torch.testing.assert_close(twice(x, return_loss=False), once(x, return_loss=False))


def test_channels_last_per_layer_on_mixed_2d_3d_models():
    model, _ = _build('tsm_nl')
    with pytest.raises(RuntimeError):  # why it must be done per layer
        copy.deepcopy(model).to(memory_format=torch.channels_last)
    num_convs = sum(isinstance(m, (nn.Conv2d, nn.Conv3d)) for m in model.modules())
    assert convs_to_channels_last(model) == num_convs
    conv3d = next(m for m in model.modules() if isinstance(m, nn.Conv3d))
    assert conv3d.weight.is_contiguous(memory_format=torch.channels_last_3d)


@needs_onednn
@pytest.mark.parametrize('layer, shape', [
    (nn.Conv2d(6, 8, 3, stride=2, padding=1, bias=False), (2, 6, 9, 9)),
    (nn.Conv2d(6, 6, 3, padding=2, dilation=2, groups=6), (1, 6, 7, 7)),
    (nn.Conv3d(6, 8, (3, 1, 1), padding=(1, 0, 0)), (1, 6, 4, 5, 5)),
    (nn.Conv3d(6, 6, 3, stride=(1, 2, 2), padding=1, groups=6, bias=False), (1, 6, 4, 7, 7)),
])
def test_onednn_convs_match_the_stock_ones(layer, shape):
    x = torch.randn(shape)
    fast = copy.deepcopy(layer)
    assert use_onednn_layers(fast) == 1 and type(fast) in (OneDNNConv2d, OneDNNConv3d)
    assert fast.state_dict().keys() == layer.state_dict().keys()
    with torch.no_grad():
        expected = layer(x)
        torch.testing.assert_close(fast(x), expected, rtol=1e-5, atol=1e-5)
        # a strided view (SlowFast's frame sampling) and a channels-last input
        sliced = torch.randn(shape[:2] + (shape[2] * 2,) + shape[3:])[:, :, ::2]
        torch.testing.assert_close(fast(sliced), layer(sliced), rtol=1e-5, atol=1e-5)
        fmt = torch.channels_last if x.dim() == 4 else torch.channels_last_3d
        torch.testing.assert_close(fast(x.contiguous(memory_format=fmt)), expected, rtol=1e-5, atol=1e-5)
    # gradients and autocast take the stock path
    out = fast(x.requires_grad_(True))
    out.sum().backward()
    assert x.grad is not None and fast.weight.grad is not None
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        assert fast(x).dtype == torch.bfloat16


@needs_onednn
def test_onednn_convs_take_unbatched_inputs_like_the_stock_ones():
    for layer, shape in ((nn.Conv2d(3, 4, 3, padding=1), (3, 8, 8)),
                         (nn.Conv3d(3, 4, 3, padding=1), (3, 4, 8, 8))):
        fast = copy.deepcopy(layer)
        use_onednn_layers(fast)
        x = torch.randn(shape)
        with torch.inference_mode():
            expected = layer(x)
            assert expected.shape == (4, *shape[1:])
            torch.testing.assert_close(fast(x), expected)
            # batched inputs still run on oneDNN, with the same numbers
            torch.testing.assert_close(fast(x[None])[0], expected, rtol=1e-5, atol=1e-5)


@needs_onednn
def test_padding_modes_oneDNN_cannot_take_fall_back():
    for layer in (nn.Conv2d(4, 4, 3, padding='same'), nn.Conv2d(4, 4, 3, padding=1, padding_mode='reflect')):
        fast = copy.deepcopy(layer)
        use_onednn_layers(fast)
        x = torch.randn(1, 4, 6, 6)
        with torch.no_grad():
            torch.testing.assert_close(fast(x), layer(x))


@needs_onednn
def test_onednn_linear_matches_for_any_leading_dims():
    layer = nn.Linear(12, 7)
    fast = copy.deepcopy(layer)
    use_onednn_layers(fast)
    assert type(fast) is OneDNNLinear
    for shape in ((5, 12), (2, 3, 12)):
        x = torch.randn(shape)
        with torch.no_grad():
            torch.testing.assert_close(fast(x), F.linear(x, layer.weight, layer.bias), rtol=1e-5, atol=1e-5)
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        assert fast(x).dtype == torch.bfloat16


@needs_onednn
@pytest.mark.parametrize('batch_first', [True, False])
def test_onednn_self_attention_matches(batch_first):
    torch.manual_seed(0)
    layer = nn.MultiheadAttention(16, 4, batch_first=batch_first).eval()
    fast = copy.deepcopy(layer)
    use_onednn_layers(fast)
    assert type(fast) is OneDNNMultiheadAttention
    x = torch.randn(3, 5, 16)
    with torch.no_grad():
        out, weights = fast(x, x, x, need_weights=False)
        assert weights is None
        torch.testing.assert_close(out, layer(x, x, x, need_weights=False)[0], rtol=1e-5, atol=1e-5)
        # anything but plain self-attention takes the stock path
        y = torch.randn(3, 5, 16)
        out, weights = fast(x, y, y)
        expected, expected_weights = layer(x, y, y)
        torch.testing.assert_close(out, expected)
        torch.testing.assert_close(weights, expected_weights)


@needs_onednn
def test_use_onednn_layers_switches_exact_types_only():
    class MyConv(nn.Conv2d):
        pass

    model = nn.Sequential(nn.Conv2d(3, 4, 3), MyConv(4, 4, 1), nn.Sequential(nn.Linear(4, 2)))
    assert use_onednn_layers(model) == 2
    assert [type(m) for m in (model[0], model[1], model[2][0])] == [OneDNNConv2d, MyConv, OneDNNLinear]
    assert use_onednn_layers(model) == 0


def test_retain_freed_memory_stops_page_faults():
    with pytest.raises(ValueError, match='limit_bytes'):
        retain_freed_memory(0)
    if not retain_freed_memory():
        pytest.skip('the C library is not glibc')
    size = 64 << 20  # above glibc's largest default mmap threshold (32 MiB)
    for _ in range(2):
        np.ones(size, dtype=np.uint8)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    np.ones(size, dtype=np.uint8)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    assert faults < (size >> 12) // 10  # a fresh mapping would fault in all 16,384 pages


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_on_cuda_the_layout_and_layers_stay():
    model, x = _build('x3d')
    model, x = model.cuda(), x.cuda()
    with torch.no_grad():
        expected = model(x, return_loss=False)
    optimize_for_inference(model)
    assert all(type(m) is nn.Conv3d and m.weight.is_contiguous() for m in model.modules()
               if isinstance(m, nn.Conv3d))
    with torch.inference_mode():
        assert _relative_error(model(x, return_loss=False), expected) < 1e-4
