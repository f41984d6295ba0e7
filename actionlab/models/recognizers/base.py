"""Base class of action recognizers and the loss-dict reduction used by training.

A recognizer is backbone -> (neck) -> head. Its interface is MMAction2's:

* ``forward(imgs, label=None, return_loss=True, **kwargs)``: with ``return_loss``
  -> :meth:`forward_train`, a dict of loss and metric tensors; otherwise
  :meth:`forward_test`, class scores (batch, num_classes) averaged over the
  clips/crops of each sample as ``test_cfg['average_clips']`` says.
* ``train_step``/``val_step(data_batch)`` -> ``dict(loss, log_vars, num_samples)``.
"""
from __future__ import annotations

from abc import ABCMeta, abstractmethod
from collections.abc import Mapping
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from actionlab.registry import BuildError

from ..builder import MODELS
from .blending import BLENDINGS


def parse_losses(losses: Mapping[str, torch.Tensor | list[torch.Tensor]]
                 ) -> tuple[torch.Tensor, dict[str, float]]:
    """Reduce a model's output dict to ``(total_loss, log_vars)``.

    Each value is averaged (a list of tensors: the sum of their means); the total
    is the sum of every value whose key contains ``'loss'`` and is also logged as
    ``log_vars['loss']``. Under torch.distributed the logged numbers are averaged
    over processes (the returned total is not).
    """
    means: dict[str, torch.Tensor] = {}
    for name, value in losses.items():
        if isinstance(value, torch.Tensor):
            means[name] = value.mean()
        elif isinstance(value, (list, tuple)) and all(isinstance(v, torch.Tensor) for v in value):
            means[name] = sum(v.mean() for v in value)
        else:
            raise TypeError(f'model output {name!r} is not a tensor or a list of tensors '
                            f'(got {type(value).__name__})')
    terms = [value for name, value in means.items() if 'loss' in name]
    if not terms:
        raise ValueError(f'model outputs {sorted(means)} contain no loss (no key with "loss")')
    total = sum(terms)
    means['loss'] = total
    # one device->host transfer (and one all_reduce) for all logged values
    packed = torch.stack([v.detach().float() for v in means.values()])
    if dist.is_available() and dist.is_initialized():
        packed = packed.clone()
        dist.all_reduce(packed.div_(dist.get_world_size()))
    return total, dict(zip(means, packed.tolist()))


def _hard_labels_flat(labels: torch.Tensor) -> torch.Tensor:
    """Class indices of shape (N, 1) -> (N,); soft/multi-hot float targets unchanged."""
    if not labels.is_floating_point() and labels.dim() == 2 and labels.shape[1] == 1:
        return labels[:, 0]
    return labels


