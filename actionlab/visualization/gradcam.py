"""Grad-CAM heatmaps for action recognizers.

Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via Gradient-based
Localization", ICCV 2017. The class score is back-propagated to a chosen layer; each
channel of that layer's output is weighted by its mean gradient, and the ReLU of the
weighted sum, upsampled to the input size, shows where the evidence for the class lies
in every frame.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from actionlab.models.recognizers import Recognizer2D, Recognizer3D


def _colormap(name: str) -> int:
    code = getattr(cv2, f'COLORMAP_{name.upper()}', None)
    if code is None:
        known = sorted(n[len('COLORMAP_'):].lower() for n in dir(cv2) if n.startswith('COLORMAP_'))
        raise ValueError(f'unknown colormap {name!r}; choose one of {", ".join(known)}')
    return code


def _norm_cfg(model: nn.Module) -> dict[str, Any]:
    """mean, std and to_bgr of the test pipeline's Normalize step (else ``cfg.img_norm_cfg``)."""
    cfg = getattr(model, 'cfg', None)
    if cfg is None:
        raise ValueError('GradCAM needs model.cfg (build the model with init_recognizer) to undo '
                         'the input normalisation')
    pipeline = cfg.get('data', {}).get('test', {}).get('pipeline', [])
    steps = [s for s in pipeline if s.get('type') == 'Normalize']
    norm = steps[0] if steps else cfg.get('img_norm_cfg')
    if norm is None:
        raise ValueError('GradCAM: the config has no Normalize step in data.test.pipeline and no '
                         'img_norm_cfg, so the input frames cannot be recovered')
    return dict(mean=list(norm['mean']), std=list(norm['std']), to_bgr=bool(norm.get('to_bgr', False)))


