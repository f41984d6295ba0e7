"""Recognizer for 3D backbones (I3D, SlowOnly, SlowFast, ...): each view is one clip."""
from __future__ import annotations

from typing import Any

import torch

from ..builder import MODELS
from .base import BaseRecognizer, _hard_labels_flat


@MODELS.register_module()
class Recognizer3D(BaseRecognizer):
    """3D recognizer.

    Input ``imgs`` is (N, views, C, T, H, W) with views = clips x crops. Views are
    flattened into the batch; with ``test_cfg.max_testing_views`` they go through
    the backbone that many at a time. Scores are averaged per sample by
    :meth:`average_clip`.
    """

    def forward_train(self, imgs: torch.Tensor, labels: torch.Tensor,
                      **kwargs: Any) -> dict[str, torch.Tensor]:
        """Losses and top-k accuracies of a batch (N, 1, C, T, H, W)."""
        if not self.with_cls_head:
            raise RuntimeError('Recognizer3D.forward_train needs a cls_head')
        imgs = imgs.reshape((-1,) + imgs.shape[2:])
        labels = _hard_labels_flat(labels)
        losses = {}
        x = self.extract_feat(imgs)
        if self.with_neck:
            x, loss_aux = self.neck(x, labels)
            losses.update(loss_aux)
        cls_score = self.cls_head(x)
        losses.update(self.cls_head.loss(cls_score, labels, **kwargs))
        return losses

    def _features(self, imgs: torch.Tensor):
        """Backbone (+ neck) features of (views, C, T, H, W), in chunks of max_testing_views."""
        chunk = self.max_testing_views or imgs.shape[0]
        feats = []
        for start in range(0, imgs.shape[0], chunk):
            x = self.extract_feat(imgs[start:start + chunk])
            if self.with_neck:
                x, _ = self.neck(x)
            feats.append(x)
        if len(feats) == 1:
            return feats[0]
        if isinstance(feats[0], tuple):
            return tuple(torch.cat(level) for level in zip(*feats))
        return torch.cat(feats)

    def _do_test(self, imgs: torch.Tensor) -> torch.Tensor:
        batches, num_segs = imgs.shape[:2]
        feat = self._features(imgs.reshape((-1,) + imgs.shape[2:]))
        if self.feature_extraction:
            return self._pool_features(feat, batches)
        if not self.with_cls_head:
            raise RuntimeError('Recognizer3D needs a cls_head to score (or test_cfg.feature_extraction)')
        return self.average_clip(self.cls_head(feat), num_segs)

    def forward_dummy(self, imgs: torch.Tensor, softmax: bool = False) -> tuple[torch.Tensor]:
        """Raw head output for FLOPs counting and export: ``(cls_score,)``."""
        if not self.with_cls_head:
            raise RuntimeError('Recognizer3D.forward_dummy needs a cls_head')
        outs = self.cls_head(self._features(imgs.reshape((-1,) + imgs.shape[2:])))
        return (outs.softmax(dim=1) if softmax else outs,)
