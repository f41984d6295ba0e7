"""Grad-CAM against a direct computation for a TSN (where the class gradient is known in
closed form), input recovery, and 3D recognizers."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from actionlab.config import Config
from actionlab.models import build_model
from actionlab.visualization.gradcam import GradCAM

MEAN, STD = [120., 110., 100.], [60., 50., 40.]


def _model(kind: str, to_bgr: bool = False):
    if kind == '2d':
        model_cfg = dict(type='Recognizer2D',
                         backbone=dict(type='ResNet', depth=18, base_channels=8, pretrained=None),
                         cls_head=dict(type='TSNHead', num_classes=5, in_channels=64),
                         test_cfg=dict(average_clips='score'))
    else:
        model_cfg = dict(type='Recognizer3D',
                         backbone=dict(type='ResNet3d', depth=18, base_channels=8, pretrained=None,
                                       pretrained2d=False),
                         cls_head=dict(type='I3DHead', num_classes=5, in_channels=64),
                         test_cfg=dict(average_clips='score'))
    torch.manual_seed(0)
    model = build_model(model_cfg).eval()
    model.cfg = Config(dict(model=model_cfg, data=dict(test=dict(pipeline=[
        dict(type='Normalize', mean=MEAN, std=STD, to_bgr=to_bgr)]))))
    return model


def _normalized(frames: np.ndarray, to_bgr: bool = False) -> torch.Tensor:
    """uint8 (..., H, W, 3) RGB -> normalised float, channels last."""
    x = frames[..., ::-1] if to_bgr else frames
    mean, std = (np.array(MEAN), np.array(STD))
    return torch.from_numpy(((x - mean) / std).astype(np.float32))


def test_gradcam_2d_matches_closed_form():
    model = _model('2d')
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)       # 4 segments
    imgs = _normalized(frames).permute(0, 3, 1, 2)[None]                   # (1, 4, 3, 32, 32)
    gradcam = GradCAM(model, 'backbone/layer4/1/relu')
    for use_labels, label in ((False, None), (True, 3)):
        inputs = dict(imgs=imgs) if label is None else dict(imgs=imgs, label=torch.tensor([label]))
        blended, preds = gradcam(inputs, use_labels=use_labels, alpha=1.0)
        assert blended.shape == (1, 4, 32, 32, 3) and 0 <= blended.min() and blended.max() <= 1
        with torch.no_grad():
            expected_preds = model(imgs, return_loss=False)
            # TSN: score = fc(mean over segments and positions of A) + b, so d score / dA_c is
            # fc_w[cls, c] / const everywhere, and the map is relu(sum_c fc_w[cls, c] A_c)
            feats = model.backbone(imgs[0])                                  # (4, 64, 1, 1)
        torch.testing.assert_close(preds, expected_preds)
        cls = int(expected_preds.argmax()) if label is None else label
        cam = F.relu(torch.einsum('c,tchw->thw', model.cls_head.fc_cls.weight[cls].detach(), feats))
        cam = F.interpolate(cam[None, None], size=(4, 32, 32), mode='trilinear', align_corners=False)[0, 0]
        cam = (cam - cam.min()) / (cam.max() - cam.min() + 1e-20)
        levels = (cam.numpy() * 255).round().astype(np.uint8)
        heat = cv2.applyColorMap(levels.reshape(-1, 32), cv2.COLORMAP_VIRIDIS)[..., ::-1] / 255.
        np.testing.assert_allclose(blended[0].numpy(), heat.reshape(4, 32, 32, 3), atol=0.03)


@pytest.mark.parametrize('to_bgr', [False, True])
def test_gradcam_alpha_zero_recovers_the_input_frames(to_bgr):
    model = _model('2d', to_bgr)
    frames = np.random.default_rng(1).integers(0, 256, (1, 2, 32, 32, 3), dtype=np.uint8)
    imgs = _normalized(frames, to_bgr).permute(0, 1, 4, 2, 3)
    blended, _ = GradCAM(model, 'backbone.layer3')(dict(imgs=imgs), alpha=0.0)
    np.testing.assert_allclose(blended.numpy(), frames / 255., atol=1e-5)


def test_gradcam_3d_every_view_and_chunked_backbone():
    model = _model('3d')
    frames = np.random.default_rng(2).integers(0, 256, (2, 4, 32, 32, 3), dtype=np.uint8)  # 2 views
    imgs = _normalized(frames).permute(0, 4, 1, 2, 3)[None]             # (1, 2, 3, 4, 32, 32)
    blended, preds = GradCAM(model, 'backbone/layer4/1/relu', colormap='jet')(dict(imgs=imgs), alpha=0.4)
    assert blended.shape == (2, 4, 32, 32, 3) and preds.shape == (1, 5)
    # the backbone run one view at a time gives the same maps
    model.max_testing_views = 1
    gradcam = GradCAM(model, 'backbone/layer4/1/relu', colormap='jet')
    chunked, chunked_preds = gradcam(dict(imgs=imgs), alpha=0.4)
    torch.testing.assert_close(chunked_preds, preds, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(chunked, blended, rtol=1e-4, atol=1e-4)


def test_gradcam_errors():
    model = _model('2d')
    with pytest.raises(ValueError, match="the model has no layer 'backbone/layer9'"):
        GradCAM(model, 'backbone/layer9')
    with pytest.raises(ValueError, match='unknown colormap'):
        GradCAM(model, 'backbone/layer4', colormap='no-such-map')
    with pytest.raises(ValueError, match='supports Recognizer2D and Recognizer3D'):
        GradCAM(torch.nn.Linear(2, 2), 'weight')
    del model.cfg
    with pytest.raises(ValueError, match='needs model.cfg'):
        GradCAM(model, 'backbone/layer4')
