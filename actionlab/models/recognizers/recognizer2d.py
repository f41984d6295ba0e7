"""Recognizer for 2D backbones (TSN, TSM): every frame goes through the backbone on its own."""
from __future__ import annotations

from typing import Any

import torch

from ..builder import MODELS
from .base import BaseRecognizer, _hard_labels_flat


@MODELS.register_module()
class Recognizer2D(BaseRecognizer):
    """2D recognizer.

    Input ``imgs`` is (N, num_segs, C, H, W); at test time num_segs = clips x crops
    x clip_len frames per sample. The frames are flattened into the batch,
    (N * num_segs, C, H, W), and the head regroups them: a TSN head averages all
    of a sample's frames, a TSM head groups its ``num_segments`` frames into one
    row per clip/crop, and :meth:`average_clip` then averages a sample's rows.
    """

    def _neck_features(self, x, num_segs: int, labels: torch.Tensor | None = None):
        # the neck works on (N, C, T, H, W) stacks of each level's per-frame features
        x = [each.reshape((-1, num_segs) + each.shape[1:]).transpose(1, 2) for each in x]
        x, loss_aux = self.neck(x, labels) if labels is not None else self.neck(x)
        return x.squeeze(2), loss_aux

    def forward_train(self, imgs: torch.Tensor, labels: torch.Tensor,
                      **kwargs: Any) -> dict[str, torch.Tensor]:
        """Losses and top-k accuracies of a batch (N, num_segs, C, H, W)."""
        if not self.with_cls_head:
            raise RuntimeError('Recognizer2D.forward_train needs a cls_head')
        batches = imgs.shape[0]
        imgs = imgs.reshape((-1,) + imgs.shape[2:])
        num_segs = imgs.shape[0] // batches
        labels = _hard_labels_flat(labels)
        losses = {}
        x = self.extract_feat(imgs)
        if self.with_neck:
            x, loss_aux = self._neck_features(x, num_segs, labels)
            num_segs = 1
            losses.update(loss_aux)
        cls_score = self.cls_head(x, num_segs)
        losses.update(self.cls_head.loss(cls_score, labels, **kwargs))
        return losses

    def _do_test(self, imgs: torch.Tensor) -> torch.Tensor:
        batches = imgs.shape[0]
        imgs = imgs.reshape((-1,) + imgs.shape[2:])
        num_segs = imgs.shape[0] // batches
        x = self.extract_feat(imgs)
        if self.with_neck:
            x, _ = self._neck_features(x, num_segs)
            num_segs = 1
        if self.feature_extraction:
            return self._pool_features(x, batches)
        if not self.with_cls_head:
            raise RuntimeError('Recognizer2D needs a cls_head to score (or test_cfg.feature_extraction)')
        cls_score = self.cls_head(x, num_segs)
        if cls_score.shape[0] % batches:
            raise RuntimeError(f'head returned {cls_score.shape[0]} rows for {batches} samples; '
                               f'frames per sample ({imgs.shape[0] // batches}) must be a multiple '
                               f'of the head\'s segments')
        return self.average_clip(cls_score, cls_score.shape[0] // batches)

    def forward_dummy(self, imgs: torch.Tensor, softmax: bool = False) -> tuple[torch.Tensor]:
        """Raw head output for FLOPs counting and export: ``(cls_score,)``."""
        if not self.with_cls_head:
            raise RuntimeError('Recognizer2D.forward_dummy needs a cls_head')
        batches = imgs.shape[0]
        imgs = imgs.reshape((-1,) + imgs.shape[2:])
        num_segs = imgs.shape[0] // batches
        x = self.extract_feat(imgs)
        if self.with_neck:
            x, _ = self._neck_features(x, num_segs)
            num_segs = 1
        outs = self.cls_head(x, num_segs)
        return (outs.softmax(dim=1) if softmax else outs,)
