"""Recognizer over audio spectrograms, one 2D "image" (time x frequency) per clip."""
from __future__ import annotations

from typing import Any

import torch

from ..builder import MODELS
from .base import BaseRecognizer, _hard_labels_flat


@MODELS.register_module()
class AudioRecognizer(BaseRecognizer):
    """Audio recognizer: ``audios`` (N, clips, 1, T, F) -> class scores averaged over clips.

    Same interface as the other recognizers, with the input called ``audios``
    (also the data batch key).
    """

    input_key = 'audios'

    def forward(self, audios: torch.Tensor, label: torch.Tensor | None = None,
                return_loss: bool = True, **kwargs: Any):
        """Training (``return_loss``): losses and metrics; otherwise class scores."""
        return super().forward(audios, label, return_loss=return_loss, **kwargs)

    def forward_train(self, audios: torch.Tensor, labels: torch.Tensor,
                      **kwargs: Any) -> dict[str, torch.Tensor]:
        """Losses and top-k accuracies of a batch (N, clips, 1, T, F).

        Each clip is scored on its own; with several clips per sample every clip
        is trained on the sample's label.
        """
        if not self.with_cls_head:
            raise RuntimeError('AudioRecognizer.forward_train needs a cls_head')
        clips = audios.shape[1]
        cls_score = self.cls_head(self.extract_feat(audios.reshape((-1,) + audios.shape[2:])))
        labels = _hard_labels_flat(labels)
        if clips > 1:
            labels = labels.repeat_interleave(clips, dim=0)
        return self.cls_head.loss(cls_score, labels, **kwargs)

    def _do_test(self, audios: torch.Tensor) -> torch.Tensor:
        batches, num_segs = audios.shape[:2]
        feat = self.extract_feat(audios.reshape((-1,) + audios.shape[2:]))
        if self.feature_extraction:
            return self._pool_features(feat, batches)
        if not self.with_cls_head:
            raise RuntimeError('AudioRecognizer needs a cls_head to score (or test_cfg.feature_extraction)')
        return self.average_clip(self.cls_head(feat), num_segs)
