import pytest
import torch

from actionlab.models import MODELS


def test_c3d_shapes_init_and_out_dim():
    torch.manual_seed(0)
    model = MODELS.build(dict(type='C3D', out_dim=2048))  # pool5 of a 16 x 32 x 32 clip: 512 x 1 x 2 x 2
    model.init_weights()
    assert model.conv1a.conv.bias is not None and model.conv1a.norm is None  # no norm: conv bias
    assert model.fc6.weight.shape == (4096, 2048)
    assert model.fc7.weight.std().item() == pytest.approx(0.005, rel=0.01)
    assert model.fc7.bias.abs().max() == 0
    model.eval()
    x = torch.randn(2, 3, 16, 32, 32)
    out = model(x)
    assert out.shape == (2, 4096) and out.min() >= 0  # fc7 is followed by a ReLU
    # the fc layers see the pool5 map flattened in (C, T, H, W) order, also from channels-last input
    with torch.inference_mode():
        torch.testing.assert_close(model(x.to(memory_format=torch.channels_last_3d)), out,
                                   rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match='out_dim=2048'):
        model(torch.randn(1, 3, 16, 64, 64))


def test_c3d_loads_a_checkpoint(tmp_path):
    source = MODELS.build(dict(type='C3D', out_dim=2048))
    torch.nn.init.constant_(source.fc6.bias, 0.25)
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in source.state_dict().items()}},
               tmp_path / 'c3d.pth')
    model = MODELS.build(dict(type='C3D', out_dim=2048, pretrained=str(tmp_path / 'c3d.pth')))
    model.init_weights()
    torch.testing.assert_close(model.fc6.bias, torch.full((4096,), 0.25))
    torch.testing.assert_close(model.conv5b.conv.weight, source.conv5b.conv.weight)