class GradCAM:
    """Grad-CAM for a :class:`Recognizer2D` or :class:`Recognizer3D`.

    Args:
        model: the recognizer, with ``model.cfg`` (as :func:`init_recognizer` sets) to
            undo the test pipeline's normalisation. It is put in eval mode.
        target_layer_name: the layer whose output is explained, as a path of child
            names separated by ``/`` (MMAction2's form) or ``.``, e.g.
            ``'backbone/layer4/1/relu'``.
        colormap: an OpenCV colormap name for the heatmap ('viridis', 'jet', 'turbo', ...).
    """

    def __init__(self, model: nn.Module, target_layer_name: str, colormap: str = 'viridis'):
        if isinstance(model, Recognizer2D):
            self.is_recognizer2d = True
        elif isinstance(model, Recognizer3D):
            self.is_recognizer2d = False
        else:
            raise ValueError(f'GradCAM supports Recognizer2D and Recognizer3D, got {type(model).__name__}')
        self.model = model.eval()
        norm = _norm_cfg(model)
        self.data_mean = torch.tensor(norm['mean'], dtype=torch.float32)
        self.data_std = torch.tensor(norm['std'], dtype=torch.float32)
        self.to_bgr = norm['to_bgr']
        self.colormap = _colormap(colormap)
        self.target_layer_name = target_layer_name
        name = target_layer_name.replace('/', '.')
        try:
            self.target_layer = model.get_submodule(name)
        except AttributeError:
            raise ValueError(f'GradCAM: the model has no layer {target_layer_name!r}') from None
        # one entry per call of the layer (a 3D recognizer with test_cfg.max_testing_views
        # runs the backbone once per chunk of views)
        self._activations: list[torch.Tensor] = []
        self._gradients: dict[int, torch.Tensor] = {}
        self._hook = self.target_layer.register_forward_hook(self._save_activations)

    def remove(self) -> None:
        """Detach the hook from the target layer (the model then runs as before)."""
        self._hook.remove()

    def _save_activations(self, _module: nn.Module, _inputs, output: torch.Tensor) -> None:
        index = len(self._activations)
        self._activations.append(output.detach().clone())

        def save_gradients(grad: torch.Tensor) -> None:
            self._gradients[index] = grad.detach()
        if output.requires_grad:
            output.register_hook(save_gradients)

    def _localization_map(self, inputs: Mapping[str, torch.Tensor], use_labels: bool
                          ) -> tuple[torch.Tensor, torch.Tensor]:
        """Heatmaps (B, T, H, W) in [0, 1], one per input frame, and the class scores."""
        imgs = inputs['imgs'].clone()
        self._activations, self._gradients = [], {}
        with torch.enable_grad():
            preds = self.model(imgs, gradcam=True)
            if use_labels:
                labels = inputs['label'].to(preds.device).long().reshape(-1, 1)
                score = preds.gather(1, labels)
            else:
                score = preds.max(dim=-1).values
            self.model.zero_grad()
            score.sum().backward()
        if not self._activations or len(self._gradients) != len(self._activations):
            raise RuntimeError(f'GradCAM: no gradient reached {self.target_layer_name!r}; is it used '
                               'by the forward pass that produces the scores?')
        activations = torch.cat(self._activations)
        gradients = torch.cat([self._gradients[i] for i in range(len(self._activations))])
        if self.is_recognizer2d:
            batches, frames, _, height, width = imgs.shape      # (B, T, 3, H, W)
            channels = gradients.shape[1]
            steps = gradients.shape[0] // batches               # (B * Tg, C, h, w)
        else:
            b1, b2, _, frames, height, width = imgs.shape       # (B', views, 3, T, H, W)
            batches = b1 * b2
            channels, steps = gradients.shape[1:3]              # (B, C, Tg, h, w)
            gradients = gradients.transpose(1, 2)
            activations = activations.transpose(1, 2)
        weights = gradients.reshape(batches, steps, channels, -1).mean(dim=3)
        activations = activations.reshape(batches, steps, channels, *activations.shape[-2:])
        cam = F.relu((weights[..., None, None] * activations).sum(dim=2))   # (B, Tg, h, w)
        cam = F.interpolate(cam[:, None].float(), size=(frames, height, width), mode='trilinear',
                            align_corners=False)[:, 0]
        flat = cam.reshape(batches, -1)
        low = flat.min(dim=1).values.reshape(-1, 1, 1, 1)
        high = flat.max(dim=1).values.reshape(-1, 1, 1, 1)
        # a tiny delta keeps an all-zero map at zero instead of NaN
        return (cam - low) / (high - low + 1e-20), preds.detach()

    def _frames(self, imgs: torch.Tensor) -> torch.Tensor:
        """The model input as RGB frames (B, T, H, W, 3) in [0, 1]."""
        if self.is_recognizer2d:
            frames = imgs.permute(0, 1, 3, 4, 2)                      # (B, T, H, W, C)
        else:
            frames = imgs.reshape(-1, *imgs.shape[2:]).permute(0, 2, 3, 4, 1)
        if frames.shape[-1] != len(self.data_mean):
            raise ValueError(f'GradCAM: inputs have {frames.shape[-1]} channels, the normalisation '
                             f'{len(self.data_mean)}; only RGB inputs can be shown')
        frames = frames.detach().float().cpu() * self.data_std + self.data_mean
        if self.to_bgr:
            frames = frames.flip(-1)
        return (frames / 255.).clamp(0, 1)

    def _heatmaps(self, cam: torch.Tensor) -> torch.Tensor:
        levels = (cam.cpu().numpy() * 255).round().astype(np.uint8)
        colored = cv2.applyColorMap(levels.reshape(-1, levels.shape[-1]), self.colormap)
        rgb = colored[..., ::-1].reshape(*levels.shape, 3) / 255.
        return torch.from_numpy(rgb.astype(np.float32))

    def __call__(self, inputs: Mapping[str, torch.Tensor], use_labels: bool = False,
                 alpha: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
        """Heatmaps of the predicted class (or of ``inputs['label']`` with ``use_labels``)
        blended over every input frame: ``alpha * heatmap + (1 - alpha) * frame``.

        ``inputs`` holds ``imgs`` as the test pipeline makes them, batched. Returns the
        blended frames (B, T, H, W, 3), RGB in [0, 1] (2D: B = batch, T = segments; 3D:
        B = batch x clips x crops, T = clip_len), and the class scores (batch, classes).
        """
        cam, preds = self._localization_map(inputs, use_labels)
        blended = alpha * self._heatmaps(cam) + (1 - alpha) * self._frames(inputs['imgs'])
        return blended, preds
