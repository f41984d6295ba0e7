"""Recognizer for 2D backbones (TSN, TSM): every frame goes through the backbone on its own."""
from __future__ import annotations

import inspect
from typing import Any

import torch

from ..builder import MODELS
from .base import BaseRecognizer, _hard_labels_flat


def _frames_to_clips(x: torch.Tensor, num_segs: int) -> torch.Tensor:
    """Per-frame features (N * num_segs, C, H, W) -> clips (N, C, num_segs, H, W) (a view)."""
    return x.reshape((-1, num_segs) + x.shape[1:]).transpose(1, 2)


@MODELS.register_module()
class Recognizer2D(BaseRecognizer):
    """2D recognizer.

    Input ``imgs`` is (N, num_segs, C, H, W); at test time num_segs = clips x crops
    x clip_len frames per sample. The frames are flattened into the batch,
    (N * num_segs, C, H, W), and the head regroups them: a TSN head averages all
    of a sample's frames, a TSM head groups its ``num_segments`` frames into one
    row per clip/crop, and :meth:`average_clip` then averages a sample's rows.
    A neck (TPN) gets each level's features as (N, C, num_segs, H, W) stacks.

    ``test_cfg.fcn_test``: fully-convolutional testing with a head that supports it
    (:class:`TPNHead`): frames are grouped into clips of ``test_cfg.num_segs``
    (default: the backbone's ``num_segments``) frames, ``test_cfg.flip`` mirrors
    them, and the head's fc runs as a 1x1x1 conv; every clip (and every position
    of an unpooled score map) is a view averaged by :meth:`average_clip`.
    """

    def _features(self, imgs: torch.Tensor, labels: torch.Tensor | None = None
                  ) -> tuple[Any, int, dict[str, torch.Tensor]]:
        """Backbone (+ neck) features of (N, num_segs, C, H, W) frames.

        Returns ``(features, segments per sample for the head, neck losses)``; the
        neck losses (``loss_aux``) are only computed when ``labels`` are given.
        """
        batches = imgs.shape[0]
        imgs = imgs.reshape((-1,) + imgs.shape[2:])
        num_segs = imgs.shape[0] // batches
        x = self.extract_feat(imgs)
        if not self.with_neck:
            return x, num_segs, {}
        x, loss_aux = self.neck([_frames_to_clips(each, num_segs) for each in x], labels)
        return x.squeeze(2), 1, dict(loss_aux)

    def forward_train(self, imgs: torch.Tensor, labels: torch.Tensor,
                      **kwargs: Any) -> dict[str, torch.Tensor]:
        """Losses and top-k accuracies of a batch (N, num_segs, C, H, W)."""
        if not self.with_cls_head:
            raise RuntimeError('Recognizer2D.forward_train needs a cls_head')
        labels = _hard_labels_flat(labels)
        x, num_segs, losses = self._features(imgs, labels)
        cls_score = self.cls_head(x, num_segs)
        losses.update(self.cls_head.loss(cls_score, labels, **kwargs))
        return losses

    def _do_test(self, imgs: torch.Tensor) -> torch.Tensor:
        batches = imgs.shape[0]
        x, num_segs, _ = self._features(imgs)
        if self.feature_extraction:
            return self._pool_features(x, batches)
        if not self.with_cls_head:
            raise RuntimeError('Recognizer2D needs a cls_head to score (or test_cfg.feature_extraction)')
        cls_score = self.cls_head(x, num_segs)
        if cls_score.shape[0] % batches:
            raise RuntimeError(f'head returned {cls_score.shape[0]} rows for {batches} samples; '
                               f'frames per sample ({imgs.shape[1]}) must be a multiple '
                               f'of the head\'s segments')
        return self.average_clip(cls_score, cls_score.shape[0] // batches)

    def _do_fcn_test(self, imgs: torch.Tensor) -> torch.Tensor:
        if self.feature_extraction:
            raise ValueError('test_cfg.fcn_test and test_cfg.feature_extraction cannot be combined')
        if not self.with_cls_head:
            raise RuntimeError('Recognizer2D needs a cls_head for test_cfg.fcn_test')
        if 'fcn_test' not in inspect.signature(self.cls_head.forward).parameters:
            raise ValueError(f'test_cfg.fcn_test needs a head that scores fully convolutionally '
                             f'(e.g. TPNHead); {type(self.cls_head).__name__} does not')
        num_segs = self.test_cfg.get('num_segs', getattr(self.backbone, 'num_segments', None))
        if num_segs is None:
            raise KeyError(f'test_cfg.fcn_test needs test_cfg.num_segs (frames per clip): the backbone '
                           f'{type(self.backbone).__name__} has no num_segments')
        batches = imgs.shape[0]
        imgs = imgs.reshape((-1,) + imgs.shape[2:])
        if self.test_cfg.get('flip', False):
            imgs = imgs.flip(-1)
        x = self.extract_feat(imgs)
        if self.with_neck:
            x, _ = self.neck([_frames_to_clips(each, num_segs) for each in x])
        else:
            x = _frames_to_clips(x, num_segs)
        cls_score = self.cls_head(x, fcn_test=True)
        # every position of the score map (one after average pooling) is one more view
        cls_score = cls_score.flatten(2).transpose(1, 2).reshape(-1, cls_score.shape[1])
        return self.average_clip(cls_score, cls_score.shape[0] // batches)

    def forward_test(self, imgs: torch.Tensor) -> torch.Tensor:
        """Class scores (batch, num_classes), float32; fully convolutional with
        ``test_cfg.fcn_test``."""
        if self.test_cfg and self.test_cfg.get('fcn_test', False):
            return self._do_fcn_test(imgs).float()
        return super().forward_test(imgs)

    def forward_dummy(self, imgs: torch.Tensor, softmax: bool = False) -> tuple[torch.Tensor]:
        """Raw head output for FLOPs counting and export: ``(cls_score,)``."""
        if not self.with_cls_head:
            raise RuntimeError('Recognizer2D.forward_dummy needs a cls_head')
        x, num_segs, _ = self._features(imgs)
        outs = self.cls_head(x, num_segs)
        return (outs.softmax(dim=1) if softmax else outs,)
