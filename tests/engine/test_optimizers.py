"""Optimizer registry, constructors (default, paramwise, TSM) and build_optimizer."""
import pytest
import torch
from torch import nn

from actionlab.engine.optimizers import OPTIM_CONSTRUCTORS, OPTIMIZERS, build_optimizer
from actionlab.registry import BuildError


class Net(nn.Module):
    """conv(bias) -> bn -> depth-wise conv -> conv -> linear -> linear(head)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, bias=True)
        self.bn = nn.BatchNorm2d(4)
        self.dw = nn.Conv2d(4, 4, 3, groups=4, bias=False)
        self.conv = nn.Conv2d(4, 8, 1, bias=True)
        self.gn = nn.GroupNorm(2, 8)
        self.fc = nn.Linear(8, 8)
        self.head = nn.Sequential(nn.Dropout(), nn.Linear(8, 3))


def ids(params):
    return {id(p) for p in params}


def test_registry_holds_torch_optimizers():
    for name in ('SGD', 'Adam', 'AdamW', 'RMSprop', 'Adagrad', 'CopyOfSGD'):
        assert name in OPTIMIZERS
    assert {'DefaultOptimizerConstructor', 'TSMOptimizerConstructor'} <= set(OPTIM_CONSTRUCTORS.keys())
    with pytest.raises(BuildError, match='AdamW'):
        build_optimizer(Net(), dict(type='AdamWW', lr=0.1))


def test_default_constructor_uses_fused_kernel_on_cpu():
    net = Net()
    opt = build_optimizer(net, dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4))
    assert isinstance(opt, torch.optim.SGD)
    assert len(opt.param_groups) == 1 and ids(opt.param_groups[0]['params']) == ids(net.parameters())
    group = opt.param_groups[0]
    assert (group['lr'], group['momentum'], group['weight_decay'], group['fused']) == (0.01, 0.9, 1e-4, True)
    # an explicit choice is kept; optimizers without a fused kernel are left alone
    explicit = build_optimizer(net, dict(type='SGD', lr=0.1, foreach=False)).param_groups[0]
    assert explicit['fused'] in (None, False) and explicit['foreach'] is False
    assert 'fused' not in build_optimizer(net, dict(type='RMSprop', lr=0.1)).param_groups[0]


def test_fused_sgd_matches_per_tensor_loop():
    torch.manual_seed(0)
    nets = [Net(), Net()]
    nets[1].load_state_dict(nets[0].state_dict())
    for net in nets:
        net.eval()  # no dropout randomness
    initial = nets[0].stem.weight.detach().clone()
    fused = build_optimizer(nets[0], dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-3))
    loop = torch.optim.SGD(nets[1].parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3, foreach=False)
    x = torch.randn(2, 3, 8, 8)
    for _ in range(3):
        for net, opt in zip(nets, (fused, loop)):
            opt.zero_grad()
            out = net.conv(net.dw(net.bn(net.stem(x)))).mean((2, 3))
            net.head(net.fc(net.gn(out[..., None, None]).flatten(1))).square().sum().backward()
            opt.step()
    for a, b in zip(nets[0].parameters(), nets[1].parameters()):
        torch.testing.assert_close(a, b)  # equal up to float rounding (about 1 ulp)
    assert not torch.equal(nets[0].stem.weight, initial)


def test_paramwise_cfg_multipliers_and_merged_groups():
    net = Net()
    opt = build_optimizer(net, dict(
        type='SGD', lr=0.1, weight_decay=0.01,
        paramwise_cfg=dict(bias_lr_mult=2.0, bias_decay_mult=0.0, norm_decay_mult=0.5,
                           dwconv_decay_mult=0.1, custom_keys={'head': dict(lr_mult=10, decay_mult=0)})))
    settings = {}
    for group in opt.param_groups:
        for p in group['params']:
            settings[id(p)] = (group['lr'], group['weight_decay'])
    assert settings[id(net.stem.weight)] == (0.1, 0.01)
    assert settings[id(net.stem.bias)] == (0.2, 0.0)
    assert settings[id(net.bn.weight)] == settings[id(net.bn.bias)] == (0.1, 0.005)
    assert settings[id(net.gn.bias)] == (0.1, 0.005)
    assert settings[id(net.dw.weight)] == (0.1, pytest.approx(0.001))
    assert settings[id(net.head[1].weight)] == settings[id(net.head[1].bias)] == (1.0, 0.0)
    # one group per distinct setting, every parameter exactly once
    assert len(opt.param_groups) == len(set(settings.values())) == 5
    assert sum(len(g['params']) for g in opt.param_groups) == len(list(net.parameters()))


def test_paramwise_cfg_errors_name_the_key():
    with pytest.raises(BuildError, match='fc_lr10'):
        build_optimizer(Net(), dict(type='SGD', lr=0.1, paramwise_cfg=dict(fc_lr10=True)))
    with pytest.raises(BuildError, match='norm_decay_mult needs optimizer.weight_decay'):
        build_optimizer(Net(), dict(type='SGD', lr=0.1, paramwise_cfg=dict(norm_decay_mult=0)))
    shared = Net()
    shared.fc2 = shared.fc  # the same parameters under two names
    shared.fc3 = nn.Linear(8, 8)
    shared.fc3.weight = shared.fc.weight
    with pytest.raises(ValueError, match='fc3.weight is shared'):
        build_optimizer(shared, dict(type='SGD', lr=0.1, paramwise_cfg=dict(bias_lr_mult=2.0)))
    opt = build_optimizer(shared, dict(type='SGD', lr=0.1, paramwise_cfg=dict(bias_lr_mult=2.0,
                                                                             bypass_duplicate=True)))
    assert sum(len(g['params']) for g in opt.param_groups) == len(list(shared.parameters()))


@pytest.mark.parametrize('fc_lr5', [True, False])
def test_tsm_constructor_groups(fc_lr5):
    net = Net()
    net.bn.bias.requires_grad_(False)  # frozen norm parameters are left out (partial BN)
    opt = build_optimizer(net, dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4,
                                    constructor='TSMOptimizerConstructor',
                                    paramwise_cfg=dict(fc_lr5=fc_lr5)))
    groups = opt.param_groups
    assert [(g['lr'], g['weight_decay']) for g in groups] == [
        (0.01, 1e-4), (0.02, 0), (0.01, 1e-4), (0.02, 0), (0.01, 0), (0.05, 1e-4), (0.1, 0)]
    head = net.head[1]
    assert ids(groups[0]['params']) == ids([net.stem.weight])
    assert ids(groups[1]['params']) == ids([net.stem.bias])
    assert ids(groups[4]['params']) == ids([net.bn.weight, net.gn.weight, net.gn.bias])
    if fc_lr5:
        assert ids(groups[2]['params']) == ids([net.dw.weight, net.conv.weight, net.fc.weight])
        assert ids(groups[3]['params']) == ids([net.conv.bias, net.fc.bias])
        assert ids(groups[5]['params']) == ids([head.weight])
        assert ids(groups[6]['params']) == ids([head.bias])
    else:
        assert ids(groups[2]['params']) == ids([net.dw.weight, net.conv.weight, net.fc.weight, head.weight])
        assert ids(groups[3]['params']) == ids([net.conv.bias, net.fc.bias, head.bias])
        assert groups[5]['params'] == groups[6]['params'] == []


def test_tsm_constructor_on_a_real_tsm_recognizer():
    from actionlab.models import build_model
    model = build_model(dict(
        type='Recognizer2D',
        backbone=dict(type='ResNetTSM', depth=18, base_channels=8, num_segments=4, pretrained=None),
        cls_head=dict(type='TSMHead', num_classes=5, in_channels=64, num_segments=4)))
    opt = build_optimizer(model, dict(type='SGD', lr=0.01, weight_decay=1e-4, momentum=0.9,
                                      constructor='TSMOptimizerConstructor', paramwise_cfg=dict(fc_lr5=True)))
    groups = opt.param_groups
    assert ids(groups[0]['params']) == ids([model.backbone.conv1.conv.weight])
    assert ids(groups[5]['params']) == ids([model.cls_head.fc_cls.weight])
    assert ids(groups[6]['params']) == ids([model.cls_head.fc_cls.bias])
    assert sum(len(g['params']) for g in groups) == len(list(model.parameters()))


def test_tsm_constructor_rejects_unknown_parametrised_layers():
    net = Net()
    net.ln = nn.LayerNorm(8)
    with pytest.raises(ValueError, match=r'no rule for ln \(LayerNorm\)'):
        build_optimizer(net, dict(type='SGD', lr=0.1, weight_decay=0,
                                  constructor='TSMOptimizerConstructor', paramwise_cfg=dict(fc_lr5=True)))
    with pytest.raises(BuildError, match='fc_lr5'):
        build_optimizer(Net(), dict(type='SGD', lr=0.1, constructor='TSMOptimizerConstructor',
                                    paramwise_cfg=dict(fc_lr10=True)))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')
def test_fused_kernel_on_cuda():
    net = Net().cuda()
    opt = build_optimizer(net, dict(type='AdamW', lr=1e-3, weight_decay=0.05))
    assert opt.param_groups[0]['fused'] is True
    net.stem(torch.randn(1, 3, 8, 8, device='cuda')).sum().backward()
    before = net.stem.weight.detach().clone()
    opt.step()
    assert not torch.equal(before, net.stem.weight)
