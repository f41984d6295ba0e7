"""Multi-label loss over the tag categories of HVU (Holistic Video Understanding).

Diba et al., "Large Scale Holistic Video Understanding", ECCV 2020
(https://arxiv.org/abs/1904.11451).

The class vector concatenates the tags of several categories (action,
attribute, concept, event, object, scene). A video is annotated in some
categories only, so the loss can be restricted to the tags (``mask``) or
categories (``category_mask``) a video has.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ..builder import MODELS
from .base import BaseWeightedLoss


@MODELS.register_module()
class HVULoss(BaseWeightedLoss):
    """Sigmoid binary cross-entropy for HVU tags.

    ``forward(cls_score, label, mask, category_mask)``: scores and multi-hot labels
    (N, sum(category_nums)), ``mask`` (N, sum(category_nums)) marks the tags of the
    categories a video is annotated in, ``category_mask`` (N, len(categories)) those
    categories. Returns a dict with ``loss_cls``; ``'individual'`` also reports each
    category's loss as ``{category}_LOSS`` and its normalised weight as
    ``{category}_LOSS_weight`` (for monitoring: the keys hold no lowercase ``loss``,
    so they are not added to the total).

    Args:
        categories: category names, in the order of the class vector.
        category_nums: number of tags of each category.
        category_loss_weights: weight of each category in ``'individual'`` mode
            (normalised over the categories that count).
        loss_type: ``'all'``: one BCE over all tags (with ``with_mask``, only the masked
            tags, averaged per video); ``'individual'``: a BCE per category, combined
            with ``category_loss_weights`` (with ``with_mask``, each category averaged
            over the videos annotated in it).
        with_mask: use ``mask``/``category_mask``.
        reduction: ``'mean'`` or ``'sum'`` over the tags of a video (or category).
        loss_weight: factor applied to ``loss_cls``.
    """

    def __init__(self, categories: Sequence[str] = ('action', 'attribute', 'concept', 'event',
                                                    'object', 'scene'),
                 category_nums: Sequence[int] = (739, 117, 291, 69, 1678, 248),
                 category_loss_weights: Sequence[float] = (1, 1, 1, 1, 1, 1), loss_type: str = 'all',
                 with_mask: bool = False, reduction: str = 'mean', loss_weight: float = 1.0):
        super().__init__(loss_weight=loss_weight)
        self.categories = tuple(categories)
        self.category_nums = tuple(category_nums)
        self.category_loss_weights = tuple(category_loss_weights)
        if not len(self.categories) == len(self.category_nums) == len(self.category_loss_weights):
            raise ValueError(f'HVULoss categories, category_nums and category_loss_weights need one '
                             f'entry per category, got {len(self.categories)}, {len(self.category_nums)} '
                             f'and {len(self.category_loss_weights)}')
        if min(self.category_loss_weights) < 0:
            raise ValueError(f'HVULoss category_loss_weights must be >= 0, got {self.category_loss_weights}')
        if loss_type not in ('all', 'individual'):
            raise ValueError(f"HVULoss loss_type must be 'all' or 'individual', got {loss_type!r}")
        if reduction not in ('mean', 'sum'):
            raise ValueError(f"HVULoss reduction must be 'mean' or 'sum', got {reduction!r}")
        self.loss_type = loss_type
        self.with_mask = with_mask
        self.reduction = reduction
        starts = [0]
        for num in self.category_nums[:-1]:
            starts.append(starts[-1] + num)
        self.category_startidx = tuple(starts)

    def _forward(self, cls_score: torch.Tensor, label: torch.Tensor, mask: torch.Tensor | None = None,
                 category_mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        if self.with_mask and (mask is None or category_mask is None):
            raise ValueError('HVULoss with_mask needs mask and category_mask (add them to '
                             "train_cfg.aux_info, e.g. aux_info=['mask', 'category_mask'])")
        label = label.to(cls_score.dtype)
        if self.loss_type == 'all':
            return {'loss_cls': self._all_tags(cls_score, label, mask)}
        return self._per_category(cls_score, label, category_mask)

    def _all_tags(self, cls_score: torch.Tensor, label: torch.Tensor,
                  mask: torch.Tensor | None) -> torch.Tensor:
        loss = F.binary_cross_entropy_with_logits(cls_score, label, reduction='none')
        if self.with_mask:
            mask = mask.to(loss.dtype)
            per_video = (mask * loss).sum(dim=1)
            if self.reduction == 'mean':
                per_video = per_video / mask.sum(dim=1)
            return per_video.mean()
        if self.reduction == 'sum':
            loss = loss.sum(dim=-1)
        return loss.mean()

    def _per_category(self, cls_score: torch.Tensor, label: torch.Tensor,
                      category_mask: torch.Tensor | None) -> dict[str, torch.Tensor]:
        losses: dict[str, torch.Tensor] = {}
        weights: dict[str, float] = {}
        for idx, (name, num, start) in enumerate(zip(self.categories, self.category_nums,
                                                     self.category_startidx)):
            key = f'{name}_LOSS'
            loss = F.binary_cross_entropy_with_logits(cls_score[:, start:start + num],
                                                      label[:, start:start + num], reduction='none')
            loss = loss.mean(dim=1) if self.reduction == 'mean' else loss.sum(dim=1)
            if self.with_mask:
                present = category_mask[:, idx].reshape(-1).to(loss.dtype)
                if present.sum() < 0.5:  # no video of the batch is annotated in this category
                    losses[key] = cls_score.sum() * 0  # zero, still part of the graph
                    weights[key] = 0.0
                    continue
                loss = (loss * present).sum() / present.sum()
            else:
                loss = loss.mean()
            losses[key] = loss
            weights[key] = float(self.category_loss_weights[idx])
        total_weight = sum(weights.values()) or 1.0
        weights = {key: w / total_weight for key, w in weights.items()}
        out = dict(losses)
        out['loss_cls'] = sum(losses[key] * weights[key] for key in losses)
        out.update({f'{key}_weight': cls_score.new_tensor(w) for key, w in weights.items()})
        return out