class BaseRecognizer(nn.Module, metaclass=ABCMeta):
    """Backbone, optional neck and classification head.

    Args:
        backbone: backbone config, e.g. ``dict(type='ResNet', depth=50)``.
        cls_head: head config, or None (features only).
        neck: neck config, or None.
        train_cfg: training options; ``aux_info`` lists extra batch keys handed to the
            loss by :meth:`train_step`; ``blending`` is a :data:`BLENDINGS` config
            (``MixupBlending``/``CutmixBlending``) applied to every training batch.
        test_cfg: test options: ``average_clips`` ('score', 'prob' or None; required
            by :meth:`forward_test`), ``max_testing_views`` (3D: views per backbone
            pass), ``feature_extraction`` (return pooled features instead of scores),
            ``fcn_test`` and ``num_segs`` (2D: fully-convolutional testing, see
            :class:`Recognizer2D`).
    """

    #: the data batch key holding the model input
    input_key = 'imgs'

    def __init__(self, backbone: Mapping, cls_head: Mapping | None = None,
                 neck: Mapping | None = None, train_cfg: Mapping | None = None,
                 test_cfg: Mapping | None = None):
        super().__init__()
        backbone_type = backbone.get('type') if isinstance(backbone, Mapping) else None
        library = backbone_type.split('.', 1)[0] if isinstance(backbone_type, str) else None
        if library in ('mmcls', 'torchvision', 'timm'):
            raise BuildError(f"backbone type {backbone_type!r}: backbones from other libraries "
                             f"(mmcls., torchvision., timm.) are not supported")
        self.backbone = MODELS.build(backbone)
        if neck is not None:
            self.neck = MODELS.build(neck)
        self.cls_head = MODELS.build(cls_head) if cls_head else None
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg

        train_cfg = train_cfg or {}
        test_cfg = test_cfg or {}
        self.blending = BLENDINGS.build(train_cfg['blending']) if train_cfg.get('blending') else None
        self.aux_info = list(train_cfg.get('aux_info', []))
        self.max_testing_views = test_cfg.get('max_testing_views')
        if self.max_testing_views is not None and (
                not isinstance(self.max_testing_views, int) or self.max_testing_views < 1):
            raise BuildError(f'test_cfg.max_testing_views must be a positive int, '
                             f'got {self.max_testing_views!r}')
        self.feature_extraction = bool(test_cfg.get('feature_extraction', False))
        self.init_weights()

    @property
    def with_neck(self) -> bool:
        """Whether the recognizer has a neck."""
        return getattr(self, 'neck', None) is not None

    @property
    def with_cls_head(self) -> bool:
        """Whether the recognizer has a classification head."""
        return getattr(self, 'cls_head', None) is not None

    def init_weights(self) -> None:
        """Initialise backbone (loading its ``pretrained`` weights), head and neck."""
        for part in (self.backbone, getattr(self, 'neck', None), self.cls_head):
            if part is not None and hasattr(part, 'init_weights'):
                part.init_weights()

    def extract_feat(self, imgs: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """Backbone features of a batch of frames or clips."""
        return self.backbone(imgs)

    def average_clip(self, cls_score: torch.Tensor, num_segs: int = 1) -> torch.Tensor:
        """Average the ``num_segs`` consecutive rows (views) of each sample.

        ``test_cfg['average_clips']``: ``'prob'`` averages softmax probabilities,
        ``'score'`` raw scores. ``None`` also averages raw scores so the result
        always has one row per sample (MMAction2 0.24.1 returns the unaveraged
        rows in that case, which differs only when a sample has several views).
        """
        if not self.test_cfg or 'average_clips' not in self.test_cfg:
            raise KeyError('"average_clips" must be defined in test_cfg')
        mode = self.test_cfg['average_clips']
        if mode not in ('score', 'prob', None):
            raise ValueError(f'test_cfg.average_clips must be "score", "prob" or None, got {mode!r}')
        cls_score = cls_score.view(cls_score.shape[0] // num_segs, num_segs, -1)
        if mode == 'prob':
            cls_score = F.softmax(cls_score, dim=2)
        return cls_score.mean(dim=1)

    def _pool_features(self, feat: torch.Tensor | tuple[torch.Tensor, ...], batches: int) -> torch.Tensor:
        """Feature extraction: global average pool, then average over each sample's views."""
        feats = feat if isinstance(feat, (tuple, list)) else (feat,)
        pooled = [f.flatten(2).mean(dim=2) if f.dim() > 2 else f for f in feats]
        return torch.cat(pooled, dim=1).reshape(batches, -1, sum(p.shape[1] for p in pooled)).mean(dim=1)

    def forward(self, imgs: torch.Tensor, label: torch.Tensor | None = None,
                return_loss: bool = True, **kwargs: Any):
        """Training (``return_loss``): losses and metrics; otherwise class scores.

        Extra keyword arguments (``img_metas`` and the like) are ignored, except the
        ``train_cfg.aux_info`` keys, which reach the loss. In training the batch is
        first blended when ``train_cfg.blending`` is set.
        """
        if kwargs.pop('gradcam', False):
            return self.forward_gradcam(imgs)
        if return_loss:
            if label is None:
                raise ValueError(f'{type(self).__name__}: label is required when return_loss=True')
            aux = {key: kwargs[key] for key in self.aux_info if key in kwargs}
            if self.blending is not None:
                imgs, label = self.blending(imgs, label)
            return self.forward_train(imgs, label, **aux)
        return self.forward_test(imgs)

    @abstractmethod
    def forward_train(self, imgs: torch.Tensor, labels: torch.Tensor,
                      **kwargs: Any) -> dict[str, torch.Tensor]:
        """Losses (keys containing 'loss') and metrics of a training batch."""

    @abstractmethod
    def _do_test(self, imgs: torch.Tensor) -> torch.Tensor:
        """Class scores (or features) averaged per sample, kept on the model's device."""

    def forward_test(self, imgs: torch.Tensor) -> torch.Tensor:
        """Class scores (batch, num_classes), float32, on the model's device."""
        return self._do_test(imgs).float()

    def forward_gradcam(self, imgs: torch.Tensor) -> torch.Tensor:
        """Test-mode scores with the graph kept, for Grad-CAM."""
        return self._do_test(imgs)

    def _step(self, data_batch: Mapping[str, Any]) -> dict[str, Any]:
        missing = [key for key in (self.input_key, 'label', *self.aux_info) if key not in data_batch]
        if missing:
            raise KeyError(f'data batch lacks {missing} (has {sorted(data_batch)})')
        inputs = data_batch[self.input_key]
        aux = {key: data_batch[key] for key in self.aux_info}
        losses = self(inputs, data_batch['label'], return_loss=True, **aux)
        loss, log_vars = parse_losses(losses)
        return dict(loss=loss, log_vars=log_vars, num_samples=len(inputs))

    def train_step(self, data_batch: Mapping[str, Any], optimizer=None, **kwargs) -> dict[str, Any]:
        """Forward a training batch: ``dict(loss, log_vars, num_samples)``; the caller
        runs backward and the optimizer step."""
        return self._step(data_batch)

    def val_step(self, data_batch: Mapping[str, Any], optimizer=None, **kwargs) -> dict[str, Any]:
        """Same as :meth:`train_step`, for validation epochs."""
        return self._step(data_batch)
