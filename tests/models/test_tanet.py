import pytest
import torch
import torch.nn.functional as F
from torch import nn

from actionlab.models import MODELS, ResNet
from actionlab.models.backbones.tanet import TABlock, TANet
from actionlab.models.ops import TAM


class Constant(nn.Module):
    """Stands in for a TAM branch: returns ``value`` broadcast to (rows, len(value))."""

    def __init__(self, value):
        super().__init__()
        self.value = torch.tensor(value)

    def forward(self, x):
        return self.value.expand(x.shape[0], *self.value.shape).clone()


def reference_tam(tam, x):
    """MMAction2's TAM.forward (grouped conv2d for the adaptive aggregation)."""
    n, c, h, w = x.shape
    t = tam.num_segments
    b = n // t
    x = x.view(b, t, c, h, w).permute(0, 2, 1, 3, 4).contiguous()
    theta = F.adaptive_avg_pool2d(x.view(-1, t, h, w), (1, 1))
    kernel = tam.G(theta.view(-1, t)).view(b * c, 1, -1, 1)
    local = tam.L(theta.view(-1, c, t)).view(b, c, t, 1, 1)
    y = F.conv2d((x * local).view(1, b * c, t, h * w), kernel, stride=(tam.adaptive_convolution_stride, 1),
                 padding=(tam.adaptive_convolution_padding, 0), groups=b * c)
    return y.view(b, c, t, h, w).permute(0, 2, 1, 3, 4).contiguous().view(n, c, h, w)


