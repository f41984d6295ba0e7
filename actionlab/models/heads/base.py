"""Base class of classification heads, and the average segmental consensus."""
from __future__ import annotations

from abc import ABCMeta, abstractmethod
from collections.abc import Mapping, Sequence

import torch
from torch import nn

from ..builder import MODELS


@MODELS.register_module()
class AvgConsensus(nn.Module):
    """Average over the segments axis ``dim`` (kept, with size 1)."""

    def __init__(self, dim: int = 1):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=self.dim, keepdim=True)


def top_k_hits(cls_score: torch.Tensor, labels: torch.Tensor,
               topk: Sequence[int]) -> list[torch.Tensor]:
    """Fraction of samples whose label is among the k best scores, for each k (tensors)."""
    num_classes = cls_score.shape[1]
    best = cls_score.topk(min(max(topk), num_classes), dim=1).indices
    hits = best == labels.reshape(-1, 1)
    return [hits[:, :k].any(dim=1).float().mean() for k in topk]


class BaseHead(nn.Module, metaclass=ABCMeta):
    """A classification head: features -> class scores, plus its loss.

    Args:
        num_classes: number of classes.
        in_channels: channels of the input features.
        loss_cls: loss config.
        multi_class: labels are multi-hot vectors (no top-k accuracy).
        label_smooth_eps: with ``multi_class``, targets become
            ``(1 - eps) * y + eps / num_classes``.
        topk: the k of the ``top{k}_acc`` metrics.
    """

    def __init__(self, num_classes: int, in_channels: int,
                 loss_cls: Mapping = dict(type='CrossEntropyLoss', loss_weight=1.0),
                 multi_class: bool = False, label_smooth_eps: float = 0.0,
                 topk: int | Sequence[int] = (1, 5)):
        super().__init__()
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.loss_cls = MODELS.build(loss_cls)
        self.multi_class = multi_class
        self.label_smooth_eps = label_smooth_eps
        self.topk = (topk,) if isinstance(topk, int) else tuple(topk)
        if not self.topk or min(self.topk) < 1:
            raise ValueError(f'{type(self).__name__} topk must be positive integers, got {topk!r}')

    @abstractmethod
    def init_weights(self) -> None:
        """Initialise the head's parameters."""

    @abstractmethod
    def forward(self, x, *args):
        """Features -> class scores (N, num_classes)."""

    def loss(self, cls_score: torch.Tensor, labels: torch.Tensor, **kwargs) -> dict[str, torch.Tensor]:
        """``loss_cls`` plus ``top{k}_acc`` for hard single labels.

        ``labels`` are class indices (N,) (a 0-d tensor for one sample) or, for soft
        or multi-hot targets, a (N, num_classes) tensor ((num_classes,) for one sample).
        """
        losses: dict[str, torch.Tensor] = {}
        if labels.dim() == 0:
            labels = labels.unsqueeze(0)
        elif labels.dim() == 1 and cls_score.shape[0] == 1 and labels.shape[0] == self.num_classes \
                and labels.is_floating_point():
            labels = labels.unsqueeze(0)  # one sample with a soft/multi-hot target

        if not self.multi_class and cls_score.shape != labels.shape:
            for k, acc in zip(self.topk, top_k_hits(cls_score.detach(), labels, self.topk)):
                losses[f'top{k}_acc'] = acc
        elif self.multi_class and self.label_smooth_eps != 0:
            labels = (1 - self.label_smooth_eps) * labels + self.label_smooth_eps / self.num_classes

        loss_cls = self.loss_cls(cls_score, labels, **kwargs)
        if isinstance(loss_cls, dict):
            losses.update(loss_cls)
        else:
            losses['loss_cls'] = loss_cls
        return losses