@pytest.mark.parametrize('kernel_size', [3, 5])
def test_tam_matches_mmaction2(kernel_size):
    torch.manual_seed(0)
    tam = TAM(16, num_segments=4, adaptive_kernel_size=kernel_size,
              adaptive_convolution_padding=kernel_size // 2).eval()
    for bn in (tam.G[1], tam.L[1]):
        nn.init.uniform_(bn.running_mean, -0.5, 0.5)
        nn.init.uniform_(bn.weight, 0.5, 1.5)
    x = torch.randn(8, 16, 5, 3)
    torch.testing.assert_close(tam(x), reference_tam(tam, x))


def test_tam_aggregates_neighbouring_frames_with_zero_padding():
    x = torch.arange(1., 5.).view(4, 1, 1, 1).expand(4, 2, 2, 2).contiguous()  # frames 1..4
    tam = TAM(2, num_segments=4, beta=1)
    tam.L = Constant([[1.0] * 4] * 2)  # (N, C, T) of ones: no rescaling
    tam.G = Constant([0.0, 1.0, 0.0])
    torch.testing.assert_close(tam(x), x)
    tam.G = Constant([1.0, 0.0, 0.0])  # y[t] = x[t - 1]
    assert tam(x)[:, 0, 0, 0].tolist() == [0, 1, 2, 3]
    tam.G = Constant([0.25, 0.5, 0.25])
    assert tam(x)[:, 1, 1, 1].tolist() == [1.0, 2.0, 3.0, 2.75]
    # per-frame importance scales [1, 2, 3, 4] to [0.5, 2, 3, 8] before the aggregation
    tam.L = Constant([[0.5, 1.0, 1.0, 2.0]] * 2)
    assert tam(x)[:, 0, 0, 0].tolist() == [0.75, 1.875, 4.0, 4.75]


def test_tam_argument_checks():
    with pytest.raises(ValueError, match='keep the number of frames'):
        TAM(8, 4, adaptive_convolution_padding=0)
    with pytest.raises(ValueError, match='alpha and beta'):
        TAM(8, 4, beta=0)
    with pytest.raises(ValueError, match=r'expects \(N \* 4, 8, H, W\)'):
        TAM(8, 4)(torch.randn(6, 8, 2, 2))


def tiny_tanet(**kwargs) -> TANet:
    model = TANet(**{'depth': 50, 'num_segments': 4, 'base_channels': 8, **kwargs})
    model.init_weights()
    return model.eval()


def test_tanet_wraps_every_bottleneck_with_mmaction2_names():
    model = MODELS.build(dict(type='TANet', depth=50, num_segments=8, tam_cfg=dict()))
    keys = model.state_dict()
    for key, shape in (('layer1.0.block.conv1.conv.weight', (64, 64, 1, 1)),
                       ('layer1.0.block.downsample.conv.weight', (256, 64, 1, 1)),
                       ('layer1.0.tam.G.0.weight', (16, 8)), ('layer1.0.tam.G.1.running_var', (16,)),
                       ('layer1.0.tam.G.3.weight', (3, 16)), ('layer1.0.tam.L.0.weight', (16, 64, 3)),
                       ('layer1.0.tam.L.1.weight', (16,)), ('layer1.0.tam.L.3.weight', (64, 16, 1)),
                       ('layer4.2.tam.L.3.weight', (512, 128, 1))):
        assert tuple(keys[key].shape) == shape
    assert sum(isinstance(m, TABlock) for m in model.modules()) == 16
    tuned = MODELS.build(dict(type='TANet', depth=50, num_segments=8, tam_cfg=dict(alpha=3, beta=8)))
    assert tuple(tuned.state_dict()['layer2.0.tam.L.0.weight'].shape) == (16, 128, 3)
    assert tuple(tuned.state_dict()['layer2.0.tam.G.0.weight'].shape) == (24, 8)


def test_tanet_argument_checks():
    with pytest.raises(ValueError, match='bottleneck'):
        TANet(18, num_segments=8)
    with pytest.raises(ValueError, match='num_segments >= 3'):
        TANet(50, num_segments=2)


def test_tanet_block_is_conv1_tam_conv2_conv3_plus_identity():
    torch.manual_seed(0)
    model = tiny_tanet()
    ta = model.layer2[1]
    x = torch.randn(4, 64, 8, 8)
    b = ta.block
    want = F.relu(b.conv3(b.conv2(ta.tam(b.conv1(x)))) + x)
    torch.testing.assert_close(ta(x), want)


def test_tanet_mixes_frames_of_a_clip_only_and_supports_fast_inference():
    torch.manual_seed(0)
    model = tiny_tanet()
    x = torch.randn(8, 3, 32, 32)
    changed = x.clone()
    changed[2] += 1.0
    diff = (model(changed) - model(x)).flatten(1).abs().amax(1)
    assert torch.all(diff[:4] > 0) and torch.all(diff[4:] == 0)
    with torch.inference_mode():
        fast = model(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(fast, model(x), rtol=1e-4, atol=1e-5)


def test_tanet_trains_with_checkpointing_and_norm_eval():
    torch.manual_seed(0)
    model = tiny_tanet(with_cp=True, norm_eval=True).train()
    assert not model.layer1[0].tam.G[1].training  # BN1d of the TAM follows norm_eval too
    x = torch.randn(8, 3, 32, 32, requires_grad=True)
    model(x).sum().backward()
    assert model.layer3[0].tam.G[0].weight.grad.abs().sum() > 0
    assert model.layer3[0].block.conv1.conv.weight.grad.abs().sum() > 0


def test_tanet_loads_imagenet_resnet_weights(tmp_path):
    torch.manual_seed(0)
    resnet = ResNet(50, base_channels=8)
    for m in resnet.modules():
        if isinstance(m, nn.BatchNorm2d):
            nn.init.uniform_(m.running_var, 0.5, 1.5)
    path = tmp_path / 'r50.pth'
    torch.save(resnet.state_dict(), path)
    model = tiny_tanet(pretrained=str(path))
    torch.testing.assert_close(model.layer2[3].block.conv2.conv.weight, resnet.layer2[3].conv2.conv.weight)
    torch.testing.assert_close(model.layer1[0].block.downsample.bn.running_var,
                               resnet.layer1[0].downsample.bn.running_var)
